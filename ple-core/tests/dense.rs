//! The dense first layer skips the zero one-hot columns: whatever the values in those
//! columns (one-hot, several per field, not 1, none at all), a dense row gives what the full
//! product over every column gives, bit for bit, single row and batch, on every backend.
//!
//! The full product is the same weights under a layout that declares every column numeric:
//! numeric columns are always multiplied, zero or not.

mod common;

use common::{canonical, census_like, nets, packed_pair, row, Net, Rng};
use ple_core::kernels::scalar::Scalar;
use ple_core::kernels::{Detected, Kernels};
use ple_core::{
    batch_scratch_len, gates_len, scratch_len, BatchInput, Input, InputLayout, PleModel, Weight,
};
use proptest::prelude::*;

/// Dense rows whose one-hot columns hold anything: the densified sparse row, then with
/// extra ones, values other than 1, negative zeros and, for some rows, every column set.
fn odd_rows(net: &Net, count: usize, rng: &mut Rng) -> Vec<f32> {
    let width = net.shape().input_dim as usize;
    let numeric = net.numeric as usize;
    let mut rows = Vec::with_capacity(count * width);
    for r in 0..count {
        let (_, _, mut dense) = row(net, rng);
        for value in dense[numeric..].iter_mut() {
            *value = match (r % 4, rng.below(8)) {
                (0, _) => *value,
                (3, _) => rng.uniform(2.0),
                (_, 0) => 1.0,
                (_, 1) => rng.uniform(3.0),
                (_, 2) => -0.0,
                _ => *value,
            };
        }
        rows.extend(dense);
    }
    rows
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|p| p.to_bits()).collect()
}

/// `rows` through the model with the net's layout and through the same weights with every
/// column numeric: the probabilities and gate weights must be the same bits.
fn check_skipping<W: Weight, K: Kernels<W>>(
    kernels: &K,
    net: &Net,
    weights: &[W],
    rows: &[f32],
) -> Result<(), TestCaseError> {
    let shape = net.shape();
    let width = shape.input_dim as usize;
    let count = rows.len() / width;
    let tasks = shape.tasks as usize;
    let skipping = PleModel::new(shape, net.layout(), weights).unwrap();
    let full = PleModel::new(shape, InputLayout::dense(shape.input_dim), weights).unwrap();
    let mut scratch = vec![f32::NAN; scratch_len(&shape)];
    let mut expected = vec![f32::NAN; count * tasks];
    for (r, x) in rows.chunks_exact(width).enumerate() {
        let (mut p, mut g) = (vec![0.0; tasks], vec![0.0; gates_len(&shape)]);
        let (mut q, mut h) = (p.clone(), g.clone());
        full.predict_using(kernels, Input::Dense(x), &mut scratch, &mut p, Some(&mut g))
            .unwrap();
        skipping
            .predict_using(kernels, Input::Dense(x), &mut scratch, &mut q, Some(&mut h))
            .unwrap();
        prop_assert_eq!(bits(&q), bits(&p), "row {}", r);
        prop_assert_eq!(bits(&h), bits(&g), "gates of row {}", r);
        expected[r * tasks..(r + 1) * tasks].copy_from_slice(&p);
    }
    let mut batch_scratch = vec![f32::NAN; batch_scratch_len(&shape, count)];
    let mut actual = vec![f32::NAN; count * tasks];
    skipping
        .predict_batch_using(
            kernels,
            BatchInput::Dense(rows),
            &mut batch_scratch,
            &mut actual,
        )
        .unwrap();
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

fn check_every_backend(net: &Net, seed: u64, count: usize) -> Result<(), TestCaseError> {
    let shape = net.shape();
    let mut rng = Rng(seed);
    let params = canonical(&shape, &mut rng);
    let (packed, halves) = packed_pair(&shape, &params);
    let rows = odd_rows(net, count, &mut rng);
    check_skipping(&Detected::new(), net, &packed, &rows)?;
    check_skipping(&Scalar, net, &packed, &rows)?;
    check_skipping(&Detected::new(), net, &halves, &rows)?;
    check_skipping(&Scalar, net, &halves, &rows)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 64 }))]

    #[test]
    fn skipping_zero_columns_gives_the_full_product_bit_for_bit(net in nets(), seed in any::<u64>(), count in 1usize..12) {
        check_every_backend(&net, seed, count)?;
    }
}

/// The default network on a Census-like layout: 488 one-hot columns, so that rows with every
/// column set need many scans and many chunks of rows.
#[test]
fn skipping_zero_columns_gives_the_full_product_on_the_default_network() {
    let net = census_like();
    assert_eq!(net.shape().input_dim, 499);
    for seed in 0..4 {
        check_every_backend(&net, seed, 20).unwrap();
    }
}
