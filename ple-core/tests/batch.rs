//! `predict_batch` against `predict`, row by row, bit for bit; and its refusals.

mod common;

use common::{canonical, census_like, nets, packed_pair, row, Net, Rng};
use ple_core::kernels::scalar::Scalar;
use ple_core::kernels::{Detected, Kernels};
use ple_core::{
    aligned_first_layer_len, batch_scratch_len, pack_f32, packed_len, scratch_len, BatchError,
    BatchInput, Input, PleError, PleModel, Weight, BATCH_TILE, PADDLEREC_DEFAULT,
};
use proptest::prelude::*;

/// Random rows of `net`: sparse numeric and categories, and the same rows dense.
fn rows(net: &Net, count: usize, rng: &mut Rng) -> (Vec<f32>, Vec<u16>, Vec<f32>) {
    let (mut numeric, mut categories, mut dense) = (vec![], vec![], vec![]);
    for _ in 0..count {
        let (n, c, d) = row(net, rng);
        numeric.extend(n);
        categories.extend(c);
        dense.extend(d);
    }
    (numeric, categories, dense)
}

/// Every row through `predict_using` and the whole batch through `predict_batch_using`, with
/// the given kernels, sparse and dense: the probabilities must be the same bits.
fn check_batch<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    net: &Net,
    (numeric, categories, dense): &(Vec<f32>, Vec<u16>, Vec<f32>),
    count: usize,
) -> Result<(), TestCaseError> {
    let shape = *model.shape();
    let tasks = shape.tasks as usize;
    let (nw, f, d) = (
        net.numeric as usize,
        net.vocab_sizes.len(),
        shape.input_dim as usize,
    );
    let mut expected = vec![0.0f32; count * tasks];
    let mut scratch = vec![f32::NAN; scratch_len(&shape)];
    for r in 0..count {
        let input = Input::Sparse {
            numeric: &numeric[r * nw..(r + 1) * nw],
            categories: &categories[r * f..(r + 1) * f],
        };
        let out = &mut expected[r * tasks..(r + 1) * tasks];
        model
            .predict_using(kernels, input, &mut scratch, out, None)
            .unwrap();
    }
    let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    // The scratch one value off a 64-byte boundary as often as on one; the aligned first
    // layer's buffer likewise, so that both start at a boundary inside their slices.
    let mut batch_scratch = vec![f32::NAN; batch_scratch_len(&shape, count) + 1];
    let batch_scratch = &mut batch_scratch[count % 2..][..batch_scratch_len(&shape, count)];
    let mut buffer = vec![0.0f32; aligned_first_layer_len(&shape) + 1];
    let aligned = model
        .with_aligned_first_layer(&mut buffer[count % 2..])
        .unwrap();
    for model in [model, &aligned] {
        for input in [
            BatchInput::Sparse {
                numeric,
                categories,
            },
            BatchInput::Dense(&dense[..count * d]),
        ] {
            let mut actual = vec![f32::NAN; count * tasks];
            model
                .predict_batch_using(kernels, input, batch_scratch, &mut actual)
                .unwrap();
            prop_assert_eq!(bits(&actual), bits(&expected));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batch_equals_single_rows_bit_for_bit(net in nets(), seed in any::<u64>(), count in 0usize..3 * BATCH_TILE) {
        let shape = net.shape();
        let mut rng = Rng(seed);
        let params = canonical(&shape, &mut rng);
        let (packed, halves) = packed_pair(&shape, &params);
        let data = rows(&net, count, &mut rng);
        let m32 = PleModel::new(shape, net.layout(), &packed).unwrap();
        let m16 = PleModel::new(shape, net.layout(), &halves).unwrap();
        check_batch(&Detected::new(), &m32, &net, &data, count)?;
        check_batch(&Scalar, &m32, &net, &data, count)?;
        check_batch(&Detected::new(), &m16, &net, &data, count)?;
        check_batch(&Scalar, &m16, &net, &data, count)?;
    }
}

#[test]
fn batch_equals_single_rows_on_the_default_network() {
    let net = census_like();
    let shape = net.shape();
    assert_eq!(shape.input_dim, 499);
    let mut rng = Rng(7);
    let params = canonical(&shape, &mut rng);
    let (packed, halves) = packed_pair(&shape, &params);
    let m32 = PleModel::new(shape, net.layout(), &packed).unwrap();
    let m16 = PleModel::new(shape, net.layout(), &halves).unwrap();
    for count in [1, BATCH_TILE - 1, BATCH_TILE, 5 * BATCH_TILE + 3] {
        let data = rows(&net, count, &mut rng);
        check_batch(&Detected::new(), &m32, &net, &data, count).unwrap();
        check_batch(&Scalar, &m32, &net, &data, count).unwrap();
        check_batch(&Detected::new(), &m16, &net, &data, count).unwrap();
        check_batch(&Scalar, &m16, &net, &data, count).unwrap();
    }
}

#[test]
fn scratch_stops_growing_at_one_tile() {
    let shape = PADDLEREC_DEFAULT;
    assert_eq!(batch_scratch_len(&shape, 0), 0);
    assert!(batch_scratch_len(&shape, 1) > scratch_len(&shape));
    assert_eq!(
        batch_scratch_len(&shape, BATCH_TILE),
        batch_scratch_len(&shape, 1000 * BATCH_TILE)
    );
    // Each row of a tile adds the same amount; the lanes of a tile are there from one row.
    let per_row = batch_scratch_len(&shape, 2) - batch_scratch_len(&shape, 1);
    assert!(per_row >= scratch_len(&shape));
    assert_eq!(
        batch_scratch_len(&shape, 3),
        batch_scratch_len(&shape, 1) + 2 * per_row
    );
}

#[test]
fn bad_batches_are_refused_with_the_row_and_nothing_written() {
    let net = census_like();
    let shape = net.shape();
    let mut rng = Rng(11);
    let params = canonical(&shape, &mut rng);
    let mut packed = vec![0.0f32; packed_len(&shape)];
    pack_f32(&shape, &params, &mut packed).unwrap();
    let model = PleModel::new(shape, net.layout(), &packed).unwrap();
    let (mut numeric, mut categories, _) = rows(&net, 20, &mut rng);
    let mut scratch = vec![0.0f32; batch_scratch_len(&shape, 20)];
    let mut out = vec![-1.0f32; 40];

    categories[13 * 29 + 4] = 3; // field 4 has 3 categories: 0..=2
    let err = model
        .predict_batch(
            BatchInput::Sparse {
                numeric: &numeric,
                categories: &categories,
            },
            &mut scratch,
            &mut out,
        )
        .unwrap_err();
    assert_eq!(
        err,
        BatchError {
            row: Some(13),
            error: PleError::CategoryOutOfRange { field: 4 }
        }
    );
    assert!(err.to_string().contains("batch row 13"));
    assert!(out.iter().all(|&p| p == -1.0));
    categories[13 * 29 + 4] = 2;

    numeric[17 * 11 + 2] = f32::INFINITY;
    let err = model
        .predict_batch(
            BatchInput::Sparse {
                numeric: &numeric,
                categories: &categories,
            },
            &mut scratch,
            &mut out,
        )
        .unwrap_err();
    assert_eq!(err.row, Some(17));
    assert_eq!(err.error, PleError::NonFiniteInput { index: 2 });
    numeric[17 * 11 + 2] = 0.5;

    let input = BatchInput::Sparse {
        numeric: &numeric[..numeric.len() - 1],
        categories: &categories,
    };
    let err = model
        .predict_batch(input, &mut scratch, &mut out)
        .unwrap_err();
    assert_eq!(err, BatchError::from(PleError::InputLength));

    let input = BatchInput::Sparse {
        numeric: &numeric,
        categories: &categories,
    };
    let err = model
        .predict_batch(input, &mut scratch, &mut out[..39])
        .unwrap_err();
    assert_eq!(err.error, PleError::OutputLength);
    let err = model
        .predict_batch(input, &mut scratch[..10], &mut out)
        .unwrap_err();
    assert_eq!(err.error, PleError::ScratchLength);
    assert!(out.iter().all(|&p| p == -1.0));

    model.predict_batch(input, &mut scratch, &mut out).unwrap();
    assert!(out.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn an_aligned_first_layer_starts_on_a_line_and_pads_its_rows_with_zeros() {
    let net = census_like();
    let shape = net.shape();
    let mut rng = Rng(11);
    let params = canonical(&shape, &mut rng);
    let (packed, halves) = packed_pair(&shape, &params);
    let model = PleModel::new(shape, net.layout(), &packed).unwrap();
    let len = aligned_first_layer_len(&shape);
    // 138 columns become 144; the bias and 499 rows, and room to reach a 64-byte boundary.
    assert_eq!(len, 500 * 144 + 15);
    // An f16 model's copy holds its weights widened to f32.
    let m16 = PleModel::new(shape, net.layout(), &halves).unwrap();
    let mut buffer = vec![f32::NAN; len];
    m16.with_aligned_first_layer(&mut buffer).unwrap();
    let start = buffer.iter().position(|v| !v.is_nan()).unwrap();
    for (r, row) in buffer[start..start + 500 * 144]
        .chunks_exact(144)
        .enumerate()
    {
        let from = if r == 0 { 499 * 138 } else { (r - 1) * 138 };
        let widened: Vec<f32> = halves[from..from + 138]
            .iter()
            .map(|h| h.to_f32())
            .collect();
        assert_eq!(&row[..138], &widened[..]);
    }
    for offset in 0..16 {
        let mut buffer = vec![f32::NAN; len + offset];
        model
            .with_aligned_first_layer(&mut buffer[offset..])
            .unwrap();
        let start = buffer.iter().position(|v| !v.is_nan()).unwrap();
        assert_eq!(buffer[start..].as_ptr() as usize % 64, 0);
        let copy = &buffer[start..start + 500 * 144];
        // Row 0 is the bias, row i + 1 weight row i; the packed layer has its weight rows
        // first and the bias after them.
        for (r, row) in copy.chunks_exact(144).enumerate() {
            let from = if r == 0 { 499 * 138 } else { (r - 1) * 138 };
            assert_eq!(&row[..138], &packed[from..from + 138]);
            assert!(row[138..].iter().all(|&v| v == 0.0));
        }
    }
}

#[test]
fn a_short_aligned_first_layer_buffer_is_refused() {
    let net = census_like();
    let shape = net.shape();
    let mut rng = Rng(12);
    let params = canonical(&shape, &mut rng);
    let (packed, _) = packed_pair(&shape, &params);
    let model = PleModel::new(shape, net.layout(), &packed).unwrap();
    // Short by one value, at every start: one of them is 64-byte aligned and needs all but
    // the slack, the others need more than they have.
    let need = aligned_first_layer_len(&shape) - 15;
    let mut buffer = vec![0.0f32; need + 16];
    for offset in 0..16 {
        let part = &mut buffer[offset..][..need - 1];
        assert_eq!(
            model.with_aligned_first_layer(part).err(),
            Some(PleError::AlignedLength)
        );
    }
    let mut empty: [f32; 0] = [];
    assert_eq!(
        model.with_aligned_first_layer(&mut empty).err(),
        Some(PleError::AlignedLength)
    );
}
