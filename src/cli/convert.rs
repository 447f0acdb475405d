//! From the command line to the engine: the transform steps in
//! command-line order ([`Args::steps`]), each `--exec` step with its
//! flags, and the [`Pipeline`] the arguments describe
//! ([`Args::to_builder`]).

use std::io::IsTerminal;

use clap::ArgMatches;

use fanfold::{
    CustomSpec, ExecFormat, ExecSpec, Format, HttpSpec, Input, JournalSpec, OnError, Pipeline,
    PipelineBuilder, Projection, ReduceSpec, Step,
};

use super::parse::parse_rename;
use super::{Args, ExecFormatArg, OnErrorArg};

impl Args {
    /// The transform steps in command-line order, read from `matches` (the
    /// matches these arguments came from): empty without --filter, --map or
    /// --exec, when the projection flags need no order.
    pub fn steps(&self, matches: &ArgMatches) -> Vec<Step> {
        if self.filter.is_empty()
            && self.map.is_empty()
            && self.exec.is_empty()
            && self.exec_persistent.is_empty()
            && self.http.is_empty()
        {
            return Vec::new();
        }
        let mut steps: Vec<(usize, Step)> = Vec::new();
        // The position of each occurrence of a flag: the index of its first
        // value (a comma list is one occurrence with several values).
        let occurrences = |id: &str| -> Vec<(usize, Vec<String>)> {
            let mut indices = matches.indices_of(id).into_iter().flatten();
            let Some(groups) = matches.get_raw_occurrences(id) else { return Vec::new() };
            groups
                .map(|values| {
                    let values: Vec<String> =
                        values.map(|v| v.to_string_lossy().into_owned()).collect();
                    let first = indices.next().unwrap_or(usize::MAX);
                    for _ in 1..values.len() {
                        indices.next();
                    }
                    (first, values)
                })
                .collect()
        };
        for (i, v) in occurrences("filter") {
            steps.extend(v.into_iter().map(|e| (i, Step::Filter(e))));
        }
        for (i, v) in occurrences("map") {
            steps.extend(v.into_iter().map(|e| (i, Step::Map(e))));
        }
        for (i, v) in occurrences("exec") {
            // Checked by clap's value parser.
            let specs = v.iter().filter_map(|c| self.exec_spec(ExecSpec::new(c)));
            steps.extend(specs.map(|s| (i, Step::Exec(s))));
        }
        for (i, v) in occurrences("exec_persistent") {
            let specs = v.iter().filter_map(|c| self.exec_spec(ExecSpec::persistent(c)));
            steps.extend(specs.map(|s| (i, Step::Exec(s))));
        }
        for (i, v) in occurrences("http") {
            let specs = v.iter().filter_map(|u| self.http_spec(u));
            steps.extend(specs.map(|s| (i, Step::Http(s))));
        }
        for (i, v) in occurrences("select") {
            steps.push((i, Step::Select(v)));
        }
        for (i, v) in occurrences("drop") {
            steps.push((i, Step::Drop(v)));
        }
        for (i, v) in occurrences("rename") {
            let pairs = v.iter().filter_map(|p| parse_rename(p).ok()).collect();
            steps.push((i, Step::Rename(pairs)));
        }
        steps.sort_by_key(|(i, _)| *i);
        steps.into_iter().map(|(_, s)| s).collect()
    }

    /// The `--exec` or `--exec-persistent` step `spec` with
    /// --exec-format (--exec only), --concurrency, --retries, --timeout,
    /// --replicas and --vote; `None` when the command does not split into
    /// words (clap has refused it already).
    fn exec_spec(&self, spec: fanfold::Result<ExecSpec>) -> Option<ExecSpec> {
        let mut spec = spec.ok()?;
        spec.replicas = self.replicas.unwrap_or(1);
        spec.vote = self.vote.clone();
        if spec.mode == fanfold::ExecMode::Persistent {
            spec.format = Some(ExecFormat::Ndjson);
        } else {
            spec.format = self.exec_format.map(|f| match f {
                ExecFormatArg::Csv => ExecFormat::Csv,
                ExecFormatArg::Tsv => ExecFormat::Tsv,
                ExecFormatArg::Ndjson => ExecFormat::Ndjson,
            });
        }
        if let Some(n) = self.concurrency {
            spec.concurrency = n.get();
        }
        spec.retries = self.retries;
        spec.timeout = self.timeout;
        Some(spec)
    }

    /// The `--http URL` step with --http-request, --http-response,
    /// --http-header, --concurrency, --rate, --burst, --token-rate,
    /// --tokens, --retries, --timeout, --replicas and --vote; `None` when
    /// the URL is refused (clap has refused it already).
    fn http_spec(&self, url: &str) -> Option<HttpSpec> {
        let mut spec = HttpSpec::new(url).ok()?;
        spec.request = self.http_request.clone();
        spec.response = self.http_response.clone();
        spec.headers = self.http_header.clone();
        if let Some(n) = self.concurrency {
            spec.concurrency = n.get();
        }
        spec.rate = self.rate;
        spec.burst = self.burst.map(|b| b.get());
        spec.token_rate = self.token_rate;
        spec.tokens = self.tokens.clone();
        spec.retries = self.retries;
        spec.timeout = self.timeout;
        spec.replicas = self.replicas.unwrap_or(1);
        spec.vote = self.vote.clone();
        Some(spec)
    }

    /// The pipeline the arguments describe, as a builder (the caller adds
    /// the cancel token and builds it); `steps` from [`Args::steps`].
    ///
    /// # Errors
    /// None today (specs are checked by clap, the settings by
    /// [`PipelineBuilder::build`]); kept fallible for flags that need the
    /// whole command line.
    pub fn to_builder(&self, steps: Vec<Step>) -> fanfold::Result<PipelineBuilder> {
        let inputs = if self.inputs.is_empty() {
            vec![self.stdin()]
        } else {
            self.inputs.iter().map(|s| Input::from_arg(s)).collect()
        };
        // Rejects name the flags, as the command's other messages do.
        let mut b = Pipeline::builder().inputs(inputs).setting_names(super::flags::FLAGS);
        b = set(b, self.input_format.map(Format::from), PipelineBuilder::input_format);
        b = set(b, self.output_format.map(Format::from), PipelineBuilder::output_format);
        b = set(b, self.delimiter, PipelineBuilder::delimiter);
        b = set(b, self.output_delimiter, PipelineBuilder::output_delimiter);
        b = set(b, self.skip_rows, PipelineBuilder::skip_rows);
        b = set(b, self.comment, PipelineBuilder::comment);
        b = set(b, self.encoding, PipelineBuilder::encoding);
        b = set(b, self.given_columns()?, PipelineBuilder::input_columns);
        b = set(b, self.partial_step, PipelineBuilder::partial_step);
        b = set(b, self.split(), PipelineBuilder::split_index);
        b = set(b, self.emit_partials.clone(), PipelineBuilder::emit_partials);
        b = b.sorted_partials(self.sorted);
        b = set(b, self.chunk_bytes, PipelineBuilder::chunk_bytes);
        b = set(b, self.chunk_size.map(|n| n.get()), PipelineBuilder::chunk_records);
        // The window's default (4 × threads) is the builder's.
        b = set(b, self.threads.map(|t| t.get()), PipelineBuilder::threads);
        b = set(b, self.max_in_flight.map(|m| m.get()), PipelineBuilder::max_in_flight);
        if steps.is_empty() {
            b = b.projection(Projection {
                select: self.select.clone(),
                drop: self.drop.clone(),
                rename: self.rename.clone(),
            });
        }
        b = b.steps(steps);
        b = set(b, self.memory_limit.map(|m| m as u64), PipelineBuilder::memory_limit);
        b = set(b, self.temp_dir.clone(), PipelineBuilder::temp_dir);
        b = b.no_infer(self.no_infer).on_error(match self.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
            OnErrorArg::Reject => OnError::Reject,
        });
        b = set(b, self.rejects.clone(), PipelineBuilder::rejects);
        b = set(b, self.max_errors, PipelineBuilder::max_errors);
        b = b.null_markers(self.null.clone());
        b = b.progress(!self.no_progress && (self.progress || std::io::stderr().is_terminal()));
        let journal = self.journal.clone().map(|path| JournalSpec { path, resume: self.resume });
        b = set(b, journal, PipelineBuilder::journal);
        if let (Some(update), Some(merge)) = (&self.reduce_update, &self.reduce_merge) {
            b = b.reduce(ReduceSpec::Custom(CustomSpec {
                init: self.reduce_init.clone().unwrap_or_else(|| "null".into()),
                update: update.clone(),
                merge: merge.clone(),
                finish: self.reduce_finish.clone().unwrap_or_else(|| ".".into()),
            }));
        } else if let Some(k) = self.top {
            let (keys, group_by) = (self.sort_by.clone(), self.group_by.clone());
            b = b.reduce(ReduceSpec::TopK { k: k.get(), keys, group_by });
        } else if !self.sort_by.is_empty() {
            b = b.sort_by(self.sort_by.clone());
        } else if !self.group_by.is_empty() || !self.agg.is_empty() {
            let mut aggs = self.agg.clone();
            if aggs.is_empty() {
                aggs.push("count".parse()?);
            }
            b = b.reduce(ReduceSpec::GroupBy { keys: self.group_by.clone(), aggs });
        }
        Ok(b)
    }
}

impl Args {
    /// The columns of headerless CSV input: --columns, or the first record
    /// of --header-from's file (read with --delimiter, else tab for a
    /// .tsv name, else `,`).
    ///
    /// # Errors
    /// [`fanfold::ErrorKind::Io`] naming the file when it cannot be read;
    /// a setting error when it holds no record.
    fn given_columns(&self) -> fanfold::Result<Option<Vec<String>>> {
        let Some(path) = &self.header_from else { return Ok(self.columns.clone()) };
        let name = path.display().to_string();
        let tsv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
        let delimiter = self.delimiter.unwrap_or(if tsv { b'\t' } else { b',' });
        let file = std::fs::File::open(path).map_err(|e| fanfold::Error::io(&name, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(std::io::BufReader::new(file));
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => Ok(Some(record.iter().map(String::from).collect())),
            Ok(false) => Err(fanfold::Error::setting(
                fanfold::Setting::InputColumns,
                format!("--header-from {name}: the file has no header line"),
            )),
            Err(e) => Err(fanfold::Error::setting(
                fanfold::Setting::InputColumns,
                format!("--header-from {name}: {e}"),
            )),
        }
    }

    /// Standard input; for `fanfold map` under Hadoop Streaming, named
    /// after the split it holds ($mapreduce_map_input_file and
    /// $mapreduce_map_input_start), so that errors and rejects name it
    /// (their line numbers count from the split's start).
    fn stdin(&self) -> Input {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let file = var("mapreduce_map_input_file").or_else(|| var("map_input_file"));
        match (self.partial_step, file) {
            (Some(fanfold::PartialStep::Map), Some(file)) => {
                let name = match var("mapreduce_map_input_start") {
                    Some(start) => format!("{file} (split at byte {start})"),
                    None => file,
                };
                Input::reader(name, std::io::stdin())
            }
            _ => Input::Stdin,
        }
    }

    /// The split a run reads: --split-index; for `fanfold map`, else
    /// Hadoop's $mapreduce_map_input_start (the split's byte offset in its
    /// file).
    fn split(&self) -> Option<u64> {
        if self.partial_step != Some(fanfold::PartialStep::Map) {
            return self.split_index;
        }
        self.split_index.or_else(|| {
            std::env::var("mapreduce_map_input_start").ok().and_then(|v| v.trim().parse().ok())
        })
    }
}

/// `b` with `value` set by `setter`, or `b` as it is for `None` (a flag
/// not given keeps the builder's default).
fn set<T>(
    b: PipelineBuilder,
    value: Option<T>,
    setter: impl FnOnce(PipelineBuilder, T) -> PipelineBuilder,
) -> PipelineBuilder {
    match value {
        Some(v) => setter(b, v),
        None => b,
    }
}
