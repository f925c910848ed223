"""Benchmark: deadline hit rate of the DeadlinePlanner against two baselines, on simulated time.

Run: .venv/bin/python ops/bench/bench_deadlines.py [--seeds N] [--hours H] [--json F]

Each workload is simulated for H hours per seed (seeds 1..N, pooled), one GPU slot, 120 BPM,
three spaces (median 3 s, 8 s and 14 s), bursts of 1-3 latents, deadlines 16-128 beats ahead.
Every strategy sees exactly the same jobs and the same generation times. Baselines: "start at
creation" (first come first served as soon as a slot is free) and the Rust seed's fixed formula
(start_by = deadline - mean_ms * bpm / 60000 * margin, 5 s mean before any measurement).

"planner" is what the DeadlinePlanner actor runs by default: every job starts at its planned latest
moment (idle_lookahead_s=0, SPEC 4.4), which keeps the GPU free for interactive sample() calls.
"planner + lending" is the actor's option idle_lookahead_s=None: capacity that would otherwise
idle starts the next job early. Exits 1 if either planner is below either baseline on a workload.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results
from vibeweaver.scheduling.simulation import (
    FixedFormulaStrategy,
    PlannerStrategy,
    SimResult,
    StartAtCreationStrategy,
    StrategyFactory,
    Workload,
    busy_workload,
    compare,
    light_workload,
)
from vibeweaver.types import Priority

OURS = "planner"
LENDING = "planner + lending"
BASELINES = ("start at creation", "old fixed formula")


def _pct(result: SimResult) -> str:
    return f"{100 * result.hit_rate:5.1f}%"


def _late(result: SimResult) -> str:
    late = result.mean_miss_lateness_s
    return "    -" if late is None else f"{late:5.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per workload (default 5)")
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours per seed")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures = Results("bench_deadlines", "deadline hit rate: planner vs baselines (simulated)")

    factories: list[StrategyFactory] = [
        partial(PlannerStrategy, idle_lookahead_s=0.0, name=OURS),
        StartAtCreationStrategy,
        FixedFormulaStrategy,
        partial(PlannerStrategy, idle_lookahead_s=None, name=LENDING),
    ]
    seeds = range(1, args.seeds + 1)
    horizon = args.hours * 3600.0
    workloads: list[Workload] = [
        *(light_workload(seed=s, horizon_s=horizon) for s in seeds),
        *(busy_workload(seed=s, horizon_s=horizon) for s in seeds),
    ]
    began = time.perf_counter()
    table = compare(workloads, factories)
    elapsed = time.perf_counter() - began

    loads = {w.name: w.offered_load for w in workloads}
    columns = (OURS, *BASELINES, LENDING)
    print(
        f"deadline hit rate: {args.seeds} seed(s) x {args.hours:g} h simulated per workload, "
        "capacity 1, 120 BPM"
    )
    header = f"{'workload':<9}{'load':>6}{'jobs':>7}  " + "  ".join(f"{c:>17}" for c in columns)
    print(header)
    print("-" * len(header))
    ok = True
    for name, results in table.items():
        ours = results[OURS]
        cells = "  ".join(f"{_pct(results[c]):>17}" for c in columns)
        print(f"{name:<9}{loads[name]:>6.0%}{ours.jobs:>7}  {cells}")
        best = max(results[b].hit_rate for b in BASELINES)
        for mine in (OURS, LENDING):
            figures.add(
                f"hit_rate.{name}.{mine.replace(' ', '_')}",
                100 * results[mine].hit_rate,
                "%",
                f"deadline hit rate, {name} load ({loads[name]:.0%}), {mine}",
                floor=100 * best,
                floor_label="the better baseline: start at creation or old fixed formula",
                target="≥ both baselines",
                met=results[mine].hit_rate >= best,
            )
        ok &= all(results[mine].hit_rate >= best for mine in (OURS, LENDING))
    print()
    print("mean lateness of misses (s)")
    for name, results in table.items():
        cells = "  ".join(f"{_late(results[c]):>17}" for c in columns)
        print(f"{name:<9}{'':>6}{'':>7}  {cells}")
    print()
    print("hit rate by priority (planner / start at creation)")
    for name, results in table.items():
        parts: list[str] = []
        for level in Priority:
            ours_rate = results[OURS].hit_rate_of(level)
            base_rate = results[BASELINES[0]].hit_rate_of(level)
            if ours_rate is not None and base_rate is not None:
                parts.append(f"{level.value} {100 * ours_rate:.0f}/{100 * base_rate:.0f}")
        print(f"{name:<9} " + ", ".join(parts))
    print()
    print(f"both planners >= both baselines on every workload: {'yes' if ok else 'NO'}")
    print(f"simulated in {elapsed:.1f} s")
    figures.details.update(seeds=args.seeds, hours=args.hours)
    figures.write(args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
