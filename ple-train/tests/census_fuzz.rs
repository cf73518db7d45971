//! Property tests of the record parsers on damaged input: whatever the bytes, reading ends in
//! records or in an error naming the file, never in a panic; and undamaged files read back
//! the same whichever entry point reads them.

mod census_common;

use proptest::prelude::*;

use census_common::{content, gzip, write};
use ple_train::census::{encode_file, encode_training_file, read_paddlerec};

/// A damage applied to a valid file.
#[derive(Clone, Debug)]
enum Damage {
    Flip { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Truncate { at: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    let interesting = prop_oneof![
        Just(b','),
        Just(b'\n'),
        Just(b'\r'),
        Just(b' '),
        Just(0xff),
        Just(0xc3),
        Just(b'e'),
        Just(b'.'),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting).prop_map(|(at, byte)| Damage::Flip { at, byte }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
        (any::<usize>(), 1usize..600).prop_map(|(at, len)| Damage::Delete { at, len }),
        any::<usize>().prop_map(|at| Damage::Truncate { at }),
    ]
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        let len = bytes.len().max(1);
        match d {
            Damage::Flip { at, byte } => {
                if !bytes.is_empty() {
                    bytes[at % len] = *byte;
                }
            }
            Damage::Insert { at, bytes: new } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Damage::Delete { at, len: n } => {
                let start = at % len;
                let end = (start + n).min(bytes.len());
                bytes.drain(start.min(end)..end);
            }
            Damage::Truncate { at } => bytes.truncate(at % len),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn damaged_raw_files_never_panic(
        damages in proptest::collection::vec(damage(), 1..4),
        gzipped in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clean = content(0..8).into_bytes();
        let spec_source = write(dir.path(), "clean", &clean);
        let (spec, _, _) = encode_training_file(&spec_source).unwrap();

        let mut bytes = apply(clean, &damages);
        if gzipped {
            // Damage the gzip container as well as the text inside it.
            bytes = apply(gzip(&bytes), &damages[..1]);
        }
        let path = write(dir.path(), "census-income.data", &bytes);
        for result in [
            encode_training_file(&path).map(|(_, d, _)| d),
            encode_file(&path, &spec).map(|(d, _)| d),
        ] {
            match result {
                Ok(dataset) => {
                    prop_assert!(dataset.rows() <= 16);
                    prop_assert_eq!(dataset.hot.len(), dataset.rows() * dataset.fields);
                }
                Err(e) => prop_assert!(e.to_string().contains("census-income.data"), "{}", e),
            }
        }
    }

    #[test]
    fn damaged_paddlerec_files_never_panic(damages in proptest::collection::vec(damage(), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let source = write(dir.path(), "raw", content(0..4).as_bytes());
        let (spec, dataset, _) = encode_training_file(&source).unwrap();
        let text: String = (0..dataset.rows())
            .map(|row| {
                let mut dense = vec![0.0; dataset.dense_width];
                dataset.dense_row_into(row, &mut dense);
                let mut fields = vec![
                    dataset.labels[1][row].to_string(),
                    dataset.labels[0][row].to_string(),
                ];
                fields.extend(dense.iter().map(f32::to_string));
                fields.join(",") + "\n"
            })
            .collect();
        let path = write(dir.path(), "paddle.txt", &apply(text.into_bytes(), &damages));
        match read_paddlerec(&path, &spec) {
            Ok((read, _)) => prop_assert_eq!(read.hot.len(), read.rows() * read.fields),
            Err(e) => prop_assert!(e.to_string().contains("paddle.txt"), "{}", e),
        }
    }
}

#[test]
fn training_file_encodes_the_same_through_its_own_spec() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "train", content(0..50).as_bytes());
    let (spec, built, _) = encode_training_file(&path).unwrap();
    let (again, _) = encode_file(&path, &spec).unwrap();
    assert_eq!(built, again);
}
