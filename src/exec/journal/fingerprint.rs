//! A journal's [`Fingerprint`]: what a run's records depend on (the
//! settings that shape them, the fanfold version, and a print of each
//! input: its canonical path, size, modification time and the CRC-32 of
//! its first and last 64 KiB), the phrases naming what changed between
//! two runs ([`Fingerprint::differences`]), and the JSON form the
//! journal's header holds. Computing a run's fingerprint from a
//! [`crate::Pipeline`] is the pipeline's (`src/pipeline/fingerprint.rs`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::error::{Error, Result};
use crate::source::ChunkLimit;

/// Bytes at each end of an input whose CRC-32 the fingerprint keeps.
const SAMPLE: u64 = 64 << 10;

/// One input as a journal knows it: enough to tell that it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPrint {
    /// The name as given (for messages).
    pub name: String,
    /// The canonical path (so a run from another directory still matches).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, in nanoseconds since the Unix epoch (0 when the
    /// file system does not say).
    pub mtime_ns: u64,
    /// CRC-32 of the first 64 KiB (all of a smaller file).
    pub head_crc: u32,
    /// CRC-32 of the last 64 KiB (all of a smaller file).
    pub tail_crc: u32,
}

impl InputPrint {
    /// Reads the print of the file at `path` (`name` as given): its
    /// metadata and 128 KiB at most.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the input when it cannot be read.
    pub fn of(name: &str, path: &Path) -> Result<InputPrint> {
        let io = |e| Error::io(name.to_string(), e);
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let size = meta.len();
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let crc_at = |at: u64| -> Result<u32> {
            let len = usize::try_from(SAMPLE.min(size - at)).unwrap_or(0);
            let mut buf = vec![0; len];
            file.read_exact_at(&mut buf, at).map_err(io)?;
            Ok(crc32fast::hash(&buf))
        };
        let canonical = std::fs::canonicalize(path).map_err(io)?;
        Ok(InputPrint {
            name: name.to_string(),
            path: canonical.display().to_string(),
            size,
            mtime_ns,
            head_crc: crc_at(0)?,
            tail_crc: crc_at(size.saturating_sub(SAMPLE))?,
        })
    }
}

/// What a journal is valid for: the inputs, and the settings that shape
/// the records each chunk gives the reducer.
///
/// Left out, because they do not change those records: `--threads`,
/// `--max-in-flight`, `--concurrency`, `--memory-limit`, `--temp-dir`,
/// `--progress`, `--retries`, `--timeout`, `--rejects` (the path),
/// `--max-errors`, `--output-delimiter` and the reducer (`--sort-by`,
/// `--group-by`, `--agg`, `--top`, `--reduce-*`). A resumed run may change
/// them; its output is then what an uninterrupted run with its own flags
/// gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `(name, value)` pairs: the flags (by name) and the fanfold version,
    /// each value in a canonical text form.
    pub settings: Vec<(String, String)>,
    /// The inputs, in order.
    pub inputs: Vec<InputPrint>,
}

impl Fingerprint {
    /// What differs from `earlier`, one phrase each; empty when nothing
    /// does.
    pub fn differences(&self, earlier: &Fingerprint) -> Vec<String> {
        let mut diffs = Vec::new();
        for (name, now) in &self.settings {
            match earlier.settings.iter().find(|(n, _)| n == name) {
                Some((_, was)) if was == now => {}
                Some((_, was)) => diffs.push(format!("{name} was `{was}`, now `{now}`")),
                None => diffs.push(format!("{name} is new (`{now}`)")),
            }
        }
        if self.inputs.len() != earlier.inputs.len() {
            let names =
                |v: &[InputPrint]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>().join(", ");
            diffs.push(format!(
                "the inputs were [{}], now [{}]",
                names(&earlier.inputs),
                names(&self.inputs)
            ));
            return diffs;
        }
        for (now, was) in self.inputs.iter().zip(&earlier.inputs) {
            let name = &now.name;
            if now.path != was.path {
                diffs.push(format!("input {name} is {}, was {}", now.path, was.path));
            } else if now.size != was.size {
                diffs.push(format!("input {name} was {} bytes, now {}", was.size, now.size));
            } else if (now.head_crc, now.tail_crc) != (was.head_crc, was.tail_crc) {
                diffs.push(format!("input {name} has changed (same size, other content)"));
            } else if now.mtime_ns != was.mtime_ns {
                diffs.push(format!("input {name} was modified since (its mtime changed)"));
            }
        }
        diffs
    }

    /// The JSON the header holds: the fingerprint and the chunk size.
    pub(super) fn to_json(&self, chunk: ChunkLimit) -> serde_json::Value {
        let inputs: Vec<serde_json::Value> = self
            .inputs
            .iter()
            .map(|i| {
                serde_json::json!({
                    "name": i.name, "path": i.path, "size": i.size, "mtime_ns": i.mtime_ns,
                    "head_crc32": i.head_crc, "tail_crc32": i.tail_crc,
                })
            })
            .collect();
        let chunk = match chunk {
            ChunkLimit::Records(n) => serde_json::json!({ "records": n }),
            ChunkLimit::Bytes(b) => serde_json::json!({ "bytes": b }),
            ChunkLimit::Auto => serde_json::json!({ "bytes": crate::source::DEFAULT_CHUNK_BYTES }),
        };
        serde_json::json!({ "settings": self.settings, "inputs": inputs, "chunk": chunk })
    }

    /// The header's JSON read back; `None` when it does not parse.
    pub(super) fn from_json(v: &serde_json::Value) -> Option<(Fingerprint, ChunkLimit)> {
        let settings = v["settings"]
            .as_array()?
            .iter()
            .map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
            .collect::<Option<Vec<_>>>()?;
        let inputs = v["inputs"]
            .as_array()?
            .iter()
            .map(|i| {
                Some(InputPrint {
                    name: i["name"].as_str()?.to_string(),
                    path: i["path"].as_str()?.to_string(),
                    size: i["size"].as_u64()?,
                    mtime_ns: i["mtime_ns"].as_u64()?,
                    head_crc: u32::try_from(i["head_crc32"].as_u64()?).ok()?,
                    tail_crc: u32::try_from(i["tail_crc32"].as_u64()?).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let size = |n: &serde_json::Value| n.as_u64().and_then(|n| usize::try_from(n).ok());
        let chunk = match (size(&v["chunk"]["bytes"]), size(&v["chunk"]["records"])) {
            (Some(b), None) if b > 0 => ChunkLimit::Bytes(b),
            (None, Some(n)) if n > 0 => ChunkLimit::Records(n),
            _ => return None,
        };
        Some((Fingerprint { settings, inputs }, chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "a\n1\n").unwrap();
        let before = Fingerprint {
            settings: vec![("--null".into(), "[]".into())],
            inputs: vec![InputPrint::of("in.csv", &path).unwrap()],
        };
        assert!(before.differences(&before).is_empty());
        std::fs::write(&path, "a\n2\n").unwrap();
        let mut after = before.clone();
        after.inputs = vec![InputPrint::of("in.csv", &path).unwrap()];
        after.settings[0].1 = "[\"NA\"]".into();
        assert_eq!(
            after.differences(&before),
            [
                "--null was `[]`, now `[\"NA\"]`",
                "input in.csv has changed (same size, other content)"
            ]
        );
    }
}
