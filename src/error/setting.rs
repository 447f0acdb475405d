//! [`Setting`]: the library's names of a run's settings, which errors
//! name instead of command-line flags, and [`SettingNames`], the naming
//! function a run carries.

use std::fmt;

/// A setting of a run: a field of `Pipeline` (or of a step or reducer in
/// it), named in errors.
///
/// [`Setting::name`] is the library's name for it (the builder's method);
/// a front end can name it its own way ([`Error::display_with`](super::Error::display_with)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Setting {
    /// Worker threads.
    Threads,
    /// Chunks in flight at once.
    MaxInFlight,
    /// Chunk size in bytes.
    ChunkBytes,
    /// Chunk size in records.
    ChunkRecords,
    /// The memory limit.
    MemoryLimit,
    /// The input field delimiter.
    Delimiter,
    /// The output field delimiter.
    OutputDelimiter,
    /// The input format.
    InputFormat,
    /// The output format.
    OutputFormat,
    /// The directory for spill and temporary files.
    TempDir,
    /// The rejects file.
    Rejects,
    /// The compression level of a compressed output or rejects file.
    CompressLevel,
    /// The text encoding of the inputs.
    Encoding,
    /// Lines skipped before each CSV input's header.
    SkipRows,
    /// The byte that starts a comment line in CSV input.
    Comment,
    /// What a bad record does.
    OnError,
    /// How many rejects stop the run.
    MaxErrors,
    /// Texts that mean "missing".
    NullMarkers,
    /// The journal file.
    Journal,
    /// Going on with the run a journal records.
    Resume,
    /// The columns to keep.
    Select,
    /// The columns to drop.
    Drop,
    /// The columns to rename.
    Rename,
    /// The projection as a whole (select and drop together).
    Projection,
    /// A jq filter step.
    Filter,
    /// A jq map step.
    Map,
    /// A per-chunk external command step.
    Exec,
    /// A persistent external command step.
    ExecPersistent,
    /// How many copies of an external command run at once.
    Concurrency,
    /// The URL of a per-record HTTP step.
    Http,
    /// The jq expression that makes a record's request.
    HttpRequest,
    /// The jq expression that makes records of an answer.
    HttpResponse,
    /// A header sent with every request.
    HttpHeader,
    /// The requests started per second or minute, at most.
    Rate,
    /// The requests that may start at once above the rate.
    Burst,
    /// The tokens per minute, at most.
    TokenRate,
    /// The jq expression estimating a request's tokens.
    Tokens,
    /// The time limit of one attempt.
    Timeout,
    /// The attempts after a failed one.
    Retries,
    /// How many replicas of an external command vote.
    Replicas,
    /// The field the replicas vote on.
    Vote,
    /// The sort keys.
    SortBy,
    /// The group-by keys.
    GroupBy,
    /// The aggregates of a group-by.
    Agg,
    /// The number of records a top-k keeps.
    Top,
    /// The reducer (`PipelineBuilder::reduce`), or a custom Rust reducer's
    /// columns.
    Reduce,
    /// A custom reducer's initial state expression.
    ReduceInit,
    /// A custom reducer's update expression.
    ReduceUpdate,
    /// A custom reducer's merge expression.
    ReduceMerge,
    /// A custom reducer's finish expression.
    ReduceFinish,
    /// The columns of CSV input that has no header.
    InputColumns,
    /// The map, combine or reduce step of a run over partial lines.
    PartialStep,
    /// The split a map step folds, by number.
    SplitIndex,
    /// The file a run writes its partial lines to.
    EmitPartials,
}

impl Setting {
    /// Every setting, in declaration order.
    pub const ALL: &'static [Setting] = &[
        Setting::Threads,
        Setting::MaxInFlight,
        Setting::ChunkBytes,
        Setting::ChunkRecords,
        Setting::MemoryLimit,
        Setting::Delimiter,
        Setting::OutputDelimiter,
        Setting::InputFormat,
        Setting::OutputFormat,
        Setting::TempDir,
        Setting::Rejects,
        Setting::CompressLevel,
        Setting::Encoding,
        Setting::SkipRows,
        Setting::Comment,
        Setting::OnError,
        Setting::MaxErrors,
        Setting::NullMarkers,
        Setting::Journal,
        Setting::Resume,
        Setting::Select,
        Setting::Drop,
        Setting::Rename,
        Setting::Projection,
        Setting::Filter,
        Setting::Map,
        Setting::Exec,
        Setting::ExecPersistent,
        Setting::Concurrency,
        Setting::Http,
        Setting::HttpRequest,
        Setting::HttpResponse,
        Setting::HttpHeader,
        Setting::Rate,
        Setting::Burst,
        Setting::TokenRate,
        Setting::Tokens,
        Setting::Timeout,
        Setting::Retries,
        Setting::Replicas,
        Setting::Vote,
        Setting::SortBy,
        Setting::GroupBy,
        Setting::Agg,
        Setting::Top,
        Setting::Reduce,
        Setting::ReduceInit,
        Setting::ReduceUpdate,
        Setting::ReduceMerge,
        Setting::ReduceFinish,
        Setting::InputColumns,
        Setting::PartialStep,
        Setting::SplitIndex,
        Setting::EmitPartials,
    ];

    /// The library's name of the setting, in snake case: `threads`,
    /// `max_in_flight`, `memory_limit`, ... (the builder's method names).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Threads => "threads",
            Setting::MaxInFlight => "max_in_flight",
            Setting::ChunkBytes => "chunk_bytes",
            Setting::ChunkRecords => "chunk_records",
            Setting::MemoryLimit => "memory_limit",
            Setting::Delimiter => "delimiter",
            Setting::OutputDelimiter => "output_delimiter",
            Setting::InputFormat => "input_format",
            Setting::OutputFormat => "output_format",
            Setting::TempDir => "temp_dir",
            Setting::Rejects => "rejects",
            Setting::CompressLevel => "compress_level",
            Setting::Encoding => "encoding",
            Setting::SkipRows => "skip_rows",
            Setting::Comment => "comment",
            Setting::OnError => "on_error",
            Setting::MaxErrors => "max_errors",
            Setting::NullMarkers => "null_markers",
            Setting::Journal => "journal",
            Setting::Resume => "resume",
            Setting::Select => "select",
            Setting::Drop => "drop",
            Setting::Rename => "rename",
            Setting::Projection => "projection",
            Setting::Filter => "filter",
            Setting::Map => "map",
            Setting::Exec => "exec",
            Setting::ExecPersistent => "exec_persistent",
            Setting::Concurrency => "concurrency",
            Setting::Http => "http",
            Setting::HttpRequest => "http_request",
            Setting::HttpResponse => "http_response",
            Setting::HttpHeader => "http_header",
            Setting::Rate => "rate",
            Setting::Burst => "burst",
            Setting::TokenRate => "token_rate",
            Setting::Tokens => "tokens",
            Setting::Timeout => "timeout",
            Setting::Retries => "retries",
            Setting::Replicas => "replicas",
            Setting::Vote => "vote",
            Setting::SortBy => "sort_by",
            Setting::GroupBy => "group_by",
            Setting::Agg => "agg",
            Setting::Top => "top",
            Setting::Reduce => "reduce",
            Setting::ReduceInit => "reduce_init",
            Setting::ReduceUpdate => "reduce_update",
            Setting::ReduceMerge => "reduce_merge",
            Setting::ReduceFinish => "reduce_finish",
            Setting::InputColumns => "input_columns",
            Setting::PartialStep => "partial_step",
            Setting::SplitIndex => "split_index",
            Setting::EmitPartials => "emit_partials",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function that names a [`Setting`] in messages, carried by a run so
/// that the text it makes of an error (a reject's message) names settings
/// the way its front end does. The default is [`Setting::name`].
///
/// Two are equal when they name every setting alike.
#[derive(Clone, Copy)]
pub struct SettingNames(pub fn(Setting) -> &'static str);

impl SettingNames {
    /// The name of `setting`.
    pub fn name(&self, setting: Setting) -> &'static str {
        (self.0)(setting)
    }
}

impl Default for SettingNames {
    fn default() -> Self {
        SettingNames(Setting::name)
    }
}

impl PartialEq for SettingNames {
    fn eq(&self, other: &Self) -> bool {
        Setting::ALL.iter().all(|&s| self.name(s) == other.name(s))
    }
}

impl Eq for SettingNames {}

impl fmt::Debug for SettingNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SettingNames(")?;
        let threads = self.name(Setting::Threads);
        write!(f, "{threads:?}, ...)")
    }
}
