//! Composition: [`Input::pipeline`] makes one pipeline's output another's
//! input. Opening the input starts the inner pipeline on its own thread,
//! writing NDJSON into a pipe whose reading end is the input; at the end
//! of the pipe the thread is joined and its error, if any, becomes the
//! read's.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::Pipeline;
use crate::error::Result;
use crate::exec::RunStats;
use crate::format::Format;
use crate::source::{Input, OpenReader, ReaderInput};

impl Input {
    /// The output of `pipeline`, as an input named `name`: each time the
    /// input is opened (once per run over it), `pipeline` runs on a thread
    /// of its own, writing NDJSON (whatever its
    /// [`Pipeline::output_format`]) into a pipe that the outer run reads
    /// as a stream. The outer run reads it as NDJSON unless its
    /// [`Pipeline::input_format`] says otherwise, and names it `name` in
    /// its messages (`name:line` is a line of the inner output).
    ///
    /// When the inner run fails, the outer run fails when it reaches the
    /// end of the pipe, with an [`Error::Io`](crate::Error::Io) naming
    /// `name` whose source wraps the inner run's [`Error`](crate::Error)
    /// (its message names the inner input and line; get it back with
    /// `io_error.get_ref()` and `downcast_ref::<fanfold::Error>()`). When
    /// the outer run stops early, the pipe is closed, which stops the inner
    /// run at its next write (a broken pipe: this needs `SIGPIPE` ignored,
    /// as Rust programs have it), and its thread is joined: no thread is
    /// left running.
    ///
    /// ```
    /// use fanfold::{Input, Pipeline, ReduceSpec, Step};
    /// let csv = "city,amount\nOslo,1.50\nLima,2\nOslo,0.25\nLima,7\n";
    /// let small = Pipeline {
    ///     steps: vec![Step::Filter(".amount < 5".into())],
    ///     ..Pipeline::new(vec![Input::reader("sales", std::io::Cursor::new(csv))])
    /// };
    /// let per_city = Pipeline {
    ///     output_format: Some(fanfold::Format::Csv),
    ///     reduce: ReduceSpec::GroupBy { keys: vec!["city".into()], aggs: vec!["count".parse()?] },
    ///     ..Pipeline::new(vec![Input::pipeline("small sales", small)])
    /// };
    /// let mut out = Vec::new();
    /// per_city.run(&mut out, "<memory>")?;
    /// assert_eq!(String::from_utf8(out)?, "city,count\nLima,1\nOslo,2\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pipeline(name: impl Into<String>, pipeline: Pipeline) -> Input {
        let name = name.into();
        let mut pipeline = pipeline;
        pipeline.output_format = Some(Format::Ndjson);
        let open = RunPipeline { name: name.clone(), pipeline };
        Input::Reader(ReaderInput::new(name, Arc::new(open), Some(Format::Ndjson)))
    }
}

/// What opens a pipeline input: a run of the inner pipeline.
struct RunPipeline {
    name: String,
    pipeline: Pipeline,
}

impl OpenReader for RunPipeline {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let (reader, mut writer) = pipe()?;
        let pipeline = self.pipeline.clone();
        let name = self.name.clone();
        let thread = std::thread::Builder::new()
            .name("fanfold-pipeline-input".into())
            .spawn(move || pipeline.run(&mut writer, &name))?;
        Ok(Box::new(PipelineRead { reader: Some(reader), thread: Some(thread) }))
    }
}

/// A pipe, both ends closed on `exec` (an `--exec` command started while
/// it is open must not hold its writing end, or the reader would never see
/// its end). (`std::io::pipe` is newer than the crate's MSRV.)
fn pipe() -> io::Result<(File, File)> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let (read, write) = {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (read, write) = nix::unistd::pipe()?;
        for fd in [&read, &write] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        (read, write)
    };
    Ok((File::from(read), File::from(write)))
}

/// The reading end of a pipeline input's pipe, and the thread writing it.
struct PipelineRead {
    /// `None` once the pipe has ended (or on drop, to close it).
    reader: Option<File>,
    thread: Option<JoinHandle<Result<RunStats>>>,
}

impl PipelineRead {
    /// Joins the inner run: its error becomes this read's.
    fn finish(&mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(_))) => Ok(()),
            Some(Ok(Err(e))) => Err(io::Error::other(e)),
            Some(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(io::Error::other(format!("the pipeline panicked: {message}")))
            }
        }
    }
}

impl Read for PipelineRead {
    /// Reads from the pipe; at its end, joins the inner run and returns
    /// its error, if any (then 0, the end, from later reads).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(0);
        };
        let n = reader.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.reader = None;
            self.finish()?;
        }
        Ok(n)
    }
}

impl Drop for PipelineRead {
    /// Closes the pipe first, so that an inner run still writing stops on
    /// a broken pipe, then joins its thread.
    fn drop(&mut self) {
        self.reader = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
