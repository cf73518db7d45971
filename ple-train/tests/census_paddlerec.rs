//! PaddleRec's preprocessed text format: its sample files decode to the same rows as our own
//! encoding of the raw data, and damaged lines are refused with file, line and field.

mod census_common;

use std::path::PathBuf;

use census_common::{content, write};
use ple_train::census::{encode_training_file, read_paddlerec, DataError};
use ple_train::dataset::{Dataset, NO_COLUMN};

fn shared_census() -> Option<PathBuf> {
    let dir = std::env::var_os("PLE_CENSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/census"));
    if dir.join("paddlerec-sample").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n\n*** SKIPPED: no Census data with paddlerec-sample/ in {} ***\n\n",
            dir.display()
        );
        None
    }
}

fn dense(dataset: &Dataset, row: usize) -> Vec<f32> {
    let mut out = vec![0.0; dataset.dense_width];
    dataset.dense_row_into(row, &mut out);
    out
}

#[test]
fn paddlerec_samples_equal_our_encoding_of_the_first_raw_rows() {
    let Some(dir) = shared_census() else { return };
    let (spec, train, _) = encode_training_file(&dir.join("census-income.data.gz")).unwrap();

    let (ten, summary) = read_paddlerec(
        &dir.join("paddlerec-sample/train_data_10rows_2020.txt"),
        &spec,
    )
    .unwrap();
    assert_eq!(summary.records, 10);
    assert_eq!(ten.task_names, ["income", "marital"]);
    for row in 0..10 {
        assert_eq!(dense(&ten, row), dense(&train, row), "row {row}");
        assert_eq!(ten.hot_row(row), train.hot_row(row), "row {row}");
        for task in 0..2 {
            assert_eq!(ten.labels[task][row], train.labels[task][row], "row {row}");
        }
    }

    // The 30-row sample: row 1 three times, then rows 2 to 10 three times over.
    let (thirty, _) = read_paddlerec(&dir.join("paddlerec-sample/train_data.txt"), &spec).unwrap();
    assert_eq!(thirty.rows(), 30);
    for row in 0..3 {
        assert_eq!(dense(&thirty, row), dense(&train, 0));
    }
    for row in 3..30 {
        assert_eq!(
            dense(&thirty, row),
            dense(&train, 1 + (row - 3) % 9),
            "row {row}"
        );
    }
}

/// A synthetic spec and one PaddleRec line per synthetic record, written from our encoding.
fn synthetic() -> (
    tempfile::TempDir,
    ple_codegen::FeatureSpec,
    Vec<Vec<String>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let raw = write(dir.path(), "raw", content(0..6).as_bytes());
    let (spec, dataset, _) = encode_training_file(&raw).unwrap();
    let lines = (0..dataset.rows())
        .map(|row| {
            let mut fields = vec![
                dataset.labels[1][row].to_string(),
                dataset.labels[0][row].to_string(),
            ];
            fields.extend(dense(&dataset, row).iter().map(|v| v.to_string()));
            fields
        })
        .collect();
    (dir, spec, lines)
}

fn read(
    dir: &tempfile::TempDir,
    spec: &ple_codegen::FeatureSpec,
    lines: &[Vec<String>],
) -> Result<Dataset, DataError> {
    let text: String = lines.iter().map(|l| l.join(",") + "\n").collect();
    let path = write(dir.path(), "paddle.txt", text.as_bytes());
    read_paddlerec(&path, spec).map(|(d, _)| d)
}

#[test]
fn round_trip_through_the_paddlerec_format() {
    let (dir, spec, lines) = synthetic();
    let raw = dir.path().join("raw");
    let (_, expected, _) = encode_training_file(&raw).unwrap();
    assert_eq!(read(&dir, &spec, &lines).unwrap(), expected);
}

#[test]
fn all_zero_block_decodes_as_unknown_category() {
    let (dir, spec, mut lines) = synthetic();
    let race = spec.categorical.iter().find(|f| f.name == "race").unwrap();
    for column in race.offset..race.offset + race.vocabulary.len() {
        lines[2][2 + column] = "0".into();
    }
    let index = spec
        .categorical
        .iter()
        .position(|f| f.name == "race")
        .unwrap();
    let dataset = read(&dir, &spec, &lines).unwrap();
    assert_eq!(dataset.hot_row(2)[index], NO_COLUMN);
}

#[test]
fn two_hot_columns_in_a_block_name_the_field() {
    let (dir, spec, mut lines) = synthetic();
    let sex = spec.categorical.iter().find(|f| f.name == "sex").unwrap();
    for column in sex.offset..sex.offset + sex.vocabulary.len() {
        lines[3][2 + column] = "1".into();
    }
    let err = read(&dir, &spec, &lines).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::BadOneHot { .. }), "{err:?}");
    assert!(
        message.contains("paddle.txt, line 4, field `sex`"),
        "{message}"
    );
}

#[test]
fn non_binary_one_hot_value_and_label_are_refused() {
    let (dir, spec, lines) = synthetic();
    let mut bad = lines.clone();
    let column = spec.categorical[0].offset;
    bad[1][2 + column] = "0.5".into();
    let message = read(&dir, &spec, &bad).unwrap_err().to_string();
    assert!(
        message.contains("line 2, field `class_worker_"),
        "{message}"
    );
    assert!(message.contains("0.5"), "{message}");

    let mut bad = lines.clone();
    bad[0][1] = "2".into();
    let message = read(&dir, &spec, &bad).unwrap_err().to_string();
    assert!(
        message.contains("line 1, field `income_label`"),
        "{message}"
    );
}

#[test]
fn wrong_width_and_bad_numbers_are_refused() {
    let (dir, spec, lines) = synthetic();
    let mut bad = lines.clone();
    bad[4].pop();
    let err = read(&dir, &spec, &bad).unwrap_err();
    assert!(
        matches!(err, DataError::ColumnCount { found, expected, .. } if found + 1 == expected),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 5"), "{err}");

    let mut bad = lines.clone();
    bad[0][2] = "seventy".into();
    let message = read(&dir, &spec, &bad).unwrap_err().to_string();
    assert!(message.contains("line 1, field `age`"), "{message}");
}
