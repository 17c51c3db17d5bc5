"""Greengrass V1 bulk deployments (StartBulkDeployment): everything V1-specific in one place.

``deployer`` adapts boto3's ``greengrass`` client to the core's ``Deployer`` interface;
``statuses`` holds the service's status names and metric fields; ``report`` the per-group
report columns; ``start_request`` the input file URI a start names; ``validation`` the input
file's record rules (on the shared JSON Lines framing) and ``group_ids`` its GroupId hash table.
"""

from bulk_deployer.deployers.greengrass_v1.deployer import GreengrassV1Deployer
from bulk_deployer.deployers.greengrass_v1.report import REPORT_ROWS
from bulk_deployer.deployers.greengrass_v1.start_request import V1StartRequests, input_file_uri
from bulk_deployer.deployers.greengrass_v1.validation import V1FileValidator

__all__ = ["REPORT_ROWS", "GreengrassV1Deployer", "V1FileValidator", "V1StartRequests", "input_file_uri"]
