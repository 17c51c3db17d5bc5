"""Peak RSS growth of the starter's read path: validate + stage one ~100 MB object from moto's S3 over HTTP.

Run as its own process (python -m benchmarks.validator_memory ENDPOINT BUCKET KEY) so that
ru_maxrss measures nothing but this work; moto runs in another process.
"""

from __future__ import annotations

import json
import sys
import time

import boto3
from bulk_deployer.aws import CLIENT_CONFIG
from bulk_deployer.deployers.greengrass_v1.validation import validate_stream
from bulk_deployer.input_objects import InputObjectStore

from benchmarks.rss import PeakGrowth


def main(endpoint: str, bucket: str, key: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=CLIENT_CONFIG)
    store = InputObjectStore(s3)
    head = store.head(bucket, key)
    assert head is not None, f"s3://{bucket}/{key} is not there"
    ref = head.ref(bucket, key)
    peak = PeakGrowth()
    start = time.perf_counter()
    result = validate_stream(store.chunks(ref), size=ref.size)
    store.stage(ref, "staged/benchmark.jsonl")
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "valid": result.valid,
                "records": result.records,
                "seconds": seconds,
                "rss_before_mb": peak.start_mb,
                "rss_growth_mb": peak.growth_mb(),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
