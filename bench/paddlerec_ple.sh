#!/usr/bin/env bash
# PaddleRec's own PLE trainer (models/multitask/ple, dynamic-graph tools/trainer.py) on the
# same encoded Census splits, for epoch time and test AUC.
#
#   bench/paddlerec_ple.sh [EPOCHS [OUT.json]]  one training + infer; result JSON (default
#                                          $PLE_PADDLEREC_WORK/result-EPOCHS.json)
#   bench/paddlerec_ple.sh setup           venv, PaddleRec code and text data only (idempotent)
#   bench/paddlerec_ple.sh run EPOCHS OUT  one training into OUT/ (OUT/result.json); used by
#                                          train_speed.py's `paddlerec` engine
#
# PaddleRec's code never enters this repository: set PADDLEREC_DIR to an existing checkout
# (any folder with models/multitask/ple and tools/), otherwise the script clones it into
# $PLE_PADDLEREC_WORK (default /tmp/ple-paddlerec).  paddlepaddle (CPU) comes from PyPI into
# its own venv ($PLE_PADDLE_VENV, default /tmp/ple-bench-paddle-venv).  The prepared splits
# are read from $PLE_BENCH_DATA (default /tmp/ple-bench-data; train_speed.sh makes them).
# PLE_PADDLEREC_STANDARDISE=1 feeds PaddleRec numeric columns scaled with the training
# mean/std (what ple-train does) instead of PaddleRec's raw ones; its code is unchanged.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${PLE_PADDLEREC_WORK:-/tmp/ple-paddlerec}"
DATA="${PLE_BENCH_DATA:-/tmp/ple-bench-data}"
VENV="${PLE_PADDLE_VENV:-/tmp/ple-bench-paddle-venv}"
REF="${PADDLEREC_REF:-master}"
PADDLE_VERSION="${PLE_PADDLE_VERSION:-3.3.1}"
if [ "${PLE_PADDLEREC_STANDARDISE:-0}" = 1 ]; then
    TEXT="$WORK/census-standardised" WRITE_FLAG=--standardise COLLECT_FLAG=--standardised
    INPUTS="numeric inputs standardised with the training mean/std (not PaddleRec's raw format)"
else
    TEXT="$WORK/census" WRITE_FLAG="" COLLECT_FLAG=""
    INPUTS="PaddleRec's data format (raw numeric inputs)"
fi

setup() {
    mkdir -p "$WORK"
    if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "paddlepaddle==$PADDLE_VERSION" numpy==2.4.6 pyyaml six
    if [ -z "${PADDLEREC_DIR:-}" ]; then
        PADDLEREC_DIR="$WORK/PaddleRec"
        if [ ! -d "$PADDLEREC_DIR/models/multitask/ple" ]; then
            git clone --depth 1 --branch "$REF" https://github.com/PaddlePaddle/PaddleRec.git "$PADDLEREC_DIR" ||
                { echo "cannot clone PaddleRec; set PADDLEREC_DIR to a checkout" >&2; exit 1; }
        fi
    fi
    PLE_DIR="$PADDLEREC_DIR/models/multitask/ple"
    for f in "$PLE_DIR/config_bigdata.yaml" "$PLE_DIR/net.py" "$PLE_DIR/dygraph_model.py" \
        "$PLE_DIR/census_reader.py" "$PADDLEREC_DIR/tools/trainer.py" "$PADDLEREC_DIR/tools/infer.py"; do
        [ -f "$f" ] || { echo "PaddleRec checkout $PADDLEREC_DIR lacks $f" >&2; exit 1; }
    done
    if [ ! -f "$TEXT/train_all/data.txt" ] || [ ! -f "$TEXT/test_all/data.txt" ]; then
        "$VENV/bin/python" "$BENCH_DIR/paddlerec_data.py" write --prepared "$DATA" --out "$TEXT" $WRITE_FLAG
    fi
}

# One training of EPOCHS epochs into $1, then PaddleRec's infer on the last epoch, then our
# collector (epoch seconds, bucket AUC, exact AUC through PaddleRec's net.py).
train_once() {
    local epochs="$1" out="$2" note="$3"
    rm -rf "$out/model"
    mkdir -p "$out"
    # One thread, like the other single-thread figures.
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CPU_NUM=1
    (cd "$PLE_DIR" && "$VENV/bin/python" -u ../../../tools/trainer.py -m config_bigdata.yaml -o \
        "runner.train_data_dir=$TEXT/train_all" "runner.epochs=$epochs" \
        "runner.use_gpu=False" "runner.model_save_path=$out/model") >"$out/train.log" 2>&1 ||
        { tail -20 "$out/train.log" >&2; exit 1; }
    (cd "$PLE_DIR" && "$VENV/bin/python" -u ../../../tools/infer.py -m config_bigdata.yaml -o \
        "runner.test_data_dir=$TEXT/test_all" "runner.infer_load_path=$out/model" \
        "runner.infer_start_epoch=$((epochs - 1))" "runner.infer_end_epoch=$epochs" \
        "runner.use_gpu=False") >"$out/infer.log" 2>&1 || { tail -20 "$out/infer.log" >&2; exit 1; }
    "$VENV/bin/python" "$BENCH_DIR/paddlerec_data.py" collect --train-log "$out/train.log" \
        --infer-log "$out/infer.log" --out "$out/result.json" --note "$note" \
        --paddlerec-dir "$PADDLEREC_DIR" --model-root "$out/model" --prepared "$DATA" $COLLECT_FLAG >/dev/null
}

case "${1:-}" in
setup)
    setup
    echo "PaddleRec: $PADDLEREC_DIR; data: $TEXT; python: $VENV/bin/python"
    ;;
run)
    [ $# -eq 3 ] || { echo "usage: $0 run EPOCHS OUT" >&2; exit 2; }
    setup >/dev/null
    train_once "$2" "$3" "PaddleRec ($PADDLEREC_DIR), models/multitask/ple, config_bigdata.yaml, $2 epoch(s), OMP_NUM_THREADS=1, $INPUTS"
    ;;
*)
    EPOCHS="${1:-1}"
    RESULT="${2:-$WORK/result-$EPOCHS.json}"
    setup
    train_once "$EPOCHS" "$WORK/standalone${WRITE_FLAG:+-standardised}" "PaddleRec ($PADDLEREC_DIR), models/multitask/ple, config_bigdata.yaml, $EPOCHS epoch(s), OMP_NUM_THREADS=1, $INPUTS"
    cp "$WORK/standalone${WRITE_FLAG:+-standardised}/result.json" "$RESULT"
    cat "$RESULT"
    ;;
esac
