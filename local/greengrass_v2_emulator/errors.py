"""Errors as the two services answer them: a code, an HTTP status from the model, a JSON body.

Why one exception type: every handler raises ServiceError and the HTTP layer (or an in-process
caller) turns it into the rest-json error botocore parses: `x-amzn-ErrorType` names the code and
the body carries `message` plus the shape's other members (`resourceId`, `reason`, `fields`...).
"""

from __future__ import annotations

from typing import Any

from .api_model import error_status


class ServiceError(Exception):
    def __init__(self, service: str, code: str, message: str, **members: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.service = service
        self.code = code
        self.message = message
        self.members = {k: v for k, v in members.items() if v is not None}
        self.status = error_status(service, code)
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.members}


# --- greengrassv2 -------------------------------------------------------------------------------
def validation(
    message: str, fields: list[dict[str, str]] | None = None, reason: str | None = None
) -> ServiceError:
    return ServiceError(
        "greengrassv2",
        "ValidationException",
        message,
        reason=reason or ("FIELD_VALIDATION_FAILED" if fields else "OTHER"),
        fields=fields,
    )


def not_found(resource_id: str, resource_type: str, message: str | None = None) -> ServiceError:
    return ServiceError(
        "greengrassv2",
        "ResourceNotFoundException",
        message or f"The {resource_type} {resource_id} was not found.",
        resourceId=resource_id,
        resourceType=resource_type,
    )


def conflict(resource_id: str, resource_type: str, message: str) -> ServiceError:
    return ServiceError(
        "greengrassv2", "ConflictException", message, resourceId=resource_id, resourceType=resource_type
    )


# --- iot ----------------------------------------------------------------------------------------
def invalid_request(message: str) -> ServiceError:
    return ServiceError("iot", "InvalidRequestException", message)


def iot_not_found(message: str) -> ServiceError:
    return ServiceError("iot", "ResourceNotFoundException", message)


def already_exists(message: str, resource_id: str, resource_arn: str) -> ServiceError:
    return ServiceError(
        "iot", "ResourceAlreadyExistsException", message, resourceId=resource_id, resourceArn=resource_arn
    )


def throttled(service: str, operation: str) -> ServiceError:
    """greengrassv2: HTTP 429 with a Retry-After header; iot: HTTP 400 (both as their models say)."""
    error = ServiceError(
        service,
        "ThrottlingException",
        "Rate exceeded" if service == "iot" else f"Rate exceeded for {operation}: too many requests.",
        **({"serviceCode": "greengrass"} if service == "greengrassv2" else {}),
    )
    if service == "greengrassv2":
        error.headers["Retry-After"] = "1"
    return error
