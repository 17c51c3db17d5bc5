"""Deterministic benchmark data: realistic input files (UUID group and version ids)."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

TARGET_BYTES = 99_000_000  # just under the service's 100 MB limit


def record_line(rng: random.Random) -> bytes:
    group = uuid.UUID(int=rng.getrandbits(128), version=4)
    version = uuid.UUID(int=rng.getrandbits(128), version=4)
    return b'{"GroupId":"%s","GroupVersionId":"%s","DeploymentType":"NewDeployment"}\n' % (
        str(group).encode(),
        str(version).encode(),
    )


def input_file_bytes(target_bytes: int = TARGET_BYTES, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines: list[bytes] = []
    size = 0
    while True:
        line = record_line(rng)
        if size + len(line) > target_bytes:
            break
        lines.append(line)
        size += len(line)
    return b"".join(lines)


def write_input_file(path: Path, target_bytes: int = TARGET_BYTES) -> Path:
    path.write_bytes(input_file_bytes(target_bytes))
    return path
