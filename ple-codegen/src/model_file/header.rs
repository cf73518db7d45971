//! Reading the safetensors header by hand, so that every structural fault gets its own error
//! with the tensor's name, and nothing is trusted before it is checked.
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON
//! (`{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets"}, ...}`), then
//! the tensor data. Offsets are relative to the end of the header; the tensors must tile the
//! data region exactly, without gaps or overlaps.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ModelFileError;

/// Element type of a tensor this crate can read; every one is converted to f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatDtype {
    F32,
    F16,
    BF16,
    F64,
}

impl FloatDtype {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "F32" => Some(Self::F32),
            "F16" => Some(Self::F16),
            "BF16" => Some(Self::BF16),
            "F64" => Some(Self::F64),
            _ => None,
        }
    }

    pub(crate) const fn bytes(self) -> u64 {
        match self {
            Self::F16 | Self::BF16 => 2,
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

/// One tensor entry of the header, checked against the data region's layout.
#[derive(Clone, Debug)]
pub(crate) struct TensorEntry {
    pub dtype: FloatDtype,
    pub shape: Vec<u64>,
    /// Byte range inside the data region.
    pub start: usize,
    pub end: usize,
}

/// The parsed header: metadata strings and tensor entries, both by name.
#[derive(Debug)]
pub(crate) struct Header {
    pub metadata: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, TensorEntry>,
    /// Where the data region starts in the file.
    pub data_start: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Parses and checks the header of `bytes` (the whole file).
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Header, ModelFileError> {
    let found = bytes.len() as u64;
    let truncated = |needed: u64| ModelFileError::Truncated {
        path: path.into(),
        needed,
        found,
    };
    let Some(length_field) = bytes.get(..8) else {
        return Err(truncated(8));
    };
    let mut length = [0u8; 8];
    length.copy_from_slice(length_field);
    let declared = u64::from_le_bytes(length);
    if declared > super::MAX_HEADER_BYTES {
        let limit = super::MAX_HEADER_BYTES;
        return Err(ModelFileError::HeaderTooLarge {
            path: path.into(),
            declared,
            limit,
        });
    }
    // declared <= MAX_HEADER_BYTES, so neither the sum nor the conversion can overflow.
    let data_start = 8 + declared as usize;
    let Some(json) = bytes.get(8..data_start) else {
        return Err(truncated(data_start as u64));
    };
    let json_error = |source| ModelFileError::HeaderJson {
        path: path.into(),
        source,
    };
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(json_error)?;

    let mut metadata = BTreeMap::new();
    let mut tensors = BTreeMap::new();
    for (name, value) in raw {
        if name == "__metadata__" {
            metadata = serde_json::from_value(value).map_err(|e| {
                json_error(serde::de::Error::custom(format!("`__metadata__`: {e}")))
            })?;
            continue;
        }
        let entry: RawEntry = serde_json::from_value(value)
            .map_err(|e| json_error(serde::de::Error::custom(format!("tensor `{name}`: {e}"))))?;
        let entry = check_entry(path, &name, entry)?;
        tensors.insert(name, entry);
    }

    let data_len = check_tiling(path, &tensors)?;
    let needed = (data_start as u64).saturating_add(data_len as u64);
    if needed > found {
        return Err(truncated(needed));
    }
    if needed < found {
        return Err(ModelFileError::TrailingBytes {
            path: path.into(),
            expected: needed,
            found,
        });
    }
    Ok(Header {
        metadata,
        tensors,
        data_start,
    })
}

fn check_entry(path: &Path, name: &str, raw: RawEntry) -> Result<TensorEntry, ModelFileError> {
    let Some(dtype) = FloatDtype::parse(&raw.dtype) else {
        return Err(ModelFileError::UnsupportedDtype {
            path: path.into(),
            tensor: name.into(),
            dtype: raw.dtype,
        });
    };
    let overflow = || ModelFileError::ShapeOverflow {
        path: path.into(),
        tensor: name.into(),
    };
    let bytes = raw
        .shape
        .iter()
        .try_fold(dtype.bytes(), |acc, &d| acc.checked_mul(d))
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(overflow)?;
    let layout = |reason| ModelFileError::DataLayout {
        path: path.into(),
        tensor: name.into(),
        reason,
    };
    let [start, end] = raw.data_offsets;
    if end < start {
        return Err(layout("data offsets are reversed"));
    }
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err(layout("data offsets exceed the address space"));
    };
    if end - start != bytes {
        return Err(layout("data offsets do not span shape times element size"));
    }
    Ok(TensorEntry {
        dtype,
        shape: raw.shape,
        start,
        end,
    })
}

/// Checks that the tensors tile `0..len` of the data region exactly; returns `len`.
fn check_tiling(
    path: &Path,
    tensors: &BTreeMap<String, TensorEntry>,
) -> Result<usize, ModelFileError> {
    let mut by_start: Vec<(&String, &TensorEntry)> = tensors.iter().collect();
    by_start.sort_by_key(|(name, e)| (e.start, e.end, name.as_str()));
    let mut position = 0usize;
    for (name, entry) in by_start {
        if entry.start != position {
            let reason = if entry.start < position {
                "data overlaps the previous tensor's"
            } else {
                "data leaves a gap after the previous tensor's"
            };
            return Err(ModelFileError::DataLayout {
                path: path.into(),
                tensor: name.clone(),
                reason,
            });
        }
        position = entry.end;
    }
    Ok(position)
}
