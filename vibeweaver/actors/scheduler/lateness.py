"""LatenessRecorder: how late beat-triggered rules ran, as p50/p99 over a window of recent firings.

Lateness is the wall (monotonic) time a rule's action was started minus the ideal time of the beat
it fired for (SPEC 4.4). It is positive when late; a firing caused by a transport move that lands
on a beat records 0 (the beat's ideal time is the move itself).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["DEFAULT_WINDOW", "LatenessRecorder", "LatenessSummary"]

DEFAULT_WINDOW = 2048
"""Recent firings the percentiles are computed over."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatenessSummary:
    """Percentiles of the window, in milliseconds; `count` is every firing ever recorded."""

    count: int
    window: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def line(self) -> str:
        """The summary line: `beat lateness p50 0.40 ms, p99 2.1 ms, max 3.0 ms (9 firings)`."""
        return (
            f"beat lateness p50 {_ms(self.p50_ms)}, p99 {_ms(self.p99_ms)}, "
            f"max {_ms(self.max_ms)} ({self.count} firing{'s' if self.count != 1 else ''})"
        )

    def as_dict(self) -> dict[str, float | int]:
        """What the admin view shows."""
        return {
            "count": self.count,
            "window": self.window,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
        }


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if abs(value) >= 1 else f"{value:.2f} ms"


class LatenessRecorder:
    """A bounded window of lateness samples (seconds in, milliseconds out)."""

    __slots__ = ("_count", "_recent")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"lateness window must be >= 1, got {window}")
        self._recent: deque[float] = deque(maxlen=window)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def record(self, lateness_s: float) -> None:
        if not math.isfinite(lateness_s):
            return
        self._recent.append(lateness_s * 1000.0)
        self._count += 1

    def summary(self) -> LatenessSummary | None:
        """None until something was recorded."""
        if not self._recent:
            return None
        ordered = sorted(self._recent)
        return LatenessSummary(
            count=self._count,
            window=len(ordered),
            p50_ms=_rank(ordered, 0.50),
            p99_ms=_rank(ordered, 0.99),
            max_ms=ordered[-1],
        )


def _rank(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile (always a measured value)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
