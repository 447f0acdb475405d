//! A pipeline extended in Rust: a custom map step ([`MapRecord`]) that
//! computes each flight's speed, and a custom [`Reducer`] that averages it
//! per scheduled hour. Run on the fixture:
//!
//! ```text
//! cargo run --release --example speed_by_hour -- fixtures/flights.csv
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use fanfold::{
    ColumnRef, Field, Input, JsonRecord, MapError, MapRecord, Pipeline, Record, Reducer, Setting,
    Sink, Step,
};

/// Adds `mph` = distance / air_time × 60; drops flights without an air time.
#[derive(Debug)]
struct Speed;

impl MapRecord for Speed {
    fn name(&self) -> &str {
        "speed"
    }

    fn map(&self, mut record: JsonRecord, out: &mut Vec<JsonRecord>) -> Result<(), MapError> {
        let number = |key: &str| record.get(key).and_then(|v| v.as_f64());
        if let (Some(distance), Some(air_time)) = (number("distance"), number("air_time")) {
            if air_time > 0.0 {
                record.insert("mph".into(), (distance / air_time * 60.0).into());
                out.push(record);
            }
        }
        Ok(())
    }
}

/// Mean `mph` per `hour`: partials are (sum, count) per hour, merged in
/// input order. Float addition is not associative, so a sum can differ in
/// its last bits between chunkings: the example rounds the mean to one
/// decimal (fanfold's own `--agg mean:col` sums exactly instead).
#[derive(Debug)]
struct MeanPerHour {
    hour: ColumnRef,
    mph: ColumnRef,
}

impl Reducer for MeanPerHour {
    type Partial = BTreeMap<u64, (f64, u64)>;

    fn empty(&self) -> Self::Partial {
        BTreeMap::new()
    }

    fn fold(&self, partial: &mut Self::Partial, record: &Record<'_>) -> fanfold::Result<()> {
        let number = |f: Field<'_>| {
            f.text().and_then(|t| std::str::from_utf8(&t).ok().and_then(|s| s.parse::<f64>().ok()))
        };
        if let (Some(hour), Some(mph)) =
            (number(record.get(&self.hour)), number(record.get(&self.mph)))
        {
            let e = partial.entry(hour as u64).or_default();
            e.0 += mph;
            e.1 += 1;
        }
        Ok(())
    }

    fn merge(&self, total: &mut Self::Partial, next: Self::Partial) -> fanfold::Result<()> {
        for (hour, (sum, n)) in next {
            let e = total.entry(hour).or_default();
            e.0 += sum;
            e.1 += n;
        }
        Ok(())
    }

    fn finish(&self, total: Self::Partial, sink: &mut Sink<'_>) -> fanfold::Result<()> {
        let mut out = String::from("hour,flights,mean_mph\n");
        for (hour, (sum, n)) in &total {
            out.push_str(&format!("{hour},{n},{:.1}\n", sum / *n as f64));
        }
        sink.write(out.as_bytes(), total.len() as u64)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "fixtures/flights.csv".into());
    let pipeline = Pipeline::builder()
        .input(Input::Path(path.into()))
        .null_markers(["NA"])
        .step(Step::Rust(Arc::new(Speed)))
        .build()?;
    let mut stdout = std::io::stdout().lock();
    pipeline.run_with(&mut stdout, "<stdout>", |layout, _encoder| {
        Ok(MeanPerHour {
            hour: layout.resolve(Setting::Reduce, "hour")?,
            mph: layout.resolve(Setting::Reduce, "mph")?,
        })
    })?;
    Ok(())
}
