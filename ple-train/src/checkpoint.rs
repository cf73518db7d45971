//! Checkpoints: everything needed to continue a run bit-identically after an interruption.
//!
//! After every epoch the trainer writes `checkpoint.bin` in the output directory: a JSON
//! header (configuration, epochs done, the history and best epoch so far, Adam's counters)
//! and the raw `f32` arrays (parameters, Adam's two moments, the best epoch's parameters
//! and, when the run keeps one, the moving average of the parameters),
//! closed by a 64-bit FNV-1a checksum of every preceding byte. It is written to a temporary
//! file, synced and renamed over the old one, so a crash or Ctrl-C at any moment leaves
//! either the previous checkpoint or the new one, never a mixture. On load, a bad magic,
//! length or checksum is reported as corruption and nothing is restored.
//!
//! Each epoch's shuffle depends only on the seed and the epoch number, so restoring these
//! arrays at an epoch boundary is all a resumed run needs to continue exactly as an
//! uninterrupted run would.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the checkpoint inside the output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
const MAGIC: &[u8; 8] = b"PLECKPT1";

/// The scalar part of a checkpoint (stored as JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Free-form state of the run (configuration, history, best epoch), checked on resume.
    pub state: serde_json::Value,
    /// Epochs completed.
    pub epochs_done: u32,
    /// Adam's step count.
    pub adam_step: u64,
    /// Bits of Adam's `beta1^t` (bits keep the value exact).
    pub beta1_pow_bits: u64,
    /// Bits of Adam's `beta2^t`.
    pub beta2_pow_bits: u64,
    /// Length of each array below.
    pub len: usize,
    /// Whether the weight average follows the four arrays.
    #[serde(default)]
    pub has_average: bool,
}

/// A whole checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Scalars.
    pub header: CheckpointHeader,
    /// Parameters (trainer layout).
    pub params: Vec<f32>,
    /// Adam's first moments.
    pub m: Vec<f32>,
    /// Adam's second moments.
    pub v: Vec<f32>,
    /// Parameters of the best epoch so far.
    pub best_params: Vec<f32>,
    /// The moving average of the parameters (empty when the run keeps none).
    pub average: Vec<f32>,
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Checkpoint {
    /// The checkpoint's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(&self.header).expect("checkpoint header serialises");
        let mut out = Vec::with_capacity(32 + json.len() + 16 * self.params.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for array in [
            &self.params,
            &self.m,
            &self.v,
            &self.best_params,
            &self.average,
        ] {
            for x in array.iter() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses checkpoint bytes; `path` names the file in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "checkpoint {} is corrupt: {why}; delete it to start over",
                path.display()
            )
        };
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(bad("not a checkpoint (bad magic or too short)"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv1a64(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err(bad("checksum mismatch"));
        }
        let json_len = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
        let json_end = usize::try_from(json_len)
            .ok()
            .and_then(|n| n.checked_add(16))
            .filter(|&e| e <= body.len());
        let json_end = json_end.ok_or_else(|| bad("header length out of range"))?;
        let header: CheckpointHeader = serde_json::from_slice(&body[16..json_end])
            .map_err(|e| bad(&format!("header: {e}")))?;
        let data = &body[json_end..];
        let arrays = if header.has_average { 5 } else { 4 };
        if header.len.checked_mul(4 * arrays) != Some(data.len()) {
            return Err(bad("array lengths disagree with the header"));
        }
        let mut arrays = data.chunks_exact(header.len * 4).map(|chunk| {
            chunk
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect::<Vec<_>>()
        });
        let mut next = || arrays.next().unwrap_or_default();
        let (params, m, v, best_params) = (next(), next(), next(), next());
        let average = if header.has_average {
            next()
        } else {
            Vec::new()
        };
        Ok(Self {
            header,
            params,
            m,
            v,
            best_params,
            average,
        })
    }

    /// Writes the checkpoint to `dir/checkpoint.bin` atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        let path = dir.join(CHECKPOINT_FILE);
        write_atomically(&path, &self.to_bytes())?;
        Ok(path)
    }

    /// Reads `dir/checkpoint.bin`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read checkpoint {}: {e}", path.display()))?;
        Self::from_bytes(&path, &bytes)
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same directory and a
/// rename, so readers see the old file or the new one, never a partial one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output");
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable, so a power cut cannot bring back the old file
        // after a later one was built on the new one; not every platform opens directories.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            header: CheckpointHeader {
                state: serde_json::json!({"epoch": 3}),
                epochs_done: 3,
                adam_step: 42,
                beta1_pow_bits: 0.5f64.to_bits(),
                beta2_pow_bits: 0.25f64.to_bits(),
                len: 3,
                has_average: true,
            },
            params: vec![1.0, -2.0, f32::MIN_POSITIVE],
            m: vec![0.1, 0.2, 0.3],
            v: vec![0.0; 3],
            best_params: vec![9.0; 3],
            average: vec![0.5, -1.5, 2.5],
        }
    }

    #[test]
    fn checkpoint_round_trips_exactly() {
        let c = sample();
        let back = Checkpoint::from_bytes(Path::new("c"), &c.to_bytes()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn any_flipped_byte_or_truncation_is_detected() {
        let bytes = sample().to_bytes();
        for i in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let err = Checkpoint::from_bytes(Path::new("c"), &bad).unwrap_err();
            assert!(err.contains("corrupt"), "{err}");
        }
        for cut in [0, 5, 20, bytes.len() - 1] {
            assert!(Checkpoint::from_bytes(Path::new("c"), &bytes[..cut]).is_err());
        }
    }
}
