//! The `fanfold` command: parses the command line, runs the pipeline,
//! reports errors with their place, and maps outcomes to exit codes.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use fanfold::{Output, RunStats};

/// Exit status of a run that finished but set records aside.
const EXIT_REJECTED: u8 = 3;

fn main() -> ExitCode {
    let (args, steps) = cli::Args::parse_checked();
    match run(&args, steps) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_REJECTED),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanfold: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs the command; returns the number of records set aside.
fn run(args: &cli::Args, steps: Vec<fanfold::transform::Step>) -> fanfold::Result<u64> {
    let pipeline = args.to_pipeline(steps)?;
    if args.explain {
        println!("{}", pipeline.plan());
        return Ok(0);
    }
    let mut output = match &args.output {
        Some(path) if path.as_os_str() != "-" => Output::file(path)?,
        _ => Output::stdout(),
    };
    let name = output.name().to_string();
    let stats = pipeline.run(&mut output, &name)?;
    output.commit()?;
    if args.stats {
        print_stats(&stats);
    }
    if let Some(path) = &args.stats_json {
        let json = stats_json(&stats);
        std::fs::write(path, json)
            .map_err(|e| fanfold::Error::io(path.display().to_string(), e))?;
    }
    if stats.records_rejected > 0 {
        let place = match (&args.on_error, &args.rejects) {
            (cli::OnErrorArg::Reject, Some(path)) => format!("written to {}", path.display()),
            _ => "skipped".to_string(),
        };
        eprintln!(
            "fanfold: {} of {} records rejected ({place})",
            stats.records_rejected, stats.records_read
        );
    }
    Ok(stats.records_rejected)
}

/// The run statistics as one JSON object.
fn stats_json(s: &RunStats) -> String {
    format!(
        "{{\"records_read\":{},\"records_written\":{},\"records_filtered\":{},\
         \"records_rejected\":{},\"chunks\":{},\"threads\":{},\"bytes_read\":{},\
         \"bytes_written\":{},\"elapsed_secs\":{:.6},\"peak_in_flight\":{}}}\n",
        s.records_read,
        s.records_written,
        s.records_filtered,
        s.records_rejected,
        s.chunks,
        s.threads,
        s.bytes_read,
        s.bytes_written,
        s.elapsed_secs,
        s.peak_in_flight
    )
}

fn print_stats(s: &RunStats) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "fanfold: stats: records read {}, records written {}, records filtered {}, \
         records rejected {}, chunks {}, threads {}, bytes read {}, elapsed {:.3} s, \
         {:.1} MB/s, peak chunks in flight {}",
        s.records_read,
        s.records_written,
        s.records_filtered,
        s.records_rejected,
        s.chunks,
        s.threads,
        s.bytes_read,
        s.elapsed_secs,
        s.mb_per_sec(),
        s.peak_in_flight
    );
}
