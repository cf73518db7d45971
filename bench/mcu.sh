#!/usr/bin/env bash
# The microcontroller table: runs the firmware tests under QEMU (every target and precision
# they cover; each prints a FIGURES line) and writes bench/results/mcu.{json,md,svg}.
#
#   bench/mcu.sh                 run the tests, then write the table
#   bench/mcu.sh --from-log LOG  write the table from the log of an earlier run
#
# PLE_MCU_TREE=/path runs the tests in another source tree (for instance `git archive HEAD`
# extracted to /tmp, to measure exactly one commit; PLE_SOURCE_COMMIT names it).
# PLE_MODEL=path/to/model.safetensors bakes that model instead of the one the tests train (the
# work per inference does not depend on the weights).  Needs what the firmware tests need:
# the Rust targets thumbv7em-none-eabihf, thumbv6m-none-eabi, riscv32imac-unknown-none-elf and
# qemu-system-arm, qemu-system-misc.  Plain python3 (standard library) writes the table.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="${PLE_MCU_TREE:-$(dirname "$BENCH_DIR")}"
COMMAND="cargo test -p ple-tests --test firmware_qemu -- --nocapture"
MODEL_ARGS=()
if [ -n "${PLE_MODEL:-}" ]; then MODEL_ARGS=(--model "trained model $PLE_MODEL"); fi

if [ "${1:-}" = "--from-log" ]; then
    LOG="$2"
else
    LOG="${PLE_MCU_LOG:-/tmp/ple-bench-mcu.log}"
    echo "\$ $COMMAND  (log: $LOG)"
    # The figures of a failing test are still worth a table (the table names the failures),
    # so the test status is reported after the table is written.
    set +e
    (cd "$REPO" && $COMMAND) >"$LOG" 2>&1
    STATUS=$?
    set -e
fi
TABLE=0
python3 "$BENCH_DIR/mcu.py" --log "$LOG" --command "$COMMAND" "${MODEL_ARGS[@]}" --tree "$REPO" \
    --commit "${PLE_SOURCE_COMMIT:-}" --out "$BENCH_DIR/results" || TABLE=$?
if [ "${STATUS:-0}" -ne 0 ]; then
    echo "the firmware tests failed (exit $STATUS); see $LOG" >&2
    tail -5 "$LOG" >&2
    exit "$STATUS"
fi
exit "$TABLE"
