//! Calibration rows for int8 quantisation, read from a raw data file (plain or gzipped) by the
//! model's own feature spec, so that the rows are encoded exactly as a device encodes them.
//!
//! Each line is a raw record, fields separated by commas and kept as they are (Census values
//! have a leading space, as in the vocabularies); numeric fields are trimmed and parsed. A
//! category outside its vocabulary is `UNKNOWN_CATEGORY`, as in training. Blank lines are
//! skipped; any other malformed line is an error naming the file, the line and the field.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::CodegenError;
use crate::feature_spec::FeatureSpec;

/// Reads at most `max_rows` records of `path`; returns the raw numeric values and category
/// indices, row-major.
pub fn read_calibration(
    path: &Path,
    spec: &FeatureSpec,
    max_rows: usize,
) -> Result<(Vec<f32>, Vec<u16>), CodegenError> {
    let io = |source| CodegenError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let (mut numeric, mut categories) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        if rows == max_rows {
            break;
        }
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| CodegenError::Calibration {
            path: path.into(),
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != spec.raw_columns {
            return Err(bad(format!(
                "{} fields, expected {}",
                fields.len(),
                spec.raw_columns
            )));
        }
        for column in &spec.numeric {
            let text = fields[column.source_column].trim();
            match text.parse::<f32>() {
                Ok(value) if value.is_finite() => numeric.push(value),
                _ => {
                    return Err(bad(format!(
                        "field `{}` is {text:?}, not a number",
                        column.name
                    )))
                }
            }
        }
        for field in &spec.categorical {
            let value = fields[field.source_column];
            let index = field.vocabulary.iter().position(|word| word == value);
            categories.push(index.map_or(ple_core::UNKNOWN_CATEGORY, |i| i as u16));
        }
        rows += 1;
    }
    if rows == 0 {
        let reason = "no records".to_string();
        return Err(CodegenError::Calibration {
            path: path.into(),
            line: 0,
            reason,
        });
    }
    Ok((numeric, categories))
}
