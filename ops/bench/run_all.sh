#!/usr/bin/env bash
# Run every benchmark in ops/bench (each prints its figures next to a floor measured in the same
# run) at its default size, and write each one's figures as JSON (benchlib's common shape) to
# $BENCH_OUT (default .bench-results/<date>-<commit>/<bench>.json) for comparison across commits.
# Each bench's stderr goes to <bench>.log there, its wall time and exit code to runs.tsv; at the end
# ops/bench/report.py prints the Markdown performance table and writes it to README-table.md.
# A bench that fails does not stop the others; the exit code is then 1.
# With --readme, the table also replaces README.md's performance table (between its markers).
# Usage: ops/bench/run_all.sh [--readme]  (after ./ops/scripts/test or ./ops/scripts/serve set up
# .venv)
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=".venv/bin/python"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo nogit)"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit-dirty"; fi
OUT="${BENCH_OUT:-.bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$commit}"
mkdir -p "$OUT"
: > "$OUT/runs.tsv"
status=0
began=$(date +%s.%N)
for bench in ops/bench/bench_*.py; do
  name="$(basename "$bench" .py)"
  echo "== $bench"
  started=$(date +%s.%N)
  "$PY" "$bench" --json "$OUT/$name.json" 2>"$OUT/$name.log"
  code=$?
  took=$("$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
  printf '%s\t%s\t%s\n' "$name" "$took" "$code" >> "$OUT/runs.tsv"
  if [ "$code" -ne 0 ]; then
    echo "!! $name exited $code (stderr: $OUT/$name.log)"
    status=1
  fi
  echo "-- $name: ${took} s"
  echo
done
total=$("$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$began" "$(date +%s.%N)")
printf 'total\t%s\t%s\n' "$total" "$status" >> "$OUT/runs.tsv"
echo "== report ($OUT/README-table.md)"
readme=()
if [ "${1:-}" = "--readme" ]; then readme=(--readme README.md); fi
"$PY" ops/bench/report.py "$OUT" --out "$OUT/README-table.md" "${readme[@]}" || status=1
echo
echo "wall time: ${total} s; figures written to $OUT"
exit "$status"
