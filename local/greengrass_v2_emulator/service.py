"""One request, the way both services treat it: quota, injected faults, model check, the work.

Why one entry (`invoke`) for HTTP and in-process callers alike: a test that drives the emulator
without HTTP gets the same quota, faults, validation and call log as the product over boto3.
All state sits behind one re-entrant lock; every request first applies the time that passed.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from ..emulator_kit.clock import Clock
from ..emulator_kit.service import EmulatedService
from . import greengrass_api, iot_api
from .api_model import operation_model, response_code
from .calls import Call, counts, create_counts
from .config import EmulatorConfig, Fault
from .devices import Behaviour, BehaviourKind
from .errors import ServiceError, throttled
from .quota import Quotas
from .state import State
from .validation import check

log = logging.getLogger(__name__)

HANDLERS = {"greengrassv2": greengrass_api.HANDLERS, "iot": iot_api.HANDLERS}
OPERATIONS = {service: tuple(handlers) for service, handlers in HANDLERS.items()}


class EmulatorService(EmulatedService[EmulatorConfig, Fault, Call]):
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        super().__init__(config, clock)
        self.reset()

    def reset(self) -> None:
        """Forget everything: registry, deployments, jobs, devices, tokens, calls, faults (settings stay)."""
        with self.lock:
            self.state = State(self.config)
            self.quotas = Quotas(self.config)
            self._calls: list[Call] = []
            self._faults: list[Fault] = []

    def configure(self, changes: dict[str, Any]) -> None:
        """Change settings (see EmulatorConfig); timings apply to what is under way too."""
        with self.lock:
            super().configure(changes)
            self.state.wake()

    # ------------------------------------------------------------------ requests
    def invoke(self, service: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer) of one request, or ServiceError as the service would answer it."""
        handler = HANDLERS[service][operation]
        with self.lock:
            now = self.clock.now()
            self.state.advance(now)
            call = Call(service, operation, now)
            if operation == "CreateDeployment":
                call.client_token, call.target_arn = params.get("clientToken"), params.get("targetArn")
            self._calls.append(call)
            try:
                if not self.quotas.allow(service, operation, now):
                    raise throttled(service, operation)
                fault = self._take_fault(service, operation, params.get("targetArn"))
                if fault is not None and not fault.after_work:
                    raise _fault_error(fault, operation, params)
                op = operation_model(service, operation)
                check(service, op.input_shape, params)
                answer = handler(self.state, params, now, call)
                if fault is not None:
                    call.answer_lost = True
                    raise _fault_error(fault, operation, params)
            except ServiceError as exc:
                call.outcome = exc.code
                raise
            except Exception as exc:  # an emulator bug: answered (and logged), not a dropped connection
                log.exception("%s %s failed", service, operation)
                code = "InternalFailureException" if service == "iot" else "InternalServerException"
                call.outcome = code
                raise ServiceError(service, code, f"Emulator error: {exc!r}") from exc
            return response_code(op), answer

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """In-process shortcut: the answer, or the ServiceError raised."""
        return self.invoke(service, operation, params)[1]

    def record_rejected(self, service: str, operation: str, error: ServiceError) -> None:
        """A request the HTTP layer could not even parse still counts as a call."""
        with self.lock:
            self._calls.append(Call(service, operation, self.clock.now(), outcome=error.code))

    def advance(self, now: float | None = None) -> None:
        with self.lock:
            self.state.advance(self.clock.now() if now is None else now)

    # ------------------------------------------------------------------ faults
    def _take_fault(self, service: str, operation: str, target_arn: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(service, operation, target_arn):
                fault.consume()
                self._drop_spent_faults()
                return fault
        return None

    # ------------------------------------------------------------------ devices and tokens
    def set_device(self, thing: str, kind: str = "healthy", **options: Any) -> None:
        """Give a device a behaviour from now on (see devices.Behaviour)."""
        with self.lock:
            now = self.clock.now()
            self.state.advance(now)
            self.state.set_behaviour(thing, Behaviour(cast(BehaviourKind, kind), since=now, **options))

    def populate_group(self, group: str, count: int, prefix: str = "device-") -> str:
        """A thing group of ``count`` new things (``<prefix>000000`` ...), made without a request each.

        Why: a 100,000-device fleet through CreateThing and AddThingToThingGroup costs 200,000
        requests (and records as many calls) before a measurement can begin. Returns the group's ARN.
        """
        with self.lock:
            now = self.clock.now()
            registry = self.state.registry
            found = registry.groups.get(group) or registry.create_group(group, None, {}, now)
            for i in range(count):
                self.state.join(self.state.create_thing(f"{prefix}{i:06d}", {}, now), found, now)
            return found.arn

    def devices(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            self.state.advance(self.clock.now())
            return {
                name: {
                    **device.summary(),
                    "behaviour": device.behaviour.to_dict(),
                    "installedComponents": device.installed(),
                }
                for name, device in self.state.devices.items()
            }

    def forget_tokens(self) -> None:
        """Forget every client token now (as if 8 hours had passed)."""
        with self.lock:
            self.state.deployments.tokens.clear()

    # ------------------------------------------------------------------ counters
    def call_counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return counts(self._calls)

    def create_counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return create_counts(self._calls)


def _fault_error(fault: Fault, operation: str, params: dict[str, Any]) -> ServiceError:
    """The modelled error of an injected fault, with the members its shape requires."""
    if fault.error == "ThrottlingException":
        return throttled(fault.service, operation)
    members: dict[str, Any] = {}
    if fault.error in ("ConflictException", "ResourceNotFoundException"):
        members = {
            "resourceId": params.get("targetArn") or params.get("deploymentId") or "",
            "resourceType": "deployment",
        }
    messages = {
        "ConflictException": "Emulated conflict: another request is changing this target.",
        "RequestAlreadyInProgressException": "Emulated: a request with this client token is in progress.",
        "InternalServerException": "Emulated internal error.",
        "ValidationException": f"Emulated: the request for {params.get('targetArn')} is not valid.",
    }
    return ServiceError(
        fault.service, fault.error, messages.get(fault.error, f"Emulated {fault.error}."), **members
    )
