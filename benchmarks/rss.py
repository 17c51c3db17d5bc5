"""Peak resident memory of this process since a point in time (Linux: /proc/self)."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


class PeakGrowth:
    """Resets the kernel's high-water mark, so the peak measured is this work's own."""

    def __init__(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset VmHWM to the current RSS
        self.start_mb = _status_mb("VmRSS")

    def growth_mb(self) -> float:
        return max(0.0, _status_mb("VmHWM") - self.start_mb)
