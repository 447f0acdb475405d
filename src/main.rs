//! The `fanfold` command: parses the command line, runs the pipeline,
//! reports errors with their place, and maps outcomes to exit codes.

mod cli;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use fanfold::{escape_control, CancelToken, Output, RunStats};

/// Exit status of a run that finished but set records aside.
const EXIT_REJECTED: u8 = 3;

/// Set by the first SIGINT/SIGTERM: a second one exits at once.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// On SIGINT or SIGTERM, the returned token is cancelled with the signal:
/// the run stops at the next chunk and removes its temporary and partial
/// output (exit 128 + the signal: 130, 143); a second signal exits at
/// once, for a run blocked on a silent input.
fn handle_signals() -> CancelToken {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let token = CancelToken::new();
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as the earlier signal left it.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, &SIGNALLED);
        let _ = signal_hook::flag::register(signal, &SIGNALLED);
        let _ = signal_hook::flag::register_usize(signal, token.signal_flag(), signal as usize);
    }
    token
}

fn main() -> ExitCode {
    let (args, steps) = cli::Args::parse_checked();
    let cancel = handle_signals();
    match run(&args, steps, cancel) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_REJECTED),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => match *e.kind() {
            fanfold::ErrorKind::Interrupted { signal } => {
                eprintln!("fanfold: interrupted by signal {signal}; output files removed");
                if let Some(path) = &args.journal {
                    eprintln!(
                        "fanfold: the chunks done are kept in {}: run again with --resume to go on",
                        escape_control(&path.display().to_string())
                    );
                }
                ExitCode::from((128 + signal).clamp(0, 255) as u8)
            }
            _ => {
                // Messages quote input (header names, fields, a command's
                // standard error): no raw control bytes on the terminal;
                // they name the library's settings as this command's flags.
                eprintln!("fanfold: error: {}", escape_control(&cli::flags::message(&e)));
                ExitCode::from(1)
            }
        },
    }
}

/// Runs the command, stopped by `cancel`; returns the number of records
/// set aside.
fn run(args: &cli::Args, steps: Vec<fanfold::Step>, cancel: CancelToken) -> fanfold::Result<u64> {
    let builder = args.to_builder(steps)?.cancel(cancel);
    if args.explain {
        let plan = builder.build()?.plan();
        // A closed pipe (`| head`) is no error worth a message.
        let _ = writeln!(std::io::stdout(), "{plan}");
        return Ok(0);
    }
    let mut output = match &args.output {
        Some(path) if path.as_os_str() != "-" => Output::file_at_level(path, args.compress_level)?,
        _ => Output::stdout(),
    };
    let name = output.name().to_string();
    if let Some(path) = args.journal.as_ref().filter(|p| args.resume && !p.exists()) {
        eprintln!(
            "fanfold: --resume: no journal at {}; starting from the beginning",
            escape_control(&path.display().to_string())
        );
    }
    // Built where the run checked the settings before the builder: after
    // the output is opened and the --resume notice is printed.
    let pipeline = builder.build()?;
    let stats = pipeline.run(&mut output, &name)?;
    output.commit()?;
    // The output is in place: the journal has done its work.
    if let Some(path) = &args.journal {
        std::fs::remove_file(path).map_err(|e| {
            fanfold::Error::io_note(path.display().to_string(), fanfold::Setting::Journal, e)
        })?;
    }
    if args.stats {
        print_stats(&stats);
    }
    let hadoop = std::env::var_os("mapreduce_task_id").is_some();
    if args.partial_step.is_some() && (args.counters || hadoop) {
        print_counters(&stats);
    }
    if let Some(path) = &args.stats_json {
        let json = stats_json(&stats);
        std::fs::write(path, json)
            .map_err(|e| fanfold::Error::io(path.display().to_string(), e))?;
    }
    if stats.records_rejected > 0 {
        let place = match (&args.on_error, &args.rejects) {
            (cli::OnErrorArg::Reject, Some(path)) => {
                format!("written to {}", escape_control(&path.display().to_string()))
            }
            _ => "skipped".to_string(),
        };
        eprintln!(
            "fanfold: {} of {} records rejected ({place})",
            stats.records_rejected, stats.records_read
        );
    }
    Ok(stats.records_rejected)
}

/// The run statistics as one JSON object (`--stats-json`); with an
/// `--exec` or `--exec-persistent` step, an `exec` object: chunks,
/// attempts, retries, timeouts, failed chunks, concurrency, replicas,
/// failed replicas, persistent workers started, the attempts' durations
/// added up (`attempt_secs`), `speedup_vs_concurrency_1` (see [`speedup`])
/// and the chunk latency p50/p95/max in seconds; with an `--http` step, an
/// `http` object: records, requests, retries, timeouts, connection errors,
/// 429s (`rate_limited`), failed records, answers by status, concurrency,
/// peak in flight, bytes sent and received, tokens estimated and reported,
/// requests per second, and the attempt latency p50/p95/max in seconds.
/// No header value appears in it.
fn stats_json(s: &RunStats) -> String {
    let mut json = serde_json::json!({
        "records_read": s.records_read,
        "records_written": s.records_written,
        "records_filtered": s.records_filtered,
        "records_rejected": s.records_rejected,
        "chunks": s.chunks,
        "chunks_resumed": s.chunks_resumed,
        "threads": s.threads,
        "bytes_read": s.bytes_read,
        "bytes_parsed": s.bytes_parsed,
        "comment_lines": s.comment_lines,
        "bytes_written": s.bytes_written,
        "elapsed_secs": s.elapsed_secs,
        "peak_in_flight": s.peak_in_flight,
        "spilled_runs": s.spilled_runs,
        "spilled_bytes": s.spilled_bytes,
    });
    if let Some(e) = &s.exec {
        json["exec"] = serde_json::json!({
            "chunks": e.chunks,
            "attempts": e.attempts,
            "retries": e.retries,
            "timeouts": e.timeouts,
            "failed_chunks": e.failed_chunks,
            "concurrency": e.concurrency,
            "replicas": e.replicas,
            "failed_replicas": e.failed_replicas,
            "workers_started": e.workers_started,
            "attempt_secs": e.attempt_secs,
            "speedup_vs_concurrency_1": speedup(e.attempt_secs, s.elapsed_secs),
            "latency_p50_secs": e.latency_p50_secs,
            "latency_p95_secs": e.latency_p95_secs,
            "latency_max_secs": e.latency_max_secs,
        });
    }
    if let Some(h) = &s.http {
        let statuses: serde_json::Map<String, serde_json::Value> =
            h.statuses.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
        json["http"] = serde_json::json!({
            "records": h.records,
            "requests": h.requests,
            "retries": h.retries,
            "timeouts": h.timeouts,
            "connection_errors": h.connection_errors,
            "rate_limited": h.rate_limited,
            "failed_records": h.failed_records,
            "statuses": statuses,
            "concurrency": h.concurrency,
            "peak_in_flight": h.peak_in_flight,
            "bytes_sent": h.bytes_sent,
            "bytes_received": h.bytes_received,
            "tokens_estimated": h.tokens_estimated,
            "tokens_reported": h.tokens_reported,
            "requests_per_sec": if s.elapsed_secs > 0.0 { h.requests as f64 / s.elapsed_secs } else { 0.0 },
            "latency_p50_secs": h.latency_p50_secs,
            "latency_p95_secs": h.latency_p95_secs,
            "latency_max_secs": h.latency_max_secs,
        });
    }
    format!("{json}\n")
}

/// An estimate of how many times longer the run would have taken at
/// `--concurrency 1`: the attempts' durations added up over the run's wall
/// time (both in seconds; 0 for a run that took no time). It assumes an
/// attempt takes as long alone as it did beside others, so it overstates
/// the gain where the commands compete for the CPU.
fn speedup(attempt_secs: f64, elapsed_secs: f64) -> f64 {
    if elapsed_secs > 0.0 {
        attempt_secs / elapsed_secs
    } else {
        0.0
    }
}

/// Hadoop Streaming's counters (`reporter:counter:GROUP,COUNTER,AMOUNT`
/// lines on standard error, which the framework adds to the job's
/// counters), group `fanfold`: records read, written, filtered and
/// rejected, and bytes read.
fn print_counters(s: &RunStats) {
    let mut err = std::io::stderr().lock();
    for (name, n) in [
        ("records_read", s.records_read),
        ("records_written", s.records_written),
        ("records_filtered", s.records_filtered),
        ("records_rejected", s.records_rejected),
        ("bytes_read", s.bytes_read),
    ] {
        let _ = writeln!(err, "reporter:counter:fanfold,{name},{n}");
    }
}

fn print_stats(s: &RunStats) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "fanfold: stats: records read {}, records written {}, records filtered {}, \
         records rejected {}, chunks {}, threads {}, bytes read {}, bytes parsed {}, \
         elapsed {:.3} s, {:.1} MB/s, peak chunks in flight {}",
        s.records_read,
        s.records_written,
        s.records_filtered,
        s.records_rejected,
        s.chunks,
        s.threads,
        s.bytes_read,
        s.bytes_parsed,
        s.elapsed_secs,
        s.mb_per_sec(),
        s.peak_in_flight
    );
    if s.comment_lines > 0 {
        let _ = writeln!(err, "fanfold: stats: {} comment lines skipped", s.comment_lines);
    }
    if s.chunks_resumed > 0 {
        let _ = writeln!(
            err,
            "fanfold: stats: {} of {} chunks resumed from the journal",
            s.chunks_resumed, s.chunks
        );
    }
    if s.spilled_runs > 0 {
        let _ = writeln!(
            err,
            "fanfold: stats: spilled {} sorted runs, {} bytes",
            s.spilled_runs, s.spilled_bytes
        );
    }
}
