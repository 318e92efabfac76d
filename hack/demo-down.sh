#!/usr/bin/env bash
# `make demo-down`: stop the cluster `make demo` started (the operator runs in
# it) and remove everything it made on this machine.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash hack/testenv down
