//! Rust emission: one token-building struct per item of the generated module, each mirroring
//! the ple-core value it becomes (shape, input layout, packed weights, model view, feature
//! spec, predict function), so that each can be tested on its own at the token level.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

use ple_core::PleShape;

use super::{Baked, BakedWeights};
use crate::feature_spec::{FeatureSpec, Normalisation};

fn hex(bits: u64, width: usize) -> Literal {
    // A valid integer literal by construction, so parsing cannot fail.
    format!("0x{bits:0width$x}")
        .parse()
        .unwrap_or_else(|_| Literal::u64_unsuffixed(bits))
}

fn usize_lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// `pub const SHAPE: ::ple_core::PleShape<'static>`, field by field.
pub struct ShapeConst<'a>(pub &'a PleShape<'a>);

impl ToTokens for ShapeConst<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let s = self.0;
        let (input_dim, tasks, per_task, shared, levels) = (
            s.input_dim,
            s.tasks,
            s.experts_per_task,
            s.shared_experts,
            s.levels,
        );
        let lits = |units: &[u32]| {
            units
                .iter()
                .map(|&u| Literal::u32_unsuffixed(u))
                .collect::<Vec<_>>()
        };
        let (expert_units, tower_units) = (lits(s.expert_units), lits(s.tower_units));
        let [input_dim, tasks, per_task, shared, levels] =
            [input_dim, tasks, per_task, shared, levels].map(Literal::u32_unsuffixed);
        tokens.extend(quote! {
            /// The network's shape.
            pub const SHAPE: ::ple_core::PleShape<'static> = ::ple_core::PleShape {
                input_dim: #input_dim,
                tasks: #tasks,
                experts_per_task: #per_task,
                shared_experts: #shared,
                levels: #levels,
                expert_units: &[#(#expert_units),*],
                tower_units: &[#(#tower_units),*],
            };
        });
    }
}

/// `VOCAB_SIZES` and `pub const LAYOUT: ::ple_core::InputLayout<'static>`.
pub struct LayoutConst {
    pub numeric: u32,
    pub vocab_sizes: Vec<u16>,
}

impl ToTokens for LayoutConst {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let numeric = Literal::u32_unsuffixed(self.numeric);
        let fields = usize_lit(self.vocab_sizes.len());
        let sizes = self.vocab_sizes.iter().map(|&v| Literal::u16_unsuffixed(v));
        tokens.extend(quote! {
            /// Number of numeric columns at the start of the dense input.
            pub const NUMERIC_LEN: usize = #numeric;
            /// Number of categorical fields.
            pub const FIELDS: usize = #fields;
            /// Vocabulary size of each categorical field.
            pub const VOCAB_SIZES: [u16; FIELDS] = [#(#sizes),*];
            /// How the dense input is made of numeric columns and one-hot blocks.
            pub const LAYOUT: ::ple_core::InputLayout<'static> =
                ::ple_core::InputLayout { numeric: #numeric, vocab_sizes: &VOCAB_SIZES };
        });
    }
}

/// `pub static WEIGHTS`: the packed weights as exact bit patterns.
pub struct WeightsStatic<'a>(pub &'a BakedWeights);

impl ToTokens for WeightsStatic<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let len = usize_lit(self.0.len());
        tokens.extend(match self.0 {
            BakedWeights::F32(values) => {
                let items = values.iter().map(|v| hex(v.to_bits().into(), 8));
                quote! {
                    /// The packed weights (`ple_core::packed`), as exact `f32` bit patterns, at a
                    /// 16-byte boundary for the SIMD kernels (`ple_core::Aligned`).
                    pub static WEIGHTS: ::ple_core::Aligned<[f32; #len]> = ::ple_core::Aligned([#(f32::from_bits(#items)),*]);
                }
            }
            BakedWeights::Int8(_) => TokenStream::new(),
            BakedWeights::F16(values) => {
                let items = values.iter().map(|v| hex(v.to_bits().into(), 4));
                quote! {
                    /// The packed weights (`ple_core::packed`), as exact `f16` bit patterns, at a
                    /// 16-byte boundary: the Arm FPU kernels read two `f16` weights per word
                    /// only from word-aligned matrices (`ple_core::Aligned`).
                    pub static WEIGHTS: ::ple_core::Aligned<[::ple_core::half::f16; #len]> = ::ple_core::Aligned([#(::ple_core::half::f16::from_bits(#items)),*]);
                }
            }
        });
    }
}

/// `NUMERIC_MEAN` and `NUMERIC_STD`: the standardisation the model applies to its numeric
/// inputs, as exact `f32` bit patterns.
pub struct StandardisationStatics<'a>(pub &'a Normalisation);

impl ToTokens for StandardisationStatics<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let bits = |values: &[f32]| {
            values
                .iter()
                .map(|v| hex(v.to_bits().into(), 8))
                .collect::<Vec<_>>()
        };
        let (mean, std) = (bits(&self.0.mean), bits(&self.0.std));
        tokens.extend(quote! {
            /// Mean of each numeric column on the training split, as exact `f32` bit patterns.
            pub static NUMERIC_MEAN: [f32; NUMERIC_LEN] = [#(f32::from_bits(#mean)),*];
            /// Standard deviation of each numeric column on the training split, as exact `f32`
            /// bit patterns. `MODEL` feeds the network `(x - NUMERIC_MEAN[j]) / NUMERIC_STD[j]`.
            pub static NUMERIC_STD: [f32; NUMERIC_LEN] = [#(f32::from_bits(#std)),*];
        });
    }
}

/// `pub static MODEL` (checked at compile time), `SCRATCH_LEN`, `TASKS` and `TASK_NAMES`.
pub struct ModelStatic<'a> {
    pub half: bool,
    pub task_names: &'a [String],
    /// Whether `NUMERIC_MEAN` and `NUMERIC_STD` exist and the model standardises with them.
    pub standardised: bool,
}

impl ToTokens for ModelStatic<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ty = if self.half {
            format_ident!("ModelF16")
        } else {
            format_ident!("ModelF32")
        };
        let names = self.task_names;
        let model = if self.standardised {
            quote! {
                /// The model, ready to run: it takes raw numeric values and standardises them
                /// with `NUMERIC_MEAN` and `NUMERIC_STD` as the trainer did. Built in a
                /// constant context: a mismatch between the arrays above fails the build, not
                /// the device.
                pub static MODEL: ::ple_core::#ty<'static> =
                    match ::ple_core::PleModel::new(SHAPE, LAYOUT, &WEIGHTS.0) {
                        Ok(model) => match ::ple_core::normalise::Standardisation::new(&NUMERIC_MEAN, &NUMERIC_STD) {
                            Ok(standardisation) => match model.with_standardisation(standardisation) {
                                Ok(model) => model,
                                Err(_) => panic!("generated standardisation does not fit the model"),
                            },
                            Err(_) => panic!("generated standardisation tables are invalid"),
                        },
                        Err(_) => panic!("generated model arrays do not fit together"),
                    };
            }
        } else {
            quote! {
                /// The model, ready to run: it takes raw numeric values (the standardisation
                /// is folded into its weights). Built in a constant context: a mismatch
                /// between the arrays above fails the build, not the device.
                pub static MODEL: ::ple_core::#ty<'static> =
                    match ::ple_core::PleModel::new(SHAPE, LAYOUT, &WEIGHTS.0) {
                        Ok(model) => model,
                        Err(_) => panic!("generated model arrays do not fit together"),
                    };
            }
        };
        tokens.extend(quote! {
            /// Number of tasks: one probability each.
            pub const TASKS: usize = SHAPE.tasks as usize;
            /// Task names, in output order.
            pub const TASK_NAMES: [&str; TASKS] = [#(#names),*];
            /// Exact scratch length (in `f32`s) a prediction needs.
            pub const SCRATCH_LEN: usize = ::ple_core::scratch_len(&SHAPE);
            #model
        });
    }
}

/// The feature spec as static tables, and `encode`, which turns a raw record into the sparse
/// input by the same rules as the trainer.
pub struct FeatureSpecItems<'a>(pub &'a FeatureSpec);

impl ToTokens for FeatureSpecItems<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let spec = self.0;
        let raw_columns = usize_lit(spec.raw_columns);
        let numeric = spec.numeric.iter().map(|c| {
            let (name, column) = (&c.name, usize_lit(c.source_column));
            quote! { NumericColumn { name: #name, source_column: #column } }
        });
        let categorical = spec.categorical.iter().map(|f| {
            let (name, column, words) = (&f.name, usize_lit(f.source_column), &f.vocabulary);
            quote! { CategoricalField { name: #name, source_column: #column, vocabulary: &[#(#words),*] } }
        });
        tokens.extend(quote! {
            /// Number of fields in a raw record.
            pub const RAW_COLUMNS: usize = #raw_columns;

            /// A numeric input column: its name and where the raw record holds it.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct NumericColumn {
                pub name: &'static str,
                pub source_column: usize,
            }

            /// A categorical field: its name, where the raw record holds it, and its
            /// vocabulary, exactly as in the raw file, in one-hot order.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct CategoricalField {
                pub name: &'static str,
                pub source_column: usize,
                pub vocabulary: &'static [&'static str],
            }

            /// The numeric columns, in input order.
            pub const NUMERIC: [NumericColumn; NUMERIC_LEN] = [#(#numeric),*];
            /// The categorical fields, in input order.
            pub const CATEGORICAL: [CategoricalField; FIELDS] = [#(#categorical),*];

            /// Why a raw record could not be encoded.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub enum EncodeError {
                /// The record does not have `RAW_COLUMNS` fields.
                Columns { found: usize },
                /// A numeric field is not a finite number; carries its raw column.
                Numeric { column: usize },
            }

            /// Encodes a raw record (its fields as in the raw file, leading spaces kept) into
            /// the numeric values and category indices of the sparse input. A category not in
            /// the vocabulary becomes `ple_core::UNKNOWN_CATEGORY`, as in training.
            pub fn encode(
                record: &[&str],
                numeric: &mut [f32; NUMERIC_LEN],
                categories: &mut [u16; FIELDS],
            ) -> Result<(), EncodeError> {
                if record.len() != RAW_COLUMNS {
                    return Err(EncodeError::Columns { found: record.len() });
                }
                for (slot, column) in numeric.iter_mut().zip(NUMERIC.iter()) {
                    let bad = EncodeError::Numeric { column: column.source_column };
                    let text = record.get(column.source_column).ok_or(bad)?;
                    let value: f32 = text.trim().parse().map_err(|_| bad)?;
                    if !value.is_finite() {
                        return Err(bad);
                    }
                    *slot = value;
                }
                for (slot, field) in categories.iter_mut().zip(CATEGORICAL.iter()) {
                    let value = record.get(field.source_column).copied().unwrap_or_default();
                    *slot = field
                        .vocabulary
                        .iter()
                        .position(|word| *word == value)
                        .map_or(::ple_core::UNKNOWN_CATEGORY, |i| i as u16);
                }
                Ok(())
            }
        });
    }
}

/// `predict`: one row in, one probability per task out.
pub struct PredictFn {
    /// Whether the model takes the sparse input (numeric values and category indices).
    pub sparse: bool,
}

impl ToTokens for PredictFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(if self.sparse {
            quote! {
                /// Predicts one row given as numeric values and category indices (see
                /// `encode`); returns one probability per task.
                pub fn predict(
                    numeric: &[f32; NUMERIC_LEN],
                    categories: &[u16; FIELDS],
                    scratch: &mut [f32; SCRATCH_LEN],
                ) -> Result<[f32; TASKS], ::ple_core::PleError> {
                    let mut probabilities = [0.0; TASKS];
                    let input = ::ple_core::Input::Sparse { numeric, categories };
                    MODEL.predict(input, scratch, &mut probabilities)?;
                    Ok(probabilities)
                }
            }
        } else {
            quote! {
                /// Predicts one dense row; returns one probability per task.
                pub fn predict(
                    input: &[f32; NUMERIC_LEN],
                    scratch: &mut [f32; SCRATCH_LEN],
                ) -> Result<[f32; TASKS], ::ple_core::PleError> {
                    let mut probabilities = [0.0; TASKS];
                    MODEL.predict(::ple_core::Input::Dense(input), scratch, &mut probabilities)?;
                    Ok(probabilities)
                }
            }
        });
    }
}

/// The whole generated module as tokens.
pub(super) fn module(baked: &Baked) -> TokenStream {
    let shape = baked.config.shape();
    let shape_const = ShapeConst(&shape);
    let layout = LayoutConst {
        numeric: baked.layout_numeric,
        vocab_sizes: baked.vocab_sizes.clone(),
    };
    if let BakedWeights::Int8(params) = &baked.weights {
        let names = &baked.config.task_names;
        let int8 = super::int8::items(params);
        let spec = baked.feature_spec.as_ref().map(FeatureSpecItems);
        return quote! {
            #shape_const
            #layout
            /// Task names, in output order.
            pub const TASK_NAMES: [&str; TASKS] = [#(#names),*];
            #int8
            #spec
        };
    }
    let weights = WeightsStatic(&baked.weights);
    let standardisation = baked.normalisation.as_ref().map(StandardisationStatics);
    let model = ModelStatic {
        half: matches!(baked.weights, BakedWeights::F16(_)),
        task_names: &baked.config.task_names,
        standardised: standardisation.is_some(),
    };
    let spec = baked.feature_spec.as_ref().map(FeatureSpecItems);
    let predict = PredictFn {
        sparse: baked.feature_spec.is_some(),
    };
    quote! {
        #shape_const
        #layout
        #weights
        #standardisation
        #model
        #spec
        #predict
    }
}

/// Formats tokens as a Rust file with the given header comment lines.
pub(super) fn render(header: &[String], tokens: TokenStream) -> Result<String, syn::Error> {
    let file: syn::File = syn::parse2(tokens)?;
    let mut out = String::new();
    for line in header {
        out.push_str("// ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&prettyplease::unparse(&file));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(actual: impl ToTokens, expected: TokenStream) {
        assert_eq!(actual.to_token_stream().to_string(), expected.to_string());
    }

    #[test]
    fn shape_const_lists_every_field() {
        let shape = PleShape {
            input_dim: 9,
            tasks: 2,
            experts_per_task: 1,
            shared_experts: 3,
            levels: 2,
            expert_units: &[8, 4],
            tower_units: &[],
        };
        same(
            ShapeConst(&shape),
            quote! {
                /// The network's shape.
                pub const SHAPE: ::ple_core::PleShape<'static> = ::ple_core::PleShape {
                    input_dim: 9, tasks: 2, experts_per_task: 1, shared_experts: 3, levels: 2,
                    expert_units: &[8, 4], tower_units: &[],
                };
            },
        );
    }

    #[test]
    fn layout_const_carries_numeric_count_and_vocabulary_sizes() {
        let tokens = LayoutConst {
            numeric: 3,
            vocab_sizes: vec![9, 52],
        }
        .to_token_stream()
        .to_string();
        assert!(tokens
            .contains(&quote! { pub const VOCAB_SIZES: [u16; FIELDS] = [9, 52]; }.to_string()));
        assert!(tokens.contains(&quote! { pub const NUMERIC_LEN: usize = 3; }.to_string()));
        assert!(tokens.contains(
            &quote! { ::ple_core::InputLayout { numeric: 3, vocab_sizes: &VOCAB_SIZES } }
                .to_string()
        ));
    }

    #[test]
    fn weights_are_emitted_as_exact_bit_patterns() {
        let f32s = BakedWeights::F32(vec![1.0, -0.0, f32::MIN_POSITIVE / 2.0]);
        same(
            WeightsStatic(&f32s),
            quote! {
                /// The packed weights (`ple_core::packed`), as exact `f32` bit patterns, at a
                /// 16-byte boundary for the SIMD kernels (`ple_core::Aligned`).
                pub static WEIGHTS: ::ple_core::Aligned<[f32; 3]> = ::ple_core::Aligned([
                    f32::from_bits(0x3f800000), f32::from_bits(0x80000000), f32::from_bits(0x00400000)
                ]);
            },
        );
        let f16s = BakedWeights::F16(vec![half::f16::ONE, half::f16::from_bits(0x0001)]);
        same(
            WeightsStatic(&f16s),
            quote! {
                /// The packed weights (`ple_core::packed`), as exact `f16` bit patterns, at a
                /// 16-byte boundary: the Arm FPU kernels read two `f16` weights per word
                /// only from word-aligned matrices (`ple_core::Aligned`).
                pub static WEIGHTS: ::ple_core::Aligned<[::ple_core::half::f16; 2]> = ::ple_core::Aligned(
                    [::ple_core::half::f16::from_bits(0x3c00), ::ple_core::half::f16::from_bits(0x0001)]);
            },
        );
    }

    #[test]
    fn model_static_uses_the_precision_s_view_type_and_names_the_tasks() {
        let names = ["income".to_string(), "marital".to_string()];
        let tokens = ModelStatic {
            half: true,
            task_names: &names,
            standardised: false,
        }
        .to_token_stream()
        .to_string();
        assert!(tokens
            .contains(&quote! { pub static MODEL: ::ple_core::ModelF16<'static> }.to_string()));
        assert!(tokens.contains(
            &quote! { pub const TASK_NAMES: [&str; TASKS] = ["income", "marital"]; }.to_string()
        ));
        let tokens = ModelStatic {
            half: false,
            task_names: &names,
            standardised: false,
        }
        .to_token_stream()
        .to_string();
        assert!(tokens.contains(&quote! { ::ple_core::ModelF32<'static> }.to_string()));
        assert!(!tokens.contains("with_standardisation"));
    }

    #[test]
    fn standardisation_tables_are_exact_bit_patterns() {
        let norm = Normalisation {
            mean: vec![94.5, -0.0],
            std: vec![0.5, f32::MIN_POSITIVE],
        };
        same(
            StandardisationStatics(&norm),
            quote! {
                /// Mean of each numeric column on the training split, as exact `f32` bit patterns.
                pub static NUMERIC_MEAN: [f32; NUMERIC_LEN] =
                    [f32::from_bits(0x42bd0000), f32::from_bits(0x80000000)];
                /// Standard deviation of each numeric column on the training split, as exact `f32`
                /// bit patterns. `MODEL` feeds the network `(x - NUMERIC_MEAN[j]) / NUMERIC_STD[j]`.
                pub static NUMERIC_STD: [f32; NUMERIC_LEN] =
                    [f32::from_bits(0x3f000000), f32::from_bits(0x00800000)];
            },
        );
    }

    #[test]
    fn a_standardised_model_is_built_with_its_tables_at_compile_time() {
        let tokens = ModelStatic {
            half: false,
            task_names: &["income".to_string()],
            standardised: true,
        }
        .to_token_stream()
        .to_string();
        let tables = quote! {
            ::ple_core::normalise::Standardisation::new(&NUMERIC_MEAN, &NUMERIC_STD)
        };
        assert!(tokens.contains(&tables.to_string()));
        assert!(
            tokens.contains(&quote! { model.with_standardisation(standardisation) }.to_string())
        );
        assert!(tokens.contains(
            &quote! { pub const SCRATCH_LEN: usize = ::ple_core::scratch_len(&SHAPE); }.to_string()
        ));
    }

    #[test]
    fn feature_spec_tables_keep_names_columns_and_vocabularies() {
        let spec = FeatureSpec {
            raw_columns: 4,
            numeric: vec![crate::NumericColumn {
                name: "age".into(),
                source_column: 0,
            }],
            categorical: vec![crate::CategoricalField {
                name: "sex".into(),
                source_column: 2,
                offset: 1,
                vocabulary: vec![" Female".into(), " Male".into()],
            }],
            tasks: vec![],
        };
        let tokens = FeatureSpecItems(&spec).to_token_stream().to_string();
        assert!(tokens.contains(&quote! { pub const RAW_COLUMNS: usize = 4; }.to_string()));
        assert!(tokens
            .contains(&quote! { [NumericColumn { name: "age", source_column: 0 }] }.to_string()));
        let field = quote! { CategoricalField { name: "sex", source_column: 2, vocabulary: &[" Female", " Male"] } };
        assert!(tokens.contains(&field.to_string()));
    }

    #[test]
    fn predict_takes_sparse_input_when_there_is_a_feature_spec() {
        let sparse = PredictFn { sparse: true }.to_token_stream().to_string();
        assert!(sparse
            .contains(&quote! { ::ple_core::Input::Sparse { numeric, categories } }.to_string()));
        let dense = PredictFn { sparse: false }.to_token_stream().to_string();
        assert!(dense.contains(&quote! { ::ple_core::Input::Dense(input) }.to_string()));
    }
}
