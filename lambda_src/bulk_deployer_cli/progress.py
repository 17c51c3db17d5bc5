"""What ``submit --wait`` shows while it follows a file: stage lines and a progress bar.

Why separate: a terminal gets a bar redrawn in place (``\\r``); a log or a pipe gets one
line per change of stage and no bar, so CI logs stay short.
"""

from __future__ import annotations

import sys
from typing import TextIO

BAR_WIDTH = 30


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    total = max(total, 1)
    done = max(0, min(done, total))
    filled = round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({100 * done // total}%)"


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._last_stage: str | None = None
        self._bar_open = False

    def stage(self, text: str) -> None:
        """A new stage, printed once."""
        if not self._enabled or text == self._last_stage:
            return
        self._end_bar()
        print(text, file=self._stream, flush=True)
        self._last_stage = text

    def records(self, done: int, total: int, label: str = "records processed") -> None:
        """The bar: redrawn in place on a terminal, only at the end elsewhere."""
        if not self._enabled:
            return
        line = f"  {bar(done, total)} {label}"
        if self._tty:
            print("\r" + line, end="", file=self._stream, flush=True)
            self._bar_open = True
        elif done >= total and self._last_stage != line:
            print(line, file=self._stream, flush=True)
            self._last_stage = line

    def close(self) -> None:
        self._end_bar()

    def _end_bar(self) -> None:
        if self._bar_open:
            print(file=self._stream, flush=True)
            self._bar_open = False
