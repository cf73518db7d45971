#!/usr/bin/env bash
# Inference on one thread on the same weights: ple-core (f32/f16/int8, sparse/dense, single rows
# and batch API; built from bench/ple-core-bench), onnxruntime, PyTorch eager / compiled and
# tract, every engine's outputs checked against PyTorch eager before timing, then the engines
# timed interleaved (each repetition runs every engine once, in a rotated order).
#   bench/infer.sh --model path/to/model.safetensors [infer_onnx.py options]
# Set PLE_BENCH_NO_CORE=1 to skip ple-core.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
MODEL=""
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
    if [ "${ARGS[$i]}" = "--model" ]; then MODEL="${ARGS[$((i + 1))]}"; fi
done
[ -n "$MODEL" ] || { echo "usage: bench/infer.sh --model model.safetensors [options]" >&2; exit 2; }
DATA="${PLE_BENCH_DATA:-/tmp/ple-bench-data}"
CENSUS="${PLE_CENSUS_DIR:-$BENCH_DIR/../../shared/census}"
WORK="${PLE_BENCH_WORK:-/tmp/ple-bench-infer}"
if [ ! -f "$DATA/test.features.f32" ]; then
    "$PY" "$BENCH_DIR/census_data.py" encode --data-dir "$CENSUS" --out "$DATA"
fi
CORE=()
if [ -z "${PLE_BENCH_NO_CORE:-}" ]; then
    export CARGO_TARGET_DIR="${PLE_CORE_BENCH_TARGET:-/tmp/ple-core-bench-target}"
    cargo build --release --manifest-path "$BENCH_DIR/ple-core-bench/Cargo.toml"
    # The Census layout (vocabulary sizes) from the training file, for models whose file
    # carries no feature spec.
    VOCAB="$("$PY" "$BENCH_DIR/census_data.py" vocab-sizes --data-dir "$CENSUS")"
    CORE=(--ple-core-bench "$CARGO_TARGET_DIR/release/ple-core-bench" --vocab-sizes "$VOCAB")
    # The commit ple-core-bench was built from, marked when ple-core, ple-codegen or the
    # benchmark program differ from it.
    ROOT="$BENCH_DIR/.."
    if [ -z "${PLE_SOURCE_COMMIT:-}" ] && git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
        PLE_SOURCE_COMMIT="$(git -C "$ROOT" rev-parse HEAD)"
        if [ -n "$(git -C "$ROOT" status --porcelain -- ple-core ple-codegen bench/ple-core-bench)" ]; then
            PLE_SOURCE_COMMIT="$PLE_SOURCE_COMMIT with uncommitted changes"
        fi
        export PLE_SOURCE_COMMIT
    fi
fi
exec "$PY" "$BENCH_DIR/infer_onnx.py" --prepared "$DATA" --work "$WORK" "${CORE[@]}" "$@"
