//! The external step as the user wrote it: [`ExecSpec`] (the command split
//! into words, its [`ExecMode`] and [`ExecFormat`], concurrency, retries,
//! timeout, replicas and vote) and the checks run before the run.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{msg, Error, Result, Setting};
use crate::format::Format;

/// Default wait before the first retry (100 ms); each later retry waits
/// twice as long, plus jitter.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Default longest wait between two attempts (10 s), before jitter.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(10);

/// The format records travel in between fanfold and an `--exec` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFormat {
    /// Comma-separated values, with a header line (the union of the
    /// records' keys, in first-seen order) both ways.
    Csv,
    /// Tab-separated values, with a header line.
    Tsv,
    /// One JSON object per line, both ways.
    Ndjson,
}

impl ExecFormat {
    /// The format an input format travels in by default: CSV as CSV, TSV
    /// as TSV, NDJSON and JSON arrays as NDJSON.
    pub fn for_input(format: Format) -> ExecFormat {
        match format {
            Format::Csv => ExecFormat::Csv,
            Format::Tsv => ExecFormat::Tsv,
            Format::Ndjson | Format::Json => ExecFormat::Ndjson,
        }
    }

    /// The field delimiter of CSV and TSV; `None` for NDJSON.
    pub(crate) fn delimiter(self) -> Option<u8> {
        match self {
            ExecFormat::Csv => Some(b','),
            ExecFormat::Tsv => Some(b'\t'),
            ExecFormat::Ndjson => None,
        }
    }
}

/// How an external step runs its command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// `--exec`: a fresh process for every chunk attempt, which reads the
    /// whole chunk and exits.
    #[default]
    PerChunk,
    /// `--exec-persistent`: up to [`ExecSpec::concurrency`] long-lived
    /// workers, each answering one NDJSON line per record line.
    Persistent,
}

impl ExecMode {
    /// The setting of the mode, for messages: [`Setting::Exec`] or
    /// [`Setting::ExecPersistent`].
    pub fn setting(self) -> Setting {
        match self {
            ExecMode::PerChunk => Setting::Exec,
            ExecMode::Persistent => Setting::ExecPersistent,
        }
    }
}

/// An `--exec` or `--exec-persistent` step: the command and how it is run.
///
/// ```
/// use fanfold::{ExecSpec, Input, Pipeline};
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("in.csv");
/// std::fs::write(&path, "city,n\noslo,1.50\nlima,2\n")?;
/// let mut upper = ExecSpec::new("tr a-z A-Z")?;
/// upper.retries = 2;
/// upper.timeout = Some(std::time::Duration::from_secs(30));
/// let pipeline = Pipeline::builder().input(Input::Path(path)).exec(upper).build()?;
/// let mut out = Vec::new();
/// let stats = pipeline.run(&mut out, "<memory>")?;
/// assert_eq!(String::from_utf8(out)?, "CITY,N\nOSLO,1.50\nLIMA,2\n");
/// // One attempt a chunk; with so few records, the automatic chunk size
/// // gives each its own chunk, so that both run at once.
/// assert_eq!(stats.exec.map(|e| (e.chunks, e.attempts)), Some((2, 2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command as written (for messages).
    pub command: String,
    /// The program and its arguments (the command split into words).
    pub argv: Vec<String>,
    /// The format records travel in; `None`: the input's
    /// ([`ExecFormat::for_input`]).
    pub format: Option<ExecFormat>,
    /// Processes of this step running at once, at most (at least 1).
    pub concurrency: usize,
    /// Attempts after the first for a chunk that fails.
    pub retries: u32,
    /// Longest run of one attempt; `None`: no limit.
    pub timeout: Option<Duration>,
    /// Wait before the first retry (doubling for each later one, plus
    /// jitter of up to as much again).
    pub retry_delay: Duration,
    /// Longest wait between two attempts, before jitter.
    pub retry_max_delay: Duration,
    /// A process per chunk attempt, or persistent workers.
    pub mode: ExecMode,
    /// How many times each chunk runs (`--replicas`, at least 1; 2 or
    /// more needs [`ExecSpec::vote`]). Replicas run at once, under the
    /// same [`ExecSpec::concurrency`] permits, each with its own retries.
    pub replicas: usize,
    /// `--vote FIELD`: with [`ExecSpec::replicas`] ≥ 2, keep per record
    /// the value of this field most replicas agree on (its agreement, the
    /// share of replicas that gave it, in the field `FIELD_agreement`).
    pub vote: Option<String>,
}

impl ExecSpec {
    /// The step for `command`, split into words as a shell would (quotes
    /// and backslashes respected, nothing expanded), with the defaults:
    /// the input's format, [`ExecSpec::default_concurrency`], no retries,
    /// no timeout.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) for `--exec` when the command is empty or its
    /// quotes are not closed.
    pub fn new(command: &str) -> Result<ExecSpec> {
        ExecSpec::with_mode(command, ExecMode::PerChunk)
    }

    /// The `--exec-persistent` step for `command`: as [`ExecSpec::new`],
    /// with persistent workers that speak NDJSON.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) for `--exec-persistent` when the command is empty or
    /// its quotes are not closed.
    pub fn persistent(command: &str) -> Result<ExecSpec> {
        ExecSpec::with_mode(command, ExecMode::Persistent)
    }

    fn with_mode(command: &str, mode: ExecMode) -> Result<ExecSpec> {
        let setting = mode.setting();
        let argv = shlex::split(command).ok_or_else(|| {
            Error::setting(setting, format!("`{command}`: a quote is not closed"))
        })?;
        if argv.is_empty() {
            return Err(Error::setting(setting, "the command is empty"));
        }
        Ok(ExecSpec {
            command: command.to_string(),
            argv,
            format: None,
            concurrency: ExecSpec::default_concurrency(),
            retries: 0,
            timeout: None,
            retry_delay: DEFAULT_RETRY_DELAY,
            retry_max_delay: DEFAULT_RETRY_MAX_DELAY,
            mode,
            replicas: 1,
            vote: None,
        })
    }

    /// The setting the step came from: [`Setting::Exec`] or
    /// [`Setting::ExecPersistent`].
    pub fn setting(&self) -> Setting {
        self.mode.setting()
    }

    /// The default [`ExecSpec::concurrency`]: 4 × the available cores (a
    /// command mostly waits: on a service, a model, a disk).
    ///
    /// Not the pipeline's in-flight window (`4 × threads`, set in
    /// `PipelineBuilder::build` only): this counts commands running at
    /// once, over the cores rather than the threads asked for, and the run
    /// grows its threads and window to it.
    pub fn default_concurrency() -> usize {
        4 * std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Checks the settings and finds the program (a path that exists, or
    /// the first file of that name on `PATH`), so that a typo fails the run
    /// at once rather than every chunk. Returns the program's path.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming `--exec` (or `--exec-persistent`),
    /// `--concurrency`, `--replicas` or `--vote`.
    pub(crate) fn check(&self) -> Result<PathBuf> {
        check_copies(self.concurrency, self.replicas, self.vote.as_ref())?;
        let program = self.argv.first().map(String::as_str).unwrap_or_default();
        let found = if program.contains('/') {
            Some(PathBuf::from(program)).filter(|p| p.exists())
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(program))
                    .find(|p| p.is_file() && !program.is_empty())
            })
        };
        found.ok_or_else(|| {
            Error::setting(self.setting(), format!("`{program}`: command not found"))
        })
    }
}

/// Checks the settings an external step shares with `--http`: at least
/// one at once, and `--replicas` 2 or more exactly when there is a
/// `--vote` field.
///
/// # Errors
/// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming
/// `--concurrency`, `--replicas` or `--vote`.
pub(crate) fn check_copies(
    concurrency: usize,
    replicas: usize,
    vote: Option<&String>,
) -> Result<()> {
    if concurrency == 0 {
        return Err(Error::setting(Setting::Concurrency, "must be at least 1"));
    }
    match (replicas, vote) {
        (0, _) => Err(Error::setting(Setting::Replicas, "must be at least 1")),
        (1, Some(_)) => {
            Err(Error::setting(Setting::Vote, msg!["needs ", Setting::Replicas, " 2 or more"]))
        }
        (2.., None) => Err(Error::setting(
            Setting::Replicas,
            msg!["needs ", Setting::Vote, " FIELD: the field to vote on"],
        )),
        _ => Ok(()),
    }
}

/// `1.5s`, `200ms`, `2m`.
pub(crate) fn show_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 || s % 60.0 != 0.0 {
        format!("{s}s")
    } else {
        format!("{}m", s / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(show_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn command_words() {
        let s = ExecSpec::new(r#"python3 -c 'print("a b")' "x y" z\ w"#).unwrap();
        assert_eq!(s.argv, ["python3", "-c", "print(\"a b\")", "x y", "z w"]);
        assert!(ExecSpec::new("echo 'open").is_err());
        assert!(ExecSpec::new("  ").is_err());
    }
}
