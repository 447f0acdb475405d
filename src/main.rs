//! The `fanfold` command: parses the command line, runs the pipeline,
//! reports errors with their place, and maps outcomes to exit codes.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use fanfold::{Output, RunStats};

fn main() -> ExitCode {
    let (args, steps) = cli::Args::parse_checked();
    match run(&args, steps) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanfold: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &cli::Args, steps: Vec<fanfold::transform::Step>) -> fanfold::Result<()> {
    let pipeline = args.to_pipeline(steps)?;
    if args.explain {
        println!("{}", pipeline.plan());
        return Ok(());
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
    Ok(())
}

fn print_stats(s: &RunStats) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "fanfold: stats: records read {}, records written {}, chunks {}, threads {}, \
         bytes read {}, elapsed {:.3} s, {:.1} MB/s, peak chunks in flight {}",
        s.records_read,
        s.records_written,
        s.chunks,
        s.threads,
        s.bytes_read,
        s.elapsed_secs,
        s.mb_per_sec(),
        s.peak_in_flight
    );
    if s.spilled_runs > 0 {
        let _ = writeln!(
            err,
            "fanfold: stats: spilled {} sorted runs, {} bytes",
            s.spilled_runs, s.spilled_bytes
        );
    }
}
