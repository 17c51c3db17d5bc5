"""MaxResults / NextToken paging as the Greengrass list operations do it.

Why a token that names its scope: a NextToken from one bulk deployment's report (or from the
list of bulk deployments) must be refused by another, as the service refuses it.
"""

from __future__ import annotations

import base64
import binascii

from .model import BadRequest


def page[Item](
    items: list[Item],
    scope: str,
    max_results: str | None,
    next_token: str | None,
    default_size: int,
    max_size: int | None,
) -> tuple[list[Item], str | None]:
    """One page of `items` and the token for the next one (None on the last page)."""
    size = default_size
    if max_results is not None:
        try:
            size = int(max_results)
        except ValueError:
            raise BadRequest("MaxResults must be an integer.") from None
        if size < 1:
            raise BadRequest("MaxResults must be a positive integer.")
    if max_size is not None:
        size = min(size, max_size)
    offset = _decode_token(next_token, scope) if next_token else 0
    end = offset + size
    return items[offset:end], (_encode_token(scope, end) if end < len(items) else None)


def _encode_token(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}|{offset}".encode()).decode()


def _decode_token(token: str, scope: str) -> int:
    try:
        got_scope, offset = base64.urlsafe_b64decode(token.encode()).decode().rsplit("|", 1)
        value = int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The NextToken is not valid.") from None
    if got_scope != scope or value < 0:
        raise BadRequest("The NextToken is not valid.")
    return value
