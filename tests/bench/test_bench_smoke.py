"""Each benchmark runs at a tiny size, so none can rot, and writes its figures as JSON in the
common shape (ops/bench/benchlib.py) that ops/bench/report.py turns into the performance table.
Their figures are not judged here: no timing decides pass or fail in the test suite."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

BENCH = REPO / "ops" / "bench"

TINY: dict[str, tuple[list[str], set[str]]] = {
    # script: (arguments for a tiny run, figures its JSON must hold)
    "bench_actors.py": (["--runs", "1", "--scale", "0.01"], {"ask_p50_us.pykka"}),
    "bench_channel.py": (["--n", "10"], {"channel_p50_us", "zeromq_p50_us"}),
    "bench_deadlines.py": (["--seeds", "1"], {"hit_rate.busy.planner"}),
    "bench_gateway.py": (["--n", "20"], {"ping_p50_us", "eval_p50_us"}),
    "bench_kernel.py": (
        ["--n", "6", "--stdio-n", "3", "--rounds", "1", "--restarts", "1"],
        {"zmq_after_vs_before_p50", "restart_death_to_next_eval_p50_ms"},
    ),
    "bench_lateness.py": (
        ["--seconds", "1", "--stop-cells", "1", "--stop-seconds", "1"],
        {
            "notify_burning_p99_ms",
            "callback_awaiting_p99_ms",
            "stop_burning_p99_ms",
            "stop_burning_missed",
        },
    ),
    "bench_markers.py": (["--n", "20", "--sizes", "0", "50"], {"spread_percent"}),
    "bench_mcp.py": (["--n", "5"], {"http_weave_eval_p50_us", "stdio_weave_eval_p50_us"}),
    "bench_postgres.py": (
        ["--processes", "1", "--n", "3", "--pgbench-seconds", "1"],
        {"writes_per_s.postgresql.1"},
    ),
    "bench_rules.py": (
        ["--sizes", "1", "50", "--n", "10", "--burst", "200"],
        {"action_p50_us.50", "action_p50_vs_first.50", "callback_p50_us.50", "ingest_lost.50"},
    ),
    "bench_startup.py": (
        ["--rules", "60", "--history", "60"],
        {"start_to_first_eval_ms", "rss_mib", "kernel_rss_mib"},
    ),
    "bench_store.py": (["--n", "200"], {"firings_per_s", "save_rule_p50_us"}),
}

FIGURE_KEYS = {"name", "label", "value", "unit", "floor", "floor_label", "ratio", "target", "met"}


def run(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def check_shape(data: dict[str, Any], bench: str) -> None:
    assert data["bench"] == bench
    meta = data["meta"]
    assert meta["date"] and meta["commit"] and meta["seconds"] > 0
    assert meta["machine"]["cpus"] >= 1 and meta["machine"]["python"]
    figures = data["figures"]
    assert figures, "no figures"
    for figure in figures:
        assert set(figure) == FIGURE_KEYS, figure
        assert math.isfinite(figure["value"]), figure
        if figure["floor"]:
            assert figure["ratio"] == pytest.approx(figure["value"] / figure["floor"])
        assert figure["met"] is None or figure["target"], figure
    assert any(figure["floor"] is not None for figure in figures), "no figure has a floor"


def test_every_benchmark_has_a_tiny_run() -> None:
    assert {path.name for path in BENCH.glob("bench_*.py")} == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_a_benchmark_runs_at_a_tiny_size(script: str, tmp_path: Path) -> None:
    args, expected = TINY[script]
    bench = script.removesuffix(".py")
    out = tmp_path / f"{bench}.json"
    result = run([str(BENCH / script), *args, "--json", str(out)])
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    check_shape(data, bench)
    assert expected <= {figure["name"] for figure in data["figures"]}
    table = run([str(BENCH / "report.py"), str(tmp_path)], timeout=60)
    assert table.returncode == 0, table.stderr
    assert f"### {bench}: " in table.stdout
    assert data["figures"][0]["label"] in table.stdout


def test_the_report_shows_floors_ratios_targets_and_failed_benches(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from ops.bench.benchlib import Results

    rules = Results("bench_rules", "broadcast → action")
    rules.add(
        "action_p50_us.10000",
        600.0,
        "µs",
        "broadcast → declarative action p50, 10,000 idle rules",
        floor=200.0,
        floor_label="PUB→SUB floor",
        target="≤ 3x floor (SPEC §5)",
        met=True,
    )
    rules.add("ingest_per_s.10000", 15_000.0, "events/s", "ingest", target="≥ 20,000/s", met=False)
    rules.write(tmp_path / "bench_rules.json")
    (tmp_path / "runs.tsv").write_text(
        "bench_rules\t12.5\t0\nbench_store\t3.0\t1\ntotal\t15.5\t1\n"
    )

    result = run([str(BENCH / "report.py"), str(tmp_path), "--out", str(tmp_path / "t.md")], 60)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == text
    assert "### Targets (1 of 2 met)" in text
    assert (
        "| broadcast → declarative action p50, 10,000 idle rules | 600 µs | 200 µs (PUB→SUB floor)"
        " | 3.00x | ≤ 3x floor (SPEC §5) | met |" in text
    )
    assert "| ingest | 15,000 events/s |  |  | ≥ 20,000/s | **not met** |" in text
    assert "Benches that failed: bench_store (exit 1)." in text
    assert "No figures from: bench_store." in text
    assert "Wall time 15.5 s." in text
    assert f"{os.cpu_count()} CPUs" in text


def test_the_report_replaces_the_readme_table_between_its_markers(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from ops.bench.benchlib import Results

    Results("bench_markers", "marker()").write(tmp_path / "bench_markers.json")
    readme = tmp_path / "README.md"
    before = "# x\n\n<!-- bench-table:begin -->\nold table\n<!-- bench-table:end -->\n\nafter\n"
    readme.write_text(before, encoding="utf-8")
    result = run([str(BENCH / "report.py"), str(tmp_path), "--readme", str(readme)], 60)
    assert result.returncode == 0, result.stderr
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text and "### bench_markers: marker()" in text
    assert text.startswith("# x\n\n<!-- bench-table:begin -->\n")
    assert text.endswith("<!-- bench-table:end -->\n\nafter\n")

    readme.write_text("# no markers\n", encoding="utf-8")
    result = run([str(BENCH / "report.py"), str(tmp_path), "--readme", str(readme)], 60)
    assert result.returncode == 2 and "bench-table:begin" in result.stderr
    assert readme.read_text(encoding="utf-8") == "# no markers\n"


def test_the_report_refuses_a_directory_without_figures(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"not": "a bench"}')
    result = run([str(BENCH / "report.py"), str(tmp_path)], 60)
    assert result.returncode == 2
    assert "not a bench's JSON" in result.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    result = run([str(BENCH / "report.py"), str(empty)], 60)
    assert result.returncode == 2
    assert "no bench JSON in" in result.stderr


def test_run_all_is_valid_bash() -> None:
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-n", str(BENCH / "run_all.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
