#!/usr/bin/env bash
# `make test`: lint, unit tests, integration tests, in that order, then one
# closing summary line over both suites ("N passed, N failed") and the time of
# each stage. Lint failures stop the run; a failing unit suite still lets the
# integration suite run, so one CI run shows every failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

stage() { # name command...
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "=== $name"
  "$@" 2>&1 | tee "$LOGS/$name.log"
  rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc in $(( $(date +%s) - t0 ))s"
  times+=("$name $(( $(date +%s) - t0 ))s")
  return "$rc"
}

count() { # log word -> mocha's "N passing" / "N failing", 0 when absent
  sed -n "s/^ *\([0-9][0-9]*\) $2.*/\1/p" "$1" 2>/dev/null | tail -1 | grep . || echo 0
}

times=()
stage lint npm run --silent lint || { echo "lint failed: fix it first (npm run lint)"; exit 1; }
stage unit npm run --silent test:unit
unit_rc=$?
stage integration npm run --silent test:integration
integration_rc=$?

passed=0 failed=0
for suite in unit integration; do
  p=$(count "$LOGS/$suite.log" passing)
  f=$(count "$LOGS/$suite.log" failing)
  echo "$suite: $p passing, $f failing"
  passed=$(( passed + p )); failed=$(( failed + f ))
done
# A suite that crashed before mocha's summary counts as one failure.
[ $unit_rc -eq 0 ] || [ "$(count "$LOGS/unit.log" failing)" != 0 ] || failed=$(( failed + 1 ))
[ $integration_rc -eq 0 ] || [ "$(count "$LOGS/integration.log" failing)" != 0 ] || failed=$(( failed + 1 ))
echo "times: ${times[*]}"
echo "$passed passed, $failed failed"
[ $unit_rc -eq 0 ] && [ $integration_rc -eq 0 ]
