"""InputFileUri -> (bucket, key).

Why strict: the service is documented to take the object's https URL, whose path is the
percent-encoded key. A product that forgets to encode a key with a space or a non-ASCII
character must fail here, not only in AWS. Path-style URLs are not documented and are refused.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>.amazonaws.com (legacy),
# <bucket>.s3.amazonaws.com (global); .amazonaws.com.cn in the China partition.
_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?"
    r"\.amazonaws\.com(?:\.cn)?$"
)
# RFC 3986 path characters: unreserved, sub-delims, ':' '@' '/' and percent escapes.
_PATH_CHARS = set(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidUri(ValueError):
    """The InputFileUri is not an https URL of an S3 object."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    region: str | None


def parse_input_file_uri(uri: str) -> S3Location:
    parts = urlsplit(uri)
    if parts.scheme != "https":
        raise InvalidUri("InputFileUri must be an https URL of the S3 object")
    match = _HOST.match(parts.hostname or "")
    if match is None or parts.port is not None or parts.username is not None:
        raise InvalidUri(
            "InputFileUri host is not a virtual-hosted S3 endpoint (<bucket>.s3.<region>.amazonaws.com)"
        )
    if parts.query or parts.fragment:
        raise InvalidUri("InputFileUri must not carry a query or a fragment")
    path = parts.path
    if len(path) < 2:
        raise InvalidUri("InputFileUri names no object key")
    if not set(path) <= _PATH_CHARS or _ESCAPE.search(path):
        raise InvalidUri("InputFileUri path is not percent-encoded")
    try:
        key = unquote(path[1:], errors="strict")
    except UnicodeDecodeError:
        raise InvalidUri("InputFileUri path does not decode as UTF-8") from None
    return S3Location(match.group("bucket"), key, match.group("region"))
