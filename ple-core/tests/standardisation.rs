//! A model with a standardisation takes raw numeric values and gives, bit for bit, what the
//! same model gives for values standardised beforehand by `Standardisation::apply` (the
//! trainer's arithmetic): dense and sparse, with gates, single rows and batches, every
//! kernel backend, and through the C ABI. Also its refusals.

#[path = "common/capi_calls.rs"]
mod capi_calls;
mod common;

use capi_calls::sparse;
use common::{canonical, nets, packed_pair, row, Net, Rng};
use ple_core::capi::*;
use ple_core::kernels::scalar::Scalar;
use ple_core::kernels::{Detected, Kernels};
use ple_core::normalise::Standardisation;
use ple_core::{
    batch_scratch_len, gates_len, packed_len, scratch_len, BatchInput, Input, PleError, PleModel,
    Weight,
};
use proptest::prelude::*;

/// Means far from zero against small stds (as Census's `year`), and the opposite.
fn tables(numeric: usize, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let mean = (0..numeric)
        .map(|j| rng.uniform(100.0) * if j % 2 == 0 { 1.0 } else { 0.01 })
        .collect();
    let std = (0..numeric)
        .map(|_| 0.05 + rng.uniform(1.0).abs() * 900.0)
        .collect();
    (mean, std)
}

/// Raw numeric values around the means.
fn raw_row(mean: &[f32], std: &[f32], rng: &mut Rng) -> Vec<f32> {
    mean.iter()
        .zip(std)
        .map(|(&m, &s)| m + rng.uniform(3.0) * s)
        .collect()
}

/// The dense row `net` sees for `numeric` and `categories`, given the one-hot blocks of
/// `dense_of_row` (whose numeric part is replaced).
fn with_numeric(dense_of_row: &[f32], numeric: &[f32]) -> Vec<f32> {
    let mut dense = dense_of_row.to_vec();
    dense[..numeric.len()].copy_from_slice(numeric);
    dense
}

/// Raw rows through the standardising model against standardised rows through the plain
/// one: sparse and dense, probabilities and gates, the same bits.
fn check_rows<W: Weight, K: Kernels<W>>(
    kernels: &K,
    plain: &PleModel<'_, W>,
    standardising: &PleModel<'_, W>,
    net: &Net,
    st: &Standardisation<'_>,
    rng: &mut Rng,
) -> Result<(), TestCaseError> {
    let shape = *plain.shape();
    let tasks = shape.tasks as usize;
    let mut scratch = vec![f32::NAN; scratch_len(&shape)];
    for _ in 0..4 {
        let (_, categories, dense_row) = row(net, rng);
        let raw = raw_row(st.mean(), st.std(), rng);
        let mut standardised = vec![0.0; raw.len()];
        st.apply(&raw, &mut standardised).unwrap();
        let mut via_model = vec![0.0; raw.len()];
        standardising
            .standardise_numeric(&raw, &mut via_model)
            .unwrap();
        prop_assert_eq!(&via_model, &standardised);
        let (dense_standardised, dense_raw) = (
            with_numeric(&dense_row, &standardised),
            with_numeric(&dense_row, &raw),
        );
        let inputs = [
            (
                Input::Sparse {
                    numeric: &standardised,
                    categories: &categories,
                },
                Input::Sparse {
                    numeric: &raw,
                    categories: &categories,
                },
            ),
            (Input::Dense(&dense_standardised), Input::Dense(&dense_raw)),
        ];
        for (expected_input, raw_input) in inputs {
            let (mut expected, mut expected_gates) =
                (vec![0.0; tasks], vec![0.0; gates_len(&shape)]);
            plain
                .predict_using(
                    kernels,
                    expected_input,
                    &mut scratch,
                    &mut expected,
                    Some(&mut expected_gates),
                )
                .unwrap();
            let (mut probs, mut gates) = (vec![0.0; tasks], vec![0.0; gates_len(&shape)]);
            standardising
                .predict_using(
                    kernels,
                    raw_input,
                    &mut scratch,
                    &mut probs,
                    Some(&mut gates),
                )
                .unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&probs), bits(&expected));
            prop_assert_eq!(bits(&gates), bits(&expected_gates));
        }
    }
    Ok(())
}

/// A batch of raw rows through the standardising model against its own single rows.
fn check_batch<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    net: &Net,
    st: &Standardisation<'_>,
    rng: &mut Rng,
) -> Result<(), TestCaseError> {
    let shape = *model.shape();
    let tasks = shape.tasks as usize;
    let count = 11;
    let (mut numeric, mut categories, mut dense) = (vec![], vec![], vec![]);
    for _ in 0..count {
        let (_, c, d) = row(net, rng);
        let raw = raw_row(st.mean(), st.std(), rng);
        dense.extend(with_numeric(&d, &raw));
        numeric.extend(raw);
        categories.extend(c);
    }
    let nw = net.numeric as usize;
    let f = net.vocab_sizes.len();
    let mut expected = vec![0.0; count * tasks];
    let mut scratch = vec![f32::NAN; scratch_len(&shape)];
    for r in 0..count {
        let input = Input::Sparse {
            numeric: &numeric[r * nw..(r + 1) * nw],
            categories: &categories[r * f..(r + 1) * f],
        };
        model
            .predict_using(
                kernels,
                input,
                &mut scratch,
                &mut expected[r * tasks..(r + 1) * tasks],
                None,
            )
            .unwrap();
    }
    let mut batch_scratch = vec![f32::NAN; batch_scratch_len(&shape, count)];
    for input in [
        BatchInput::Sparse {
            numeric: &numeric,
            categories: &categories,
        },
        BatchInput::Dense(&dense),
    ] {
        let mut probs = vec![0.0; count * tasks];
        model
            .predict_batch_using(kernels, input, &mut batch_scratch, &mut probs)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&probs), bits(&expected));
    }
    Ok(())
}

fn check_net(net: &Net, seed: u64) -> Result<(), TestCaseError> {
    let shape = net.shape();
    let mut rng = Rng(seed);
    let params = canonical(&shape, &mut rng);
    let (mean, std) = tables(net.numeric as usize, &mut rng);
    let st = Standardisation::new(&mean, &std).unwrap();
    let (packed, halves) = packed_pair(&shape, &params);
    let plain = PleModel::new(shape, net.layout(), &packed[..]).unwrap();
    let standardising = plain.with_standardisation(st).unwrap();
    let plain16 = PleModel::new(shape, net.layout(), &halves[..]).unwrap();
    let standardising16 = plain16.with_standardisation(st).unwrap();
    check_rows(&Scalar, &plain, &standardising, net, &st, &mut rng)?;
    check_rows(&Detected::new(), &plain, &standardising, net, &st, &mut rng)?;
    check_rows(&Scalar, &plain16, &standardising16, net, &st, &mut rng)?;
    check_rows(
        &Detected::new(),
        &plain16,
        &standardising16,
        net,
        &st,
        &mut rng,
    )?;
    check_batch(&Scalar, &standardising, net, &st, &mut rng)?;
    check_batch(&Detected::new(), &standardising, net, &st, &mut rng)?;
    check_batch(&Detected::new(), &standardising16, net, &st, &mut rng)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 48 }))]

    #[test]
    fn raw_values_through_a_standardising_model_equal_standardised_values(
        net in nets(),
        seed in any::<u64>(),
    ) {
        check_net(&net, seed)?;
    }
}

/// A network whose scratch left free by the first layer (7 values) is shorter than its
/// numeric columns: the standardised values go through in chunks, with the same result.
#[test]
fn more_numeric_columns_than_free_scratch_are_standardised_in_chunks() {
    for (numeric, vocab_sizes) in [(23, vec![]), (20, vec![3, 2]), (7, vec![4]), (8, vec![])] {
        let net = Net {
            tasks: 1,
            experts_per_task: 1,
            shared_experts: 0,
            levels: 1,
            expert_units: vec![1],
            tower_units: vec![],
            numeric,
            vocab_sizes,
        };
        let shape = net.shape();
        // The first layer writes 2 values (expert and gate); 7 stay free for the numbers.
        assert_eq!(scratch_len(&shape), 2 + 7);
        check_net(&net, 5).unwrap();
    }
}

#[test]
fn a_standardisation_of_the_wrong_length_is_refused() {
    let net = Net {
        tasks: 2,
        experts_per_task: 1,
        shared_experts: 1,
        levels: 1,
        expert_units: vec![4],
        tower_units: vec![2],
        numeric: 3,
        vocab_sizes: vec![2],
    };
    let shape = net.shape();
    let packed = vec![0.0f32; packed_len(&shape)];
    let model = PleModel::new(shape, net.layout(), &packed[..]).unwrap();
    let two = [1.0f32; 2];
    let st = Standardisation::new(&two, &two).unwrap();
    assert_eq!(
        model.with_standardisation(st).err(),
        Some(PleError::Standardisation)
    );
    assert!(model.standardisation().is_none());
    let mut out = [0.0; 3];
    assert_eq!(
        model.standardise_numeric(&[1.0, f32::INFINITY, 0.0], &mut out),
        Err(PleError::NonFiniteInput { index: 1 })
    );
    assert_eq!(
        model.standardise_numeric(&[1.0], &mut out),
        Err(PleError::InputLength)
    );
    model
        .standardise_numeric(&[1.0, 2.0, 3.0], &mut out)
        .unwrap();
    assert_eq!(out, [1.0, 2.0, 3.0]);
}

/// A standardising model built in a constant context, as generated code builds it.
#[test]
fn a_standardising_model_is_a_constant() {
    const SHAPE: ple_core::PleShape<'static> = ple_core::PleShape {
        input_dim: 3,
        tasks: 1,
        experts_per_task: 1,
        shared_experts: 0,
        levels: 1,
        expert_units: &[2],
        tower_units: &[],
    };
    const LAYOUT: ple_core::InputLayout<'static> = ple_core::InputLayout {
        numeric: 2,
        vocab_sizes: &[1],
    };
    static WEIGHTS: [f32; packed_len(&SHAPE)] = [0.5; packed_len(&SHAPE)];
    static MEAN: [f32; 2] = [94.5, 0.0];
    static STD: [f32; 2] = [0.5, 2.0];
    static MODEL: ple_core::ModelF32<'static> = match PleModel::new(SHAPE, LAYOUT, &WEIGHTS) {
        Ok(m) => match Standardisation::new(&MEAN, &STD) {
            Ok(st) => match m.with_standardisation(st) {
                Ok(m) => m,
                Err(_) => panic!("standardisation does not fit"),
            },
            Err(_) => panic!("bad standardisation"),
        },
        Err(_) => panic!("bad model"),
    };
    let st = MODEL.standardisation().unwrap();
    assert_eq!((st.mean(), st.std()), (&MEAN[..], &STD[..]));
    let mut scratch = [0.0; scratch_len(&SHAPE)];
    let mut raw = [0.0];
    let mut standardised = [0.0];
    MODEL
        .predict(
            Input::Sparse {
                numeric: &[95.0, 4.0],
                categories: &[0],
            },
            &mut scratch,
            &mut raw,
        )
        .unwrap();
    PleModel::new(SHAPE, LAYOUT, &WEIGHTS)
        .unwrap()
        .predict(
            Input::Sparse {
                numeric: &[1.0, 2.0],
                categories: &[0],
            },
            &mut scratch,
            &mut standardised,
        )
        .unwrap();
    assert_eq!(raw, standardised);
}

/// The C structs' `numeric_mean` / `numeric_std`: the same outputs as the Rust model with
/// the same standardisation, and one error code per kind of bad table.
#[test]
fn c_models_with_tables_standardise_and_bad_tables_are_refused() {
    let net = Net {
        tasks: 2,
        experts_per_task: 2,
        shared_experts: 1,
        levels: 2,
        expert_units: vec![6, 4],
        tower_units: vec![3],
        numeric: 3,
        vocab_sizes: vec![4, 2],
    };
    let shape = net.shape();
    let mut rng = Rng(21);
    let params = canonical(&shape, &mut rng);
    let (packed, halves) = packed_pair(&shape, &params);
    let bits: Vec<u16> = halves.iter().map(|h| h.to_bits()).collect();
    let (mean, std) = tables(3, &mut rng);
    let st = Standardisation::new(&mean, &std).unwrap();
    let shape_c = PleShapeC {
        input_dim: shape.input_dim,
        tasks: shape.tasks,
        experts_per_task: shape.experts_per_task,
        shared_experts: shape.shared_experts,
        levels: shape.levels,
        expert_units: net.expert_units.as_ptr(),
        expert_layers: net.expert_units.len() as u32,
        tower_units: net.tower_units.as_ptr(),
        tower_layers: net.tower_units.len() as u32,
    };
    let layout_c = PleInputLayoutC {
        numeric: 3,
        vocab_sizes: net.vocab_sizes.as_ptr(),
        fields: 2,
    };
    let model = PleModelF32 {
        shape: shape_c,
        layout: layout_c,
        weights: packed.as_ptr(),
        weights_len: packed.len(),
        numeric_mean: mean.as_ptr(),
        numeric_std: std.as_ptr(),
    };
    let model16 = PleModelF16 {
        shape: shape_c,
        layout: layout_c,
        weights: bits.as_ptr(),
        weights_len: bits.len(),
        numeric_mean: mean.as_ptr(),
        numeric_std: std.as_ptr(),
    };
    assert_eq!(unsafe { ple_validate_f32(&model) }, PLE_OK);
    assert_eq!(unsafe { ple_validate_f16(&model16) }, PLE_OK);
    let rust = PleModel::new(shape, net.layout(), &packed[..])
        .unwrap()
        .with_standardisation(st)
        .unwrap();
    let rust16 = PleModel::new(shape, net.layout(), &halves[..])
        .unwrap()
        .with_standardisation(st)
        .unwrap();
    let mut scratch = vec![0.0; scratch_len(&shape)];
    let (_, cats, _) = row(&net, &mut rng);
    let raw = raw_row(&mean, &std, &mut rng);
    let input = Input::Sparse {
        numeric: &raw,
        categories: &cats,
    };
    let call32 = |m: &PleModelF32, scratch: &mut [f32], probs: &mut [f32]| {
        sparse(ple_predict_sparse_f32, m, &raw, &cats, scratch, probs)
    };
    let (mut expected, mut probs) = ([0.0f32; 2], [0.0f32; 2]);
    rust.predict(input, &mut scratch, &mut expected).unwrap();
    assert_eq!(call32(&model, &mut scratch, &mut probs), PLE_OK);
    assert_eq!(probs, expected);
    rust16.predict(input, &mut scratch, &mut expected).unwrap();
    let code = sparse(
        ple_predict_sparse_f16,
        &model16,
        &raw,
        &cats,
        &mut scratch,
        &mut probs,
    );
    assert_eq!(code, PLE_OK);
    assert_eq!(probs, expected);

    // Without tables the model reads the values as given, which differs here.
    let plain = PleModelF32 {
        numeric_mean: std::ptr::null(),
        numeric_std: std::ptr::null(),
        ..model
    };
    assert_eq!(call32(&plain, &mut scratch, &mut probs), PLE_OK);
    assert_ne!(probs, expected);

    let refused = |m: PleModelF32, code: i32| {
        assert_eq!(unsafe { ple_validate_f32(&m) }, code);
        let mut probs = [7.0f32; 2];
        let mut scratch = vec![0.0; scratch_len(&shape)];
        assert_eq!(call32(&m, &mut scratch, &mut probs), code);
        assert_eq!(probs, [7.0; 2]);
    };
    refused(
        PleModelF32 {
            numeric_std: std::ptr::null(),
            ..model
        },
        PLE_ERR_NULL,
    );
    refused(
        PleModelF32 {
            numeric_mean: std::ptr::null(),
            ..model
        },
        PLE_ERR_NULL,
    );
    let misaligned = (std.as_ptr() as usize + 1) as *const f32;
    refused(
        PleModelF32 {
            numeric_std: misaligned,
            ..model
        },
        PLE_ERR_POINTER,
    );
    for bad_std in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let bad = [std[0], bad_std, std[2]];
        refused(
            PleModelF32 {
                numeric_std: bad.as_ptr(),
                ..model
            },
            PLE_ERR_STANDARDISATION,
        );
    }
    for bad_mean in [f32::NAN, f32::NEG_INFINITY] {
        let bad = [mean[0], mean[1], bad_mean];
        refused(
            PleModelF32 {
                numeric_mean: bad.as_ptr(),
                ..model
            },
            PLE_ERR_STANDARDISATION,
        );
    }
    let message = unsafe { std::ffi::CStr::from_ptr(ple_error_message(PLE_ERR_STANDARDISATION)) };
    assert!(message.to_str().unwrap().contains("standardisation"));

    // An output may not overlap the tables.
    let mut tables_and_scratch = vec![0.0f32; 3 + scratch_len(&shape)];
    tables_and_scratch[..3].copy_from_slice(&std);
    let overlapping = PleModelF32 {
        numeric_std: tables_and_scratch.as_ptr(),
        ..model
    };
    let code = sparse(
        ple_predict_sparse_f32,
        &overlapping,
        &raw,
        &cats,
        &mut tables_and_scratch,
        &mut probs,
    );
    assert_eq!(code, PLE_ERR_OVERLAP);
}
