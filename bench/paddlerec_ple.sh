#!/usr/bin/env bash
# PaddleRec's own PLE trainer (models/multitask/ple, dynamic-graph tools/trainer.py) on the
# same encoded Census splits, for epoch time and the AUC it reports.
#
# PaddleRec's code is fetched from its public repository into a temporary folder, never into
# this repository. Set PADDLEREC_DIR to an existing checkout to skip the download.
#
#   bench/paddlerec_ple.sh [EPOCHS]       (default 1; PaddleRec's config uses 100)
#
# Needs: network access to the repository host, paddlepaddle (CPU) from PyPI, and the prepared
# splits in $PLE_BENCH_DATA (default /tmp/ple-bench-data; bench/train_speed.sh makes them).
set -euo pipefail
EPOCHS="${1:-1}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${PLE_PADDLEREC_WORK:-/tmp/ple-paddlerec}"
DATA="${PLE_BENCH_DATA:-/tmp/ple-bench-data}"
VENV="${PLE_PADDLE_VENV:-/tmp/ple-bench-paddle-venv}"
REF="${PADDLEREC_REF:-master}"
mkdir -p "$WORK"

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check paddlepaddle==3.3.1 numpy==2.4.6 pyyaml

if [ -z "${PADDLEREC_DIR:-}" ]; then
    PADDLEREC_DIR="$WORK/PaddleRec"
    if [ ! -d "$PADDLEREC_DIR/models/multitask/ple" ]; then
        if command -v git >/dev/null && git clone --depth 1 --branch "$REF" \
            https://github.com/PaddlePaddle/PaddleRec.git "$PADDLEREC_DIR"; then
            :
        else
            curl -fsSL "https://codeload.github.com/PaddlePaddle/PaddleRec/tar.gz/$REF" -o "$WORK/paddlerec.tar.gz"
            mkdir -p "$PADDLEREC_DIR"
            tar -xzf "$WORK/paddlerec.tar.gz" -C "$PADDLEREC_DIR" --strip-components=1
        fi
    fi
fi
PLE_DIR="$PADDLEREC_DIR/models/multitask/ple"
[ -f "$PLE_DIR/config_bigdata.yaml" ] || { echo "no PaddleRec PLE model in $PLE_DIR" >&2; exit 1; }

if [ ! -f "$WORK/census/train_all/data.txt" ]; then
    "$VENV/bin/python" "$BENCH_DIR/paddlerec_data.py" write --prepared "$DATA" --out "$WORK/census"
fi

# One thread, like the other single-thread figures.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CPU_NUM=1
cd "$PLE_DIR"
"$VENV/bin/python" -u ../../../tools/trainer.py -m config_bigdata.yaml -o \
    "runner.train_data_dir=$WORK/census/train_all" "runner.epochs=$EPOCHS" \
    "runner.use_gpu=False" "runner.model_save_path=$WORK/output_model" 2>&1 | tee "$WORK/train.log"
"$VENV/bin/python" -u ../../../tools/infer.py -m config_bigdata.yaml -o \
    "runner.test_data_dir=$WORK/census/test_all" "runner.infer_load_path=$WORK/output_model" \
    "runner.infer_start_epoch=0" "runner.infer_end_epoch=$EPOCHS" "runner.use_gpu=False" 2>&1 | tee "$WORK/infer.log"
"$VENV/bin/python" "$BENCH_DIR/paddlerec_data.py" collect --train-log "$WORK/train.log" \
    --infer-log "$WORK/infer.log" --out "$BENCH_DIR/results/paddlerec.json" \
    --note "PaddleRec $REF, models/multitask/ple, config_bigdata.yaml, $EPOCHS epoch(s), OMP_NUM_THREADS=1"
