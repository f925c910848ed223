#!/usr/bin/env bash
# Run every benchmark in ops/bench (each prints its figures next to a floor measured in the same
# run). Usage: ops/bench/run_all.sh  (after ./ops/scripts/test or ./ops/scripts/serve set up .venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=".venv/bin/python"
for bench in ops/bench/bench_*.py; do
  echo "== $bench"
  "$PY" "$bench" 2>/dev/null
  echo
done
