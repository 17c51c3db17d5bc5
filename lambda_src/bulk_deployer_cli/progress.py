"""What ``--wait`` shows while it follows a file: stage lines, and the records processed.

Why three ways: a terminal gets a live Rich bar on stderr (records, elapsed time, estimate, the
groups' counts) that is completed when the deployment ends; a pipe or a log gets the stage lines
and a plain progress line at most every ``interval`` seconds (and the last one always), so CI
logs stay short; ``--output json`` gets the same events as JSON lines on stderr, so a program
can follow them while stdout stays one JSON document.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from bulk_deployer_cli.output import colour_wanted, is_terminal, printable

BAR_WIDTH = 30
DEFAULT_INTERVAL = 10.0


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    total = max(total, 1)
    done = max(0, min(done, total))
    filled = round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({100 * done // total}%)"


def clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02}:{whole % 60:02}"


class Progress:
    """``mode``: ``auto`` (a bar on a terminal, lines elsewhere), ``lines``, ``json`` or ``off``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        mode: str = "auto",
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if is_terminal(self._stream) else "lines"
        self.mode = mode
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_stage: str | None = None
        self._last_line_at: float | None = None
        self._last_records: tuple[int, int] | None = None
        self._rich: Any = None
        self._task: Any = None

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def stage(self, text: str) -> None:
        """A new stage, printed once."""
        if self.mode == "off" or text == self._last_stage:
            return
        self._last_stage = text
        if self.mode == "json":
            self._event({"event": "stage", "message": text})
        elif self._rich is not None:
            self._rich.console.print(printable(text, self._stream), markup=False, highlight=False)
        else:
            self._print(text)

    def records(self, done: int, total: int, status: str = "", groups: str = "") -> None:
        """Records processed of ``total``: the bar, or a line at most every ``interval`` seconds."""
        if self.mode == "off" or total <= 0:
            return
        done = max(0, min(done, total))
        detail = ", ".join(part for part in (status, groups) if part)
        if self.mode == "bar":
            self._bar(done, total, detail)
            return
        now = self._clock()
        final = done >= total
        due = self._last_line_at is None or now - self._last_line_at >= self._interval
        if (done, total) == self._last_records and not due:
            return
        if not (due or (final and self._last_records != (done, total))):
            return
        self._last_line_at, self._last_records = now, (done, total)
        if self.mode == "json":
            self._event(
                {"event": "records", "done": done, "total": total, "status": status, "groups": groups}
            )
        else:
            self._print(
                f"  {bar(done, total)} records processed"
                + (f" ({detail})" if detail else "")
                + f", elapsed {clock_text(self.elapsed)}"
            )

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    # -- the three outputs ----------------------------------------------------------------

    def _print(self, text: str) -> None:
        print(printable(text, self._stream), file=self._stream, flush=True)

    def _event(self, event: dict[str, Any]) -> None:
        event["elapsed_seconds"] = round(self.elapsed, 1)
        print(json.dumps(event, ensure_ascii=True), file=self._stream, flush=True)

    def _bar(self, done: int, total: int, detail: str) -> None:
        if self._rich is None:
            self._start_bar(total)
        self._rich.update(self._task, completed=done, total=total, detail=detail)

    def _start_bar(self, total: int) -> None:
        # Imported here: Rich is for the terminal, which most commands never draw on.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress  # noqa: PLC0415

        colour = colour_wanted(self._stream)
        console = Console(file=self._stream, no_color=not colour, highlight=False)
        self._rich = RichProgress(
            TextColumn("  records"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
        )
        self._task = self._rich.add_task("records", total=total, detail="")
        self._rich.start()
