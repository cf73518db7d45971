#!/usr/bin/env bash
# Training speed, ple-train vs PyTorch (1 thread and default threads), full data, >= 5 timings
# each. Arguments are passed to train_speed.py (e.g. --epochs 1 --runs 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$PY" "$BENCH_DIR/train_speed.py" "$@"
