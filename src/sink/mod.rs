//! Where results go: encoding records into output bytes ([`encode`]), the
//! layout of JSON array output ([`json_array`]), and writing them to
//! standard output or to a file, atomically, compressed when its name
//! says so ([`compress`]).

pub(crate) mod compress;
pub(crate) mod encode;
pub(crate) mod json_array;
pub(crate) mod rejects;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::format::Compression;
use compress::Compressor;

/// Size of the output buffer, in bytes.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// The output: standard output, or a file written atomically.
///
/// A regular file (or a path that does not exist yet) is written to a
/// temporary file in the same directory and renamed over the target by
/// [`Output::commit`]; if the run fails, or the `Output` is dropped without
/// a commit, the temporary file is removed and the target is untouched. A
/// target that exists and is not a regular file (a pipe, `/dev/stdout`,
/// `/dev/null`) is written directly, never replaced.
///
/// A file whose name ends in `.gz`, `.zst`, `.bz2` or `.xz` (any case) is
/// compressed in that format ([`Output::file_at_level`]); standard output
/// never is.
///
/// ```
/// use std::io::Write;
/// use fanfold::Output;
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.csv");
/// let mut out = Output::file(&path)?;
/// out.write_all(b"city\nOslo\n")?;
/// assert!(!path.exists(), "nothing at the target before the commit");
/// out.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"city\nOslo\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Output {
    inner: Inner,
    name: String,
}

#[derive(Debug)]
enum Inner {
    Stdout(BufWriter<Stdout>),
    Direct(Compressor<BufWriter<File>>),
    Temp(Compressor<BufWriter<NamedTempFile>>, PathBuf),
}

impl Output {
    /// Standard output, buffered.
    pub fn stdout() -> Output {
        Output {
            inner: Inner::Stdout(BufWriter::with_capacity(OUTPUT_BUFFER, io::stdout())),
            name: "<stdout>".to_string(),
        }
    }

    /// The file at `path` (see the type's docs for how it is written),
    /// compressed at its format's default level when its name says so.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the path when the file or its temporary file
    /// cannot be created.
    pub fn file(path: &Path) -> Result<Output> {
        Output::file_at_level(path, None)
    }

    /// The file at `path`, compressed at `level` when its name ends in a
    /// compression extension ([`Compression::from_path`]); `None` is the
    /// format's own default, as its command-line tool has it (gzip 6 of
    /// 1-9, zstd 3 of 1-22, bzip2 9 of 1-9, xz 6 of 0-9). The level is
    /// ignored for a name without such an extension. gzip writes one
    /// member, zstd one frame.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the path when the
    /// file or its temporary file cannot be created;
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) for
    /// [`Setting::CompressLevel`](crate::Setting::CompressLevel) when
    /// `level` is outside the format's range.
    pub fn file_at_level(path: &Path, level: Option<u32>) -> Result<Output> {
        let name = path.display().to_string();
        let compression = Compression::from_path(path);
        let io_err = |e| Error::io(name.clone(), e);
        let existing = std::fs::metadata(path).ok();
        let inner = match existing {
            Some(m) if !m.is_file() => {
                let f = OpenOptions::new().write(true).open(path).map_err(io_err)?;
                let w = BufWriter::with_capacity(OUTPUT_BUFFER, f);
                Inner::Direct(Compressor::new(w, compression, level, &name)?)
            }
            _ => {
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".fanfold-")
                    .suffix(".tmp")
                    .tempfile_in(&dir)
                    .map_err(|e| {
                        let why = format!(
                            "cannot create a temporary file in {}: {}",
                            dir.display(),
                            io::Error::from(e.kind())
                        );
                        io_err(io::Error::new(e.kind(), why))
                    })?;
                let w = BufWriter::with_capacity(OUTPUT_BUFFER, tmp);
                Inner::Temp(Compressor::new(w, compression, level, &name)?, path.to_path_buf())
            }
        };
        Ok(Output { inner, name })
    }

    /// The output's name for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Flushes (ending a compressed stream) and, for a file, renames the temporary file over the target.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when flushing or renaming fails.
    pub fn commit(self) -> Result<()> {
        let name = self.name;
        let io_err = |e| Error::io(name.clone(), e);
        match self.inner {
            Inner::Stdout(mut w) => w.flush().map_err(io_err),
            Inner::Direct(w) => w.finish().and_then(|mut w| w.flush()).map_err(io_err),
            Inner::Temp(w, path) => {
                let w = w.finish().map_err(io_err)?;
                let tmp = w.into_inner().map_err(|e| io_err(e.into_error()))?;
                set_default_permissions(tmp.as_file(), &path);
                tmp.persist(&path).map_err(|e| io_err(e.error))?;
                Ok(())
            }
        }
    }
}

#[cfg(unix)]
fn set_default_permissions(file: &File, target: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Keep an existing target's mode; a new file gets rw-r--r--.
    let mode = std::fs::metadata(target).map(|m| m.permissions().mode()).unwrap_or(0o644);
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_default_permissions(_file: &File, _target: &Path) {}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Stdout(w) => w.write(buf),
            Inner::Direct(w) => w.write(buf),
            Inner::Temp(w, _) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Stdout(w) => w.write_all(buf),
            Inner::Direct(w) => w.write_all(buf),
            Inner::Temp(w, _) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Stdout(w) => w.flush(),
            Inner::Direct(w) => w.flush(),
            Inner::Temp(w, _) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut out = Output::file(&target).unwrap();
        out.write_all(b"a\n").unwrap();
        assert!(!target.exists());
        out.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"a\n");

        let mut failed = Output::file(&target).unwrap();
        failed.write_all(b"partial").unwrap();
        drop(failed);
        assert_eq!(std::fs::read(&target).unwrap(), b"a\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
