//! The [`Fingerprint`] of a run, which a `--journal` keeps so that
//! `--resume` refuses another run's journal: the settings that shape the
//! records each chunk gives the reducer, and the inputs (see
//! [`crate::exec::journal`]). It is read off the whole [`Pipeline`], so it
//! is computed here, where the pipeline is, and handed down to the
//! journal.

use crate::error::{msg, Error, Result, Setting};
use crate::exec::journal::{Fingerprint, InputPrint};
use crate::pipeline::Pipeline;
use crate::sink::rejects::OnError;
use crate::source::{ChunkLimit, Input};
use crate::transform::{ExecFormat, Step};

/// An `--http` step as the journal and the partial lines' fingerprint see
/// it: the URL (shown without its query string and user info, which may
/// hold a key: those are in as a hash), the request and response
/// expressions, the names of the headers (never their values: they are
/// secrets, and a new key does not change the answers), and the replicas
/// and vote. The limits, retries and timeout do not change what the
/// answers make, and are left out, as for `--exec`.
pub(crate) fn http_step_text(spec: &crate::transform::HttpSpec) -> String {
    let shown = crate::transform::http::shown_url(&spec.url);
    let mut text = format!("--http {shown}");
    if shown != spec.url {
        text.push_str(&format!(" (url hash {:016x})", wyhash::wyhash(spec.url.as_bytes(), 0)));
    }
    if let Some(e) = &spec.request {
        text.push_str(&format!(" --http-request {e}"));
    }
    if let Some(e) = &spec.response {
        text.push_str(&format!(" --http-response {e}"));
    }
    for h in &spec.headers {
        text.push_str(&format!(" --http-header {}", crate::transform::http::header_name(h)));
    }
    if spec.replicas > 1 {
        text.push_str(&format!(" --replicas {} --vote {:?}", spec.replicas, spec.vote));
    }
    text
}

impl Pipeline {
    /// The fingerprint of this pipeline's run, for its `journal`
    /// ([`crate::exec::Journal::open`]).
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) for `--journal` when an input is standard input or a reader (it
    /// cannot be checked on `--resume`) or when there is no `--map` or
    /// `--exec` step (the journal keeps what they make; without one there
    /// is nothing to save); [`ErrorKind::Io`](crate::ErrorKind::Io) when an input cannot be read.
    pub(crate) fn fingerprint(&self) -> Result<Fingerprint> {
        let pipeline = self;
        if !pipeline.steps.iter().any(Step::is_map) {
            return Err(Error::setting(
                Setting::Journal,
                msg![
                    "needs a ",
                    Setting::Map,
                    " or ",
                    Setting::Exec,
                    " step: the journal keeps what they make of each chunk (without one, \
                     reading the input again costs as much as reading a journal)",
                ],
            ));
        }
        let format = pipeline.resolved_input_format();
        // An `--exec` step's other settings, beyond the command and its
        // format, in a form that takes in any new field: how often and how
        // long a command may try does not change what it prints, so those
        // are blanked out.
        let mut exec_rest = Vec::new();
        let steps: Vec<String> = pipeline
            .steps
            .iter()
            .map(|s| match s {
                Step::Filter(e) => format!("--filter {e}"),
                Step::Map(e) => format!("--map {e}"),
                Step::Select(c) => format!("--select {}", c.join(",")),
                Step::Drop(c) => format!("--drop {}", c.join(",")),
                Step::Rename(r) => {
                    let pairs: Vec<String> = r.iter().map(|(a, b)| format!("{a}={b}")).collect();
                    format!("--rename {}", pairs.join(","))
                }
                Step::Rust(m) => format!("map {}", m.name()),
                Step::Exec(spec) => {
                    let exec_format = spec.format.unwrap_or(ExecFormat::for_input(format));
                    let mut rest = spec.clone();
                    rest.command = String::new();
                    rest.argv = Vec::new();
                    rest.format = None;
                    rest.concurrency = 1;
                    rest.retries = 0;
                    rest.timeout = None;
                    rest.retry_delay = Default::default();
                    rest.retry_max_delay = Default::default();
                    exec_rest.push(format!("{rest:?}"));
                    let exec_format = format!("{exec_format:?}").to_lowercase();
                    format!("--exec {} --exec-format {exec_format}", spec.command)
                }
                Step::Http(spec) => http_step_text(spec),
            })
            .collect();
        let chunk = match pipeline.chunk {
            ChunkLimit::Auto => "automatic".to_string(),
            ChunkLimit::Bytes(b) => format!("{b} bytes"),
            ChunkLimit::Records(n) => format!("{n} records"),
        };
        let on_error = match pipeline.on_error {
            OnError::Fail => "fail",
            OnError::Skip => "skip",
            OnError::Reject => "reject",
        };
        let settings = [
            ("fanfold version", env!("CARGO_PKG_VERSION").to_string()),
            ("--input-format", format!("{format:?}").to_lowercase()),
            (
                "--output-format",
                format!("{:?}", pipeline.output_format.unwrap_or(format)).to_lowercase(),
            ),
            ("--delimiter", format!("{:?}", pipeline.delimiter.map(char::from))),
            ("--chunk-bytes/--chunk-size", chunk),
            ("--select/--drop/--rename", format!("{:?}", pipeline.projection)),
            ("the steps (--filter, --map, --exec ...)", steps.join(" | ")),
            ("--no-infer", pipeline.no_infer.to_string()),
            ("--null", format!("{:?}", pipeline.null_markers)),
            ("--on-error", on_error.to_string()),
            ("the other settings of --exec", exec_rest.join(", ")),
        ];
        let inputs = pipeline
            .inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => InputPrint::of(&i.name(), p),
                Input::Stdin => Err(Error::setting(
                    Setting::Journal,
                    msg![
                        "needs input files: standard input cannot be checked on ",
                        Setting::Resume
                    ],
                )),
                Input::Reader(_) => Err(Error::setting(
                    Setting::Journal,
                    msg![
                        format!("needs input files: {} cannot be checked on ", i.name()),
                        Setting::Resume
                    ],
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Fingerprint {
            settings: settings
                .into_iter()
                .chain(pipeline.input_columns.as_ref().map(|c| ("input columns", c.join(","))))
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            inputs,
        })
    }
}
