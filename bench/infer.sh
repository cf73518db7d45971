#!/usr/bin/env bash
# Inference on one thread: onnxruntime, PyTorch eager / compiled, tract on the same weights,
# plus ple-core's figures when given. Example:
#   bench/infer.sh --model target/ple-train/model.safetensors
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$PY" "$BENCH_DIR/infer_onnx.py" "$@"
