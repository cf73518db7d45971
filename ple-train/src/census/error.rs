//! The one error type of the data pipeline.
//!
//! Every error about a record names the file, the 1-based line and, where one is to blame,
//! the field (by its column name), so that a user can open the file at the right place.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in an input file something went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number (0 when the problem is not on a particular line).
    pub line: u64,
    /// Column name of the field at fault, when a single field is at fault.
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong while finding, reading, encoding, writing or downloading data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A raw file is in neither plain nor gzipped form in the data directory.
    #[error(
        "missing {missing} in {dir}: put the UCI Census-Income (KDD) files census-income.data and \
         census-income.test (plain or .gz) in that directory (they come from the UCI archive, \
         {url}), or point --data-dir or $PLE_CENSUS_DIR at a directory holding them, or pass \
         --download to fetch and verify them from the UCI archive",
        dir = dir.display(),
        url = super::layout::UCI_ARCHIVE_URL
    )]
    MissingFiles {
        /// The data directory searched.
        dir: PathBuf,
        /// The missing file names, comma separated.
        missing: String,
    },
    /// A file could not be opened.
    #[error("{}: cannot open: {source}", file.display())]
    Open {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file holds no record at all.
    #[error("{}: the file is empty (no records)", file.display())]
    EmptyFile {
        /// The file.
        file: PathBuf,
    },
    /// A gzip stream ended before its end marker.
    #[error("{at}: the gzip stream is truncated (it ends before its end marker); download the file again")]
    TruncatedGzip {
        /// The line being read when the stream ended.
        at: Location,
    },
    /// Reading failed (including a corrupt gzip stream).
    #[error("{at}: read error: {source}")]
    Read {
        /// The line being read.
        at: Location,
        /// The cause.
        source: io::Error,
    },
    /// A line is longer than the reader accepts.
    #[error("{at}: the line is longer than {limit} bytes; this is not a Census record")]
    LineTooLong {
        /// The line.
        at: Location,
        /// The limit in bytes.
        limit: usize,
    },
    /// A line is not valid UTF-8.
    #[error("{at}: the text is not valid UTF-8 (at byte {byte} of the line)")]
    NotUtf8 {
        /// The line and field.
        at: Location,
        /// 0-based byte offset of the first invalid byte in the line.
        byte: usize,
    },
    /// The first line looks like a column header.
    #[error(
        "{at}: this looks like a header line ({found:?}); the files have no header, remove it"
    )]
    HeaderLine {
        /// The line.
        at: Location,
        /// The start of the line.
        found: String,
    },
    /// A line has the wrong number of fields.
    #[error("{at}: expected {expected} comma-separated fields, found {found}")]
    ColumnCount {
        /// The line.
        at: Location,
        /// Fields a record must have.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A numeric field does not hold a finite number.
    #[error("{at}: expected a finite number, found {value:?}")]
    BadNumber {
        /// The line and field.
        at: Location,
        /// The text found (shortened if long).
        value: String,
    },
    /// A categorical field is empty or blank.
    #[error("{at}: the category is empty")]
    EmptyCategory {
        /// The line and field.
        at: Location,
    },
    /// A label field holds a value that is neither of its two legal values.
    #[error("{at}: expected one of {expected}, found {value:?}")]
    BadLabel {
        /// The line and field.
        at: Location,
        /// The legal values.
        expected: String,
        /// The text found (shortened if long).
        value: String,
    },
    /// A one-hot block of a preprocessed (PaddleRec) file is not one-hot.
    #[error("{at}: {problem}")]
    BadOneHot {
        /// The line and field.
        at: Location,
        /// What is wrong.
        problem: String,
    },
    /// The feature spec cannot describe this data.
    #[error("feature spec: {0}")]
    Spec(String),
    /// Writing an output file failed.
    #[error("{}: write error: {source}", file.display())]
    Write {
        /// The file being written.
        file: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An HTTP download failed.
    #[error("downloading {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Downloaded (or present) data does not have the published checksum.
    #[error(
        "{}: the uncompressed content has sha256 {actual}, expected {expected}; the file is \
         corrupt or not the UCI original",
        file.display()
    )]
    Checksum {
        /// The file checked.
        file: PathBuf,
        /// Expected sha256 (hex).
        expected: String,
        /// Actual sha256 (hex).
        actual: String,
    },
}

/// Shortens a field value for an error message, so that a 100 MB field stays a short message.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX: usize = 60;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &value[..end], value.len())
}
