"""Each benchmark runs at a tiny size, so none can rot (their figures are not judged here: no
timing decides pass or fail in the test suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_startup.py", ["--rules", "60", "--history", "60"]),
        ("bench_gateway.py", ["--n", "20"]),
        ("bench_markers.py", ["--n", "20", "--sizes", "0", "50"]),
        ("bench_rules.py", ["--sizes", "1", "50", "--n", "10", "--burst", "200"]),
        ("bench_mcp.py", ["--n", "5"]),
        ("bench_lateness.py", ["--seconds", "1"]),
        ("bench_postgres.py", ["--processes", "1", "--n", "3", "--pgbench-seconds", "1"]),
        ("bench_kernel.py", ["--n", "6", "--stdio-n", "3", "--rounds", "1", "--restarts", "1"]),
    ],
)
def test_a_benchmark_runs_at_a_tiny_size(script: str, args: list[str], tmp_path: Path) -> None:
    extra = ["--json", str(tmp_path / "out.json")] if script == "bench_startup.py" else []
    result = subprocess.run(
        [sys.executable, str(REPO / "ops" / "bench" / script), *args, *extra],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "floor" in result.stdout
    if extra:
        figures = json.loads((tmp_path / "out.json").read_text())
        assert figures["rules"] == 60 and figures["start_to_first_eval_ms"] > 0
