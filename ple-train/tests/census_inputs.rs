//! Hostile and damaged Census files: each gets a clear error naming file, line and field, or
//! a documented, counted recovery. Every file is made up by the test itself.

mod census_common;

use census_common::{content, data_dir, gzip, line, record, write};
use ple_train::census::layout::column_index;
use ple_train::census::{
    encode_file, encode_training_file, load_census, locate_raw_files, resolve_data_dir, DataError,
    MAX_LINE_BYTES,
};
use ple_train::dataset::NO_COLUMN;

fn train_error(bytes: &[u8]) -> (DataError, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "census-income.data", bytes);
    let err = encode_training_file(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("census-income.data"),
        "no file in: {message}"
    );
    (err, message)
}

fn with_field(seed: usize, column: &str, value: &str) -> String {
    let mut fields = record(seed);
    fields[column_index(column)] = value.to_owned();
    line(&fields)
}

#[test]
fn wrong_column_count_names_line_and_counts() {
    let mut text = content(0..3);
    let mut short = record(3);
    short.pop();
    text.push_str(&(line(&short) + "\n"));
    let (err, message) = train_error(text.as_bytes());
    assert!(
        matches!(
            err,
            DataError::ColumnCount {
                expected: 42,
                found: 41,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn unparsable_number_names_line_and_field() {
    let text = content(0..2) + &with_field(2, "capital_gains", " 12x") + "\n";
    let (err, message) = train_error(text.as_bytes());
    assert!(matches!(err, DataError::BadNumber { .. }), "{err:?}");
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("capital_gains"), "{message}");
    assert!(message.contains("12x"), "{message}");
}

#[test]
fn non_finite_number_is_rejected() {
    for bad in ["nan", "inf", "-infinity"] {
        let text = content(0..1) + &with_field(1, "age", bad) + "\n";
        let (err, message) = train_error(text.as_bytes());
        assert!(matches!(err, DataError::BadNumber { .. }), "{err:?}");
        assert!(message.contains("line 2, field `age`"), "{message}");
    }
}

#[test]
fn empty_category_in_training_file_is_an_error() {
    let text = content(0..5) + &with_field(5, "education", " ") + "\n";
    let (err, message) = train_error(text.as_bytes());
    assert!(matches!(err, DataError::EmptyCategory { .. }), "{err:?}");
    assert!(message.contains("line 6"), "{message}");
    assert!(message.contains("education"), "{message}");
}

#[test]
fn unknown_income_label_is_an_error_not_a_zero() {
    let text = with_field(0, "income_50k", " 40000+.") + "\n";
    let (err, message) = train_error(text.as_bytes());
    assert!(matches!(err, DataError::BadLabel { .. }), "{err:?}");
    assert!(message.contains("income_50k"), "{message}");
}

#[test]
fn empty_file_and_blank_only_file_are_errors() {
    for bytes in [&b""[..], b"\n\n\r\n"] {
        let (err, _) = train_error(bytes);
        assert!(matches!(err, DataError::EmptyFile { .. }), "{err:?}");
    }
}

#[test]
fn truncated_gzip_is_reported_as_such() {
    let full = gzip(content(0..400).as_bytes());
    for cut in [full.len() - 4, full.len() / 2, 12] {
        let (err, message) = train_error(&full[..cut]);
        assert!(
            matches!(err, DataError::TruncatedGzip { .. }),
            "cut {cut}: {err:?}"
        );
        assert!(message.contains("truncated"), "{message}");
    }
}

#[test]
fn corrupt_gzip_is_an_error_not_a_panic() {
    // A damaged checksum trailer: the content decodes, the gzip check fails.
    let mut bytes = gzip(content(0..50).as_bytes());
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    let (err, message) = train_error(&bytes);
    assert!(matches!(err, DataError::Read { .. }), "{err:?}");
    assert!(message.contains("read error"), "{message}");

    // Damaged compressed data: whatever it decodes to is refused, one way or another.
    let mut bytes = gzip(content(0..50).as_bytes());
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0x5a;
    }
    train_error(&bytes);
}

#[test]
fn non_utf8_bytes_name_the_field() {
    let mut bytes = content(0..2).into_bytes();
    let mut bad = with_field(2, "education", " Bachelors X").into_bytes();
    let at = bad.iter().position(|&b| b == b'X').unwrap();
    bad[at] = 0xff;
    bytes.extend_from_slice(&bad);
    bytes.push(b'\n');
    let (err, message) = train_error(&bytes);
    assert!(matches!(err, DataError::NotUtf8 { .. }), "{err:?}");
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("`education`"), "{message}");
}

#[test]
fn header_line_is_recognised() {
    let header = ple_train::census::layout::COLUMN_NAMES.join(",");
    let text = header + "\n" + &content(0..3);
    let (err, message) = train_error(text.as_bytes());
    assert!(matches!(err, DataError::HeaderLine { .. }), "{err:?}");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn hundred_megabyte_line_is_a_clean_error() {
    // Gzipped, the 100 MB line is ~100 KB on disk; the reader must stop at its cap instead
    // of buffering the whole line.
    let mut text = content(0..2).into_bytes();
    text.resize(text.len() + (100 << 20), b'7');
    text.push(b'\n');
    let (err, message) = train_error(&gzip(&text));
    assert!(
        matches!(err, DataError::LineTooLong { limit, .. } if limit == MAX_LINE_BYTES),
        "{err:?}"
    );
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn crlf_endings_are_accepted_and_counted() {
    let lf = content(0..20);
    let crlf = lf.replace('\n', "\r\n");
    let dir = tempfile::tempdir().unwrap();
    let lf_path = write(dir.path(), "lf", lf.as_bytes());
    let crlf_path = write(dir.path(), "crlf", crlf.as_bytes());
    let (spec_lf, lf_data, lf_summary) = encode_training_file(&lf_path).unwrap();
    let (spec_crlf, crlf_data, crlf_summary) = encode_training_file(&crlf_path).unwrap();
    assert_eq!(spec_lf, spec_crlf);
    assert_eq!(lf_data, crlf_data);
    assert_eq!(lf_summary.crlf_lines, 0);
    assert_eq!(crlf_summary.crlf_lines, 20);
}

#[test]
fn empty_lines_are_skipped_and_counted_but_keep_line_numbers() {
    let text = format!("\n{}\n\n{}", line(&record(0)), content(1..3));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "data", text.as_bytes());
    let (_, dataset, summary) = encode_training_file(&path).unwrap();
    assert_eq!(dataset.rows(), 3);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.blank_lines_skipped, 2);

    let broken = format!("\n\n{}\n", with_field(0, "age", "old"));
    let (_, message) = train_error(broken.as_bytes());
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn gzipped_and_plain_files_encode_identically() {
    let text = content(0..30);
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain", text.as_bytes());
    let gz = write(dir.path(), "gz", &gzip(text.as_bytes()));
    let (_, a, _) = encode_training_file(&plain).unwrap();
    let (_, b, _) = encode_training_file(&gz).unwrap();
    assert_eq!(a, b);
}

#[test]
fn vocabularies_keep_the_leading_space_and_sort_like_pandas() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "data", content(0..12).as_bytes());
    let (spec, dataset, _) = encode_training_file(&path).unwrap();
    let field = |name: &str| spec.categorical.iter().find(|f| f.name == name).unwrap();
    // Integer-valued categories sort by value: " 10" after " 2".
    let codes: Vec<&str> = field("det_ind_code")
        .vocabulary
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        codes,
        [" 0", " 1", " 2", " 3", " 4", " 5", " 6", " 7", " 8", " 9", " 10", " 11"]
    );
    assert_eq!(
        field("education").vocabulary,
        [" education-0", " education-1", " education-2"]
    );
    // Blocks follow each other after the 11 numeric columns.
    assert_eq!(spec.categorical[0].offset, 11);
    for pair in spec.categorical.windows(2) {
        assert_eq!(pair[1].offset, pair[0].offset + pair[0].vocabulary.len());
    }
    assert_eq!(dataset.dense_width, spec.dense_width());
    // Row 3 has det_ind_code " 9" (3 * 7 mod 12): its column is the block offset + 9.
    let det = spec
        .categorical
        .iter()
        .position(|f| f.name == "det_ind_code")
        .unwrap();
    assert_eq!(
        dataset.hot_row(3)[det] as usize,
        field("det_ind_code").offset + 9
    );
    // Labels in task order: income then marital.
    assert_eq!(dataset.task_names, ["income", "marital"]);
    assert_eq!(dataset.labels[0][..6], [1, 0, 0, 0, 0, 1]);
    assert_eq!(dataset.labels[1][..4], [1, 0, 1, 0]);
    // Numbers are the raw values.
    assert_eq!(dataset.numeric_row(2)[0], 22.0);
    assert_eq!(dataset.numeric_row(2)[5], 1002.2_f32);
}

#[test]
fn unknown_categories_in_evaluation_files_encode_all_zero_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train", content(0..9).as_bytes());
    let (spec, _, _) = encode_training_file(&train).unwrap();
    let text = content(0..4)
        + &with_field(4, "education", " Unheard of")
        + "\n"
        + &with_field(5, "race", " Martian")
        + "\n"
        + &with_field(6, "race", " Venusian")
        + "\n";
    let eval = write(dir.path(), "eval", text.as_bytes());
    let (dataset, _) = encode_file(&eval, &spec).unwrap();
    let education = spec
        .categorical
        .iter()
        .position(|f| f.name == "education")
        .unwrap();
    let race = spec
        .categorical
        .iter()
        .position(|f| f.name == "race")
        .unwrap();
    assert_eq!(dataset.hot_row(4)[education], NO_COLUMN);
    assert_eq!(dataset.hot_row(5)[race], NO_COLUMN);
    assert!(dataset.hot_row(3).iter().all(|&c| c != NO_COLUMN));
    let counts = ple_train::census::unknown_category_counts(&spec, &dataset);
    assert_eq!(counts.len(), 29);
    for (name, count) in counts {
        let expected = match name.as_str() {
            "education" => 1,
            "race" => 2,
            _ => 0,
        };
        assert_eq!(count, expected, "{name}");
    }
    let mut dense = vec![0.0; dataset.dense_width];
    dataset.dense_row_into(5, &mut dense);
    let block = &spec.categorical[race];
    assert!(dense[block.offset..block.offset + block.vocabulary.len()]
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn missing_files_say_where_to_put_them_and_where_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "census-income.test.gz",
        &gzip(content(0..2).as_bytes()),
    );
    let message = locate_raw_files(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("census-income.data"), "{message}");
    assert!(!message.contains("census-income.test[.gz]"), "{message}");
    assert!(message.contains("archive.ics.uci.edu"), "{message}");
    assert!(message.contains("--download"), "{message}");
    assert!(message.contains("PLE_CENSUS_DIR"), "{message}");
}

#[test]
fn data_dir_flag_wins_over_environment_and_default() {
    let flag = std::path::Path::new("/somewhere/else");
    assert_eq!(resolve_data_dir(Some(flag)), flag);
    // The environment is process-wide: only this test touches it.
    std::env::set_var("PLE_CENSUS_DIR", "/from/env");
    assert_eq!(resolve_data_dir(None), std::path::Path::new("/from/env"));
    std::env::set_var("PLE_CENSUS_DIR", "");
    assert_eq!(resolve_data_dir(None), std::path::Path::new("data/census"));
    std::env::remove_var("PLE_CENSUS_DIR");
    assert_eq!(resolve_data_dir(None), std::path::Path::new("data/census"));
}

#[test]
fn load_census_splits_the_test_file_like_pandas() {
    let dir = data_dir(10, 10);
    let data = load_census(dir.path()).unwrap();
    assert_eq!(data.train.rows(), 10);
    assert_eq!(data.validation.rows(), 5);
    assert_eq!(data.test.rows(), 5);
    // numpy.random.RandomState(1).permutation(10) = [2, 9, 6, 4, 0, 3, 1, 7, 8, 5].
    let ages = |d: &ple_train::dataset::Dataset| -> Vec<f32> {
        (0..d.rows()).map(|r| d.numeric_row(r)[0]).collect()
    };
    // Test-file record i has age 20 + (1000 + i) % 50 = 20 + i.
    assert_eq!(ages(&data.validation), [22.0, 29.0, 26.0, 24.0, 20.0]);
    assert_eq!(ages(&data.test), [21.0, 23.0, 25.0, 27.0, 28.0]);
    assert!(data.describe().contains("validation 5 rows"));
}
