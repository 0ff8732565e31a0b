#!/bin/sh
# The reliability check of the README's "The whole suite under load": runs the whole suite
# RUNS times (default 5) while a second process burns one core, and prints one line per run
# (pass/fail, tests, seconds). Logs go to $OUT (default /tmp/witshim-under-load).
# Usage: scripts/suite-under-load.sh [RUNS]
set -u
RUNS=${1:-5}
OUT=${OUT:-/tmp/witshim-under-load}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
passed=0
for run in $(seq 1 "$RUNS"); do
  node -e 'for (;;) {}' &
  burner=$!
  started=$(date +%s)
  if npx vitest run > "$OUT/run-$run.log" 2>&1; then result=pass; passed=$((passed + 1)); else result=FAIL; fi
  kill "$burner"
  tests=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/run-$run.log" | grep -E '^ +Tests ' | tail -1 | sed 's/^ *//')
  echo "run $run: $result in $(( $(date +%s) - started )) s, load average $(cut -d' ' -f1 /proc/loadavg); $tests"
done
echo "$passed of $RUNS runs passed (logs in $OUT)"
[ "$passed" -eq "$RUNS" ]
