"""MarkerTable: the scheduler's view of the current session's markers, changed one marker at a time.

`marker()` used to make the scheduler re-read every marker of the session from the store, so the
write rate fell with the number of markers (200/s at none, 29/s at 10,000). Now the DSL tells the
scheduler which marker it placed and the table moves that one entry (a bisection and an insert).
Reads are bounded by what they return: the markers the playhead passed since a position (a
bisection, then only those), and the next marker a rule waits for (one lookup per name waited
for).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator

_LAST_NAME = "\U0010ffff"
"""Sorts after every marker name at the same beat."""


class MarkerTable:
    """(beat, name) pairs sorted by beat, and each name's beat; names are unique."""

    __slots__ = ("_beats", "_sorted")

    def __init__(self, markers: Iterable[tuple[float, str]] = ()) -> None:
        self._beats: dict[str, float] = {}
        for beat, name in markers:
            self._beats[name] = beat
        self._sorted = sorted((beat, name) for name, beat in self._beats.items())

    def __len__(self) -> int:
        return len(self._sorted)

    def __bool__(self) -> bool:
        return bool(self._sorted)

    def __iter__(self) -> Iterator[tuple[float, str]]:
        return iter(self._sorted)

    def place(self, name: str, beat: float) -> None:
        """Add the marker `name` at `beat`, or move it there."""
        self.remove(name)
        self._beats[name] = beat
        bisect.insort(self._sorted, (beat, name))

    def remove(self, name: str) -> None:
        beat = self._beats.pop(name, None)
        if beat is None:
            return
        position = bisect.bisect_left(self._sorted, (beat, name))
        del self._sorted[position]

    def passed(self, after: float, upto: float) -> Iterator[tuple[float, str]]:
        """The markers with after < beat <= upto, in beat order."""
        start = bisect.bisect_right(self._sorted, (after, _LAST_NAME))
        for index in range(start, len(self._sorted)):
            beat, name = self._sorted[index]
            if beat > upto:
                return
            yield beat, name

    def next_waited(
        self, names: Collection[str], after: float, fired: Collection[str]
    ) -> float | None:
        """The beat of the first marker after `after` that is in `names` and not in `fired`."""
        beats = [
            beat
            for name in names
            if name not in fired and (beat := self._beats.get(name)) is not None and beat > after
        ]
        return min(beats, default=None)
