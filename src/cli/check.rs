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
        let outputs = [("--output <FILE>", &self.output), ("--rejects <FILE>", &self.rejects)];
        for (flag, path) in outputs {
            let Some(path) = path.as_deref() else { continue };
            let Some(c) = fanfold::Compression::from_path(path) else { continue };
            let name = fanfold::escape_control(&path.display().to_string()).into_owned();
            let how = if flag.starts_with("--output") {
                let quoted = shlex::try_quote(&name).map_or(name.clone(), |q| q.into_owned());
                format!(
                    "write to standard output and pipe it through `{c}`, e.g. \
                     `fanfold ... | {c} > {quoted}`"
                )
            } else {
                format!(
                    "write the rejects to an uncompressed file and compress it afterwards \
                     with `{c}`"
                )
            };
            return Err((
                ErrorKind::ValueValidation,
                format!(
                    "the argument '{flag}' names a {c}-compressed file ({name}), but fanfold \
                     does not write compressed output yet: {how}"
                ),
            ));
        }
        Ok(())
    }
}
