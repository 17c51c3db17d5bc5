"""Paging for every list operation of both services, on the V1 emulator's scoped tokens.

Why reuse: the V1 emulator already pages by offset in a token that names its scope (a token from
one listing is refused by another); only the error each service answers differs.
"""

from __future__ import annotations

from typing import Any

from ..greengrass_emulator.model import BadRequest
from ..greengrass_emulator.paging import page
from .errors import invalid_request, validation


def paged[Item](
    items: list[Item], scope: str, params: dict[str, Any], default_size: int, service: str
) -> tuple[list[Item], dict[str, str]]:
    """One page, and {"nextToken": ...} to merge into the answer when more follow."""
    size = params.get("maxResults")
    try:
        found, token = page(
            items, scope, None if size is None else str(size), params.get("nextToken"), default_size, None
        )
    except BadRequest as exc:
        raise (invalid_request(exc.message) if service == "iot" else validation(exc.message)) from None
    return found, ({"nextToken": token} if token else {})
