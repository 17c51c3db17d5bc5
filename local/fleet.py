"""Greengrass groups with deployable versions in moto, and input files naming them.

moto refuses to deploy a group version without a core definition version (GG-303), so every
version made here references one core definition, created once per fleet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from local.stack_config import REGION


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
