//! The command line's names of the library's settings: the binary prints
//! library errors with these ([`fanfold::Error::display_with`]), so a
//! message names the flag the user typed, and the library never knows the
//! flags.

use fanfold::{Setting, SettingNames};

/// The flag that sets `setting`, e.g. `--threads` for [`Setting::Threads`].
pub(crate) fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Threads => "--threads",
        Setting::MaxInFlight => "--max-in-flight",
        Setting::ChunkBytes => "--chunk-bytes",
        Setting::ChunkRecords => "--chunk-size",
        Setting::MemoryLimit => "--memory-limit",
        Setting::Delimiter => "--delimiter",
        Setting::OutputDelimiter => "--output-delimiter",
        Setting::InputFormat => "--input-format",
        Setting::OutputFormat => "--output-format",
        Setting::TempDir => "--temp-dir",
        Setting::Rejects => "--rejects",
        Setting::CompressLevel => "--compress-level",
        Setting::Encoding => "--encoding",
        Setting::SkipRows => "--skip-rows",
        Setting::Comment => "--comment",
        Setting::OnError => "--on-error",
        Setting::MaxErrors => "--max-errors",
        Setting::NullMarkers => "--null",
        Setting::Journal => "--journal",
        Setting::Resume => "--resume",
        Setting::Select => "--select",
        Setting::Drop => "--drop",
        Setting::Rename => "--rename",
        Setting::Projection => "--select/--drop",
        Setting::Filter => "--filter",
        Setting::Map => "--map",
        Setting::Exec => "--exec",
        Setting::ExecPersistent => "--exec-persistent",
        Setting::Concurrency => "--concurrency",
        Setting::Http => "--http",
        Setting::HttpRequest => "--http-request",
        Setting::HttpResponse => "--http-response",
        Setting::HttpHeader => "--http-header",
        Setting::Rate => "--rate",
        Setting::Burst => "--burst",
        Setting::TokenRate => "--token-rate",
        Setting::Tokens => "--tokens",
        Setting::Timeout => "--timeout",
        Setting::Retries => "--retries",
        Setting::Replicas => "--replicas",
        Setting::Vote => "--vote",
        Setting::SortBy => "--sort-by",
        Setting::GroupBy => "--group-by",
        Setting::Agg => "--agg",
        Setting::Top => "--top",
        Setting::ReduceInit => "--reduce-init",
        Setting::ReduceUpdate => "--reduce-update",
        Setting::ReduceMerge => "--reduce-merge",
        Setting::ReduceFinish => "--reduce-finish",
        Setting::InputColumns => "--columns",
        Setting::PartialStep => "map/combine/reduce",
        Setting::SplitIndex => "--split-index",
        Setting::EmitPartials => "--emit-partials",
        // A setting added to the library later: its own name.
        other => other.name(),
    }
}

/// [`flag`] as the run's naming function, for the text a run makes of an
/// error (the messages in the rejects file).
pub(crate) const FLAGS: SettingNames = SettingNames(flag);

/// `e`'s message with the flags' names, as the binary prints it.
pub(crate) fn message(e: &fanfold::Error) -> String {
    e.display_with(&flag).to_string()
}
