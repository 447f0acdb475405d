//! `--replicas K --vote FIELD`: run each chunk K times through an external
//! step and keep, per record, the value of FIELD most replicas agree on.
//!
//! - **Replicas** run at once, under the step's `--concurrency` permits
//!   (a replica waits for a permit like any chunk), each with its own
//!   attempts, retries and timeouts. Per-chunk commands (`--exec`) see
//!   `FANFOLD_REPLICA` (from 0) in their environment; persistent workers
//!   (`--exec-persistent`) serve every replica, so they cannot be told
//!   apart that way.
//! - **Records are matched by position**: record i of each replica's
//!   output. When the replicas that succeeded printed different numbers of
//!   records, the chunk fails (`--on-error` handles it) with a reason that
//!   names each replica's count: there is no sound way to pair the
//!   records up, and guessing would vote across different records.
//! - **Values are compared by their JSON text**, whitespace removed (`1.5`
//!   and `1.50` differ; CSV fields are compared as the JSON values they
//!   stand for). A missing field is a value of its own (it counts as
//!   `null` would not: it only agrees with other missing fields).
//! - **The winner** is the value with the most votes; a tie goes to the
//!   value of the lowest replica among the tied ones. The output record is
//!   that replica's record (so FIELD already holds the winning value, and
//!   the other fields are consistent with it), with one more field,
//!   `FIELD_agreement` (replacing one of that name): votes / K as a JSON
//!   number in Rust's shortest round-trip form (`1`, `0.5`,
//!   `0.6666666666666666`), deterministic for any run.
//! - **A replica that fails** after its retries does not vote, but K stays
//!   the denominator: with one of three replicas failed, two that agree
//!   give `0.6666666666666666`. The chunk fails only when every replica
//!   failed (the reason is replica 0's), or on a record count mismatch.
//!
//! ```
//! use fanfold::{ExecSpec, Input, Pipeline, Step};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("in.csv");
//! std::fs::write(&path, "id\n1\n2\n")?;
//! // Replica 2 labels every record `b`, the others `a`.
//! let mut labeler = ExecSpec::new(
//!     r#"sh -c 'read -r h; echo "$h,label"; while read -r l; do
//!         if [ "$FANFOLD_REPLICA" = 2 ]; then echo "$l,b"; else echo "$l,a"; fi; done'"#,
//! )?;
//! labeler.replicas = 3;
//! labeler.vote = Some("label".into());
//! let pipeline = Pipeline::builder().input(Input::Path(path)).step(Step::Exec(labeler)).build()?;
//! let mut out = Vec::new();
//! pipeline.run(&mut out, "<memory>")?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "id,label,label_agreement\n1,a,0.6666666666666666\n2,a,0.6666666666666666\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{msg, Message, Setting};
use crate::syntax::json::{write_compact_json, write_json_string};
use crate::syntax::json_object::object_pairs;
use crate::syntax::number::format_f64;

/// The name of the column that holds the agreement ratio for `field`.
pub fn agreement_key(field: &str) -> String {
    format!("{field}_agreement")
}

/// Votes on `field` across the replicas' outputs (`outputs[r]`: replica
/// r's NDJSON records, one object per line; `None`: it failed). Returns
/// the voted records as NDJSON lines, one per record position.
///
/// # Errors
/// A message when the replicas that succeeded printed different numbers of
/// records, or a line is not a JSON object (the outputs are checked
/// before, so this is a bug).
pub(crate) fn vote(outputs: &[Option<&[u8]>], field: &str) -> Result<Vec<u8>, Message> {
    let k = outputs.len();
    let texts: Vec<Option<Vec<&str>>> = outputs
        .iter()
        .map(|o| {
            o.map(|bytes| {
                let text = std::str::from_utf8(bytes).unwrap_or_default();
                text.lines().filter(|l| !l.trim().is_empty()).collect()
            })
        })
        .collect();
    let counts: Vec<Option<usize>> = texts.iter().map(|t| t.as_ref().map(Vec::len)).collect();
    let mut known = counts.iter().flatten();
    let n = known.next().copied().unwrap_or(0);
    if known.any(|&c| c != n) {
        let shown: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(r, c)| match c {
                Some(c) => format!("replica {r}: {c}"),
                None => format!("replica {r}: failed"),
            })
            .collect();
        return Err(msg![
            format!("the replicas printed different numbers of records ({}); ", shown.join(", ")),
            Setting::Vote,
            " matches records by position",
        ]);
    }
    let agreement = agreement_key(field);
    let mut out = Vec::new();
    let mut pairs = Vec::new();
    for i in 0..n {
        // (value, votes, first replica with it), in order of first replica.
        let mut tally: Vec<(Option<Vec<u8>>, usize, usize)> = Vec::new();
        for (r, lines) in texts.iter().enumerate() {
            let Some(line) = lines.as_ref().and_then(|l| l.get(i)) else { continue };
            pairs.clear();
            object_pairs(line, &mut pairs)
                .map_err(|e| format!("replica {r}, record {}: not a JSON object: {e}", i + 1))?;
            let value = pairs.iter().rev().find(|(key, _)| key == field).map(|(_, v)| {
                let mut text = Vec::new();
                write_compact_json(&mut text, v.as_bytes());
                text
            });
            match tally.iter_mut().find(|(v, _, _)| *v == value) {
                Some((_, votes, _)) => *votes += 1,
                None => tally.push((value, 1, r)),
            }
        }
        let mut best = (0, usize::MAX);
        for &(_, votes, replica) in &tally {
            if votes > best.0 {
                best = (votes, replica);
            }
        }
        let (votes, winner) = best;
        let line = texts
            .get(winner)
            .and_then(|t| t.as_ref())
            .and_then(|l| l.get(i))
            .ok_or_else(|| format!("record {}: no replica voted", i + 1))?;
        pairs.clear();
        object_pairs(line, &mut pairs)
            .map_err(|e| format!("replica {winner}, record {}: not a JSON object: {e}", i + 1))?;
        out.push(b'{');
        for (key, value) in pairs.iter().filter(|(key, _)| *key != agreement.as_str()) {
            write_json_string(&mut out, key.as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
            out.push(b',');
        }
        write_json_string(&mut out, agreement.as_bytes());
        out.push(b':');
        format_f64(votes as f64 / k.max(1) as f64, &mut out);
        out.extend_from_slice(b"}\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outputs: &[Option<&str>], field: &str) -> Result<String, String> {
        let bytes: Vec<Option<&[u8]>> = outputs.iter().map(|o| o.map(str::as_bytes)).collect();
        vote(&bytes, field).map(|v| String::from_utf8(v).expect("UTF-8")).map_err(|m| m.to_string())
    }

    #[test]
    fn majority_wins_and_keeps_its_record() {
        let out = run(
            &[
                Some("{\"id\":1,\"c\":\"a\",\"r\":0}\n{\"id\":2,\"c\":\"x\",\"r\":0}\n"),
                Some("{\"id\":1,\"c\":\"b\",\"r\":1}\n{\"id\":2,\"c\": \"x\",\"r\":1}\n"),
                Some("{\"id\":1,\"c\":\"b\",\"r\":2}\n{\"id\":2,\"c\":\"x\",\"r\":2}\n"),
            ],
            "c",
        );
        assert_eq!(
            out.unwrap(),
            "{\"id\":1,\"c\":\"b\",\"r\":1,\"c_agreement\":0.6666666666666666}\n\
             {\"id\":2,\"c\":\"x\",\"r\":0,\"c_agreement\":1}\n"
        );
    }

    #[test]
    fn ties_go_to_the_lowest_replica_and_failures_do_not_vote() {
        let out = run(&[Some("{\"c\":1}\n"), Some("{\"c\":2}\n"), None, Some("{\"c\":2}\n")], "c");
        assert_eq!(out.unwrap(), "{\"c\":2,\"c_agreement\":0.5}\n");
        let out = run(&[None, Some("{\"c\":2}\n"), Some("{\"c\":1}\n")], "c");
        assert_eq!(out.unwrap(), "{\"c\":2,\"c_agreement\":0.3333333333333333}\n");
        // Missing agrees only with missing; an old agreement field is replaced.
        let out = run(&[Some("{\"d\":1,\"c_agreement\":9}\n"), Some("{\"c\":null}\n")], "c");
        assert_eq!(out.unwrap(), "{\"d\":1,\"c_agreement\":0.5}\n");
    }

    #[test]
    fn different_record_counts_fail() {
        let e = run(&[Some("{\"c\":1}\n"), None, Some("{\"c\":1}\n{\"c\":1}\n")], "c").unwrap_err();
        assert_eq!(
            e,
            "the replicas printed different numbers of records (replica 0: 1, replica 1: \
             failed, replica 2: 2); vote matches records by position"
        );
    }
}
