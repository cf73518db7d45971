//! The encoding reproduces PaddleRec's preprocessing bit for bit: the sha256 of the dense
//! float32 features and of the labels of all three splits equal the published reference
//! values (`SPLIT.md` beside the data), on the real UCI files.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use ple_train::census::{load_census, CensusData};
use ple_train::dataset::Dataset;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PLE_CENSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/census"));
    if dir.join("census-income.data.gz").is_file() || dir.join("census-income.data").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "\n\n*** SKIPPED: no Census data in {} (set PLE_CENSUS_DIR); the checksum test did \
             not run ***\n\n",
            dir.display()
        );
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of the dense row-major little-endian f32 features, one row at a time.
fn features_sha256(dataset: &Dataset) -> String {
    let mut hasher = Sha256::new();
    let mut row = vec![0f32; dataset.dense_width];
    let mut bytes = Vec::with_capacity(4 * dataset.dense_width);
    for r in 0..dataset.rows() {
        dataset.dense_row_into(r, &mut row);
        bytes.clear();
        bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
        hasher.update(&bytes);
    }
    hex(&hasher.finalize())
}

fn label_sha256(dataset: &Dataset, task: &str) -> String {
    let index = dataset.task_names.iter().position(|t| t == task).unwrap();
    hex(&Sha256::digest(&dataset.labels[index]))
}

fn positives(dataset: &Dataset, task: &str) -> usize {
    let index = dataset.task_names.iter().position(|t| t == task).unwrap();
    dataset.labels[index].iter().map(|&l| usize::from(l)).sum()
}

struct Expected {
    rows: usize,
    features: &'static str,
    marital: &'static str,
    income: &'static str,
    marital_positives: usize,
    income_positives: usize,
}

fn check(name: &str, dataset: &Dataset, expected: &Expected) {
    assert_eq!(dataset.rows(), expected.rows, "{name} rows");
    assert_eq!(
        positives(dataset, "marital"),
        expected.marital_positives,
        "{name} marital positives"
    );
    assert_eq!(
        positives(dataset, "income"),
        expected.income_positives,
        "{name} income positives"
    );
    assert_eq!(
        label_sha256(dataset, "marital"),
        expected.marital,
        "{name} marital labels"
    );
    assert_eq!(
        label_sha256(dataset, "income"),
        expected.income,
        "{name} income labels"
    );
    assert_eq!(
        features_sha256(dataset),
        expected.features,
        "{name} features"
    );
}

fn load() -> Option<CensusData> {
    let dir = data_dir()?;
    let started = std::time::Instant::now();
    let data = load_census(&dir).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("loaded and encoded in {:.2?}", started.elapsed());
    Some(data)
}

#[test]
fn encoded_splits_match_paddlerec_checksums_bit_for_bit() {
    let Some(data) = load() else { return };
    assert_eq!(data.spec.dense_width(), 499);
    assert_eq!(data.spec.numeric.len(), 11);
    assert_eq!(data.spec.categorical.len(), 29);
    assert_eq!(data.train.task_names, ["income", "marital"]);

    check(
        "train",
        &data.train,
        &Expected {
            rows: 199_523,
            features: "7b267e424500c9c7c8647c56ec634fce7f728542c88f994b48d40898bed4a454",
            marital: "d73d164cda3b05aff7d582429d06705134ad3db738d5871f5f748714144c5bd9",
            income: "014ca4868899c75d08fe1a30812e9e0d4d89e67cb69ccb5d79bb29db1de68566",
            marital_positives: 86_485,
            income_positives: 12_382,
        },
    );
    check(
        "validation",
        &data.validation,
        &Expected {
            rows: 49_881,
            features: "8acd91316b568372a94af9cdbd1bc7387b145806d7c1d50aa55833794772d60b",
            marital: "bab15f858d4e1ff5e9c0a4ed6dcd012ba17caf82ef36b536bd9d91152bee659c",
            income: "6ad05e1335002db427a4deb9f93b7ef37e557e9ffd96934a079c7d230d1c3ceb",
            marital_positives: 21_667,
            income_positives: 3_104,
        },
    );
    check(
        "test",
        &data.test,
        &Expected {
            rows: 49_881,
            features: "f4edbbd2f74616269ca57e651c13cad86ced2ed015d4a339cd5a0581df686197",
            marital: "a5ece3ab5cdf988c29c8bcbf9800549f5e6be5763b724aecb593a96891b3feb7",
            income: "8a04a5a6446d85b49f690254c6e77bb25b344477ae247038bb6794ee8f1e733e",
            marital_positives: 21_476,
            income_positives: 3_082,
        },
    );
}
