"""The StartBulkDeployment input file URI: where Greengrass reads a staged input file."""

from __future__ import annotations

from urllib.parse import quote


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def input_file_uri(bucket: str, key: str, region: str) -> str:
    """The virtual-hosted https URI of an object, its key percent-encoded as a URL path."""
    return f"https://{bucket}.s3.{region}.{dns_suffix(region)}/{quote(key, safe='/')}"
