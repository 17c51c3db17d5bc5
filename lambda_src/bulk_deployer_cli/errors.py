"""AWS and botocore exceptions turned into one line an operator can act on.

Why: a traceback for "no credentials" or "stack not found" hides the one fact that matters;
each known failure gets a sentence that says what to do.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"}
)
_BAD_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    }
)


def cannot_ask(exc: BaseException) -> bool:
    """AWS could not be asked at all (no credentials, refused credentials, no region, an
    unreachable endpoint): an error (exit 2) for every command, doctor's checks included."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) in _BAD_CREDENTIALS
    return isinstance(
        exc,
        NoCredentialsError
        | PartialCredentialsError
        | ProfileNotFound
        | NoRegionError
        | EndpointConnectionError
        | ConnectTimeoutError,
    )


def describe(exc: BaseException) -> str:  # noqa: PLR0911 - one return per kind of failure
    """One line for stderr."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: configure a profile (--profile NAME or AWS_PROFILE), set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --local for the local stand-ins"
        )
    if isinstance(exc, ProfileNotFound):
        return f"{exc} (check --profile / AWS_PROFILE)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        return f"cannot reach the endpoint {url}: check the network, the region, or that `make local-up` runs"
    if isinstance(exc, ReadTimeoutError):
        return f"the endpoint did not answer in time: {exc}"
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, ResponseParserError):
        return (
            "the endpoint answered with something that is not an AWS response (does it implement this call?)"
        )
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    operation = exc.operation_name
    if code in _ACCESS_DENIED or code == "403":
        return f"access denied calling {operation}: {message or code} (check the caller's IAM permissions)"
    if code in _BAD_CREDENTIALS:
        return f"the AWS credentials were refused ({code}): {message}"
    if code == "ValidationError" and "does not exist" in message and operation == "DescribeStacks":
        return f"{message}: check --stack and --region"
    if message.lstrip().startswith("<"):  # an HTML error page: a stand-in without this API
        message = "the endpoint does not implement this call"
    return f"{operation} failed: {code}: {message}" if message else f"{operation} failed: {code}"
