//! The checks of a command line that clap's attributes cannot say
//! ([`Args::check`]): flags that need each other only in some
//! combinations, and output paths fanfold cannot write.

use clap::ValueEnum;

use super::{Args, ExecFormatArg};

impl Args {
    /// The checks clap's attributes cannot say, each an error of clap's
    /// `kind` with its message:
    /// - `--sort-by` with `--group-by` needs `--top`;
    /// - `--exec-format` needs `--exec`, except that `--exec-format ndjson`
    ///   may go with `--exec-persistent` alone (its workers' format), while
    ///   csv and tsv cannot;
    /// - `-o`/`--output` and `--rejects` must not name a compressed file
    ///   (`.gz`, `.zst`, `.bz2`, `.xz`): fanfold does not write one yet.
    pub(super) fn check(&self) -> Result<(), (clap::error::ErrorKind, String)> {
        use clap::error::ErrorKind;
        let map = self.partial_step == Some(fanfold::PartialStep::Map);
        if self.split_index.is_some() && !map && self.emit_partials.is_none() {
            return Err((
                ErrorKind::ArgumentConflict,
                "the argument '--split-index <N>' applies to `fanfold map` and \
                 '--emit-partials <FILE>' only"
                    .into(),
            ));
        }
        let reads_partials = matches!(
            self.partial_step,
            Some(fanfold::PartialStep::Combine | fanfold::PartialStep::Reduce)
        );
        if self.sorted && !reads_partials {
            return Err((
                ErrorKind::ArgumentConflict,
                "the argument '--sorted' applies to `fanfold combine` and `reduce`".into(),
            ));
        }
        if self.counters && self.partial_step.is_none() {
            return Err((
                ErrorKind::ArgumentConflict,
                "the argument '--counters' applies to `fanfold map`, `combine` and `reduce`".into(),
            ));
        }
        if self.top.is_none() && !self.sort_by.is_empty() && !self.group_by.is_empty() {
            return Err((
                ErrorKind::ArgumentConflict,
                "the argument '--sort-by <KEYS>' cannot be used with '--group-by <COLS>' \
                 without '--top <K>'"
                    .into(),
            ));
        }
        if let Some(format) = self.exec_format.filter(|_| self.exec.is_empty()) {
            if self.exec_persistent.is_empty() {
                return Err((
                    ErrorKind::MissingRequiredArgument,
                    "the argument '--exec-format <FORMAT>' requires '--exec <CMD>': it is the \
                     format of the records sent to and read from --exec commands"
                        .into(),
                ));
            }
            if format != ExecFormatArg::Ndjson {
                let name = format.to_possible_value().map(|v| v.get_name().to_string());
                return Err((
                    ErrorKind::ArgumentConflict,
                    format!(
                        "--exec-format applies to --exec; --exec-persistent workers always read \
                         and write NDJSON, so '--exec-format {}' cannot be used with \
                         '--exec-persistent <CMD>' alone",
                        name.unwrap_or_default()
                    ),
                ));
            }
        }
        let compressed = self.output.as_deref().and_then(fanfold::Compression::from_path);
        if self.compress_level.is_some() && compressed.is_none() {
            return Err((
                ErrorKind::ArgumentConflict,
                "--compress-level applies to a compressed --output, one whose name ends in .gz, \
                 .zst, .bz2 or .xz"
                    .into(),
            ));
        }
        Ok(())
    }
}
