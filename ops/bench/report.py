"""One run's benchmark JSON (a directory of `--json` files in benchlib's common shape, as
ops/bench/run_all.sh writes them) → a Markdown performance table: when, on what, each figure next
to its floor measured in the same run, the ratio, the SPEC/issue target and whether it is met.

The targets first (one table), then every figure by benchmark. `runs.tsv` in the directory (bench,
seconds, exit code; run_all.sh writes it) adds the wall times and names the benches that failed.

With `--readme README.md` the table replaces what stands between the README's
`<!-- bench-table:begin -->` and `<!-- bench-table:end -->` lines (run_all.sh --readme does it).

Run: .venv/bin/python ops/bench/report.py DIR [--out FILE] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """The directory holds nothing to report (or a file that is not a bench's JSON)."""


@dataclass(frozen=True, slots=True)
class BenchRun:
    bench: str
    title: str
    meta: dict[str, Any]
    figures: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Timing:
    bench: str
    seconds: float
    exit_code: int


def load_runs(directory: Path) -> list[BenchRun]:
    """Every bench JSON in `directory`, by bench name."""
    if not directory.is_dir():
        raise ReportError(f"{directory} is not a directory")
    runs = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"{path}: not readable JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("figures"), list):
            raise ReportError(f"{path}: not a bench's JSON (no 'figures' list; see benchlib)")
        runs.append(
            BenchRun(
                bench=str(data.get("bench") or path.stem),
                title=str(data.get("title") or ""),
                meta=dict(data.get("meta") or {}),
                figures=list(data["figures"]),
            )
        )
    if not runs:
        raise ReportError(f"no bench JSON in {directory}")
    return runs


def load_timings(directory: Path) -> list[Timing]:
    path = directory / "runs.tsv"
    if not path.exists():
        return []
    timings = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        try:
            timings.append(Timing(parts[0], float(parts[1]), int(parts[2])))
        except ValueError:
            continue
    return timings


def number(value: float) -> str:
    size = abs(value)
    if float(value).is_integer() and size < 1e15:
        return f"{int(value):,}"
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def quantity(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "µs" and abs(value) >= 1000:
        return f"{number(value / 1000)} ms"
    if unit == "ms" and abs(value) >= 10_000:
        return f"{number(value / 1000)} s"
    return f"{number(value)} {unit}"


def verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "met" if met else "**not met**"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def figure_row(figure: dict[str, Any], *, bench: str | None = None) -> str:
    unit = str(figure.get("unit") or "")
    floor = figure.get("floor")
    floor_text = quantity(floor, unit)
    if floor_text and figure.get("floor_label"):
        floor_text += f" ({figure['floor_label']})"
    ratio = figure.get("ratio")
    cells = [
        str(figure.get("label") or figure.get("name")),
        quantity(figure.get("value"), unit),
        floor_text,
        "" if ratio is None else f"{ratio:.2f}x",
        str(figure.get("target") or ""),
        verdict(figure.get("met")),
    ]
    if bench is not None:
        cells.insert(0, bench)
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def machine_line(meta: dict[str, Any]) -> str:
    machine = meta.get("machine") or {}
    parts = [
        f"{machine.get('cpus', '?')} CPUs ({machine.get('cpu_model') or 'unknown model'})",
        f"Python {machine.get('python', '?')}",
        str(machine.get("platform") or ""),
    ]
    return ", ".join(p for p in parts if p)


def commit_line(runs: list[BenchRun]) -> str:
    commits = sorted(
        {f"{r.meta.get('commit')}{'+changes' if r.meta.get('dirty') else ''}" for r in runs}
    )
    return ", ".join(commits)


def loads(runs: list[BenchRun]) -> str:
    values = [
        load[0]
        for run in runs
        for load in (run.meta.get("load_at_start"), run.meta.get("load_at_end"))
        if isinstance(load, list) and load
    ]
    if not values:
        return ""
    return f"; 1-minute load average {min(values):.1f}–{max(values):.1f} during the run"


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{seconds:.1f} s"


def render(directory: Path) -> str:
    runs = load_runs(directory)
    timings = load_timings(directory)
    dates = sorted(str(r.meta.get("date")) for r in runs if r.meta.get("date"))
    when = dates[0].replace("T", " ").removesuffix("+00:00") + " UTC" if dates else "?"
    lines = [
        f"Measured by `ops/bench/run_all.sh` on {when}, commit "
        f"{commit_line(runs)}, on {machine_line(runs[0].meta)}{loads(runs)}.",
    ]
    total = next((t for t in timings if t.bench == "total"), None)
    if total is not None:
        lines[0] += f" Wall time {minutes(total.seconds)}."
    lines.append(
        "Each figure is next to its floor measured in the same run; ratio = figure / floor "
        "(above 1 a latency is slower than its floor, below 1 a rate is). "
        f"Results: `{directory}`."
    )
    failed = [t for t in timings if t.exit_code != 0 and t.bench != "total"]
    reported = {r.bench for r in runs}
    missing = [t.bench for t in timings if t.bench != "total" and t.bench not in reported]
    if failed:
        names = ", ".join(f"{t.bench} (exit {t.exit_code})" for t in failed)
        lines.append(f"Benches that failed: {names}.")
    if missing:
        lines.append(f"No figures from: {', '.join(missing)}.")
    head = "| figure | value | floor (same run) | ratio | target | met |"
    rule = "|---|---|---|---|---|---|"
    targeted = [(r.bench, f) for r in runs for f in r.figures if f.get("target")]
    if targeted:
        met = sum(1 for _, f in targeted if f.get("met"))
        lines += ["", f"### Targets ({met} of {len(targeted)} met)", ""]
        lines += ["| bench " + head, "|---" + rule]
        lines += [figure_row(f, bench=bench) for bench, f in targeted]
    seconds = {t.bench: t.seconds for t in timings}
    for run in runs:
        notes = [minutes(seconds[run.bench])] if run.bench in seconds else []
        start, end = run.meta.get("load_at_start"), run.meta.get("load_at_end")
        if isinstance(start, list) and isinstance(end, list) and start and end:
            notes.append(f"load {start[0]:.1f} → {end[0]:.1f}")
        took = f" ({', '.join(notes)})" if notes else ""
        lines += ["", f"### {run.bench}: {run.title}{took}", "", head, rule]
        lines += [figure_row(f) for f in run.figures]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="one run's JSON directory")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument(
        "--readme", type=Path, default=None, help="replace the table between its markers here"
    )
    args = parser.parse_args()
    try:
        text = render(args.directory)
        if args.readme is not None:
            args.readme.write_text(
                into_readme(args.readme.read_text(encoding="utf-8"), text), encoding="utf-8"
            )
    except (ReportError, OSError) as exc:
        print(f"report.py: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


BEGIN = "<!-- bench-table:begin -->"
END = "<!-- bench-table:end -->"


def into_readme(readme: str, table: str) -> str:
    """`readme` with `table` between its BEGIN and END lines (both kept)."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ReportError(f"the README has no {BEGIN} ... {END} lines to put the table between")
    return readme[: start + len(BEGIN)] + "\n" + table + readme[end:]


if __name__ == "__main__":
    sys.exit(main())
