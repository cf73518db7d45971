//! Writes the synthetic seed inputs of both fuzz targets (every value made up here; no row
//! of the Census data): `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.
//! The seeds become part of the kept corpus (`fuzz/corpus/<target>/seed-*`), which the
//! regression tests of ple-codegen and ple-train replay.

use std::collections::BTreeMap;
use std::path::Path;

use ple_codegen::model_file::{ModelConfig, ModelFile};
use ple_codegen::{CategoricalField, FeatureSpec, Normalisation, NumericColumn, TaskLabel};
use ple_core::PleShape;
use ple_train::census::layout::{column_index, CATEGORICAL_COLUMNS, COLUMN_NAMES};

/// A made-up Census-like record of 42 fields; `seed` varies the values.
fn record(seed: usize) -> String {
    let mut fields: Vec<String> = COLUMN_NAMES
        .iter()
        .map(|name| {
            if CATEGORICAL_COLUMNS.contains(name) {
                format!(" c{}", seed % 3)
            } else {
                format!(" {}", seed % 7)
            }
        })
        .collect();
    fields[0] = format!("{}", 20 + seed % 50);
    fields[column_index("instance_weight")] = format!(" {}.{}", 1000 + seed, seed % 100);
    fields[column_index("marital_stat")] = [" Never married", " Divorced"][seed % 2].into();
    fields[column_index("income_50k")] =
        [" - 50000.", " 50000+."][usize::from(seed % 5 == 0)].into();
    fields.join(",")
}

fn records(rows: std::ops::Range<usize>, ending: &str) -> String {
    rows.map(|i| record(i) + ending).collect()
}

fn tiny_model(with_metadata: bool) -> ModelFile {
    let shape = PleShape {
        input_dim: 4,
        tasks: 2,
        experts_per_task: 1,
        shared_experts: 1,
        levels: 1,
        expert_units: &[2],
        tower_units: &[],
    };
    let config = ModelConfig::new(&shape, vec!["income".into(), "marital".into()]);
    let parameters = (0..shape.parameter_count())
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    let (feature_spec, normalisation) = if with_metadata {
        let spec = FeatureSpec {
            raw_columns: 4,
            numeric: vec![NumericColumn {
                name: "age".into(),
                source_column: 0,
            }],
            categorical: vec![CategoricalField {
                name: "sex".into(),
                source_column: 1,
                offset: 1,
                vocabulary: vec![" F".into(), " M".into(), " X".into()],
            }],
            tasks: vec![
                TaskLabel {
                    name: "income".into(),
                    source_column: 2,
                    positive: " 50000+.".into(),
                },
                TaskLabel {
                    name: "marital".into(),
                    source_column: 3,
                    positive: " Never married".into(),
                },
            ],
        };
        let norm = Normalisation {
            mean: vec![38.5],
            std: vec![12.25],
        };
        (Some(spec), Some(norm))
    } else {
        (None, None)
    };
    let mut extra = BTreeMap::new();
    if with_metadata {
        extra.insert("ple.training".into(), "{\"seed\":1}".into());
    }
    ModelFile {
        config,
        feature_spec,
        normalisation,
        parameters,
        extra,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    write(
        &root.join("seeds"),
        "spec_source.data",
        records(0..6, "\n").as_bytes(),
    );

    let models = root.join("corpus/model_file");
    let full = tiny_model(true).to_bytes().unwrap();
    write(&models, "seed-full", &full);
    write(&models, "seed-bare", &tiny_model(false).to_bytes().unwrap());
    write(&models, "seed-truncated", &full[..full.len() - 3]);
    let mut huge_header = full.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    write(&models, "seed-huge-header-length", &huge_header);
    write(&models, "seed-empty-header", b"\x02\0\0\0\0\0\0\0{}");

    // The first byte of a census input picks plain (0), gzip (2) or cut gzip (3 + length).
    let census = root.join("corpus/census_records");
    let plain = |text: &str| [&[0u8][..], text.as_bytes()].concat();
    write(&census, "seed-plain", &plain(&records(0..3, "\n")));
    write(&census, "seed-crlf", &plain(&records(3..5, "\r\n")));
    write(
        &census,
        "seed-gzip",
        &[&[2u8][..], records(0..2, "\n").as_bytes()].concat(),
    );
    write(
        &census,
        "seed-gzip-cut",
        &[&[131u8][..], records(0..2, "\n").as_bytes()].concat(),
    );
    write(
        &census,
        "seed-gzip-raw",
        &[&[0u8][..], &gzip(records(5..7, "\n").as_bytes())].concat(),
    );
    write(
        &census,
        "seed-paddlerec",
        &plain("0,1,0.5,-1.25,1,0,0\n1,0,2,3,0,0,1\n"),
    );
}
