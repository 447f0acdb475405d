//! A tour of the library on the fixture: a pipeline built and run, output
//! records handed to a callback, a reader input, one pipeline feeding
//! another, and a cancelled run. Run from the repository's root:
//!
//! ```text
//! cargo run --release --example library_tour -- fixtures/flights.csv
//! ```
//!
//! The README's library section quotes this file.

use std::io::Write;

use fanfold::{ErrorKind, Format, Input, Pipeline, ReduceSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "fixtures/flights.csv".into());
    let flights = || Input::Path(path.clone().into());
    let mut stdout = std::io::stdout().lock();

    // 1. Build (the settings are checked here), then run into a writer.
    let per_carrier = Pipeline::builder()
        .input(flights())
        .null_markers(["NA"])
        .group_by(["carrier"])
        .agg("count".parse()?)
        .agg("mean:arr_delay".parse()?)
        .build()?;
    let stats = per_carrier.run(&mut stdout, "<stdout>")?;
    writeln!(stdout, "({} records read)\n", stats.records_read)?;

    // 2. Output records to a callback, in output order.
    let latest = Pipeline::builder()
        .input(flights())
        .null_markers(["NA"])
        .reduce(ReduceSpec::TopK {
            k: 3,
            keys: vec!["dep_delay:n:desc".parse()?],
            group_by: Vec::new(),
        })
        .build()?;
    latest.run_for_each(|rec| {
        // A JSON value: strings unquoted, numbers as written.
        let text = |key: &str| match rec.value(key) {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let (carrier, flight, delay) = (text("carrier"), text("flight"), text("dep_delay"));
        writeln!(stdout, "{carrier} {flight} left {delay} minutes late")
    })?;
    writeln!(stdout)?;

    // 3. Any `Read` as an input (read once, named in messages).
    let names = "carrier,name\nUA,United Air Lines\nAA,American Airlines\n";
    let reader = Pipeline::builder()
        .input(Input::reader("carriers", std::io::Cursor::new(names)))
        .filter(r#".carrier == "UA""#)
        .output_format(Format::Ndjson)
        .build()?;
    reader.run(&mut stdout, "<stdout>")?;
    writeln!(stdout)?;

    // 4. One pipeline's output as another's input (NDJSON through a pipe).
    let delayed = Pipeline::builder().input(flights()).filter(".dep_delay > 120").build()?;
    let delayed_per_origin = Pipeline::builder()
        .input(Input::pipeline("delayed", delayed))
        .output_format(Format::Csv)
        .group_by(["origin"])
        .agg("count".parse()?)
        .build()?;
    delayed_per_origin.run(&mut stdout, "<stdout>")?;
    writeln!(stdout)?;

    // 5. Cancel a run through its token (here before it starts; from
    // another thread, clone the token first).
    let cancelled = Pipeline::builder().input(flights()).build()?;
    cancelled.cancel().cancel();
    let err = cancelled.run(&mut std::io::sink(), "<sink>").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Cancelled));
    writeln!(stdout, "cancelled: {err}")?;
    Ok(())
}
