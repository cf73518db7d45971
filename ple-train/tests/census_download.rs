//! The download path against a loopback HTTP server started by the test (no internet):
//! verified files land under their names, a wrong checksum or an HTTP error leaves nothing.

mod census_common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use census_common::{content, gzip};
use ple_train::census::DataError;
use ple_train::download::{download_files, uncompressed_sha256, RemoteFile};
use sha2::{Digest, Sha256};

/// Serves `files` (name, body) over HTTP/1.1 on 127.0.0.1 for at most `requests`
/// connections; returns the base URL and the log of requested paths.
fn serve(files: Vec<(String, Vec<u8>)>, requests: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/census", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::clone(&log);
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_owned();
            served.lock().unwrap().push(path.clone());
            let found = files
                .iter()
                .find(|(name, _)| path == format!("/census/{name}"));
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"not here".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, log)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn only_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn downloads_verify_the_uncompressed_content_and_land_atomically() {
    let train = content(0..40);
    let test = content(100..120);
    let files = vec![
        ("census-income.data.gz".to_owned(), gzip(train.as_bytes())),
        ("census-income.test.gz".to_owned(), gzip(test.as_bytes())),
    ];
    let (base, log) = serve(files, 4);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("census");
    let (train_sha, test_sha) = (sha256_hex(train.as_bytes()), sha256_hex(test.as_bytes()));
    let expected = [
        RemoteFile {
            name: "census-income.data.gz",
            uncompressed_sha256: &train_sha,
        },
        RemoteFile {
            name: "census-income.test.gz",
            uncompressed_sha256: &test_sha,
        },
    ];
    let paths = download_files(&base, &target, &expected).unwrap();
    assert_eq!(paths.len(), 2);
    assert_eq!(
        only_names(&target),
        ["census-income.data.gz", "census-income.test.gz"]
    );
    assert_eq!(uncompressed_sha256(&paths[0]).unwrap(), train_sha);

    // The downloaded directory is a working data directory.
    let data = ple_train::census::load_census(&target).unwrap();
    assert_eq!(data.train.rows(), 40);
    assert_eq!(data.validation.rows() + data.test.rows(), 20);

    // Files already present and verified are not fetched again.
    download_files(&base, &target, &expected).unwrap();
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[test]
fn wrong_checksum_is_an_error_and_leaves_no_file() {
    let body = gzip(content(0..5).as_bytes());
    let (base, _) = serve(vec![("census-income.data.gz".to_owned(), body)], 1);
    let dir = tempfile::tempdir().unwrap();
    let wrong = "0".repeat(64);
    let files = [RemoteFile {
        name: "census-income.data.gz",
        uncompressed_sha256: &wrong,
    }];
    let err = download_files(&base, dir.path(), &files).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::Checksum { .. }), "{err:?}");
    assert!(message.contains(&wrong), "{message}");
    assert!(message.contains("census-income.data.gz"), "{message}");
    assert!(
        only_names(dir.path()).is_empty(),
        "{:?}",
        only_names(dir.path())
    );
}

#[test]
fn http_error_status_is_reported_with_the_url() {
    let (base, _) = serve(Vec::new(), 1);
    let dir = tempfile::tempdir().unwrap();
    let files = [RemoteFile {
        name: "census-income.test.gz",
        uncompressed_sha256: "00",
    }];
    let err = download_files(&base, dir.path(), &files).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::Http { .. }), "{err:?}");
    assert!(
        message.contains("/census/census-income.test.gz"),
        "{message}"
    );
    assert!(message.contains("404"), "{message}");
    assert!(only_names(dir.path()).is_empty());
}

#[test]
fn truncated_download_fails_verification() {
    let full = gzip(content(0..200).as_bytes());
    let sha = sha256_hex(content(0..200).as_bytes());
    let cut = full[..full.len() / 2].to_vec();
    let (base, _) = serve(vec![("census-income.data.gz".to_owned(), cut)], 1);
    let dir = tempfile::tempdir().unwrap();
    let files = [RemoteFile {
        name: "census-income.data.gz",
        uncompressed_sha256: &sha,
    }];
    let err = download_files(&base, dir.path(), &files).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::Http { .. }), "{err:?}");
    assert!(
        message.contains("/census/census-income.data.gz"),
        "{message}"
    );
    assert!(message.contains("gzip"), "{message}");
    assert!(only_names(dir.path()).is_empty());
}
