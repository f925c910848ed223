"""marker() write rate with 0 / 1,000 / 10,000 markers already in the session (SPEC §5: flat
within ±20 %), next to raw sqlite3 autocommitted INSERTs in the same run.

Each marker() is an acknowledged write (committed before the cell goes on) plus a MarkerPlaced
tell to the scheduler, timed from inside cells. One service holds a session per size; the sessions
take turns, ROUND markers per turn in a rotating order, until each placed `--n` new markers (so a
size's count grows by `--n` during the run), and each rate is its markers over its cells' time.

Run: .venv/bin/python ops/bench/bench_markers.py [--n 300] [--json F]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results, header
from vibeweaver import logs
from vibeweaver.config import Config
from vibeweaver.weaver import Weaver

SIZES = (0, 1_000, 10_000)


def floor_rate(path: Path, n: int) -> float:
    """Raw sqlite3: autocommitted INSERTs (WAL, synchronous=NORMAL, as the store runs)."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=wal")
    raw.execute("PRAGMA synchronous=normal")
    raw.execute("CREATE TABLE IF NOT EXISTS m (name TEXT PRIMARY KEY, beat REAL)")
    started = time.perf_counter()
    for i in range(n):
        raw.execute("INSERT OR REPLACE INTO m VALUES (?, ?)", (f"f{i}", float(i)))
    elapsed = time.perf_counter() - started
    raw.close()
    return n / elapsed


ROUND = 50
"""Markers one timed cell places in one session; the sessions take turns, round by round."""


def marker_rates(sizes: list[int], n: int) -> list[float]:
    """marker() writes/s in sessions seeded with `sizes` markers: one service, one session per
    size, the sessions taking turns (ROUND markers each, in a rotating order) until each placed
    `n`, so machine noise and warm-up hit every size alike."""
    from vibeweaver.service import ToolService  # after the Weaver: it imports the actors

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            data_dir=Path(tmp), router=None, hootenanny=None, broadcasts=None, http=None
        )
        with Weaver(config, configure_logging=False) as weaver:
            service = ToolService(weaver.system, eval_timeout=600)

            def run(code: str) -> str | None:
                outcome = service.evaluate(code, timeout_s=600)
                if outcome.status != "ok":
                    raise RuntimeError(f"the marker cell failed: {outcome.error}")
                return outcome.result

            for size in sizes:
                run(
                    f"session(name='m{size}')\n"
                    f"for i in range({size}):\n    marker(f'old{{i}}', i)\n"
                    "for i in range(20):\n    marker(f'warm{i}', i + 0.25)"
                )
            placed = [0] * len(sizes)
            seconds = [0.0] * len(sizes)
            turn = 0
            while min(placed) < n:
                order = list(range(len(sizes)))
                order = order[turn % len(order) :] + order[: turn % len(order)]
                turn += 1
                for index in order:
                    if placed[index] >= n:
                        continue
                    count = min(ROUND, n - placed[index])
                    run(f"session(load='m{sizes[index]}')")
                    taken = run(
                        "import time\n_t = time.perf_counter()\n"
                        f"for i in range({placed[index]}, {placed[index] + count}):\n"
                        "    marker(f'new{i}', i + 0.5)\n"
                        "time.perf_counter() - _t"
                    )
                    if taken is None:
                        raise RuntimeError("the marker cell returned no time")
                    placed[index] += count
                    seconds[index] += float(taken)
            return [count / took for count, took in zip(placed, seconds, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    title = "marker() write rate by markers already stored"
    header(title)
    results = Results("bench_markers", title)
    with tempfile.TemporaryDirectory() as tmp:
        floor = floor_rate(Path(tmp) / "floor.db", args.n)
    floor_label = "raw sqlite3 autocommitted INSERT"
    print(f"{'floor: ' + floor_label:<52} {floor:>10,.0f} writes/s")
    rates = marker_rates(args.sizes, args.n)
    for existing, rate in zip(args.sizes, rates, strict=True):
        label = f"marker() with {existing:,} markers stored"
        print(f"{'vibeweaver: ' + label:<52} {rate:>10,.0f} writes/s")
        results.add(
            f"writes_per_s.{existing}",
            rate,
            "writes/s",
            f"{label}, writes/s",
            floor=floor,
            floor_label=floor_label,
        )
    spread = (max(rates) - min(rates)) / max(rates) if rates else 0.0
    print(f"{'spread (max - min) / max':<52} {spread * 100:>10.1f} %")
    sizes = ", ".join(f"{size:,}" for size in args.sizes)
    results.add(
        "spread_percent",
        spread * 100,
        "%",
        f"marker() write rate spread (max - min) / max over {sizes} markers",
        target="≤ 20 % (SPEC §5: flat ±20 %)",
        met=spread <= 0.20,
    )
    results.details["n"] = args.n
    results.write(args.json)


if __name__ == "__main__":
    main()
