//! Whatever the arguments, predictions return a result and never panic; wrong lengths and
//! bad inputs give their specific errors.

mod common;

use common::{canonical, nets, Rng};
use ple_core::{
    gates_len, pack_f32, packed_len, scratch_len, Input, InputLayout, PleError, PleModel, PleShape,
    PADDLEREC_DEFAULT, UNKNOWN_CATEGORY,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 128 }))]

    #[test]
    fn arbitrary_arguments_never_panic(
        net in nets(),
        seed in any::<u64>(),
        numeric in prop::collection::vec(prop_oneof![any::<f32>(), -3.0f32..3.0], 0..8),
        categories in prop::collection::vec(prop_oneof![any::<u16>(), 0u16..8], 0..7),
        dense_len in 0usize..40,
        scratch_delta in -3i64..3,
        probs_len in 0usize..5,
        gates_delta in -2i64..2,
    ) {
        let shape = net.shape();
        let params = canonical(&shape, &mut Rng(seed));
        let mut packed = vec![0.0f32; packed_len(&shape)];
        pack_f32(&shape, &params, &mut packed).unwrap();
        let model = PleModel::new(shape, net.layout(), &packed).unwrap();
        let mut scratch = vec![0.0; (scratch_len(&shape) as i64 + scratch_delta).max(0) as usize];
        let mut probs = vec![0.0; probs_len];
        let mut gates = vec![0.0; (gates_len(&shape) as i64 + gates_delta).max(0) as usize];
        let dense = vec![0.25; dense_len];
        for input in [Input::Sparse { numeric: &numeric, categories: &categories }, Input::Dense(&dense)] {
            let result = model.predict_with_gates(input, &mut scratch, &mut probs, &mut gates);
            let lengths_ok = scratch.len() >= scratch_len(&shape)
                && probs.len() == shape.tasks as usize
                && gates.len() == gates_len(&shape);
            let input_ok = match input {
                Input::Dense(x) => x.len() == shape.input_dim as usize,
                Input::Sparse { numeric, categories } => {
                    numeric.len() == net.numeric as usize
                        && categories.len() == net.vocab_sizes.len()
                        && numeric.iter().all(|v| v.is_finite())
                        && categories
                            .iter()
                            .zip(&net.vocab_sizes)
                            .all(|(&c, &v)| c < v || c == UNKNOWN_CATEGORY)
                }
            };
            prop_assert_eq!(result.is_ok(), lengths_ok && input_ok, "{:?}", result);
            // Finite but astronomically large inputs may overflow to NaN; moderate ones not.
            let moderate = numeric.iter().all(|v| v.abs() < 1e6);
            if result.is_ok() && moderate {
                prop_assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "{:?}", probs);
            }
        }
    }
}

#[test]
fn each_wrong_length_gets_its_own_error() {
    let shape = PADDLEREC_DEFAULT;
    let layout = InputLayout::dense(499);
    let params = canonical(&shape, &mut Rng(1));
    let mut packed = vec![0.0f32; packed_len(&shape)];
    pack_f32(&shape, &params, &mut packed).unwrap();
    let model = PleModel::new(shape, layout, &packed).unwrap();
    let x = vec![0.5; 499];
    let mut scratch = vec![0.0; scratch_len(&shape)];
    let mut probs = [0.0; 2];
    let mut gates = vec![0.0; gates_len(&shape)];
    assert_eq!(
        model.predict(Input::Dense(&x), &mut scratch, &mut probs),
        Ok(())
    );
    assert_eq!(
        model.predict(Input::Dense(&x[1..]), &mut scratch, &mut probs),
        Err(PleError::InputLength)
    );
    let short = scratch.len() - 1;
    assert_eq!(
        model.predict(Input::Dense(&x), &mut scratch[..short], &mut probs),
        Err(PleError::ScratchLength)
    );
    assert_eq!(
        model.predict(Input::Dense(&x), &mut scratch, &mut probs[..1]),
        Err(PleError::OutputLength)
    );
    assert_eq!(
        model.predict_with_gates(Input::Dense(&x), &mut scratch, &mut probs, &mut gates[1..]),
        Err(PleError::GatesLength)
    );
    let mut bad = x.clone();
    bad[7] = f32::NAN;
    assert_eq!(
        model.predict(Input::Dense(&bad), &mut scratch, &mut probs),
        Err(PleError::NonFiniteInput { index: 7 })
    );
    let sparse = Input::Sparse {
        numeric: &x[..499],
        categories: &[],
    };
    assert_eq!(model.predict(sparse, &mut scratch, &mut probs), Ok(()));
}

#[test]
fn constructors_reject_inconsistent_parts() {
    let shape = PADDLEREC_DEFAULT;
    let weights = vec![0.0f32; packed_len(&shape)];
    let vocab = [400u16, 88];
    let layout = InputLayout {
        numeric: 11,
        vocab_sizes: &vocab,
    };
    assert!(PleModel::new(shape, layout, &weights).is_ok());
    assert_eq!(
        PleModel::new(shape, layout, &weights[1..]).err(),
        Some(PleError::WeightsLength)
    );
    let wrong = InputLayout {
        numeric: 12,
        vocab_sizes: &vocab,
    };
    assert_eq!(
        PleModel::new(shape, wrong, &weights).err(),
        Some(PleError::InputLayout)
    );
    let empty_field = InputLayout {
        numeric: 11,
        vocab_sizes: &[488, 0],
    };
    assert_eq!(
        PleModel::new(shape, empty_field, &weights).err(),
        Some(PleError::InputLayout)
    );
    let bad_shape = PleShape { levels: 0, ..shape };
    assert!(matches!(
        PleModel::new(bad_shape, layout, &weights).err(),
        Some(PleError::Shape(_))
    ));
    let mut out = vec![0.0; weights.len()];
    assert_eq!(
        pack_f32(&shape, &weights[1..], &mut out),
        Err(PleError::CanonicalLength)
    );
    assert_eq!(
        pack_f32(&shape, &weights, &mut out[1..]),
        Err(PleError::WeightsLength)
    );
}

#[test]
fn error_messages_name_the_problem() {
    let text = PleError::CategoryOutOfRange { field: 3 }.to_string();
    assert!(text.contains("field 3"), "{text}");
    assert!(PleError::NonFiniteInput { index: 9 }
        .to_string()
        .contains("9"));
}
