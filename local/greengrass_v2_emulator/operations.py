"""The operations one emulated service answers, each by the handler function of the same name.

Why a decorator rather than a table: a handler says which operation it answers by its name
(`create_deployment` answers CreateDeployment), so no table repeats every name a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .calls import Call
from .state import State

# (state, the validated parameters, now on the emulator's clock, the call being logged) -> answer
Handler = Callable[[State, dict[str, Any], float, Call], dict[str, Any]]


class Operations(dict[str, Handler]):
    """{operation name: handler}, in the order the handlers are defined."""

    def answers(self, handler: Handler) -> Handler:
        """Decorator: `handler` answers the operation its name spells in CamelCase."""
        self["".join(word.capitalize() for word in handler.__name__.split("_"))] = handler
        return handler
