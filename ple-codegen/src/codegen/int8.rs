//! Rust emission of an int8 model ([`Int8Params`] from [`crate::quantise`]): one `static`
//! per array of [`ple_core::int8::SparseLayer`] and [`ple_core::int8::DenseLayers`], the two
//! layer values borrowing them, and `model()`, which validates them into an
//! [`ple_core::int8::Int8Model`] (its constructor is not a `const fn`, so a device calls it
//! once at start-up and keeps the view).

use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};

use ple_core::int8::{Requant, SparseOutput};

use crate::quantise::Int8Params;

/// One integer `static` array, e.g. `pub static DENSE_WEIGHTS: [i8; 3] = [1, -2, 3];`.
pub struct IntArray<'a, T> {
    pub name: &'a str,
    pub ty: &'a str,
    pub values: &'a [T],
    pub doc: &'a str,
}

impl<T: Copy + Into<i64>> ToTokens for IntArray<'_, T> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = quote::format_ident!("{}", self.name);
        let ty = quote::format_ident!("{}", self.ty);
        let len = Literal::usize_unsuffixed(self.values.len());
        let values = self.values.iter().map(|&v| {
            let v: i64 = v.into();
            // Negative literals are a minus token and an unsuffixed literal.
            if v < 0 {
                let magnitude = Literal::u64_unsuffixed(v.unsigned_abs());
                quote! { -#magnitude }
            } else {
                Literal::i64_unsuffixed(v).into_token_stream()
            }
        });
        let doc = self.doc;
        tokens.extend(quote! {
            #[doc = #doc]
            pub static #name: [#ty; #len] = [#(#values),*];
        });
    }
}

/// A `static` array of requantisation multipliers.
pub struct RequantArray<'a> {
    pub name: &'a str,
    pub values: &'a [Requant],
    pub doc: &'a str,
}

impl ToTokens for RequantArray<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = quote::format_ident!("{}", self.name);
        let len = Literal::usize_unsuffixed(self.values.len());
        let values = self.values.iter().map(|r| {
            let (m, s) = (
                Literal::i32_unsuffixed(r.multiplier),
                Literal::u8_unsuffixed(r.right_shift),
            );
            quote! { ::ple_core::int8::Requant::new(#m, #s) }
        });
        let doc = self.doc;
        tokens.extend(quote! {
            #[doc = #doc]
            pub static #name: [::ple_core::int8::Requant; #len] = [#(#values),*];
        });
    }
}

/// The `static` array of the first layer's per-output records.
pub struct SparseOutputArray<'a> {
    pub name: &'a str,
    pub values: &'a [SparseOutput],
    pub doc: &'a str,
}

impl ToTokens for SparseOutputArray<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = quote::format_ident!("{}", self.name);
        let len = Literal::usize_unsuffixed(self.values.len());
        let values = self.values.iter().map(|o| {
            let (bias, multiplier) = (
                Literal::i32_unsuffixed(o.bias),
                Literal::i32_unsuffixed(o.multiplier),
            );
            let (right_shift, category_shift) = (
                Literal::u8_unsuffixed(o.right_shift),
                Literal::u8_unsuffixed(o.category_shift),
            );
            quote! {
                ::ple_core::int8::SparseOutput {
                    bias: #bias, multiplier: #multiplier, right_shift: #right_shift,
                    category_shift: #category_shift
                }
            }
        });
        let doc = self.doc;
        tokens.extend(quote! {
            #[doc = #doc]
            pub static #name: [::ple_core::int8::SparseOutput; #len] = [#(#values),*];
        });
    }
}

/// The layer values, `model()`, `SCRATCH_WORDS`, the fixed-point conversion and `predict`.
pub struct Int8ModelItems {
    pub numeric_frac_bits: u8,
    /// Numeric columns of the model: `predict` calls the first layer's step compiled for
    /// their pairs ([`ple_core::int8::Int8Model::predict_fixed`], one to eight pairs), so
    /// that a firmware links one step instead of one per width.
    pub numeric: usize,
}

impl ToTokens for Int8ModelItems {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let frac_bits = Literal::u8_unsuffixed(self.numeric_frac_bits);
        let pairs = self.numeric.div_ceil(2);
        let call = if (1..=8).contains(&pairs) {
            let pairs = Literal::usize_unsuffixed(pairs);
            quote! { model.predict_fixed::<#pairs>(&input, scratch, &mut logits, &mut probabilities)?; }
        } else {
            quote! { model.predict(&input, scratch, &mut logits, &mut probabilities)?; }
        };
        tokens.extend(quote! {
            /// Numeric inputs are given as `round(raw * 2^NUMERIC_FRAC_BITS)`.
            pub const NUMERIC_FRAC_BITS: u8 = #frac_bits;
            /// The level-0 first layers of every expert and gate, as one sparse layer.
            pub const SPARSE: ::ple_core::int8::SparseLayer<'static> = ::ple_core::int8::SparseLayer {
                numeric_frac_bits: NUMERIC_FRAC_BITS,
                numeric_prescale: &NUMERIC_PRESCALE,
                layout: LAYOUT,
                category_weights: &CATEGORY_WEIGHTS,
                numeric_weights: &NUMERIC_WEIGHTS,
                outputs: &SPARSE_OUTPUTS,
            };
            /// Every other dense layer.
            pub const DENSE: ::ple_core::int8::DenseLayers<'static> = ::ple_core::int8::DenseLayers {
                weights: &DENSE_WEIGHTS,
                bias: &DENSE_BIAS,
                requant: &DENSE_REQUANT,
            };
            /// Number of tasks: one logit and one probability each.
            pub const TASKS: usize = SHAPE.tasks as usize;
            /// Exact scratch length (in `i32` words) a prediction needs.
            pub const SCRATCH_WORDS: usize = ::ple_core::int8::scratch_words(&SHAPE, NUMERIC_LEN, FIELDS);
            /// The model view, after validating every array (call once, keep the result).
            pub fn model() -> Result<::ple_core::int8::Int8Model<'static>, ::ple_core::int8::Int8Error> {
                ::ple_core::int8::Int8Model::new(SHAPE, SPARSE, DENSE, &MIX_RATIOS)
            }
            /// Raw numeric values to the model's fixed-point inputs: `round(raw *
            /// 2^NUMERIC_FRAC_BITS)`, halves away from zero, saturating.
            pub fn numeric_to_fixed(raw: &[f32; NUMERIC_LEN]) -> [i32; NUMERIC_LEN] {
                let scale = (1u64 << NUMERIC_FRAC_BITS) as f64;
                let mut fixed = [0; NUMERIC_LEN];
                for (out, &x) in fixed.iter_mut().zip(raw.iter()) {
                    let y = x as f64 * scale;
                    // `as` truncates towards zero and saturates: with the half added away from
                    // zero this rounds to nearest.
                    *out = if y < 0.0 { y - 0.5 } else { y + 0.5 } as i32;
                }
                fixed
            }
            /// Predicts one row (fixed-point numeric values, see `numeric_to_fixed`, and one
                /// category index per field); returns each task's probability in Q15
                /// (`32768` is 1.0).
                pub fn predict(
                    model: &::ple_core::int8::Int8Model<'static>,
                    numeric: &[i32; NUMERIC_LEN],
                    categories: &[u16; FIELDS],
                    scratch: &mut [i32; SCRATCH_WORDS],
                ) -> Result<[u16; TASKS], ::ple_core::int8::Int8Error> {
                    let input = ::ple_core::int8::Int8Input { numeric, categories };
                    let (mut logits, mut probabilities) = ([0; TASKS], [0; TASKS]);
                    #call
                    Ok(probabilities)
                }
        });
    }
}

/// The int8 arrays and model items (shape, layout and feature spec come from the shared
/// emitters).
pub(super) fn items(params: &Int8Params) -> TokenStream {
    let arrays = [
        IntArray {
            name: "CATEGORY_WEIGHTS",
            ty: "i8",
            values: &params.category_weights,
            doc: "`SparseLayer::category_weights`.",
        }
        .into_token_stream(),
        IntArray {
            name: "NUMERIC_WEIGHTS",
            ty: "i16",
            values: &params.numeric_weights,
            doc: "`SparseLayer::numeric_weights`.",
        }
        .into_token_stream(),
        SparseOutputArray {
            name: "SPARSE_OUTPUTS",
            values: &params.sparse_outputs,
            doc: "`SparseLayer::outputs`.",
        }
        .into_token_stream(),
        IntArray {
            name: "DENSE_WEIGHTS",
            ty: "i8",
            values: &params.dense_weights,
            doc: "`DenseLayers::weights`.",
        }
        .into_token_stream(),
        IntArray {
            name: "DENSE_BIAS",
            ty: "i32",
            values: &params.dense_bias,
            doc: "`DenseLayers::bias`.",
        }
        .into_token_stream(),
        IntArray {
            name: "MIX_RATIOS",
            ty: "u16",
            values: &params.mix_ratios,
            doc: "Gate mixing ratios, Q15.",
        }
        .into_token_stream(),
        RequantArray {
            name: "NUMERIC_PRESCALE",
            values: &params.numeric_prescale,
            doc: "`SparseLayer::numeric_prescale`.",
        }
        .into_token_stream(),
        RequantArray {
            name: "DENSE_REQUANT",
            values: &params.dense_requant,
            doc: "`DenseLayers::requant`.",
        }
        .into_token_stream(),
    ];
    let model = Int8ModelItems {
        numeric_frac_bits: params.numeric_frac_bits,
        numeric: params.numeric as usize,
    };
    quote! { #(#arrays)* #model }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_arrays_keep_signs_and_types() {
        let tokens = IntArray {
            name: "W",
            ty: "i8",
            values: &[-128i8, 0, 127],
            doc: "d",
        }
        .to_token_stream();
        let expected = quote! { #[doc = "d"] pub static W: [i8; 3] = [-128, 0, 127]; };
        assert_eq!(tokens.to_string(), expected.to_string());
    }

    #[test]
    fn requant_arrays_call_the_const_constructor() {
        let values = [Requant::new(1 << 30, 31), Requant::new(0, 1)];
        let tokens = RequantArray {
            name: "R",
            values: &values,
            doc: "d",
        }
        .to_token_stream();
        let expected = quote! {
            #[doc = "d"]
            pub static R: [::ple_core::int8::Requant; 2] = [
                ::ple_core::int8::Requant::new(1073741824, 31), ::ple_core::int8::Requant::new(0, 1)
            ];
        };
        assert_eq!(tokens.to_string(), expected.to_string());
    }

    #[test]
    fn sparse_output_arrays_spell_every_field() {
        let values = [SparseOutput {
            bias: -5,
            multiplier: 1 << 30,
            right_shift: 40,
            category_shift: 3,
        }];
        let tokens = SparseOutputArray {
            name: "S",
            values: &values,
            doc: "d",
        }
        .to_token_stream();
        let expected = quote! {
            #[doc = "d"]
            pub static S: [::ple_core::int8::SparseOutput; 1] = [
                ::ple_core::int8::SparseOutput {
                    bias: -5, multiplier: 1073741824, right_shift: 40, category_shift: 3
                }
            ];
        };
        assert_eq!(tokens.to_string(), expected.to_string());
    }

    #[test]
    fn int8_model_items_validate_at_run_time_and_predict_in_q15() {
        let tokens = Int8ModelItems {
            numeric_frac_bits: 12,
            numeric: 11,
        }
        .to_token_stream()
        .to_string();
        assert!(tokens.contains(&quote! { pub const NUMERIC_FRAC_BITS: u8 = 12; }.to_string()));
        assert!(tokens.contains(
            &quote! { ::ple_core::int8::Int8Model::new(SHAPE, SPARSE, DENSE, &MIX_RATIOS) }
                .to_string()
        ));
        assert!(tokens.contains(
            &quote! { -> Result<[u16; TASKS], ::ple_core::int8::Int8Error> }.to_string()
        ));
    }

    #[test]
    fn predict_calls_the_step_fixed_to_the_numeric_width_when_there_is_one() {
        let items = |numeric| {
            Int8ModelItems {
                numeric_frac_bits: 12,
                numeric,
            }
            .to_token_stream()
            .to_string()
        };
        let fixed = |pairs: usize| {
            let pairs = Literal::usize_unsuffixed(pairs);
            quote! { model.predict_fixed::<#pairs>(&input, scratch, &mut logits, &mut probabilities)?; }
                .to_string()
        };
        let dynamic = quote! { model.predict(&input, scratch, &mut logits, &mut probabilities)?; }
            .to_string();
        assert!(items(11).contains(&fixed(6)));
        assert!(items(1).contains(&fixed(1)));
        assert!(items(16).contains(&fixed(8)));
        for numeric in [0, 17] {
            let tokens = items(numeric);
            assert!(tokens.contains(&dynamic) && !tokens.contains("predict_fixed"));
        }
    }
}
