//! Fetching the raw Census files from the UCI archive, verified before they are used.
//!
//! Only on request (the CLI's download flag): the files are large and tests never touch the
//! network. Each file is streamed to a temporary name in the data directory, its
//! *uncompressed* content is hashed and compared with the published sha256 (the gzip
//! container itself is not what UCI vouches for), and only then is it renamed into place. A
//! file already present with the right content is kept without downloading it again.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::census::layout::UCI_ARCHIVE_URL;
use crate::census::DataError;

/// A file to fetch and the sha256 of its uncompressed content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFile<'a> {
    /// File name, both in the archive and in the data directory.
    pub name: &'a str,
    /// sha256 (lowercase hex) of the uncompressed content.
    pub uncompressed_sha256: &'a str,
}

/// The UCI archive folder of Census-Income (KDD).
pub const UCI_BASE_URL: &str = UCI_ARCHIVE_URL;

/// The two raw files and their published checksums (UCI sizes: 103,874,469 and 51,918,813
/// bytes uncompressed).
pub const UCI_FILES: [RemoteFile<'static>; 2] = [
    RemoteFile {
        name: "census-income.data.gz",
        uncompressed_sha256: "3676a81db7d3528f3f8b9f3c699d0f0aa28db45e6e994fa0b8ed38327539ee86",
    },
    RemoteFile {
        name: "census-income.test.gz",
        uncompressed_sha256: "98402b1ab879573d0a7f38a699a40258080e25e33d3401e7bf9c96d3fa0fab8c",
    },
];

/// Refuse bodies larger than this: the real files are 6 MB and 3 MB compressed.
pub const MAX_DOWNLOAD_BYTES: u64 = 256 << 20;

/// Downloads the UCI files from `base_url` (normally [`UCI_BASE_URL`]) into `dir` and verifies
/// them. Returns the paths of the verified files.
pub fn download(base_url: &str, dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    download_files(base_url, dir, &UCI_FILES)
}

/// Downloads `files` from `base_url` into `dir` (created if needed), verifying each against
/// its checksum; a file already in `dir` with the right content is not fetched again.
pub fn download_files(
    base_url: &str,
    dir: &Path,
    files: &[RemoteFile<'_>],
) -> Result<Vec<PathBuf>, DataError> {
    fs::create_dir_all(dir).map_err(|source| DataError::Write {
        file: dir.to_owned(),
        source,
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let mut paths = Vec::with_capacity(files.len());
    for remote in files {
        let path = dir.join(remote.name);
        if path.is_file() && verify(&path, remote.uncompressed_sha256).is_ok() {
            paths.push(path);
            continue;
        }
        let url = format!("{}/{}", base_url.trim_end_matches('/'), remote.name);
        let temp = dir.join(format!(".{}.part-{}", remote.name, std::process::id()));
        let result = fetch(&agent, &url, &temp)
            .and_then(|()| verify(&temp, remote.uncompressed_sha256))
            .and_then(|()| {
                fs::rename(&temp, &path).map_err(|source| DataError::Write {
                    file: path.clone(),
                    source,
                })
            });
        if let Err(e) = result {
            // The partial file is garbage; failing to remove it changes nothing.
            let _ = fs::remove_file(&temp);
            return Err(match e {
                DataError::Checksum {
                    expected, actual, ..
                } => DataError::Checksum {
                    file: PathBuf::from(url),
                    expected,
                    actual,
                },
                DataError::Read { source, .. } => DataError::Http {
                    url,
                    message: format!("the body is not a complete gzip stream: {source}"),
                },
                other => other,
            });
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Streams `url` into `temp`, synced to disk.
fn fetch(agent: &ureq::Agent, url: &str, temp: &Path) -> Result<(), DataError> {
    let http = |message: String| DataError::Http {
        url: url.to_owned(),
        message,
    };
    let response = agent.get(url).call().map_err(|e| http(e.to_string()))?;
    let mut body = response
        .into_body()
        .into_reader()
        .take(MAX_DOWNLOAD_BYTES + 1);
    let write_error = |source: io::Error| DataError::Write {
        file: temp.to_owned(),
        source,
    };
    let mut out = BufWriter::new(File::create(temp).map_err(write_error)?);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(http(format!("reading the body: {e}"))),
        };
        total += n as u64;
        if total > MAX_DOWNLOAD_BYTES {
            return Err(http(format!("the body exceeds {MAX_DOWNLOAD_BYTES} bytes")));
        }
        out.write_all(&buf[..n]).map_err(write_error)?;
    }
    let file = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    file.sync_all().map_err(write_error)
}

/// Checks that the uncompressed content of `path` (gunzipped if it is gzip) has `expected`
/// as its sha256.
pub fn verify(path: &Path, expected: &str) -> Result<(), DataError> {
    let actual = uncompressed_sha256(path)?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::Checksum {
            file: path.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

/// sha256 (lowercase hex) of the uncompressed content of `path`.
pub fn uncompressed_sha256(path: &Path) -> Result<String, DataError> {
    let read_error = |source: io::Error| DataError::Read {
        at: crate::census::Location {
            file: path.to_owned(),
            line: 0,
            field: None,
        },
        source,
    };
    let (mut input, _) = crate::census::open_decoded(path).map_err(|source| DataError::Open {
        file: path.to_owned(),
        source,
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
