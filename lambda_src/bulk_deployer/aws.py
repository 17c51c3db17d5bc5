"""boto3 clients with the retry and timeout policy every component shares."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode retries throttling and 5xx with backoff; what still fails after that
# is a transient error for the caller (the SQS record fails and comes back later).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    user_agent_appid="bulk-deployer",
)


# For StartBulkDeployment only: one attempt. A retry after a lost answer could start a second
# bulk deployment (see deployers.greengrass_v1.GreengrassV1Deployer).
START_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


def client(
    service: str, *, region: str | None = None, session: Any = None, config: Config | None = None
) -> Any:
    factory = session or boto3
    return factory.client(service, region_name=region, config=config or CLIENT_CONFIG)
