//! The small model the generated-code tests bake.

use ple_codegen::model_file::{ModelConfig, ModelFile};
use ple_codegen::{CategoricalField, FeatureSpec, Normalisation, NumericColumn, TaskLabel};
use ple_core::PleShape;

pub const SHAPE: PleShape<'static> = PleShape {
    input_dim: 9,
    tasks: 2,
    experts_per_task: 2,
    shared_experts: 1,
    levels: 2,
    expert_units: &[6, 4],
    tower_units: &[3],
};

pub fn tiny_model() -> ModelFile {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
    let spec = FeatureSpec {
        raw_columns: 6,
        numeric: vec![
            NumericColumn {
                name: "age".into(),
                source_column: 0,
            },
            NumericColumn {
                name: "wage per hour".into(),
                source_column: 3,
            },
        ],
        categorical: vec![
            CategoricalField {
                name: "sex".into(),
                source_column: 1,
                offset: 2,
                vocabulary: words(&[" Female", " Male"]),
            },
            CategoricalField {
                name: "education".into(),
                source_column: 2,
                offset: 4,
                vocabulary: words(&[
                    " Bachelors degree",
                    " Children",
                    " High school graduate",
                    " ?",
                    " Masters",
                ]),
            },
        ],
        tasks: vec![
            TaskLabel {
                name: "income".into(),
                source_column: 5,
                positive: " 50000+.".into(),
            },
            TaskLabel {
                name: "never married".into(),
                source_column: 4,
                positive: " Never married".into(),
            },
        ],
    };
    let parameters = (0..SHAPE.parameter_count())
        .map(|i| ((i * 7919 % 211) as f32 - 105.0) / 160.0)
        .collect();
    ModelFile {
        config: ModelConfig::new(&SHAPE, vec!["income".into(), "never married".into()]),
        feature_spec: Some(spec),
        normalisation: Some(Normalisation {
            mean: vec![34.5, 55.0],
            std: vec![22.25, 270.0],
        }),
        parameters,
        extra: Default::default(),
    }
}

/// Deterministic calibration rows for the small model: raw numeric values (age, wage) and
/// category indices (sex, education), row-major.
#[allow(dead_code)] // not every test binary quantises
pub fn calibration_rows() -> (Vec<f32>, Vec<u16>) {
    let (mut numeric, mut categories) = (Vec::new(), Vec::new());
    for i in 0..200u32 {
        numeric.push((i * 37 % 90) as f32);
        numeric.push((i * 7919 % 5000) as f32 / 2.0);
        categories.push((i % 2) as u16);
        categories.push((i * 3 % 5) as u16);
    }
    (numeric, categories)
}
