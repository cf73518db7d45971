//! PaddleRec's preprocessed Census text format, so PaddleRec users can bring their files.
//!
//! Each line holds `marital_label, income_label` and then the dense feature vector (499
//! numbers for Census) comma separated, as PaddleRec's `data_preparation.py` writes it. The
//! reader maps the one-hot columns back to the sparse form using a feature spec's layout
//! (the blocks' offsets and widths): a block with no column set becomes [`NO_COLUMN`] (as a
//! category missing from the training vocabulary does), a block with two columns set, or a
//! value other than 0 or 1 in a block or a label, is an error naming the file, line and
//! field (the pandas dummy-column name, such as `class_worker_ Private`).

use std::path::Path;

use ple_codegen::FeatureSpec;

use super::encode::FileSummary;
use super::error::{excerpt, DataError, Location};
use super::reader::{line_as_str, looks_like_header, parse_number, LineReader};
use crate::dataset::{Dataset, NO_COLUMN};

/// The label columns at the start of a PaddleRec line, by task name.
const LABEL_COLUMNS: [&str; 2] = ["marital", "income"];

/// Reads a PaddleRec preprocessed file with the layout of `spec` (whose tasks must be among
/// `income` and `marital`). The dataset's tasks follow `spec`'s task order.
pub fn read_paddlerec(
    path: &Path,
    spec: &FeatureSpec,
) -> Result<(Dataset, FileSummary), DataError> {
    let label_source: Vec<usize> = spec
        .tasks
        .iter()
        .map(|task| {
            LABEL_COLUMNS
                .iter()
                .position(|&name| name == task.name)
                .ok_or_else(|| {
                    DataError::Spec(format!(
                        "PaddleRec files hold the tasks marital and income, not {}",
                        task.name
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let numeric_width = spec.numeric.len();
    let dense_width = spec.dense_width();
    let expected = LABEL_COLUMNS.len() + dense_width;
    if u32::try_from(dense_width).map_or(true, |w| w == NO_COLUMN) {
        return Err(DataError::Spec(format!(
            "{dense_width} dense columns do not fit in u32"
        )));
    }
    // For each one-hot dense column: its field.
    let mut field_of_column = Vec::with_capacity(dense_width - numeric_width);
    for (index, field) in spec.categorical.iter().enumerate() {
        if field.offset != numeric_width + field_of_column.len() {
            return Err(DataError::Spec(format!(
                "field {} starts at dense column {}, expected {}",
                field.name,
                field.offset,
                numeric_width + field_of_column.len()
            )));
        }
        field_of_column.extend(std::iter::repeat_n(index, field.vocabulary.len()));
    }
    let field_name = |column: usize| -> String {
        if column < LABEL_COLUMNS.len() {
            return format!("{}_label", LABEL_COLUMNS[column]);
        }
        let dense = column - LABEL_COLUMNS.len();
        if dense < numeric_width {
            return spec.numeric[dense].name.clone();
        }
        match field_of_column.get(dense - numeric_width) {
            Some(&f) => {
                let field = &spec.categorical[f];
                format!("{}_{}", field.name, field.vocabulary[dense - field.offset])
            }
            None => format!("column {} (beyond the last feature)", column + 1),
        }
    };

    let mut reader = LineReader::open(path)?;
    let file = reader.path().to_owned();
    let at = |line: u64, field: Option<String>| Location {
        file: file.clone(),
        line,
        field,
    };
    let mut dataset = Dataset {
        dense_width,
        numeric_width,
        fields: spec.categorical.len(),
        labels: vec![Vec::new(); spec.tasks.len()],
        task_names: spec.tasks.iter().map(|t| t.name.clone()).collect(),
        ..Dataset::default()
    };
    let mut hot_row = vec![NO_COLUMN; spec.categorical.len()];

    while let Some((line, bytes)) = reader.next_line()? {
        let text = line_as_str(bytes, |f| at(line, f.map(str::to_owned)), field_name)?;
        if line == 1 && looks_like_header(text.split(',').next().unwrap_or("")) {
            return Err(DataError::HeaderLine {
                at: at(line, None),
                found: excerpt(text),
            });
        }
        let mut label_values = [0u8; LABEL_COLUMNS.len()];
        hot_row.fill(NO_COLUMN);
        let mut found = 0;
        for (column, value_text) in text.split(',').enumerate() {
            found += 1;
            if column >= expected {
                continue;
            }
            let Some(value) = parse_number(value_text) else {
                return Err(DataError::BadNumber {
                    at: at(line, Some(field_name(column))),
                    value: excerpt(value_text),
                });
            };
            let not_binary = || DataError::BadOneHot {
                at: at(line, Some(field_name(column))),
                problem: format!("expected 0 or 1, found {}", excerpt(value_text)),
            };
            if column < LABEL_COLUMNS.len() {
                label_values[column] = binary(value).ok_or_else(not_binary)?;
                continue;
            }
            let dense = column - LABEL_COLUMNS.len();
            if dense < numeric_width {
                dataset.numeric.push(value as f32);
                continue;
            }
            if binary(value).ok_or_else(not_binary)? == 1 {
                let field = field_of_column[dense - numeric_width];
                if hot_row[field] != NO_COLUMN {
                    return Err(DataError::BadOneHot {
                        at: at(line, Some(spec.categorical[field].name.clone())),
                        problem: format!(
                            "two columns of the one-hot block are set: {} and {}",
                            field_name(hot_row[field] as usize + LABEL_COLUMNS.len()),
                            field_name(column)
                        ),
                    });
                }
                // Fits: the dense width was checked against u32 above.
                hot_row[field] = dense as u32;
            }
        }
        if found != expected {
            return Err(DataError::ColumnCount {
                at: at(line, None),
                expected,
                found,
            });
        }
        dataset.hot.extend_from_slice(&hot_row);
        for (labels, &source) in dataset.labels.iter_mut().zip(&label_source) {
            labels.push(label_values[source]);
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

fn binary(value: f64) -> Option<u8> {
    if value == 0.0 {
        Some(0)
    } else if value == 1.0 {
        Some(1)
    } else {
        None
    }
}
