"""Repeated GroupIds in a file of up to 700,000 records, found in bounded memory.

Two lines naming the same group would deploy it twice in one bulk deployment; the V1 validator
reports both lines. This table keeps what that takes, apart from the line rules.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import Counter


class GroupIdHashes:
    """Finds GroupIds listed twice, in about 12 bytes per record instead of ~100.

    A Python set of 700,000 strings costs about 100 MB. Here each record leaves only its
    id's 64-bit hash (8 bytes) in one array, in line order and at C speed, plus the line
    where each run of consecutive records starts. At the end, a file of up to
    ``_SET_LIMIT`` records is checked with a set of its hashes (a few MB); a larger one is
    first split by the low bits of each hash into ``_PARTS`` arrays (equal hashes land in the
    same one), then each is checked with a set of its own: about 0.3 s and 18 MB of peak
    growth for 700,000 records, where one set of every hash takes 0.5 s and 110 MB. (NumPy
    sorted them in 40 ms, but its import cost 0.1 s and 17 MB and it was 55 MB of the
    Lambda asset: docs/deployment.md, "What the asset holds".)
    Two different ids with equal 64-bit hashes would be reported as a duplicate
    (probability about 1e-8 for a 700,000-line file): the error is on the safe side, a
    file refused, never a duplicate let through.
    """

    _SET_LIMIT = 1 << 17  # a set of this many hashes: about 8 MB
    _PARTS = 16  # a power of two: 700,000 records give sets of about 44,000 hashes (3 MB)

    def __init__(self) -> None:
        self.hashes = array("q")
        self._run_starts = array("q")  # index into hashes where a run of consecutive lines starts
        self._run_lines = array("i")  # ... and the line of its first record

    def add(self, group_id: str, line: int) -> None:
        self._start_run(line)
        self.hashes.append(hash(group_id))

    def add_run(self, group_ids: list[str], first_line: int) -> None:
        """Ids of consecutive lines starting at first_line (the fast paths' whole chunk)."""
        self._start_run(first_line)
        self.hashes.extend(map(hash, group_ids))

    def _start_run(self, line: int) -> None:
        index = len(self.hashes)
        runs = self._run_starts
        if runs and line - self._run_lines[-1] == index - runs[-1]:
            return  # continues the current run
        runs.append(index)
        self._run_lines.append(line)

    def _line_of(self, index: int) -> int:
        run = bisect_right(self._run_starts, index) - 1
        return int(self._run_lines[run] + index - self._run_starts[run])

    def repeated_hashes(self) -> set[int]:
        """The hashes that occur more than once (empty for a file without duplicates)."""
        if len(self.hashes) <= self._SET_LIMIT:
            return _repeated(self.hashes)
        mask = self._PARTS - 1
        parts = [array("q") for _ in range(self._PARTS)]
        appends = [part.append for part in parts]
        for h in self.hashes:
            appends[h & mask](h)
        repeated: set[int] = set()
        for part in parts:
            repeated |= _repeated(part)
        return repeated

    def duplicates(self) -> list[tuple[int, int]]:
        """(line, first line with the same GroupId) for every repeated GroupId."""
        repeated = self.repeated_hashes()
        if not repeated:
            return []
        first_index: dict[int, int] = {}
        found: list[tuple[int, int]] = []
        for index, h in enumerate(self.hashes):
            if h in repeated:
                first = first_index.setdefault(h, index)
                if first != index:
                    found.append((self._line_of(index), self._line_of(first)))
        return sorted(found)


def _repeated(hashes: array[int]) -> set[int]:
    """The values of ``hashes`` that occur more than once."""
    if len(set(hashes)) == len(hashes):
        return set()
    return {h for h, n in Counter(hashes).items() if n > 1}
