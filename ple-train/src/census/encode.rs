//! Raw UCI records to the sparse encoded form, exactly as PaddleRec's preprocessing does it.
//!
//! PaddleRec reads the files with `pandas.read_csv(delimiter=',', header=None)` and one-hot
//! encodes with `pandas.get_dummies`. The rules that follow from that, and that this module
//! reproduces:
//!
//! * a field is the exact text between two commas: the leading space that follows every
//!   comma in the UCI files is part of a category (` Private`), and so is any trailing space
//!   (` Foreign born- Not a citizen of U S `); no quoting;
//! * numbers are parsed with surrounding blanks allowed, as f64, then stored as f32 (the
//!   checksums are of float32 arrays made from pandas' float64 columns);
//! * a field's vocabulary is the set of its values in the training file, sorted; when every
//!   value is a number (`det_ind_code`, `det_occ_code`), pandas has read the column as
//!   integers and sorts numerically (`0, 1, 2, ..., 10`), otherwise by code point;
//! * a value of an evaluation file that is not in the vocabulary gets an all-zero block
//!   ([`NO_COLUMN`]), as the missing dummy column does in PaddleRec; these are counted.
//!
//! Where pandas would silently invent data, this module refuses instead: an empty
//! categorical field (pandas: NaN, an all-zero block) is an error in every file, since
//! vocabularies are built from the training file and an empty value there is damage, not a
//! category; a non-finite number (`nan`, `inf`) is an error; an income label other than
//! ` - 50000.` or ` 50000+.` is an error rather than a silent 0.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ple_codegen::{CategoricalField, FeatureSpec, NumericColumn, TaskLabel};

use super::error::{excerpt, DataError, Location};
use super::layout::{
    column_index, CATEGORICAL_COLUMNS, COLUMN_NAMES, INCOME_COLUMN, INCOME_NEGATIVE,
    INCOME_POSITIVE, MARITAL_COLUMN, MARITAL_POSITIVE, NUMERIC_COLUMNS, TASK_NAMES,
};
use super::reader::{line_as_str, looks_like_header, parse_number, split_exact, LineReader};
use crate::dataset::{Dataset, NO_COLUMN};

const RAW_COLUMNS: usize = COLUMN_NAMES.len();

/// What reading one file found, beyond its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// The file read.
    pub path: PathBuf,
    /// Records read.
    pub records: usize,
    /// Empty lines skipped (a documented recovery).
    pub blank_lines_skipped: u64,
    /// Lines that ended in CR LF, whose CR was stripped (a documented recovery).
    pub crlf_lines: u64,
}

/// The Census feature spec with its columns and labels but no vocabulary yet (every block
/// empty, every offset at the end of the numeric columns).
pub fn census_spec_without_vocabularies() -> FeatureSpec {
    FeatureSpec {
        raw_columns: RAW_COLUMNS,
        numeric: NUMERIC_COLUMNS
            .iter()
            .map(|&name| NumericColumn {
                name: name.to_owned(),
                source_column: column_index(name),
            })
            .collect(),
        categorical: CATEGORICAL_COLUMNS
            .iter()
            .map(|&name| CategoricalField {
                name: name.to_owned(),
                source_column: column_index(name),
                offset: NUMERIC_COLUMNS.len(),
                vocabulary: Vec::new(),
            })
            .collect(),
        tasks: vec![
            TaskLabel {
                name: TASK_NAMES[0].to_owned(),
                source_column: column_index(INCOME_COLUMN),
                positive: INCOME_POSITIVE.to_owned(),
            },
            TaskLabel {
                name: TASK_NAMES[1].to_owned(),
                source_column: column_index(MARITAL_COLUMN),
                positive: MARITAL_POSITIVE.to_owned(),
            },
        ],
    }
}

/// Reads the training file: builds the feature spec (vocabularies sorted as pandas sorts
/// them, block offsets) and encodes every record with it.
pub fn encode_training_file(path: &Path) -> Result<(FeatureSpec, Dataset, FileSummary), DataError> {
    let mut spec = census_spec_without_vocabularies();
    // Categories get provisional ids in order of first appearance; the sorted vocabulary and
    // the dense columns are known only at the end of the file.
    let mut seen: Vec<HashMap<String, u32>> = vec![HashMap::new(); spec.categorical.len()];
    let (mut dataset, summary) = read_records(path, &spec, |field, value| {
        let ids = &mut seen[field];
        match ids.get(value) {
            Some(&id) => id,
            None => {
                let id = ids.len() as u32;
                ids.insert(value.to_owned(), id);
                id
            }
        }
    })?;

    let mut offset = spec.numeric.len();
    let mut dense_column_of_id: Vec<Vec<u32>> = Vec::with_capacity(seen.len());
    for (field, ids) in spec.categorical.iter_mut().zip(seen) {
        let mut entries: Vec<(String, u32)> = ids.into_iter().collect();
        sort_like_pandas(&mut entries);
        let mut columns = vec![0u32; entries.len()];
        for (rank, (_, id)) in entries.iter().enumerate() {
            columns[*id as usize] = dense_column(offset + rank)?;
        }
        field.offset = offset;
        field.vocabulary = entries.into_iter().map(|(value, _)| value).collect();
        offset += field.vocabulary.len();
        dense_column_of_id.push(columns);
    }
    dense_column(offset)?;
    for row in dataset.hot.chunks_exact_mut(dense_column_of_id.len()) {
        for (slot, columns) in row.iter_mut().zip(&dense_column_of_id) {
            *slot = columns[*slot as usize];
        }
    }
    dataset.dense_width = spec.dense_width();
    Ok((spec, dataset, summary))
}

/// Encodes a raw file (training or evaluation) with an existing spec. Values outside a
/// field's vocabulary encode as [`NO_COLUMN`]; see [`unknown_category_counts`].
pub fn encode_file(path: &Path, spec: &FeatureSpec) -> Result<(Dataset, FileSummary), DataError> {
    check_spec(spec)?;
    let lookups: Vec<HashMap<&str, u32>> = spec
        .categorical
        .iter()
        .map(|field| {
            (0..field.vocabulary.len())
                .map(|k| {
                    Ok((
                        field.vocabulary[k].as_str(),
                        dense_column(field.offset + k)?,
                    ))
                })
                .collect::<Result<_, DataError>>()
        })
        .collect::<Result<_, _>>()?;
    read_records(path, spec, |field, value| {
        lookups[field].get(value).copied().unwrap_or(NO_COLUMN)
    })
}

/// How many rows of `dataset` had a value outside the vocabulary, per categorical field of
/// `spec` (in spec order; fields with no such row included, with 0).
pub fn unknown_category_counts(spec: &FeatureSpec, dataset: &Dataset) -> Vec<(String, u64)> {
    let mut counts = vec![0u64; dataset.fields];
    if dataset.fields > 0 {
        for row in dataset.hot.chunks_exact(dataset.fields) {
            for (count, &column) in counts.iter_mut().zip(row) {
                *count += u64::from(column == NO_COLUMN);
            }
        }
    }
    spec.categorical
        .iter()
        .map(|field| field.name.clone())
        .zip(counts)
        .collect()
}

/// Rows `rows` of `dataset`, in that order.
pub fn select_rows(dataset: &Dataset, rows: &[usize]) -> Dataset {
    let mut out = Dataset {
        dense_width: dataset.dense_width,
        numeric_width: dataset.numeric_width,
        numeric: Vec::with_capacity(rows.len() * dataset.numeric_width),
        fields: dataset.fields,
        hot: Vec::with_capacity(rows.len() * dataset.fields),
        labels: vec![Vec::with_capacity(rows.len()); dataset.labels.len()],
        task_names: dataset.task_names.clone(),
    };
    for &row in rows {
        out.numeric.extend_from_slice(dataset.numeric_row(row));
        out.hot.extend_from_slice(dataset.hot_row(row));
        for (to, from) in out.labels.iter_mut().zip(&dataset.labels) {
            to.push(from[row]);
        }
    }
    out
}

/// pandas' category order: numeric when every value is a number, else by code point. Ties
/// between equal numbers written differently fall back to the text, so the order never
/// depends on hash iteration.
fn sort_like_pandas(entries: &mut [(String, u32)]) {
    let numbers: Option<Vec<f64>> = entries.iter().map(|(v, _)| parse_number(v)).collect();
    match numbers {
        Some(_) => entries.sort_by(|(a, _), (b, _)| {
            let (x, y) = (parse_number(a), parse_number(b));
            x.partial_cmp(&y)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.cmp(b))
        }),
        None => entries.sort_by(|(a, _), (b, _)| a.cmp(b)),
    }
}

fn dense_column(column: usize) -> Result<u32, DataError> {
    u32::try_from(column)
        .ok()
        .filter(|&c| c != NO_COLUMN)
        .ok_or_else(|| DataError::Spec(format!("dense column {column} does not fit in u32")))
}

fn check_spec(spec: &FeatureSpec) -> Result<(), DataError> {
    if spec.raw_columns != RAW_COLUMNS {
        return Err(DataError::Spec(format!(
            "a Census record has {RAW_COLUMNS} fields, the spec says {}",
            spec.raw_columns
        )));
    }
    let sources = spec
        .numeric
        .iter()
        .map(|c| (&c.name, c.source_column))
        .chain(spec.categorical.iter().map(|c| (&c.name, c.source_column)))
        .chain(spec.tasks.iter().map(|t| (&t.name, t.source_column)));
    for (name, source) in sources {
        if source >= RAW_COLUMNS {
            return Err(DataError::Spec(format!(
                "column {name} reads raw field {source}, but a record has {RAW_COLUMNS}"
            )));
        }
    }
    let mut expected_offset = spec.numeric.len();
    for field in &spec.categorical {
        if field.offset != expected_offset {
            return Err(DataError::Spec(format!(
                "field {} starts at dense column {}, expected {expected_offset}",
                field.name, field.offset
            )));
        }
        expected_offset += field.vocabulary.len();
    }
    Ok(())
}

/// Reads every record of a raw file; `category(field, value)` gives the `hot` entry of a
/// non-empty categorical value.
fn read_records(
    path: &Path,
    spec: &FeatureSpec,
    mut category: impl FnMut(usize, &str) -> u32,
) -> Result<(Dataset, FileSummary), DataError> {
    let mut reader = LineReader::open(path)?;
    let file = reader.path().to_owned();
    let at = |line: u64, field: Option<&str>| Location {
        file: file.clone(),
        line,
        field: field.map(str::to_owned),
    };
    let income_task = spec
        .tasks
        .iter()
        .position(|t| t.source_column == column_index(INCOME_COLUMN));
    let mut dataset = Dataset {
        dense_width: spec.dense_width(),
        numeric_width: spec.numeric.len(),
        fields: spec.categorical.len(),
        labels: vec![Vec::new(); spec.tasks.len()],
        task_names: spec.tasks.iter().map(|t| t.name.clone()).collect(),
        ..Dataset::default()
    };

    while let Some((line, bytes)) = reader.next_line()? {
        let text = line_as_str(
            bytes,
            |field| at(line, field),
            |i| {
                COLUMN_NAMES
                    .get(i)
                    .unwrap_or(&"(beyond the last column)")
                    .to_string()
            },
        )?;
        let fields: [&str; RAW_COLUMNS] = match split_exact(text) {
            Ok(fields) => fields,
            Err(found) => {
                if line == 1 && looks_like_header(text.split(',').next().unwrap_or("")) {
                    return Err(DataError::HeaderLine {
                        at: at(line, None),
                        found: excerpt(text),
                    });
                }
                return Err(DataError::ColumnCount {
                    at: at(line, None),
                    expected: RAW_COLUMNS,
                    found,
                });
            }
        };
        if line == 1 && looks_like_header(fields[0]) {
            return Err(DataError::HeaderLine {
                at: at(line, None),
                found: excerpt(text),
            });
        }
        for column in &spec.numeric {
            let value = fields[column.source_column];
            match parse_number(value) {
                Some(number) => dataset.numeric.push(number as f32),
                None => {
                    return Err(DataError::BadNumber {
                        at: at(line, Some(COLUMN_NAMES[column.source_column])),
                        value: excerpt(value),
                    })
                }
            }
        }
        for (index, field) in spec.categorical.iter().enumerate() {
            let value = fields[field.source_column];
            if value.trim_matches([' ', '\t']).is_empty() {
                return Err(DataError::EmptyCategory {
                    at: at(line, Some(COLUMN_NAMES[field.source_column])),
                });
            }
            dataset.hot.push(category(index, value));
        }
        for (task_index, (task, labels)) in spec.tasks.iter().zip(&mut dataset.labels).enumerate() {
            let value = fields[task.source_column];
            if Some(task_index) == income_task
                && value != INCOME_NEGATIVE
                && value != INCOME_POSITIVE
            {
                return Err(DataError::BadLabel {
                    at: at(line, Some(COLUMN_NAMES[task.source_column])),
                    expected: format!("{INCOME_NEGATIVE:?} or {INCOME_POSITIVE:?}"),
                    value: excerpt(value),
                });
            }
            labels.push(u8::from(value == task.positive));
        }
    }

    let counts = reader.counts();
    if counts.lines == 0 {
        return Err(DataError::EmptyFile { file });
    }
    let summary = FileSummary {
        path: file,
        records: dataset.rows(),
        blank_lines_skipped: counts.blank_lines_skipped,
        crlf_lines: counts.crlf_lines,
    };
    Ok((dataset, summary))
}
