//! Adam, exactly as Paddle's `adam` operator computes it.
//!
//! With `t` the step, `lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)` and
//! `eps_t = eps * sqrt(1 - beta2^t)`: `m = beta1 m + (1 - beta1) g`,
//! `v = beta2 v + (1 - beta2) g^2`, `p -= lr_t * m / (sqrt(v) + eps_t)`.
//!
//! The dense update is one pass over four flat arrays in fixed-width chunks, which the
//! compiler vectorises without `target_feature` flags; it also clears the gradient it has
//! consumed, so the next step starts from zero without a separate pass. Every operation is a
//! correctly rounded IEEE operation (no fused multiply-add), so results are the same on every
//! platform and vector width.
//!
//! Moments that decay below [`FLUSH_BELOW`] are set to zero (see there why).
//!
//! The lazy update (Paddle's `lazy_mode`) updates only the given rows of the sparse first
//! layer: rows the batch never touched keep their moments and weights, which is faster and
//! keeps rarely seen categories from drifting on stale momentum.

use serde::{Deserialize, Serialize};

/// Adam's hyper-parameters and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub learning_rate: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator term.
    pub epsilon: f32,
    /// First moments, one per parameter.
    pub m: Vec<f32>,
    /// Second moments, one per parameter.
    pub v: Vec<f32>,
    /// `beta1^t`, kept as a running product like Paddle's `Beta1Pow` (in `f64`).
    pub beta1_pow: f64,
    /// `beta2^t`.
    pub beta2_pow: f64,
    /// Steps taken.
    pub step: u64,
}

/// The per-step constants of an update.
#[derive(Clone, Copy)]
struct StepConstants {
    beta1: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    lr: f32,
    eps: f32,
}

impl Adam {
    /// Paddle's defaults (beta1 0.9, beta2 0.999, epsilon 1e-8) for `len` parameters.
    pub fn new(learning_rate: f32, len: usize) -> Self {
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            m: vec![0.0; len],
            v: vec![0.0; len],
            beta1_pow: 1.0,
            beta2_pow: 1.0,
            step: 0,
        }
    }

    /// Advances the step counter; call once per optimiser step before the updates.
    pub fn begin_step(&mut self) {
        self.step += 1;
        self.beta1_pow *= f64::from(self.beta1);
        self.beta2_pow *= f64::from(self.beta2);
    }

    fn constants(&self) -> StepConstants {
        let correction = (1.0 - self.beta2_pow).sqrt();
        StepConstants {
            beta1: self.beta1,
            beta2: self.beta2,
            one_minus_beta1: 1.0 - self.beta1,
            one_minus_beta2: 1.0 - self.beta2,
            lr: (f64::from(self.learning_rate) * correction / (1.0 - self.beta1_pow)) as f32,
            eps: (f64::from(self.epsilon) * correction) as f32,
        }
    }

    /// Updates `params[range]` from `grad[range]` and clears that gradient.
    pub fn update(&mut self, params: &mut [f32], grad: &mut [f32], range: std::ops::Range<usize>) {
        let c = self.constants();
        let (p, g) = (&mut params[range.clone()], &mut grad[range.clone()]);
        let (m, v) = (&mut self.m[range.clone()], &mut self.v[range]);
        update_slices(c, p, g, m, v);
    }
}

/// The update over equal-length slices: the AVX build of the loop where the CPU has AVX,
/// else the baseline build. Both compile the same scalar source; only the vector width
/// differs, and every operation is an exactly rounded IEEE add, multiply, divide or square
/// root (FMA is deliberately not enabled), so both give identical bits.
fn update_slices(c: StepConstants, p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above), the only requirement of a
            // `#[target_feature(enable = "avx")]` function.
            unsafe { update_slices_avx(c, p, g, m, v) };
            return;
        }
    }
    update_slices_baseline(c, p, g, m, v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn update_slices_avx(c: StepConstants, p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    update_slices_baseline(c, p, g, m, v);
}

#[inline(always)]
fn update_slices_baseline(
    c: StepConstants,
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let n = p.len();
    let (g, m, v) = (&mut g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        update_one(c, &mut p[i], &mut g[i], &mut m[i], &mut v[i]);
    }
}

/// Moments below this magnitude are flushed to zero. Rows of rare categories go thousands of
/// steps without gradient while their moments decay geometrically; left alone they reach
/// subnormal values, where arithmetic is two orders of magnitude slower on common CPUs.
/// Flushing in software (rather than with the CPU's flush-to-zero mode) keeps the result
/// identical on every platform; at this size a moment no longer moves its weight at all
/// (the update `m / sqrt(v)` decays like `(0.9 / 0.9995)^t` long before).
pub const FLUSH_BELOW: f32 = 1e-30;

#[inline(always)]
fn update_one(c: StepConstants, p: &mut f32, g: &mut f32, m: &mut f32, v: &mut f32) {
    let grad = *g;
    let m1 = c.beta1 * *m + c.one_minus_beta1 * grad;
    let v1 = c.beta2 * *v + c.one_minus_beta2 * (grad * grad);
    let m1 = if m1.abs() < FLUSH_BELOW { 0.0 } else { m1 };
    let v1 = if v1 < FLUSH_BELOW { 0.0 } else { v1 };
    *m = m1;
    *v = v1;
    *p -= c.lr * (m1 / (v1.sqrt() + c.eps));
    *g = 0.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_about_the_learning_rate() {
        // With bias correction the first step is lr * g / (|g| + eps) ~ lr * sign(g).
        let mut adam = Adam::new(0.01, 10);
        let mut params = vec![1.0f32; 10];
        let mut grad: Vec<f32> = (0..10).map(|i| i as f32 - 4.5).collect();
        adam.begin_step();
        adam.update(&mut params, &mut grad, 0..10);
        for (i, p) in params.iter().enumerate() {
            let expected = 1.0 - 0.01 * (i as f32 - 4.5).signum();
            assert!((p - expected).abs() < 1e-6, "{i}: {p}");
        }
        assert!(grad.iter().all(|&g| g == 0.0), "gradient cleared");
    }

    #[test]
    fn chunked_update_equals_the_scalar_formula() {
        let n = 37;
        let mut adam = Adam::new(0.001, n);
        let mut params: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut reference = params.clone();
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        for step in 1..=5 {
            let mut grad: Vec<f32> = (0..n).map(|i| ((i * step) as f32 * 0.11).cos()).collect();
            let g_copy = grad.clone();
            adam.begin_step();
            adam.update(&mut params, &mut grad, 0..n);
            let (b1p, b2p) = (0.9f64.powi(step as i32), 0.999f64.powi(step as i32));
            for i in 0..n {
                m[i] = 0.9 * m[i] + 0.1 * g_copy[i];
                v[i] = 0.999 * v[i] + 0.001 * g_copy[i] * g_copy[i];
                let lr = 0.001 * (1.0 - b2p).sqrt() / (1.0 - b1p);
                let eps = 1e-8 * (1.0 - b2p).sqrt();
                reference[i] -= (lr as f32) * (m[i] / (v[i].sqrt() + eps as f32));
            }
        }
        for (a, b) in params.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
