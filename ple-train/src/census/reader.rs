//! Line-oriented reading of plain or gzipped text files, hardened against hostile input.
//!
//! The reader hands out one line at a time from a reused buffer (no allocation per line) and
//! enforces the input rules shared by every text format the pipeline reads:
//!
//! * gzip is recognised by its magic bytes, not by the file name, and a stream that ends
//!   early is reported as a truncated gzip, never as a short file;
//! * a line may hold at most [`MAX_LINE_BYTES`]: a 100 MB line is a clean error, not an
//!   out-of-memory abort;
//! * a CR before the LF (Windows line endings) is stripped and counted, a documented recovery;
//! * empty lines are skipped and counted (pandas, which PaddleRec's preprocessing uses, skips
//!   them too); a line holding only spaces is not empty and fails as a record instead.
//!
//! UTF-8 is checked by the caller, which knows how to name the field holding a bad byte.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::error::{DataError, Location};

/// The longest line accepted, in bytes (a Census record is about 520 bytes; a PaddleRec line
/// about 1 KB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` and returns its decoded content: gunzipped when it starts with the gzip magic.
/// The flag tells whether it was gzipped.
pub(crate) fn open_decoded(path: &Path) -> io::Result<(Box<dyn BufRead + Send>, bool)> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let gzipped = file.fill_buf()?.starts_with(&GZIP_MAGIC);
    if gzipped {
        let decoder = MultiGzDecoder::new(file);
        Ok((Box::new(BufReader::with_capacity(1 << 16, decoder)), true))
    } else {
        Ok((Box::new(file), false))
    }
}

/// Counts of what the reader recovered from, for the load summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Non-empty lines handed out.
    pub lines: u64,
    /// Empty lines skipped.
    pub blank_lines_skipped: u64,
    /// Lines that ended in CR LF; the CR was stripped.
    pub crlf_lines: u64,
}

/// Reads the non-empty lines of a plain or gzipped text file.
pub(crate) struct LineReader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    gzipped: bool,
    line_number: u64,
    buf: Vec<u8>,
    counts: LineCounts,
}

impl LineReader {
    /// Opens `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, DataError> {
        let (input, gzipped) = open_decoded(path).map_err(|source| DataError::Open {
            file: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            input,
            gzipped,
            line_number: 0,
            buf: Vec::with_capacity(1024),
            counts: LineCounts::default(),
        })
    }

    /// The file being read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What was read and recovered so far.
    pub(crate) fn counts(&self) -> LineCounts {
        self.counts
    }

    /// A location on the current line.
    pub(crate) fn at(&self, field: Option<&str>) -> Location {
        Location {
            file: self.path.clone(),
            line: self.line_number,
            field: field.map(str::to_owned),
        }
    }

    /// The next non-empty line (without its line ending) and its 1-based number, or `None`
    /// at the end of the file.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, DataError> {
        loop {
            self.line_number += 1;
            if !self.fill_line()? {
                return Ok(None);
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
                self.counts.crlf_lines += 1;
            }
            if self.buf.is_empty() {
                self.counts.blank_lines_skipped += 1;
                continue;
            }
            self.counts.lines += 1;
            return Ok(Some((self.line_number, &self.buf)));
        }
    }

    /// Reads the current line into `buf`; false at the end of the input.
    fn fill_line(&mut self) -> Result<bool, DataError> {
        self.buf.clear();
        let mut saw_any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            };
            if chunk.is_empty() {
                return Ok(saw_any);
            }
            saw_any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if self.buf.len() + take > MAX_LINE_BYTES {
                return Err(DataError::LineTooLong {
                    at: self.at(None),
                    limit: MAX_LINE_BYTES,
                });
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.input.consume(if done { take + 1 } else { take });
            if done {
                return Ok(true);
            }
        }
    }

    fn read_error(&self, source: io::Error) -> DataError {
        if self.gzipped && source.kind() == io::ErrorKind::UnexpectedEof {
            DataError::TruncatedGzip { at: self.at(None) }
        } else {
            DataError::Read {
                at: self.at(None),
                source,
            }
        }
    }
}

/// Checks that `line` is UTF-8; on failure names the field holding the first bad byte,
/// `field_name(index)` giving the name of the 0-based `index`-th comma-separated field.
pub(crate) fn line_as_str(
    line: &[u8],
    at: impl FnOnce(Option<&str>) -> Location,
    field_name: impl FnOnce(usize) -> String,
) -> Result<&str, DataError> {
    std::str::from_utf8(line).map_err(|e| {
        let byte = e.valid_up_to();
        let field = memchr::memchr_iter(b',', &line[..byte]).count();
        DataError::NotUtf8 {
            at: at(Some(&field_name(field))),
            byte,
        }
    })
}

/// Splits `line` at commas into exactly `N` fields, without allocating; on a different
/// count returns the number of fields found.
pub(crate) fn split_exact<const N: usize>(line: &str) -> Result<[&str; N], usize> {
    let mut fields = [""; N];
    let mut found = 0;
    for field in line.split(',') {
        if found < N {
            fields[found] = field;
        }
        found += 1;
    }
    if found == N {
        Ok(fields)
    } else {
        Err(found)
    }
}

/// Parses a numeric field as pandas does (surrounding blanks allowed), as a finite f64.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let value: f64 = text.trim_matches([' ', '\t']).parse().ok()?;
    value.is_finite().then_some(value)
}

/// Whether a first line looks like a column header rather than a record: its first field
/// starts with a letter or a quote where a record has a number.
pub(crate) fn looks_like_header(first_field: &str) -> bool {
    let trimmed = first_field.trim_start_matches([' ', '\t']);
    trimmed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '"' || c == '\'')
        && parse_number(trimmed).is_none()
}
