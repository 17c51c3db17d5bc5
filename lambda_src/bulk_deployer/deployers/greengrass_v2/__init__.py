"""Greengrass V2 deployments (CreateDeployment per target): everything V2-specific in one place.

``records`` holds the rules of one input line (a CreateDeployment request minus clientToken,
plus our ``updateMode``) and turns a valid line into boto3's arguments; ``policies`` the
ranges of its deployment policies and IoT job configuration; ``checks`` the typed checks they
are written with; ``validation`` the input file's validator on the shared JSON Lines framing.
``deployer`` adapts the ``greengrassv2`` and ``iot`` clients to the core's ``Deployer``:
``starter`` creates each target's deployment once (``plan`` its request, ``identity`` its
token, ``target_ledger`` its record), ``follow`` follows it to every device (``members`` the
group's members and job executions), ``results`` and ``report`` page the per-device rows;
``start_request`` freezes a queued file's start (its staged copy and targets).
"""

from bulk_deployer.deployers.greengrass_v2.deployer import GreengrassV2Deployer
from bulk_deployer.deployers.greengrass_v2.identity import target_token_for
from bulk_deployer.deployers.greengrass_v2.records import (
    StackRules,
    UpdateMode,
    check_line,
    create_deployment_kwargs,
    document_bytes,
    update_mode,
)
from bulk_deployer.deployers.greengrass_v2.start_request import V2StartRequests, partition_of
from bulk_deployer.deployers.greengrass_v2.starter import StartSettings
from bulk_deployer.deployers.greengrass_v2.validation import V2FileValidator

__all__ = [
    "GreengrassV2Deployer",
    "StackRules",
    "StartSettings",
    "UpdateMode",
    "V2FileValidator",
    "V2StartRequests",
    "check_line",
    "create_deployment_kwargs",
    "document_bytes",
    "partition_of",
    "target_token_for",
    "update_mode",
]
