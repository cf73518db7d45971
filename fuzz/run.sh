#!/usr/bin/env bash
# Runs both fuzz targets for a bounded time each, starting from the kept corpus.
#
#   fuzz/run.sh [seconds per target]      (default 180)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). New inputs go to a
# working corpus under $PLE_FUZZ_WORK (default /tmp/ple-fuzz), never into the repository;
# crashes land in fuzz/artifacts/<target>/ (ignored by git). A crash worth keeping is
# minimised (`cargo +nightly fuzz tmin <target> <file>`), fixed, and copied into
# fuzz/corpus/<target>/, which `cargo test -p ple-codegen --test fuzz_regressions` and
# `cargo test -p ple-train --test fuzz_regressions` replay on stable.
set -euo pipefail
seconds="${1:-180}"
here="$(cd "$(dirname "$0")" && pwd)"
work="${PLE_FUZZ_WORK:-/tmp/ple-fuzz}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/tgt-ple-fuzz}"
cd "$here"
for target in model_file census_records; do
    mkdir -p "$work/$target"
    echo "== $target: ${seconds} s"
    cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1
done
