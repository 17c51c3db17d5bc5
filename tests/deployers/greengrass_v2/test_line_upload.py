"""Member lists and device rows are streamed to S3: one PutObject when small, parts when large."""

from __future__ import annotations

import pytest
from bulk_deployer.deployers.greengrass_v2.line_upload import LineUpload

from tests.deployers.greengrass_v2.world import BUCKET, World


def _lines(count: int) -> list[bytes]:
    return [f"thing-{i:09d}".encode().ljust(99, b"x") + b"\n" for i in range(count)]


def _write_then_fail(world: World, lines: list[bytes]) -> None:
    with LineUpload(world.s3, BUCKET, "broken.txt", content_type="text/plain") as out:
        for line in lines:
            out.write(line)
        raise RuntimeError("the listing failed half-way")


def test_a_large_object_goes_up_in_parts_and_reads_back_whole(world: World) -> None:
    lines = _lines(110_000)  # 11 MB: one 8 MiB part and the rest
    with LineUpload(world.s3, BUCKET, "big.txt", content_type="text/plain") as out:
        for line in lines:
            out.write(line)
    answer = world.s3.get_object(Bucket=BUCKET, Key="big.txt")
    assert answer["Body"].read() == b"".join(lines)
    assert answer["ETag"].strip('"').endswith("-2")  # a multipart upload of two parts


def test_a_small_object_is_one_put_and_a_failure_leaves_no_upload_behind(world: World) -> None:
    with LineUpload(world.s3, BUCKET, "small.txt", content_type="text/plain") as out:
        out.write(b"a\n")
    assert world.s3.get_object(Bucket=BUCKET, Key="small.txt")["ETag"].count("-") == 0
    with pytest.raises(RuntimeError):
        _write_then_fail(world, _lines(90_000))
    assert world.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert world.s3.list_objects_v2(Bucket=BUCKET, Prefix="broken").get("KeyCount") == 0
