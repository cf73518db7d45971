//! The lane-packed int8 kernels (Arm DSP style) against their scalar twins: bit-exact.

use ple_core::int8::category_weights_len;
use ple_core::int8::kernels::{
    dense_packed, dense_scalar, dot_i16_scalar, dot_pairs_packed, dot_pairs_row,
    gather_rows_packed, gather_rows_scalar, pack_activations, pack_pairs, packed_input_words,
    unpack_group, Dsp, PortableDsp, ROWS_PER_I16_CHUNK,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A table of `rows` rows of `outputs` weights back to back (padded at the end to a multiple
/// of 4, as a model's), and up to the most rows the 16-bit lanes hold exactly.
fn table_and_rows() -> impl Strategy<Value = (Vec<i8>, Vec<u32>, usize)> {
    (1usize..40, 1usize..12).prop_flat_map(|(outputs, rows)| {
        (
            vec(any::<i8>(), category_weights_len(rows, outputs)),
            vec(0..rows as u32, 0..=ROWS_PER_I16_CHUNK),
            Just(outputs),
        )
            .prop_map(move |(table, picks, outputs)| {
                let starts = picks.iter().map(|&r| r * outputs as u32).collect();
                (table, starts, outputs)
            })
    })
}

/// The sums of a packed gather, in output order.
fn unpacked(packed: &[u32], outputs: usize) -> Vec<i32> {
    let mut sums: Vec<i32> = packed
        .chunks_exact(2)
        .flat_map(|pair| unpack_group(pair[0], pair[1]))
        .collect();
    sums.truncate(outputs);
    sums
}

/// Words a packed gather of `outputs` sums writes.
fn packed_len(outputs: usize) -> usize {
    outputs.div_ceil(4) * 2
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn packed_gather_equals_scalar_gather((table, starts, outputs) in table_and_rows()) {
        // Up to 256 rows of any weights: the extremes of the 16-bit lanes.
        let mut scalar = vec![0i32; outputs];
        let mut packed = vec![7u32; packed_len(outputs)];
        gather_rows_scalar(&table, &starts, &mut scalar);
        gather_rows_packed::<PortableDsp>(&table, &starts, outputs, &mut packed);
        prop_assert_eq!(scalar, unpacked(&packed, outputs));
    }

    /// The portable gather into one sum per output (the packed gather, then unpacked).
    #[test]
    fn portable_unpacked_gather_equals_scalar_gather((table, starts, outputs) in table_and_rows()) {
        let mut scalar = vec![0i32; outputs];
        let mut packed = vec![7u32; packed_len(outputs)];
        let mut sums = vec![-1i32; outputs];
        gather_rows_scalar(&table, &starts, &mut scalar);
        PortableDsp::gather_sums(&table, &starts, &mut packed, &mut sums);
        prop_assert_eq!(scalar, sums);
    }

    #[test]
    fn gathers_skip_rows_past_the_table_alike(
        (table, mut starts, outputs) in table_and_rows(),
        bad in any::<u32>(),
    ) {
        starts.pop();
        starts.push(bad);
        let mut scalar = vec![0i32; outputs];
        let mut packed = vec![0u32; packed_len(outputs)];
        gather_rows_scalar(&table, &starts, &mut scalar);
        gather_rows_packed::<PortableDsp>(&table, &starts, outputs, &mut packed);
        prop_assert_eq!(scalar, unpacked(&packed, outputs));
    }

    #[test]
    fn packed_dot_equals_scalar_dot(pairs in vec((any::<i16>(), any::<i16>()), 0..64)) {
        let (a, b): (Vec<i16>, Vec<i16>) = pairs.into_iter().unzip();
        let words = a.len().div_ceil(2);
        let (mut pa, mut pb) = (vec![0u32; words], vec![0u32; words]);
        pack_pairs(a.iter().copied(), &mut pa);
        pack_pairs(b.iter().copied(), &mut pb);
        let scalar = dot_i16_scalar(&a, &b);
        prop_assert_eq!(dot_pairs_packed::<PortableDsp>(&pa, &pb), scalar);
        prop_assert_eq!(dot_pairs_row::<PortableDsp>(&pa, &b), scalar);
    }

    #[test]
    fn portable_primitives_follow_the_instruction_semantics(acc in any::<u32>(), w in any::<u32>(), c in any::<i32>()) {
        let lane = |x: u32, k: u32| (x >> (16 * k)) as u16;
        let byte = |x: u32, k: u32| i16::from((x >> (8 * k)) as u8 as i8) as u16;
        let r = PortableDsp::sxtab16(acc, w);
        prop_assert_eq!(lane(r, 0), lane(acc, 0).wrapping_add(byte(w, 0)));
        prop_assert_eq!(lane(r, 1), lane(acc, 1).wrapping_add(byte(w, 2)));
        let r = PortableDsp::sxtab16_ror8(acc, w);
        prop_assert_eq!(lane(r, 0), lane(acc, 0).wrapping_add(byte(w, 1)));
        prop_assert_eq!(lane(r, 1), lane(acc, 1).wrapping_add(byte(w, 3)));
        let wide = i64::from(c)
            + i64::from(lane(acc, 0) as i16) * i64::from(lane(w, 0) as i16)
            + i64::from(lane(acc, 1) as i16) * i64::from(lane(w, 1) as i16);
        prop_assert_eq!(PortableDsp::smlad(acc, w, c), wide as i32);
    }
}

/// A dense layer: `[outputs, inputs]` weights (any `i8`), an input of activations within
/// `i16` (the packed kernel's domain), sometimes a weight table shorter than the layer.
fn dense_case() -> impl Strategy<Value = (Vec<i8>, Vec<i32>, usize)> {
    (0usize..40, 0usize..12, any::<bool>()).prop_flat_map(|(inputs, outputs, short)| {
        let len = inputs * outputs - usize::from(short && inputs * outputs > 0);
        (
            vec(any::<i8>(), len),
            vec(i32::from(i16::MIN)..=i32::from(i16::MAX), inputs),
            Just(outputs),
        )
    })
}

/// [`dense_packed`] with its input packed, as the forward pass runs it.
fn dense_packed_with<D: Dsp>(weights: &[i8], input: &[i32], outputs: usize) -> Vec<i32> {
    let mut packed = vec![0xdead_beef_u32; packed_input_words(input.len())];
    pack_activations(input, &mut packed);
    let mut out = vec![7i32; outputs];
    dense_packed::<D>(weights, input, &packed, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn packed_dense_equals_scalar_dense((weights, input, outputs) in dense_case()) {
        let mut scalar = vec![0i32; outputs];
        dense_scalar(&weights, &input, &mut scalar);
        prop_assert_eq!(dense_packed_with::<PortableDsp>(&weights, &input, outputs), scalar);
    }

    #[test]
    fn packed_activations_pair_the_lanes_of_a_split_weight_word(
        input in vec(i32::from(i16::MIN)..=i32::from(i16::MAX), 0..40),
    ) {
        let mut packed = vec![u32::MAX; packed_input_words(input.len())];
        pack_activations(&input, &mut packed);
        for (g, pair) in packed.chunks_exact(2).enumerate() {
            let at = |k: usize| input.get(4 * g + k).copied().unwrap_or(0) as i16;
            let lanes = |w: u32| (w as u16 as i16, (w >> 16) as u16 as i16);
            prop_assert_eq!(lanes(pair[0]), (at(0), at(2)));
            prop_assert_eq!(lanes(pair[1]), (at(1), at(3)));
        }
    }

    #[test]
    fn sxtb16_is_sxtab16_on_zero(w in any::<u32>()) {
        prop_assert_eq!(PortableDsp::sxtb16(w), PortableDsp::sxtab16(0, w));
        prop_assert_eq!(PortableDsp::sxtb16_ror8(w), PortableDsp::sxtab16_ror8(0, w));
    }
}

/// On an Arm core with the DSP extension the instructions themselves are compared too.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
mod arm {
    use super::*;
    use ple_core::int8::kernels::ArmDsp;

    proptest! {
        #[test]
        fn arm_instructions_equal_the_portable_primitives(acc in any::<u32>(), w in any::<u32>(), c in any::<i32>()) {
            prop_assert_eq!(ArmDsp::sxtab16(acc, w), PortableDsp::sxtab16(acc, w));
            prop_assert_eq!(ArmDsp::sxtab16_ror8(acc, w), PortableDsp::sxtab16_ror8(acc, w));
            prop_assert_eq!(ArmDsp::smlad(acc, w, c), PortableDsp::smlad(acc, w, c));
            prop_assert_eq!(ArmDsp::sxtb16(w), PortableDsp::sxtb16(w));
            prop_assert_eq!(ArmDsp::sxtb16_ror8(w), PortableDsp::sxtb16_ror8(w));
        }

        #[test]
        fn arm_dense_equals_scalar_dense((weights, input, outputs) in dense_case()) {
            let mut scalar = vec![0i32; outputs];
            dense_scalar(&weights, &input, &mut scalar);
            prop_assert_eq!(dense_packed_with::<ArmDsp>(&weights, &input, outputs), scalar);
        }

        /// Wide rows: several of the assembly gather's four-word passes, then the rest.
        #[test]
        fn arm_gather_of_wide_rows_equals_scalar_gather(
            (table, starts, outputs) in (16usize..150, 1usize..8).prop_flat_map(|(outputs, rows)| {
                (
                    vec(any::<i8>(), category_weights_len(rows, outputs)),
                    vec(0..rows as u32, 0..=40),
                    Just(outputs),
                )
                    .prop_map(move |(table, picks, outputs)| {
                        let starts = picks.iter().map(|&r| r * outputs as u32).collect::<Vec<_>>();
                        (table, starts, outputs)
                    })
            })
        ) {
            let mut scalar = vec![0i32; outputs];
            let mut packed = vec![0u32; packed_len(outputs)];
            gather_rows_scalar(&table, &starts, &mut scalar);
            ArmDsp::gather_rows(&table, &starts, outputs, &mut packed);
            prop_assert_eq!(scalar, unpacked(&packed, outputs));
        }

        /// The gather whose assembly passes store the sums unpacked: the scalar sums, for
        /// wide rows (several passes, then the packed rest) and narrow ones.
        #[test]
        fn arm_unpacked_gather_equals_scalar_gather(
            (table, starts, outputs) in (1usize..150, 1usize..8).prop_flat_map(|(outputs, rows)| {
                (
                    vec(any::<i8>(), category_weights_len(rows, outputs)),
                    vec(0..rows as u32, 0..=40),
                    Just(outputs),
                )
                    .prop_map(move |(table, picks, outputs)| {
                        let starts = picks.iter().map(|&r| r * outputs as u32).collect::<Vec<_>>();
                        (table, starts, outputs)
                    })
            })
        ) {
            let mut scalar = vec![0i32; outputs];
            let mut packed = vec![7u32; packed_len(outputs)];
            let mut sums = vec![-1i32; outputs];
            gather_rows_scalar(&table, &starts, &mut scalar);
            ArmDsp::gather_sums(&table, &starts, &mut packed, &mut sums);
            prop_assert_eq!(scalar, sums);
        }

        #[test]
        fn arm_gather_equals_scalar_gather((table, starts, outputs) in table_and_rows()) {
            let mut scalar = vec![0i32; outputs];
            let mut packed = vec![0u32; packed_len(outputs)];
            gather_rows_scalar(&table, &starts, &mut scalar);
            ArmDsp::gather_rows(&table, &starts, outputs, &mut packed);
            prop_assert_eq!(scalar, unpacked(&packed, outputs));
        }
    }
}

proptest! {
    /// Every row of a table of the model's length is gathered, the last one included: the
    /// sums equal a plain sum of the selected rows' first `outputs` bytes.
    #[test]
    fn every_row_of_a_model_sized_table_is_gathered((table, starts, outputs) in table_and_rows()) {
        let mut expected = vec![0i32; outputs];
        for &start in &starts {
            let row = &table[start as usize..start as usize + outputs];
            for (sum, &w) in expected.iter_mut().zip(row) {
                *sum += i32::from(w);
            }
        }
        let mut scalar = vec![0i32; outputs];
        gather_rows_scalar(&table, &starts, &mut scalar);
        prop_assert_eq!(&scalar, &expected);
        let mut packed = vec![0u32; packed_len(outputs)];
        gather_rows_packed::<PortableDsp>(&table, &starts, outputs, &mut packed);
        prop_assert_eq!(unpacked(&packed, outputs), expected);
    }
}
