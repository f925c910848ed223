#!/usr/bin/env bash
# Run every benchmark in ops/bench (each prints its figures next to a floor measured in the same
# run). Those that take --json also write their figures to $BENCH_OUT (default
# .bench-results/<date>-<commit>/<bench>.json) for comparison across commits.
# Usage: ops/bench/run_all.sh  (after ./ops/scripts/test or ./ops/scripts/serve set up .venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=".venv/bin/python"
OUT="${BENCH_OUT:-.bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)}"
mkdir -p "$OUT"
for bench in ops/bench/bench_*.py; do
  name="$(basename "$bench" .py)"
  echo "== $bench"
  if grep -q -- '"--json"' "$bench"; then
    "$PY" "$bench" --json "$OUT/$name.json" 2>/dev/null
  else
    "$PY" "$bench" 2>/dev/null
  fi
  echo
done
echo "figures written to $OUT"
