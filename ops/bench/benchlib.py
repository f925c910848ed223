"""Helpers shared by the ops/bench scripts: environment header, percentiles, one-line reports,
and the common JSON shape every bench writes with `--json PATH` (`Results`, `Figure`).

Every benchmark prints its figure next to a floor measured in the same run (raw pyzmq, raw queue
hand-off, raw sqlite3), because this machine is shared and noisy: compare ratios, not absolutes.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (fraction in 0..1)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def header(title: str) -> None:
    """Print the benchmark's title and what it ran on."""
    load = ""
    try:
        with open("/proc/loadavg") as handle:
            load = " load " + " ".join(handle.read().split()[:3])
    except OSError:
        pass
    print(f"# {title}")
    print(f"# Python {platform.python_version()}, {os.cpu_count()} cpus,{load}")


def latency_line(name: str, samples_us: Sequence[float]) -> tuple[float, float]:
    """Print p50/p99 of latency samples in µs; return them."""
    p50, p99 = percentile(samples_us, 0.50), percentile(samples_us, 0.99)
    print(f"{name:<52} p50 {p50:>9.1f} µs   p99 {p99:>9.1f} µs   (n={len(samples_us):,})")
    return p50, p99


def rate_line(name: str, count: int, seconds: float, unit: str = "msg/s") -> float:
    """Print a throughput; return it."""
    rate = count / seconds if seconds > 0 else float("inf")
    print(f"{name:<52} {rate:>12,.0f} {unit}   (n={count:,}, {seconds:.3f} s)")
    return rate


def median_rate(runs: Sequence[float]) -> float:
    return statistics.median(runs)


def ratio_line(name: str, value: float, floor: float) -> None:
    """Print how many times the floor a figure is (>1 = slower for latencies)."""
    print(f"{name:<52} {value / floor:>9.2f} x floor")


def now_us() -> float:
    return time.perf_counter_ns() / 1000.0


def echo_router(endpoint: str, ready: threading.Event, stop: threading.Event) -> None:
    """The raw floor: a ROUTER bound at `endpoint` that sends every message straight back."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    ready.set()
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    while not stop.is_set():
        if poller.poll(100):
            router.send_multipart(router.recv_multipart())
    router.close()
    context.term()


# -- the common JSON shape (ops/bench/report.py reads it) ------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure next to its floor (measured in the same run) and its target.

    `ratio` is value / floor: above 1 a latency is slower than the floor, below 1 a rate is.
    `target` names the SPEC/issue bound in words; `met` is whether this run meets it (None: the
    figure has no target).
    """

    name: str
    value: float
    unit: str
    label: str
    floor: float | None = None
    floor_label: str | None = None
    target: str | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0 or not math.isfinite(self.floor):
            return None
        return self.value / self.floor

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "floor": self.floor,
            "floor_label": self.floor_label,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
        }


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - git with fixed arguments
            ["git", "-C", str(REPO), *args],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_average() -> list[float] | None:
    try:
        return [float(x) for x in os.getloadavg()]
    except OSError:
        return None


def run_metadata() -> dict[str, Any]:
    """When, on what and of which commit a run was measured (`dirty`: the tree had changes)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": None if status is None else bool(status),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hostname": platform.node(),
        },
        "load_at_start": load_average(),
        "argv": sys.argv[1:],
    }


class Results:
    """The figures of one benchmark run, written as JSON with `--json PATH`:
    {"bench", "title", "meta": run_metadata() (+ "seconds", "load_at_end"), "figures": [...],
    "details": {...}} (details: the bench's own extra numbers, not compared)."""

    def __init__(self, bench: str, title: str) -> None:
        self.bench = bench
        self.title = title
        self.meta = run_metadata()
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}
        self._started = time.monotonic()

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        label: str,
        *,
        floor: float | None = None,
        floor_label: str | None = None,
        target: str | None = None,
        met: bool | None = None,
    ) -> Figure:
        if any(figure.name == name for figure in self.figures):
            raise ValueError(f"figure {name!r} added twice")
        figure = Figure(name, float(value), unit, label, floor, floor_label, target, met)
        self.figures.append(figure)
        return figure

    def add_latencies(
        self,
        name: str,
        label: str,
        values: Sequence[float],
        floors: Sequence[float],
        floor_label: str,
        *,
        p50_target: str | None = None,
        p50_met: bool | None = None,
    ) -> None:
        """A p50 and a p99 in µs (`values` and `floors` as `latency_line` returns them) as two
        figures; `{stat}` in `name`, `label` and `floor_label` becomes "p50" or "p99"."""
        for stat, value, floor in zip(("p50", "p99"), values, floors, strict=True):
            self.add(
                name.replace("{stat}", stat),
                value,
                "µs",
                label.replace("{stat}", stat),
                floor=floor,
                floor_label=floor_label.replace("{stat}", stat),
                target=p50_target if stat == "p50" else None,
                met=p50_met if stat == "p50" else None,
            )

    def as_dict(self) -> dict[str, Any]:
        meta = {
            **self.meta,
            "seconds": round(time.monotonic() - self._started, 2),
            "load_at_end": load_average(),
        }
        return {
            "bench": self.bench,
            "title": self.title,
            "meta": meta,
            "figures": [figure.as_dict() for figure in self.figures],
            "details": self.details,
        }

    def write(self, path: Path | None) -> None:
        """Write the JSON to `path` (nothing when None)."""
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_dict(), indent=1, ensure_ascii=False, default=_plain)
        path.write_text(text + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {value!r}")
