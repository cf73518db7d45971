#!/usr/bin/env bash
# ple-core's portable paths under Miri (undefined behaviour, out-of-bounds reads, invalid
# pointers), with the nightly toolchain's miri component:
#
#   rustup +nightly component add miri rust-src      (once)
#   fuzz/miri.sh [extra cargo test arguments]
#
# Without its `std` feature, ple-core picks kernels by compile-time target features only, so
# on a default x86_64 target (no AVX2) every kernel is the scalar one; the SIMD kernels are
# checked against these scalar twins by the ordinary proptests. The property tests run a
# handful of cases under Miri (`cfg!(miri)`), enough to walk every code path on random
# shapes and inputs. Isolation is off because proptest reads the clock and its regression
# files. Left out: the kernel twin tests in the library (they compare SIMD with scalar, and
# Miri runs no SIMD here), the full-size default model (the same code paths as the random
# small shapes, at hours of interpretation) and the int8 tests (their property tests do not
# yet lower their case counts under Miri).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/tgt-ple-miri}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri test -p ple-core --test capi --test robustness --test forward_reference \
    "$@" -- --skip default_model
