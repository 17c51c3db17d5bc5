"""Greengrass V2 deployments (CreateDeployment per target): everything V2-specific in one place.

``records`` holds the rules of one input line (a CreateDeployment request minus clientToken,
plus our ``updateMode``) and turns a valid line into boto3's arguments; ``policies`` the
ranges of its deployment policies and IoT job configuration; ``checks`` the typed checks they
are written with; ``validation`` the input file's validator on the shared JSON Lines framing.
"""

from bulk_deployer.deployers.greengrass_v2.records import (
    StackRules,
    UpdateMode,
    check_line,
    create_deployment_kwargs,
    document_bytes,
    update_mode,
)
from bulk_deployer.deployers.greengrass_v2.validation import V2FileValidator

__all__ = [
    "StackRules",
    "UpdateMode",
    "V2FileValidator",
    "check_line",
    "create_deployment_kwargs",
    "document_bytes",
    "update_mode",
]
