"""The IoT registry: things and static thing groups, with parents and recursive membership.

Why its own: deployment targets are things and thing groups; a group deployment reaches every
thing of the group and of its child groups, now and later. The documented rules are enforced
here: names from the model, a thing in at most 10 groups and in one group per hierarchy, a
hierarchy at most 7 deep, idempotent creation with the same configuration.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .config import EmulatorConfig
from .errors import already_exists, invalid_request, iot_not_found


@dataclass
class Thing:
    name: str
    thing_id: str
    arn: str
    created_at: float
    attributes: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # the static groups it was added to directly
    version: int = 1

    def describe(self) -> dict[str, Any]:
        return {
            "defaultClientId": self.name,
            "thingName": self.name,
            "thingId": self.thing_id,
            "thingArn": self.arn,
            "attributes": dict(self.attributes),
            "version": self.version,
        }


@dataclass
class ThingGroup:
    name: str
    group_id: str
    arn: str
    created_at: float
    parent: str | None
    properties: dict[str, Any]
    things: list[str] = field(default_factory=list)  # direct members, in the order added
    children: list[str] = field(default_factory=list)
    version: int = 1


class Registry:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.things: dict[str, Thing] = {}
        self.groups: dict[str, ThingGroup] = {}

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.config.region}:{self.config.account_id}:{kind}/{name}"

    # ------------------------------------------------------------------ creation
    def create_thing(self, name: str, attributes: dict[str, str], now: float) -> Thing:
        existing = self.things.get(name)
        if existing is not None:
            if existing.attributes != attributes:
                raise already_exists(
                    f"Thing {name} already exists with different attributes", existing.thing_id, existing.arn
                )
            return existing
        thing = Thing(name, str(uuid.uuid4()), self._arn("thing", name), now, dict(attributes))
        self.things[name] = thing
        return thing

    def create_group(
        self, name: str, parent: str | None, properties: dict[str, Any], now: float
    ) -> ThingGroup:
        existing = self.groups.get(name)
        if existing is not None:
            if (existing.parent, existing.properties) != (parent, properties):
                raise already_exists(
                    f"Thing Group {name} already exists with different properties",
                    existing.group_id,
                    existing.arn,
                )
            return existing
        if parent is not None:
            self.group(parent)
            if len(self.ancestors(parent)) + 2 > self.config.max_group_depth:
                raise invalid_request(
                    f"Thing group hierarchy cannot be deeper than {self.config.max_group_depth}"
                )
        group = ThingGroup(name, str(uuid.uuid4()), self._arn("thinggroup", name), now, parent, properties)
        self.groups[name] = group
        if parent is not None:
            self.groups[parent].children.append(name)
        return group

    # ------------------------------------------------------------------ lookups
    def thing(self, name: str) -> Thing:
        found = self.things.get(name)
        if found is None:
            raise iot_not_found(f"Thing {name} cannot be found.")
        return found

    def group(self, name: str) -> ThingGroup:
        found = self.groups.get(name)
        if found is None:
            raise iot_not_found(f"ThingGroup {name} does not exist")
        return found

    def thing_named(self, name: Any, arn: Any) -> Thing:
        """By name, or by ARN (AddThingToThingGroup and its reverse take either)."""
        return self.thing(self._name_or_arn(name, arn, "thing", "thingName or thingArn"))

    def group_named(self, name: Any, arn: Any) -> ThingGroup:
        return self.group(self._name_or_arn(name, arn, "thinggroup", "thingGroupName or thingGroupArn"))

    def _name_or_arn(self, name: Any, arn: Any, kind: str, members: str) -> str:
        """The name given, else the one this account's `kind` ARN ends with; any other ARN is
        returned whole, so that looking it up answers not found with the ARN in the message."""
        if isinstance(name, str):
            return name
        if arn is None:
            raise invalid_request(f"Either {members} must be specified")
        prefix = self._arn(kind, "")
        return arn[len(prefix) :] if isinstance(arn, str) and arn.startswith(prefix) else str(arn)

    def ancestors(self, name: str) -> list[str]:
        """The group's ancestors, root first."""
        chain: list[str] = []
        parent = self.groups[name].parent
        while parent is not None:
            chain.insert(0, parent)
            parent = self.groups[parent].parent
        return chain

    def members(self, name: str, recursive: bool) -> list[str]:
        """Thing names of the group (and, recursively, of its descendants), each once."""
        group = self.group(name)
        if not (recursive and group.children):
            return list(group.things)  # each once already (add); a dict of 100,000 names per page is slow
        found = dict.fromkeys(group.things)  # ordered, each once
        if recursive:
            for child in group.children:
                found.update(dict.fromkeys(self.members(child, True)))
        return list(found)

    def groups_containing(self, thing: str) -> set[str]:
        """Every group the thing belongs to, directly or through a descendant group."""
        found: set[str] = set()
        for direct in self.things[thing].groups:
            found |= {direct, *self.ancestors(direct)}
        return found

    # ------------------------------------------------------------------ membership
    def add(self, thing: Thing, group: ThingGroup) -> bool:
        """Add a thing to a static group; False when it was already there."""
        if group.name in thing.groups:
            return False
        limit = self.config.max_groups_per_thing
        if len(thing.groups) >= limit:
            raise invalid_request(f"Thing {thing.name} cannot be added to more than {limit} thing groups")
        if self.config.one_group_per_hierarchy:
            root = self._root(group.name)
            for other in thing.groups:
                if self._root(other) == root:
                    raise invalid_request(
                        f"Thing {thing.name} is already in thing group {other}, "
                        f"of the same hierarchy as {group.name}"
                    )
        thing.groups.append(group.name)
        group.things.append(thing.name)
        return True

    def remove(self, thing: Thing, group: ThingGroup) -> bool:
        if group.name not in thing.groups:
            return False
        thing.groups.remove(group.name)
        group.things.remove(thing.name)
        return True

    def _root(self, name: str) -> str:
        return ([*self.ancestors(name), name])[0]

    def describe_group(self, group: ThingGroup) -> dict[str, Any]:
        metadata: dict[str, Any] = {"creationDate": group.created_at}
        if group.parent is not None:
            metadata["parentGroupName"] = group.parent
            metadata["rootToParentThingGroups"] = [
                {"groupName": name, "groupArn": self.groups[name].arn} for name in self.ancestors(group.name)
            ]
        return {
            "thingGroupName": group.name,
            "thingGroupId": group.group_id,
            "thingGroupArn": group.arn,
            "version": group.version,
            "thingGroupProperties": group.properties,
            "thingGroupMetadata": metadata,
        }
