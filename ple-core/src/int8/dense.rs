//! The dense layers after the first: expert layers past level 0's first, gates of later
//! levels, towers and output layers.
//!
//! A layer is one loop over its outputs, and each output is finished inside it: the dot
//! product, the bias (saturating) and the requantisation with its clamp (to an activation
//! after ReLU or to a Q16 logit), so an accumulator never goes back to memory before its
//! final value.
//!
//! A stack of layers (an expert's layers after the first, a tower and its output layer) runs
//! through [`Int8Model::dense_chain`]: the first layer reads its input where it lies, and the
//! layers after it go back and forth between two scratch buffers.

use super::fixed::{Requant, ACTIVATION_MAX, LOGIT_LIMIT};
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
use super::kernels::ArmDsp;
use super::kernels::{pack_activations, packed_dot, Dsp, PortableDsp};
use super::model::{Int8Kernel, Int8Model};

/// Position in the dense layers' arrays: the next layer's first weight and first output.
#[derive(Default)]
pub(super) struct Cursor {
    weights: usize,
    outputs: usize,
}

/// The two buffers a chain of layers alternates between, and room for a layer's input
/// packed in lane pairs (the packed kernels).
pub(super) struct ChainScratch<'b> {
    pub ping: &'b mut [i32],
    pub pong: &'b mut [i32],
    pub packed: &'b mut [u32],
}

/// The parameters of one layer: `out.len() * input.len()` weights, one bias and one
/// requantisation per output.
struct Params<'m> {
    weights: &'m [i8],
    bias: &'m [i32],
    requant: &'m [Requant],
}

impl<'a> Int8Model<'a> {
    /// The parameters of the layer at `cursor` with `inputs` inputs and `outputs` outputs;
    /// moves the cursor past it.
    fn take_layer(&self, cursor: &mut Cursor, inputs: usize, outputs: usize) -> Params<'a> {
        let count = inputs * outputs;
        let weights = self
            .dense
            .weights
            .get(cursor.weights..cursor.weights + count)
            .unwrap_or(&[]);
        let at = cursor.outputs..cursor.outputs + outputs;
        let bias = self.dense.bias.get(at.clone()).unwrap_or(&[]);
        let requant = self.dense.requant.get(at).unwrap_or(&[]);
        cursor.weights += count;
        cursor.outputs += outputs;
        Params {
            weights,
            bias,
            requant,
        }
    }

    /// One dense layer from `input` to `out` (whose lengths give the layer's widths), with
    /// ReLU into activations or without into Q16 logits; `packed` is room for the input
    /// packed in lane pairs, for the packed kernels.
    ///
    /// With `BEST` the layer runs [`Int8Kernel::best`] whatever `kernel` says: the choice is
    /// then made at compile time, so a firmware that only calls
    /// [`predict_fixed`](Int8Model::predict_fixed) links that one kernel.
    pub(super) fn dense<const BEST: bool>(
        &self,
        cursor: &mut Cursor,
        kernel: Int8Kernel,
        input: &[i32],
        out: &mut [i32],
        packed: &mut [u32],
        relu: bool,
    ) {
        let params = self.take_layer(cursor, input.len(), out.len());
        let kernel = if BEST { Int8Kernel::best() } else { kernel };
        layer(kernel, &params, input, out, packed, relu);
    }

    /// A stack of dense layers: the first reads `input`, each next one the output of the one
    /// before; `layers` gives each layer's width and whether it has a ReLU. Returns the last
    /// layer's output (in `s.ping` or `s.pong`), or `input` itself if there is no layer.
    pub(super) fn dense_chain<'b, const BEST: bool>(
        &self,
        cursor: &mut Cursor,
        kernel: Int8Kernel,
        input: &'b [i32],
        layers: impl IntoIterator<Item = (u32, bool)>,
        s: ChainScratch<'b>,
    ) -> &'b [i32] {
        let ChainScratch {
            mut ping,
            mut pong,
            packed,
        } = s;
        let mut layers = layers.into_iter();
        let Some((width, relu)) = layers.next() else {
            return input;
        };
        let mut width = width as usize;
        self.dense::<BEST>(
            cursor,
            kernel,
            input,
            ping.get_mut(..width).unwrap_or(&mut []),
            packed,
            relu,
        );
        for (next, relu) in layers {
            let next = next as usize;
            self.dense::<BEST>(
                cursor,
                kernel,
                ping.get(..width).unwrap_or(&[]),
                pong.get_mut(..next).unwrap_or(&mut []),
                packed,
                relu,
            );
            core::mem::swap(&mut ping, &mut pong);
            width = next;
        }
        let ping: &'b [i32] = ping;
        ping.get(..width).unwrap_or(&[])
    }
}

/// One layer with the kernel chosen; `relu` picks the clamp bounds. Inlined, so that a
/// kernel known at compile time leaves the others out.
#[inline(always)]
fn layer(
    kernel: Int8Kernel,
    params: &Params<'_>,
    input: &[i32],
    out: &mut [i32],
    packed: &mut [u32],
    relu: bool,
) {
    match kernel {
        Int8Kernel::Scalar => scalar_layer(params, input, out, relu),
        Int8Kernel::PortablePacked => {
            pack_activations(input, packed);
            packed_layer::<PortableDsp>(params, input, packed, out, relu);
        }
        #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
        Int8Kernel::ArmDsp => {
            pack_activations(input, packed);
            packed_layer::<ArmDsp>(params, input, packed, out, relu);
        }
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::X86Simd => {
            let simd = super::x86::Avx2::detect();
            let (w, b, r) = (params.weights, params.bias, params.requant);
            let done = simd.is_some_and(|s| s.dense_layer(w, input, b, r, out, bounds(relu)));
            if !done {
                scalar_layer(params, input, out, relu);
            }
        }
    }
}

/// An output's final value from its dot product: plus the bias (saturating), requantised
/// and clamped to `bounds` (an activation after ReLU, or a Q16 logit).
#[inline(always)]
fn finish(sum: i32, bias: i32, requant: &Requant, (lo, hi): (i32, i32)) -> i32 {
    requant.apply_clamped(sum.saturating_add(bias), lo, hi)
}

/// The clamp bounds of a layer's outputs: an activation after ReLU, or a Q16 logit.
#[inline(always)]
fn bounds(relu: bool) -> (i32, i32) {
    if relu {
        (0, ACTIVATION_MAX)
    } else {
        (-LOGIT_LIMIT, LOGIT_LIMIT)
    }
}

/// [`super::kernels::dense_scalar`] with every output finished in the same loop.
fn scalar_layer(params: &Params<'_>, input: &[i32], out: &mut [i32], relu: bool) {
    let bounds = bounds(relu);
    let rows = params.weights.chunks_exact(input.len().max(1));
    let finishing = params.bias.iter().zip(params.requant);
    for ((acc, row), (&bias, requant)) in out.iter_mut().zip(rows).zip(finishing) {
        let sum = row.iter().zip(input).fold(0i32, |a, (&w, &x)| {
            a.wrapping_add(x.wrapping_mul(i32::from(w)))
        });
        *acc = finish(sum, bias, requant, bounds);
    }
}

/// [`super::kernels::dense_packed`] with every output finished in the same loop: `packed`
/// holds `input` packed by [`pack_activations`].
#[inline(always)]
fn packed_layer<D: Dsp>(
    params: &Params<'_>,
    input: &[i32],
    packed: &[u32],
    out: &mut [i32],
    relu: bool,
) {
    let bounds = bounds(relu);
    let inputs = input.len();
    let full = 4 * (inputs / 4);
    let packed = packed.get(..full / 2).unwrap_or(&[]);
    let tail = input.get(full..).unwrap_or(&[]);
    // The target's own loop first, for the ReLU layers it takes (whole groups of four).
    let done = if relu && tail.is_empty() {
        D::dense_relu_steps(params.weights, packed, params.bias, params.requant, out)
    } else {
        0
    };
    let rows = params
        .weights
        .get(done * inputs..)
        .unwrap_or(&[])
        .chunks_exact(inputs.max(1));
    let bias = params.bias.get(done..).unwrap_or(&[]);
    let requant = params.requant.get(done..).unwrap_or(&[]);
    let out = out.get_mut(done..).unwrap_or(&mut []);
    for ((acc, row), (&bias, requant)) in out.iter_mut().zip(rows).zip(bias.iter().zip(requant)) {
        let sum = packed_dot::<D>(row, full, packed, tail);
        *acc = finish(sum, bias, requant, bounds);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::kernels::{dense_scalar, packed_input_words};
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// A layer as its definition reads: the dot products, then the bias and requantisation.
    fn definition(params: &Params<'_>, input: &[i32], outputs: usize, relu: bool) -> Vec<i32> {
        let mut out = vec![0i32; outputs];
        dense_scalar(params.weights, input, &mut out);
        let (lo, hi) = if relu {
            (0, ACTIVATION_MAX)
        } else {
            (-LOGIT_LIMIT, LOGIT_LIMIT)
        };
        for ((y, &b), r) in out.iter_mut().zip(params.bias).zip(params.requant) {
            *y = r.apply_clamped(y.saturating_add(b), lo, hi);
        }
        out
    }

    fn case() -> impl Strategy<Value = (Vec<i8>, Vec<i32>, Vec<i32>, Vec<Requant>)> {
        (1usize..40, 1usize..12).prop_flat_map(|(inputs, outputs)| {
            let requant = ((1i32 << 30)..=i32::MAX, 1u8..=63)
                .prop_map(|(multiplier, shift)| Requant::new(multiplier, shift));
            (
                proptest::collection::vec(any::<i8>(), inputs * outputs),
                proptest::collection::vec(0..=ACTIVATION_MAX, inputs),
                proptest::collection::vec(any::<i32>(), outputs),
                proptest::collection::vec(requant, outputs),
            )
        })
    }

    proptest! {
        /// Every kernel's fused layer gives the bits of the dot products followed by the
        /// requantisation, with and without ReLU.
        #[test]
        fn fused_layers_equal_the_definition(
            (weights, input, bias, requant) in case(),
            relu in any::<bool>(),
        ) {
            let params = Params { weights: &weights, bias: &bias, requant: &requant };
            let outputs = bias.len();
            let expected = definition(&params, &input, outputs, relu);
            let mut kernels = vec![Int8Kernel::Scalar, Int8Kernel::PortablePacked];
            kernels.push(Int8Kernel::best());
            for kernel in kernels {
                let mut out = vec![-1i32; outputs];
                let mut packed = vec![0u32; packed_input_words(input.len())];
                layer(kernel, &params, &input, &mut out, &mut packed, relu);
                prop_assert_eq!(&out, &expected, "{:?}", kernel);
            }
        }
    }
}
