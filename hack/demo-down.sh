#!/usr/bin/env bash
# `make demo-down`: stop the operator `make demo` started, then the environment.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DIR=${SIGWATCH_TESTENV_DIR:-$ROOT/.testenv}
if [ -f "$DIR/demo/operator.pid" ]; then
  kill "$(cat "$DIR/demo/operator.pid")" 2>/dev/null || true
  rm -f "$DIR/demo/operator.pid"
fi
bash hack/testenv down
