#!/usr/bin/env bash
# The C ABI and ple-core's portable paths under Miri (undefined behaviour, out-of-bounds
# reads, invalid pointers and slices, uninitialised memory), with the nightly toolchain's
# miri component:
#
#   rustup +nightly component add miri rust-src      (once)
#   fuzz/miri.sh [extra cargo test arguments]
#
# Runs, in two cargo invocations:
# - ple-core's `capi` (the f32/f16 C ABI), `robustness` (arbitrary arguments, wrong lengths,
#   inconsistent parts, including two tests on the full-size default shape) and
#   `forward_reference` (random shapes against an f64 reference);
# - ple-codegen's `capi_int8`: the int8 C ABI and its validated handle on a quantised tiny
#   model, every bad model, bad argument and bad handle of its tables, through the model
#   and through a handle (ple-codegen only builds the arrays; the calls are ple-core's).
#
# Without its `std` feature, ple-core picks kernels by compile-time target features only, so
# on a default x86_64 target (no AVX2) every kernel is the scalar one; the SIMD kernels are
# checked against these scalar twins by the ordinary proptests. The property tests run a
# handful of cases under Miri (`cfg!(miri)`), enough to walk every code path on random
# shapes and inputs, and capi_int8 compares 2 rows instead of 40. Isolation is off because
# proptest reads the clock and its regression files. Left out: the kernel twin tests in the
# library (they compare SIMD with scalar, and Miri runs no SIMD here), ple-core's
# `default_model` test (the same code paths as the random small shapes, at hours of
# interpretation) and the int8 engine's own property tests (hundreds of cases each).
#
# Measured on the shared 2-core machine at a load average of 13-15 (other builds running):
# robustness 4/4 passed in 396 s (the two default-shape tests most of it; 491 s with the
# build); capi_int8 5 min to build under Miri, then about an hour of wall time (some 15 min
# of CPU) for its four tests. Far too slow for CI; run it by hand after changing the C ABI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/tgt-ple-miri}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri test -p ple-core --test capi --test robustness --test forward_reference \
    "$@" -- --skip default_model
cargo +nightly miri test -p ple-codegen --test capi_int8 "$@"
