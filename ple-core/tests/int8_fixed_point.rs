//! Requantisation, fixed-point exp, sigmoid and softmax of the int8 path: edge cases and
//! accuracy against f64.

use ple_core::int8::fixed::{
    exp_neg_q16, sigmoid_q15, softmax_q15, Requant, EXP2_TABLE, LOGIT_LIMIT,
};
use proptest::prelude::*;

fn real(r: &Requant) -> f64 {
    f64::from(r.multiplier) / 2f64.powi(i32::from(r.right_shift))
}

#[test]
fn requant_rounds_halves_up() {
    // multiplier 2^30 with shift 31 is exactly 0.5.
    let half = Requant::new(1 << 30, 31);
    assert_eq!(half.apply_wide(1), 1); // 0.5 -> 1
    assert_eq!(half.apply_wide(-1), 0); // -0.5 -> 0
    assert_eq!(half.apply_wide(3), 2); // 1.5 -> 2
    assert_eq!(half.apply_wide(-3), -1); // -1.5 -> -1
    assert_eq!(half.apply_wide(4), 2);
}

#[test]
fn requant_saturates_at_the_clamp_bounds() {
    let big = Requant::new(i32::MAX, 1); // about 2^30
    assert_eq!(big.apply_clamped(i32::MAX, 0, 32767), 32767);
    assert_eq!(big.apply_clamped(i32::MIN, 0, 32767), 0);
    assert_eq!(big.apply_clamped(i32::MIN, -5, 5), -5);
    // The widest product cannot overflow the 64-bit intermediate.
    assert_eq!(
        big.apply_wide(i32::MIN),
        (i64::from(i32::MIN) * i64::from(i32::MAX) + (1 << 0)) >> 1
    );
}

#[test]
fn requant_validity_checks_mantissa_and_shift() {
    assert!(Requant::new(1 << 30, 1).is_valid());
    assert!(Requant::new(0, 63).is_valid());
    assert!(!Requant::new(1 << 29, 10).is_valid());
    assert!(!Requant::new(1 << 30, 0).is_valid());
    assert!(!Requant::new(1 << 30, 64).is_valid());
    assert!(!Requant::new(-(1 << 30), 10).is_valid());
    // An invalid shift is clamped rather than overflowing the shift.
    assert_eq!(Requant::new(1 << 30, 200).apply_wide(i32::MAX), 0);
}

#[test]
fn exp_table_is_two_to_the_minus_i_over_64() {
    for (i, &v) in EXP2_TABLE.iter().enumerate() {
        let exact = 2f64.powi(30) * 2f64.powf(-(i as f64) / 64.0);
        assert!((f64::from(v) - exact).abs() <= 0.5, "entry {i}");
    }
}

#[test]
fn softmax_rounding_of_small_exponentials_stays_within_the_bound() {
    // Three small exponentials each rounded down in Q15 leave the dominant weight 1.5 units
    // above the exact 32,183.5: within `1 + n / 2`, not within a flat 1.5.
    let logits = [486304, 724826, 1266550, 1002893];
    let mut weights = [0u16; 4];
    softmax_q15(&logits, &mut weights);
    assert_eq!(weights, [0, 8, 32185, 576]);
}

#[test]
fn sigmoid_is_symmetric_and_saturates() {
    assert_eq!(sigmoid_q15(0), 16384);
    assert_eq!(sigmoid_q15(LOGIT_LIMIT), 32768);
    assert_eq!(sigmoid_q15(i32::MAX), 32768);
    assert_eq!(sigmoid_q15(i32::MIN), 0);
    for x in [1, 1000, 65536, 300_000, 1 << 22] {
        assert_eq!(
            u32::from(sigmoid_q15(x)) + u32::from(sigmoid_q15(-x)),
            32768
        );
    }
}

proptest! {
    #[test]
    fn requant_matches_the_real_product(x in any::<i32>(), m in (1i32 << 30)..i32::MAX, s in 1u8..=63) {
        let r = Requant::new(m, s);
        let exact = f64::from(x) * real(&r);
        // Rounded to nearest: within half a unit (plus f64 error on huge values).
        prop_assert!((r.apply_wide(x) as f64 - exact).abs() <= 0.5 + exact.abs() * 1e-15);
    }

    #[test]
    fn requant_is_exactly_one_rounding_of_the_wide_product(x in any::<i32>(), m in (1i32 << 30)..i32::MAX, s in 1u8..=63) {
        let exact = (i128::from(x) * i128::from(m) + (1i128 << (s - 1))) >> s;
        prop_assert_eq!(i128::from(Requant::new(m, s).apply_wide(x)), exact);
    }

    #[test]
    fn exp_is_accurate_to_2e_5(d in -(40i32 << 16)..=0) {
        let exact = (f64::from(d) / 65536.0).exp() * 2f64.powi(30);
        let got = f64::from(exp_neg_q16(d));
        prop_assert!((got - exact).abs() <= 2e-5 * 2f64.powi(30) * (f64::from(d) / 65536.0).exp() + 1.0);
    }

    #[test]
    fn sigmoid_is_within_one_q15_step(x in -(20i32 << 16)..(20 << 16)) {
        let exact = 32768.0 / (1.0 + (-f64::from(x) / 65536.0).exp());
        prop_assert!((f64::from(sigmoid_q15(x)) - exact).abs() <= 1.0);
    }

    #[test]
    fn softmax_sums_to_one_and_matches_f64(logits in proptest::collection::vec(-(30i32 << 16)..(30 << 16), 1..12)) {
        let mut weights = vec![0u16; logits.len()];
        softmax_q15(&logits, &mut weights);
        let max = logits.iter().copied().max().unwrap();
        let exps: Vec<f64> = logits.iter().map(|&l| (f64::from(l - max) / 65536.0).exp()).collect();
        let total: f64 = exps.iter().sum();
        // Each exponential is rounded to Q15 before the normalisation (32-bit arithmetic
        // only), so the sum may be off by half a unit per weight, which moves the largest
        // weights by up to that much; plus the rounding of the division and of exp itself.
        let bound = 1.0 + 0.5 * logits.len() as f64;
        for (w, e) in weights.iter().zip(&exps) {
            prop_assert!((f64::from(*w) - 32768.0 * e / total).abs() <= bound);
        }
        let sum: i64 = weights.iter().map(|&w| i64::from(w)).sum();
        prop_assert!((sum - 32768).abs() <= logits.len() as i64);
    }

    #[test]
    fn softmax_never_panics_on_any_logits(logits in proptest::collection::vec(any::<i32>(), 0..20)) {
        let mut weights = vec![0u16; logits.len()];
        softmax_q15(&logits, &mut weights);
        prop_assert!(weights.iter().all(|&w| w <= 32768));
    }
}
