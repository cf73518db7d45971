//! Writing the encoded splits as flat binary files that any tool can read and check.
//!
//! For each split `S` in `train`, `validation`, `test`:
//! `S.features.f32` (little-endian float32, row-major `[rows, dense_width]`),
//! `S.income.u8` and `S.marital.u8` (one byte, 0 or 1, per row); then `feature_spec.json`
//! (the [`FeatureSpec`]) and `manifest.json` ([`Manifest`]: rows per split, dense width, the
//! sha256 of every file). Each file is written to a temporary name in the output directory
//! and renamed into place once complete, so a reader never sees a half-written file; the
//! manifest is written last.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::DataError;
use super::{load_census, CensusData};
use crate::dataset::Dataset;

/// One written file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedFile {
    /// File name inside the output directory.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
}

/// The files of one split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedSplit {
    /// Rows.
    pub rows: usize,
    /// `[rows, dense_width]` little-endian f32.
    pub features: PreparedFile,
    /// One byte per row.
    pub income: PreparedFile,
    /// One byte per row.
    pub marital: PreparedFile,
}

/// The three splits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedSplits {
    /// The training file.
    pub train: PreparedSplit,
    /// PaddleRec's validation half of the test file.
    pub validation: PreparedSplit,
    /// The other half.
    pub test: PreparedSplit,
}

/// `manifest.json`: what [`prepare`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Width of a feature row.
    pub dense_width: usize,
    /// The first `numeric_width` columns are raw numbers; the rest are one-hot.
    pub numeric_width: usize,
    /// Byte order and type of the feature files.
    pub feature_dtype: String,
    /// The splits.
    pub splits: PreparedSplits,
    /// The feature spec file.
    pub feature_spec: PreparedFile,
}

/// Loads the Census data from `data_dir` and writes the encoded splits into `out_dir`
/// (created if needed). Returns the manifest it wrote.
pub fn prepare(data_dir: &Path, out_dir: &Path) -> Result<Manifest, DataError> {
    let data = load_census(data_dir)?;
    write_prepared(&data, out_dir)
}

/// Writes already loaded splits into `out_dir` (created if needed).
pub fn write_prepared(data: &CensusData, out_dir: &Path) -> Result<Manifest, DataError> {
    fs::create_dir_all(out_dir).map_err(|source| DataError::Write {
        file: out_dir.to_owned(),
        source,
    })?;
    let splits = PreparedSplits {
        train: write_split(out_dir, "train", &data.train)?,
        validation: write_split(out_dir, "validation", &data.validation)?,
        test: write_split(out_dir, "test", &data.test)?,
    };
    let feature_spec = write_json(out_dir, "feature_spec.json", &data.spec)?;
    let manifest = Manifest {
        dense_width: data.spec.dense_width(),
        numeric_width: data.spec.numeric.len(),
        feature_dtype: "float32 little-endian, row-major [rows, dense_width]".to_owned(),
        splits,
        feature_spec,
    };
    write_json(out_dir, "manifest.json", &manifest)?;
    Ok(manifest)
}

fn write_split(out_dir: &Path, split: &str, dataset: &Dataset) -> Result<PreparedSplit, DataError> {
    let features = write_atomic(out_dir, &format!("{split}.features.f32"), |out| {
        let mut row = vec![0f32; dataset.dense_width];
        let mut bytes = Vec::with_capacity(4 * dataset.dense_width);
        for r in 0..dataset.rows() {
            dataset.dense_row_into(r, &mut row);
            bytes.clear();
            bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
            out.write_all(&bytes)?;
        }
        Ok(())
    })?;
    let label = |task: &str| -> Result<PreparedFile, DataError> {
        let index = dataset
            .task_names
            .iter()
            .position(|t| t == task)
            .ok_or_else(|| DataError::Spec(format!("the {split} split has no task {task}")))?;
        write_atomic(out_dir, &format!("{split}.{task}.u8"), |out| {
            out.write_all(&dataset.labels[index])
        })
    };
    Ok(PreparedSplit {
        rows: dataset.rows(),
        features,
        income: label("income")?,
        marital: label("marital")?,
    })
}

fn write_json<T: Serialize>(
    out_dir: &Path,
    name: &str,
    value: &T,
) -> Result<PreparedFile, DataError> {
    write_atomic(out_dir, name, |out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"\n")
    })
}

/// Writes `name` in `out_dir` through `fill`, hashing what is written; the content appears
/// under its name only once complete and flushed to disk.
fn write_atomic(
    out_dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut HashingWriter<BufWriter<File>>) -> io::Result<()>,
) -> Result<PreparedFile, DataError> {
    let path = out_dir.join(name);
    let temp = temp_path(out_dir, name);
    let result = (|| {
        let file = File::create(&temp)?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        fill(&mut out)?;
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = out;
        let file = inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temp, &path)?;
        Ok((hex(&hasher.finalize()), bytes))
    })();
    match result {
        Ok((sha256, bytes)) => Ok(PreparedFile {
            file: name.to_owned(),
            bytes,
            sha256,
        }),
        Err(source) => {
            // The temporary file is garbage now; failing to remove it changes nothing.
            let _ = fs::remove_file(&temp);
            Err(DataError::Write { file: path, source })
        }
    }
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where `name` is written before it is renamed into place.
fn temp_path(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_neither_the_file_nor_its_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), "x.bin", |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("x.bin"), "{err}");
        assert!(!dir.path().join("x.bin").exists());
        assert!(!temp_path(dir.path(), "x.bin").exists());
    }

    #[test]
    fn written_file_hash_matches_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let file = write_atomic(dir.path(), "y.bin", |out| out.write_all(b"abc")).unwrap();
        assert_eq!(file.bytes, 3);
        assert_eq!(
            file.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fs::read(dir.path().join("y.bin")).unwrap(), b"abc");
    }
}
