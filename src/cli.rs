//! The command line: clap definitions and their conversion into a
//! [`Pipeline`]. The engine never sees clap types.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use fanfold::{AggSpec, ChunkLimit, Format, Input, Pipeline, Projection, ReduceSpec, SortKeySpec};

/// fanfold: data-parallel map-reduce over CSV, TSV and NDJSON batches.
///
/// Reads the inputs as one stream, cuts it into chunks, maps and folds the
/// chunks on every core, and merges the partial results in input order:
/// the output bytes are the same for any --threads or chunk size.
///
/// Exit status: 0 on success (also when the output pipe closes early, as
/// with `| head`), 1 on an error (bad input, unknown column, I/O), 2 on a
/// bad command line.
#[derive(Debug, Parser)]
#[command(name = "fanfold", version, max_term_width = 100)]
pub struct Args {
    /// Input files, read in order as one stream; `-` or none for standard
    /// input. CSV inputs must share one header.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Write the output to FILE (atomically: a failed run leaves no file)
    /// instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Input format; default from the first input's extension (.csv, .tsv,
    /// .ndjson/.jsonl; .json: json if it starts with `[`, else ndjson),
    /// else csv.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<FormatArg>,

    /// Output format; default the input's.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<FormatArg>,

    /// Field delimiter of CSV input: one byte, or `tab`.
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,

    /// Field delimiter of CSV output; default the input's when the output
    /// format is the input's, else `,` (csv) or tab (tsv).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub output_delimiter: Option<u8>,

    /// Target chunk size: bytes, or with a unit (64KiB, 4MiB, 1GB).
    /// Default: automatic (4MiB, smaller for small inputs; see --explain).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "chunk_size")]
    pub chunk_bytes: Option<usize>,

    /// Records (lines, for NDJSON) per chunk, instead of --chunk-bytes.
    #[arg(long, value_name = "N")]
    pub chunk_size: Option<NonZeroUsize>,

    /// Worker threads; default the number of available cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Chunks read but not yet merged, at most; default 2 × threads.
    /// Bounds memory to about this many chunks.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<NonZeroUsize>,

    /// Keep only these columns, in this order (input names).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub select: Option<Vec<String>>,

    /// Remove these columns (input names).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub drop: Vec<String>,

    /// Rename columns: old=new,...
    #[arg(long, value_name = "OLD=NEW", value_delimiter = ',', value_parser = parse_rename)]
    pub rename: Vec<(String, String)>,

    /// Sort by these keys: col[:n][:desc],... (`:n` numeric). Stable: ties
    /// keep input order; missing values sort last.
    #[arg(long, value_name = "KEYS", value_delimiter = ',', conflicts_with_all = ["group_by", "agg"],
          value_parser = parse_spec::<SortKeySpec>)]
    pub sort_by: Vec<SortKeySpec>,

    /// Group by these columns: one output row per distinct key, sorted by key.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub group_by: Vec<String>,

    /// An aggregate per group: count, count:col, sum:col, mean:col, min:col,
    /// max:col, distinct:col, each with an optional =name. Repeatable.
    /// Without --group-by, one row over all records. Default: count.
    #[arg(long, value_name = "SPEC", value_delimiter = ',', value_parser = parse_spec::<AggSpec>)]
    pub agg: Vec<AggSpec>,

    /// Texts that mean "missing" (besides empty fields and JSON null), e.g.
    /// NA: skipped by column aggregates, sorted last, null in NDJSON output.
    #[arg(long, value_name = "TEXTS", value_delimiter = ',')]
    pub null: Vec<String>,

    /// Print the plan (chunk size, expected chunks, threads, window, memory
    /// bound, and why) and exit without running.
    #[arg(long)]
    pub explain: bool,

    /// Print run statistics to standard error: records, chunks, threads,
    /// bytes, seconds, MB/s, peak chunks in flight.
    #[arg(long)]
    pub stats: bool,
}

/// A format name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line.
    Ndjson,
    /// One JSON array of objects.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Tsv => Format::Tsv,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Parses a size: a number of bytes with an optional unit: B, K/KiB, M/MiB,
/// G/GiB (powers of 1024) or KB, MB, GB (powers of 1000).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use e.g. 64KiB, 4MiB, 1GB")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a size; use e.g. 64KiB, 4MiB"))?;
    let bytes = (n * mult).round();
    if bytes < 1.0 || !bytes.is_finite() {
        return Err(format!("`{s}`: the size must be at least 1 byte"));
    }
    Ok(bytes as usize)
}

/// Parses a `--sort-by` or `--agg` spec, so that clap reports a bad one
/// (exit status 2) with the flag's name.
fn parse_spec<T: std::str::FromStr<Err = fanfold::Error>>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|e| match e {
        fanfold::Error::Flag { message, .. } => message,
        other => other.to_string(),
    })
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" => Ok(b'\t'),
        _ if s.len() == 1 && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => {
            Err(format!("`{s}`: the delimiter must be one byte (not a quote or newline), or `tab`"))
        }
    }
}

fn parse_rename(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("`{s}`: use old=new")),
    }
}

impl Args {
    /// Builds the pipeline the arguments describe.
    ///
    /// # Errors
    /// None today (specs are checked by clap); kept fallible for flags that
    /// need the whole command line.
    pub fn to_pipeline(&self) -> fanfold::Result<Pipeline> {
        let inputs = if self.inputs.is_empty() {
            vec![Input::Stdin]
        } else {
            self.inputs.iter().map(|s| Input::from_arg(s)).collect()
        };
        let mut p = Pipeline::new(inputs);
        p.input_format = self.input_format.map(Format::from);
        p.output_format = self.output_format.map(Format::from);
        p.delimiter = self.delimiter;
        p.output_delimiter = self.output_delimiter;
        if let Some(b) = self.chunk_bytes {
            p.chunk = ChunkLimit::Bytes(b);
        }
        if let Some(n) = self.chunk_size {
            p.chunk = ChunkLimit::Records(n.get());
        }
        if let Some(t) = self.threads {
            p.threads = t.get();
            p.max_in_flight = 2 * p.threads;
        }
        if let Some(m) = self.max_in_flight {
            p.max_in_flight = m.get();
        }
        p.projection = Projection {
            select: self.select.clone(),
            drop: self.drop.clone(),
            rename: self.rename.clone(),
        };
        p.null_markers = self.null.clone();
        if !self.sort_by.is_empty() {
            p.reduce = ReduceSpec::Sort(self.sort_by.clone());
        } else if !self.group_by.is_empty() || !self.agg.is_empty() {
            let mut aggs = self.agg.clone();
            if aggs.is_empty() {
                aggs.push("count".parse()?);
            }
            p.reduce = ReduceSpec::GroupBy { keys: self.group_by.clone(), aggs };
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Args::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4XB").is_err());
    }
}
