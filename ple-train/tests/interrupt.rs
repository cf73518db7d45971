//! Interrupted training, for real: the `ple-train` binary on a small made-up data set
//! (3 epochs, a few seconds), stopped by SIGKILL in the middle of an epoch, by Ctrl-C (a real
//! SIGINT), and by a full disk (a lowered `RLIMIT_FSIZE` with SIGXFSZ ignored, so writes fail
//! with EFBIG as on a full file system). Each interruption loses at most the unfinished
//! epoch: the last checkpoint stays whole and loadable, no partial file is left behind, and
//! `--resume` produces the same model bytes as a run that was never interrupted.

mod census_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ple_train::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use ple_train::run::MODEL_FILE;

const EPOCHS: &str = "3";
/// Rows of the made-up training file: enough for an epoch of a few tenths of a second, so
/// that a signal can land inside one.
const TRAIN_ROWS: usize = 60_000;
const TEST_ROWS: usize = 2_000;

/// The made-up data directory, written once per test process.
fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interrupt-data");
        std::fs::create_dir_all(&dir).unwrap();
        let train = census_common::content(0..TRAIN_ROWS);
        census_common::write(&dir, "census-income.data", train.as_bytes());
        let test = census_common::content(100_000..100_000 + TEST_ROWS);
        census_common::write(&dir, "census-income.test", test.as_bytes());
        dir
    })
}

/// `ple-train train` on the made-up data into `out`, with `extra` arguments, optionally
/// wrapped (e.g. by `prlimit`).
fn command(out: &Path, extra: &[&str], wrapper: &[&str]) -> Command {
    let binary = env!("CARGO_BIN_EXE_ple-train");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(["train", "--epochs", EPOCHS, "--data-dir"])
        .arg(data_dir())
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("PLE_CENSUS_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Runs to the end; returns the exit code and stderr.
fn run(out: &Path, extra: &[&str], wrapper: &[&str]) -> (Option<i32>, String) {
    let output = command(out, extra, wrapper).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

/// The model of an uninterrupted run (computed once).
fn uninterrupted_model() -> &'static [u8] {
    static MODEL: OnceLock<Vec<u8>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let (code, stderr) = run(out.path(), &[], &[]);
        assert_eq!(code, Some(0), "{stderr}");
        std::fs::read(out.path().join(MODEL_FILE)).unwrap()
    })
}

fn epochs_in_checkpoint(out: &Path) -> Option<u32> {
    Checkpoint::load(out).ok().map(|c| c.header.epochs_done)
}

/// Files other than the checkpoint and the final outputs: temporary files left behind.
fn stray_files(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

/// Starts a run and forwards its stderr lines.
fn spawn(out: &Path) -> (Child, Receiver<String>) {
    let mut child = command(out, &[], &[]).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if send.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// Waits until the first epoch's checkpoint is on disk, then a third of an epoch more:
/// the run is then inside epoch 2. Returns the stderr lines seen so far.
fn wait_until_inside_the_second_epoch(out: &Path, lines: &Receiver<String>) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let epoch_seconds = loop {
        let line = lines
            .recv_timeout(deadline - Instant::now())
            .unwrap_or_else(|_| panic!("no first epoch: {seen:#?}"));
        seen.push(line.clone());
        if let Some(rest) = line.trim_start().strip_prefix("epoch   1") {
            let seconds = rest.trim_start().split('s').next().unwrap();
            break seconds.trim().parse::<f64>().unwrap();
        }
    };
    while epochs_in_checkpoint(out) != Some(1) {
        assert!(Instant::now() < deadline, "no checkpoint: {seen:#?}");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_secs_f64(epoch_seconds / 3.0));
    seen
}

fn assert_second_epoch_never_finished(out: &Path, stderr: &[String]) {
    assert!(
        !stderr
            .iter()
            .any(|l| l.trim_start().starts_with("epoch   2")),
        "the signal arrived after epoch 2: {stderr:#?}"
    );
    assert_eq!(epochs_in_checkpoint(out), Some(1), "{stderr:#?}");
    assert!(!out.join(MODEL_FILE).exists());
}

fn resume_and_compare(out: &Path) {
    let (code, stderr) = run(out, &["--resume"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let resumed = std::fs::read(out.join(MODEL_FILE)).unwrap();
    assert!(
        resumed == uninterrupted_model(),
        "the resumed model differs from the uninterrupted one"
    );
    assert_eq!(stray_files(out), Vec::<String>::new());
}

#[test]
fn sigkill_inside_an_epoch_then_resume_gives_the_uninterrupted_model() {
    let out = tempfile::tempdir().unwrap();
    uninterrupted_model();
    let (mut child, lines) = spawn(out.path());
    let mut stderr = wait_until_inside_the_second_epoch(out.path(), &lines);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    stderr.extend(lines.try_iter());
    assert_eq!(status.code(), None, "killed by a signal");
    assert_second_epoch_never_finished(out.path(), &stderr);
    resume_and_compare(out.path());
}

#[test]
fn ctrl_c_stops_cleanly_with_the_last_epoch_kept_then_resume_gives_the_uninterrupted_model() {
    let out = tempfile::tempdir().unwrap();
    uninterrupted_model();
    let (mut child, lines) = spawn(out.path());
    let mut stderr = wait_until_inside_the_second_epoch(out.path(), &lines);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    stderr.extend(lines.iter());
    let text = stderr.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("interrupted: stopping"), "{text}");
    assert!(
        text.contains("stopped after 1 epochs; continue with `ple-train train --resume"),
        "{text}"
    );
    assert_second_epoch_never_finished(out.path(), &stderr);
    assert_eq!(stray_files(out.path()), Vec::<String>::new());
    resume_and_compare(out.path());
}

/// `prlimit` limiting every file the run writes to `bytes`, under a shell that ignores
/// SIGXFSZ (an ignored signal stays ignored across `exec`), so that a write past the limit
/// fails with EFBIG, as on a full disk, instead of killing the process.
fn file_size_limit(bytes: u64) -> Vec<String> {
    let limit = format!("--fsize={bytes}:{bytes}");
    [
        "sh",
        "-c",
        "trap '' XFSZ; exec prlimit \"$0\" -- \"$@\"",
        &limit,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_full_disk_fails_naming_the_file_and_keeps_the_last_checkpoint() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        panic!("prlimit (util-linux) is needed to limit the file size");
    }
    uninterrupted_model();
    let checkpoint_named = |stderr: &str| {
        stderr.contains("ple-train: error: cannot write")
            && stderr.contains(CHECKPOINT_FILE)
            && stderr.contains("File too large")
    };

    // Not even the first checkpoint fits: nothing is left behind.
    let out = tempfile::tempdir().unwrap();
    let wrapper = file_size_limit(4096);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let (code, stderr) = run(out.path(), &[], &wrapper);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(checkpoint_named(&stderr), "{stderr}");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "files left behind"
    );

    // The first checkpoint fits, the second (its history one epoch longer) does not: the
    // run fails at the end of epoch 2 and the first checkpoint stays, byte for byte.
    let (code, stderr) = run(out.path(), &["--stop-after", "1"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let first = std::fs::read(out.path().join(CHECKPOINT_FILE)).unwrap();
    let wrapper = file_size_limit(first.len() as u64 + 64);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let (code, stderr) = run(out.path(), &["--resume"], &wrapper);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(checkpoint_named(&stderr), "{stderr}");
    assert!(stderr.contains("epoch   2"), "{stderr}");
    assert_eq!(
        std::fs::read(out.path().join(CHECKPOINT_FILE)).unwrap(),
        first,
        "the last good checkpoint changed"
    );
    assert_eq!(stray_files(out.path()), Vec::<String>::new());
    assert!(!out.path().join(MODEL_FILE).exists());

    // With room again, the run resumes from that checkpoint to the uninterrupted model.
    resume_and_compare(out.path());
}

#[test]
fn a_corrupted_checkpoint_is_refused_by_resume_naming_it() {
    let out = tempfile::tempdir().unwrap();
    let (code, stderr) = run(out.path(), &["--stop-after", "1"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let path = out.path().join(CHECKPOINT_FILE);
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    for (what, bytes) in [
        ("a flipped bit", flipped),
        ("a truncation", good[..good.len() - 100].to_vec()),
        ("an empty file", Vec::new()),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let (code, stderr) = run(out.path(), &["--resume"], &[]);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains("is corrupt") && stderr.contains(&path.display().to_string()),
            "{what}: {stderr}"
        );
        assert!(!out.path().join(MODEL_FILE).exists(), "{what}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: checkpoint rewritten"
        );
    }
}
