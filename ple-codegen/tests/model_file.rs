//! The model file: round trips, interoperability with the reference safetensors reader, and
//! one test per way a file can be wrong.

use std::collections::BTreeMap;
use std::path::Path;

use ple_codegen::model_file::{
    file_dims, parameter_ranges, ModelConfig, ModelFile, ModelFileError, CONFIG_KEY,
    FEATURE_SPEC_KEY, FORMAT_KEY, MAX_HEADER_BYTES, NORMALISATION_KEY,
};
use ple_codegen::{CategoricalField, FeatureSpec, Normalisation, NumericColumn, TaskLabel};
use ple_core::shape::PADDLEREC_DEFAULT;
use ple_core::PleShape;
use proptest::prelude::*;
use serde_json::json;

const NAME: &str = "test.safetensors";

fn spec() -> FeatureSpec {
    let vocabulary = |words: &[&str]| words.iter().map(|w| w.to_string()).collect();
    FeatureSpec {
        raw_columns: 5,
        numeric: vec![
            NumericColumn {
                name: "age".into(),
                source_column: 0,
            },
            NumericColumn {
                name: "wage".into(),
                source_column: 1,
            },
        ],
        categorical: vec![
            CategoricalField {
                name: "sex".into(),
                source_column: 2,
                offset: 2,
                vocabulary: vocabulary(&[" Female", " Male"]),
            },
            CategoricalField {
                name: "race".into(),
                source_column: 3,
                offset: 4,
                vocabulary: vocabulary(&[" Black", " Other", " White"]),
            },
        ],
        tasks: vec![
            TaskLabel {
                name: "income".into(),
                source_column: 4,
                positive: " 50000+.".into(),
            },
            TaskLabel {
                name: "marital".into(),
                source_column: 3,
                positive: " Never married".into(),
            },
        ],
    }
}

const SHAPE: PleShape<'static> = PleShape {
    input_dim: 7,
    expert_units: &[4, 3],
    tower_units: &[2],
    levels: 2,
    ..PADDLEREC_DEFAULT
};

fn model() -> ModelFile {
    let config = ModelConfig::new(&SHAPE, vec!["income".into(), "marital".into()]);
    let count = SHAPE.parameter_count();
    let parameters = (0..count)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0)
        .collect();
    let mut extra = BTreeMap::new();
    extra.insert("ple.training".into(), r#"{"epochs":3}"#.into());
    ModelFile {
        config,
        feature_spec: Some(spec()),
        normalisation: Some(Normalisation {
            mean: vec![38.5, 55.25],
            std: vec![22.0, 274.5],
        }),
        parameters,
        extra,
    }
}

/// One tensor of a hand-built file: name, dtype, dimensions, little-endian data.
type RawTensor = (String, &'static str, Vec<u64>, Vec<u8>);

/// The tensors of `model` as F32 raw tensors, in canonical order.
fn raw_tensors(model: &ModelFile) -> Vec<RawTensor> {
    parameter_ranges(&model.config.shape())
        .into_iter()
        .map(|(tensor, range)| {
            let data = model.parameters[range]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            (tensor.to_string(), "F32", file_dims(&tensor), data)
        })
        .collect()
}

fn metadata(model: &ModelFile) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(FORMAT_KEY.to_string(), "1".to_string());
    m.insert(
        CONFIG_KEY.to_string(),
        serde_json::to_string(&model.config).unwrap(),
    );
    m.insert(
        FEATURE_SPEC_KEY.to_string(),
        serde_json::to_string(&model.feature_spec).unwrap(),
    );
    m.insert(
        NORMALISATION_KEY.to_string(),
        serde_json::to_string(&model.normalisation).unwrap(),
    );
    m
}

/// A safetensors file from parts, laid out the standard way.
fn build(metadata: &BTreeMap<String, String>, tensors: &[RawTensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut data = Vec::new();
    for (name, dtype, dims, bytes) in tensors {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": dims, "data_offsets": [start, data.len()]}),
        );
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&json);
    file.extend_from_slice(&data);
    file
}

fn load(bytes: &[u8]) -> Result<ModelFile, ModelFileError> {
    ModelFile::from_bytes(Path::new(NAME), bytes)
}

#[test]
fn saved_model_loads_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = model();
    model.save(&path).unwrap();
    assert_eq!(ModelFile::load(&path).unwrap(), model);
    // Saving again replaces the file and leaves no temporary file behind.
    model.save(&path).unwrap();
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn saving_is_byte_for_byte_deterministic() {
    assert_eq!(model().to_bytes().unwrap(), model().to_bytes().unwrap());
}

#[test]
fn reference_safetensors_reader_sees_every_canonical_tensor() {
    let model = model();
    let bytes = model.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.len(), 2 * SHAPE.layer_count());
    for (tensor, range) in parameter_ranges(&SHAPE) {
        let view = file.tensor(&tensor.to_string()).unwrap();
        assert_eq!(view.dtype(), safetensors::Dtype::F32);
        let dims: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
        assert_eq!(dims, file_dims(&tensor));
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(values, model.parameters[range]);
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        meta.metadata().as_ref().unwrap()["ple.training"],
        r#"{"epochs":3}"#
    );
}

#[test]
fn hand_built_file_in_standard_layout_loads() {
    let model = model();
    let loaded = load(&build(&metadata(&model), &raw_tensors(&model))).unwrap();
    assert_eq!(loaded.parameters, model.parameters);
    assert!(loaded.extra.is_empty());
}

#[test]
fn half_bfloat_and_double_tensors_are_converted_to_f32() {
    let mut model = model();
    // Values every one of the formats holds exactly.
    for (i, p) in model.parameters.iter_mut().enumerate() {
        *p = (i % 17) as f32 / 8.0 - 1.0;
    }
    for dtype in ["F16", "BF16", "F64"] {
        let tensors: Vec<RawTensor> = raw_tensors(&model)
            .into_iter()
            .map(|(name, _, dims, data)| {
                let values = data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()));
                let bytes: Vec<u8> = match dtype {
                    "F16" => values
                        .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                        .collect(),
                    "BF16" => values
                        .flat_map(|v| half::bf16::from_f32(v).to_le_bytes())
                        .collect(),
                    _ => values.flat_map(|v| f64::from(v).to_le_bytes()).collect(),
                };
                (name, dtype, dims, bytes)
            })
            .collect();
        let loaded = load(&build(&metadata(&model), &tensors)).unwrap();
        assert_eq!(loaded.parameters, model.parameters, "{dtype}");
    }
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = model().to_bytes().unwrap();
    for len in 0..bytes.len() {
        match load(&bytes[..len]) {
            Err(ModelFileError::Truncated { needed, found, .. }) => {
                assert_eq!(found, len as u64);
                assert!(needed > found);
            }
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = model().to_bytes().unwrap();
    bytes.push(0);
    assert!(matches!(
        load(&bytes),
        Err(ModelFileError::TrailingBytes { .. })
    ));
}

#[test]
fn huge_header_length_is_refused_before_reading_it() {
    for declared in [MAX_HEADER_BYTES + 1, u64::MAX] {
        let mut bytes = model().to_bytes().unwrap();
        bytes[..8].copy_from_slice(&declared.to_le_bytes());
        match load(&bytes) {
            Err(ModelFileError::HeaderTooLarge { declared: d, .. }) => assert_eq!(d, declared),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn header_that_is_not_json_is_refused() {
    let mut bytes = model().to_bytes().unwrap();
    bytes[8] = b'[';
    assert!(matches!(
        load(&bytes),
        Err(ModelFileError::HeaderJson { .. })
    ));
}

#[test]
fn shape_product_overflow_is_refused() {
    let model = model();
    let mut tensors = raw_tensors(&model);
    tensors[0].2 = vec![u64::MAX / 2, 3];
    match load(&build(&metadata(&model), &tensors)) {
        Err(ModelFileError::ShapeOverflow { tensor, .. }) => assert_eq!(tensor, tensors[0].0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn offsets_that_disagree_with_the_shape_are_refused() {
    let model = model();
    let mut tensors = raw_tensors(&model);
    tensors[3].2 = vec![1];
    assert!(matches!(
        load(&build(&metadata(&model), &tensors)),
        Err(ModelFileError::DataLayout { .. })
    ));
}

#[test]
fn unsupported_dtype_is_refused() {
    let model = model();
    let mut tensors = raw_tensors(&model);
    tensors[1].1 = "I32";
    match load(&build(&metadata(&model), &tensors)) {
        Err(ModelFileError::UnsupportedDtype { tensor, dtype, .. }) => {
            assert_eq!(
                (tensor.as_str(), dtype.as_str()),
                (tensors[1].0.as_str(), "I32")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_unexpected_and_misshapen_tensors_are_refused() {
    let model = model();
    let meta = metadata(&model);
    let mut missing = raw_tensors(&model);
    let gone = missing.remove(5).0;
    match load(&build(&meta, &missing)) {
        Err(ModelFileError::MissingTensor { tensor, .. }) => assert_eq!(tensor, gone),
        other => panic!("{other:?}"),
    }

    let mut extra = raw_tensors(&model);
    extra.push((
        "level9.shared.gate.weight".into(),
        "F32",
        vec![1],
        vec![0; 4],
    ));
    match load(&build(&meta, &extra)) {
        Err(ModelFileError::UnexpectedTensor { tensor, .. }) => {
            assert_eq!(tensor, "level9.shared.gate.weight")
        }
        other => panic!("{other:?}"),
    }

    let mut transposed = raw_tensors(&model);
    transposed[0].2.reverse();
    match load(&build(&meta, &transposed)) {
        Err(ModelFileError::TensorShape {
            tensor,
            expected,
            found,
            ..
        }) => {
            assert_eq!(tensor, "level0.task0.expert0.layer0.weight");
            assert_eq!((expected, found), (vec![4, 7], vec![7, 4]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_finite_parameters_are_refused_on_load_and_on_save() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut model = model();
        let (tensor, range) = parameter_ranges(&SHAPE).into_iter().nth(9).unwrap();
        model.parameters[range.start + 1] = bad;
        let bytes = build(&metadata(&model), &raw_tensors(&model));
        match load(&bytes) {
            Err(ModelFileError::NonFinite {
                tensor: t, index, ..
            }) => {
                assert_eq!((t, index), (tensor.to_string(), 1));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            model.to_bytes(),
            Err(ModelFileError::NonFinite { .. })
        ));
    }
}

/// Loads the model with one metadata value replaced (or removed, for `None`).
fn load_with(key: &str, value: Option<String>) -> Result<ModelFile, ModelFileError> {
    let model = model();
    let mut meta = metadata(&model);
    match value {
        Some(v) => meta.insert(key.into(), v),
        None => meta.remove(key),
    };
    load(&build(&meta, &raw_tensors(&model)))
}

#[test]
fn missing_or_unreadable_metadata_is_refused() {
    assert!(matches!(
        load_with(FORMAT_KEY, None),
        Err(ModelFileError::MissingMetadata {
            key: "ple.format",
            ..
        })
    ));
    assert!(matches!(
        load_with(CONFIG_KEY, None),
        Err(ModelFileError::MissingMetadata {
            key: "ple.config",
            ..
        })
    ));
    assert!(matches!(
        load_with(FORMAT_KEY, Some("2".into())),
        Err(ModelFileError::UnsupportedFormat { .. })
    ));
    match load_with(CONFIG_KEY, Some("{\"input_dim\": 7}".into())) {
        Err(ModelFileError::Metadata { key, .. }) => assert_eq!(key, CONFIG_KEY),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        load_with(NORMALISATION_KEY, Some("[1]".into())),
        Err(ModelFileError::Metadata { .. })
    ));
}

#[test]
fn metadata_that_disagrees_with_the_network_is_refused() {
    let model = model();
    let mut config = model.config.clone();
    config.task_names.pop();
    let json = serde_json::to_string(&config).unwrap();
    assert!(matches!(
        load_with(CONFIG_KEY, Some(json)),
        Err(ModelFileError::TaskNames {
            tasks: 2,
            names: 1,
            ..
        })
    ));

    let mut config = model.config.clone();
    config.expert_units = vec![];
    let json = serde_json::to_string(&config).unwrap();
    assert!(matches!(
        load_with(CONFIG_KEY, Some(json)),
        Err(ModelFileError::InvalidShape { .. })
    ));

    let mut wide = spec();
    wide.categorical[1].vocabulary.push(" Asian".into());
    let json = serde_json::to_string(&wide).unwrap();
    let result = load_with(FEATURE_SPEC_KEY, Some(json));
    assert!(matches!(
        result,
        Err(ModelFileError::FeatureSpecWidth {
            spec_width: 8,
            input_dim: 7,
            ..
        })
    ));

    let mut one_task = spec();
    one_task.tasks.pop();
    let json = serde_json::to_string(&one_task).unwrap();
    assert!(matches!(
        load_with(FEATURE_SPEC_KEY, Some(json)),
        Err(ModelFileError::FeatureSpecTasks { .. })
    ));

    let mut shifted = spec();
    shifted.categorical[1].offset = 5;
    let json = serde_json::to_string(&shifted).unwrap();
    assert!(matches!(
        load_with(FEATURE_SPEC_KEY, Some(json)),
        Err(ModelFileError::FeatureSpecLayout { .. })
    ));

    let short = Normalisation {
        mean: vec![1.0],
        std: vec![1.0],
    };
    let json = serde_json::to_string(&short).unwrap();
    assert!(matches!(
        load_with(NORMALISATION_KEY, Some(json)),
        Err(ModelFileError::NormalisationLength { .. })
    ));

    let zero = Normalisation {
        mean: vec![1.0, 2.0],
        std: vec![1.0, 0.0],
    };
    let json = serde_json::to_string(&zero).unwrap();
    let result = load_with(NORMALISATION_KEY, Some(json));
    assert!(matches!(
        result,
        Err(ModelFileError::NormalisationValue { column: 1, .. })
    ));
}

#[test]
fn saving_refuses_inconsistent_models() {
    let mut short = model();
    short.parameters.pop();
    assert!(matches!(
        short.to_bytes(),
        Err(ModelFileError::ParameterCount { .. })
    ));
    let mut reserved = model();
    reserved.extra.insert(CONFIG_KEY.into(), "{}".into());
    assert!(matches!(
        reserved.to_bytes(),
        Err(ModelFileError::ReservedKey { .. })
    ));
}

#[test]
fn errors_name_the_file_and_the_tensor() {
    let missing = ModelFile::load("/nonexistent/dir/model.safetensors").unwrap_err();
    assert!(missing
        .to_string()
        .contains("/nonexistent/dir/model.safetensors"));
    assert!(std::error::Error::source(&missing).is_some());
    let model = model();
    let mut tensors = raw_tensors(&model);
    tensors[2].1 = "U8";
    let quarter = tensors[2].3.len() / 4;
    tensors[2].3.truncate(quarter);
    let text = load(&build(&metadata(&model), &tensors))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(NAME) && text.contains("level0.task0.expert0.layer1.weight"),
        "{text}"
    );
}

#[test]
fn tensor_lookup_by_canonical_name() {
    let model = model();
    let bias = model.tensor("task1.output.bias").unwrap();
    assert_eq!(bias, &model.parameters[model.parameters.len() - 1..]);
    assert!(model.tensor("task2.output.bias").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = load(&bytes);
    }

    #[test]
    fn random_mutations_of_a_valid_file_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = model().to_bytes().unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(loaded) = load(&bytes) {
            // Whatever got through is a consistent model.
            prop_assert!(loaded.validate().is_ok());
        }
    }

    #[test]
    fn mutated_headers_never_panic(at in any::<prop::sample::Index>(), text in "[\\[\\]{}\":,0-9a-zA-Z_. -]{0,6}") {
        let bytes = model().to_bytes().unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let i = 8 + at.index(header_len);
        let mut header = bytes[8..8 + header_len].to_vec();
        header.splice(i - 8..i - 8, text.bytes());
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(&bytes[8 + header_len..]);
        let _ = load(&file);
    }
}
