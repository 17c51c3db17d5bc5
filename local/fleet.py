"""Greengrass groups with deployable versions in moto, things and thing groups in the V2
emulator, and input files naming them.

moto refuses to deploy a group version without a core definition version (GG-303), so every
version made here references one core definition, created once per fleet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.stack_config import REGION

if TYPE_CHECKING:
    from local.greengrass_v2_emulator import GreengrassV2Emulator

# What a demo or test line deploys unless told otherwise (any name and version the model allows).
DEMO_COMPONENTS: dict[str, Any] = {"com.example.Hello": {"componentVersion": "1.0.0"}}


@dataclass(frozen=True)
class Group:
    name: str
    group_id: str
    version_id: str

    def record(self) -> str:
        """One input-file line for this group."""
        return json.dumps(
            {"GroupId": self.group_id, "GroupVersionId": self.version_id, "DeploymentType": "NewDeployment"},
            separators=(",", ":"),
        )


def input_file(groups: Iterable[Group]) -> bytes:
    return "".join(group.record() + "\n" for group in groups).encode("utf-8")


class Fleet:
    """Creates groups in the AWS stand-in's Greengrass (moto), through ``greengrass`` (a boto3 client)."""

    def __init__(self, greengrass: Any, account_id: str, region: str = REGION) -> None:
        self._gg = greengrass
        self._account_id = account_id
        self._region = region
        self._core_version_arn: str | None = None

    def group(self, name: str) -> Group:
        group_id = str(self._gg.create_group(Name=name)["Id"])
        version = self._gg.create_group_version(
            GroupId=group_id, CoreDefinitionVersionArn=self._core_version()
        )
        return Group(name=name, group_id=group_id, version_id=str(version["Version"]))

    def groups(self, *names: str) -> list[Group]:
        return [self.group(name) for name in names]

    def _core_version(self) -> str:
        if self._core_version_arn is None:
            core = self._gg.create_core_definition(
                Name="local-core",
                InitialVersion={
                    "Cores": [
                        {
                            "Id": "core-1",
                            "CertificateArn": f"arn:aws:iot:{self._region}:{self._account_id}:cert/local",
                            "ThingArn": f"arn:aws:iot:{self._region}:{self._account_id}:thing/local-core",
                            "SyncShadow": False,
                        }
                    ]
                },
            )
            self._core_version_arn = str(core["LatestVersionArn"])
        return self._core_version_arn


def v2_line(target_arn: str, components: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """One V2 input-file line: the CreateDeployment request for a target, without clientToken."""
    return {"targetArn": target_arn, "components": components or DEMO_COMPONENTS, **fields}


def v2_input_file(lines: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode("utf-8")


class V2Fleet:
    """Things (core devices) and thing groups in the V2 emulator, created through ``iot`` (a boto3
    client), each device with a behaviour (healthy, offline, failing...: the emulator's Behaviour)."""

    def __init__(self, iot: Any, emulator: GreengrassV2Emulator) -> None:
        self._iot = iot
        self._emulator = emulator

    def thing(self, name: str, behaviour: str = "healthy") -> str:
        """A core device; its thing ARN."""
        arn = str(self._iot.create_thing(thingName=name)["thingArn"])
        if behaviour != "healthy":
            self._emulator.set_device(name, behaviour)
        return arn

    def group(self, name: str, devices: dict[str, str]) -> str:
        """A thing group of these devices (name -> behaviour); its ARN."""
        arn = str(self._iot.create_thing_group(thingGroupName=name)["thingGroupArn"])
        for thing, behaviour in devices.items():
            self.thing(thing, behaviour)
            self._iot.add_thing_to_thing_group(thingGroupName=name, thingName=thing)
        return arn
