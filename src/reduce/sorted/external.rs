//! The sorted reducer's external merge sort (see "Bounded memory" in the
//! [module docs](super)): the runs held in memory are merged into one
//! sorted run in a spill file, spilled runs are merged further in merge
//! passes of `fan_in` runs of one level, and at the end the spilled runs
//! and the runs still in memory are merged into the output. Spill files are
//! read through buffers that share the budget, 16 KiB to 1 MiB each.

use super::merge::Cursor;
use super::spill::{read_buffer, SpillOptions, SpillRun, SpillWriter};
use super::{Run, Sorted, SortedPartial};
use crate::error::{ErrorKind, Result};
use crate::reduce::{RecordBlocks, Sink};

impl Sorted {
    /// Merges the runs held in memory into one sorted run on disk, frees
    /// them, and merges spilled runs further when `fan_in` of one level
    /// have piled up.
    pub(super) fn spill_held(&self, total: &mut SortedPartial, opts: &SpillOptions) -> Result<()> {
        let n = self.keys.len();
        let runs: Vec<&Run> = total.runs.iter().collect();
        let lo = vec![0; runs.len()];
        let hi: Vec<usize> = runs.iter().map(|r| r.ends.len()).collect();
        let mut out = SpillWriter::create(&opts.dir)?;
        self.merge_runs(&runs, &lo, &hi, |run, i| {
            out.write(&run.keys[i * n..(i + 1) * n], &run.arena, run.record(i))
        })?;
        let run = out.finish()?;
        self.stats.count(&run);
        total.runs.clear();
        total.held = 0;
        total.spilled.push((run, 0));
        // Like a counter in base `fan_in`: `fan_in` runs of level n at the
        // end become one of level n + 1.
        loop {
            let k = total.spilled.len();
            let level = match total.spilled.last() {
                Some(&(_, level)) if k >= opts.fan_in => level,
                _ => break,
            };
            if total.spilled[k - opts.fan_in..].iter().any(|&(_, l)| l != level) {
                break;
            }
            let group: Vec<SpillRun> =
                total.spilled.drain(k - opts.fan_in..).map(|(r, _)| r).collect();
            let merged = self.merge_files(group, opts)?;
            total.spilled.push((merged, level + 1));
        }
        Ok(())
    }

    /// Merges consecutive spilled runs into one (a merge pass), reading
    /// each through a buffer of budget / runs bytes (16 KiB to 1 MiB).
    fn merge_files(&self, group: Vec<SpillRun>, opts: &SpillOptions) -> Result<SpillRun> {
        let buffer = read_buffer(opts.budget, group.len());
        let mut cursors = group
            .into_iter()
            .map(|r| r.read(self.keys.len(), buffer).map(Cursor::File))
            .collect::<Result<Vec<_>>>()?;
        let mut out = SpillWriter::create(&opts.dir)?;
        self.merge_cursors(&mut cursors, |c| match c {
            Cursor::File(r) => out.write_frame(r.frame()),
            Cursor::Mem { .. } => {
                Err(ErrorKind::Internal("a merge pass read a run in memory".into()).into())
            }
        })?;
        drop(cursors);
        let run = out.finish()?;
        self.stats.count(&run);
        Ok(run)
    }

    /// The final merge after a spill: at most `fan_in` spilled runs (after
    /// merge passes over the last ones) and the runs in memory, streamed
    /// to the sink.
    pub(super) fn finish_external(
        &self,
        total: &mut SortedPartial,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        let Some(opts) = &self.spill else {
            return Err(
                ErrorKind::Internal("runs were spilled without spill options".into()).into()
            );
        };
        while total.spilled.len() > opts.fan_in {
            let k = total.spilled.len();
            let group: Vec<SpillRun> =
                total.spilled.drain(k - opts.fan_in..).map(|(r, _)| r).collect();
            let merged = self.merge_files(group, opts)?;
            total.spilled.push((merged, u32::MAX));
        }
        // The buffers share what the runs in memory leave of the budget.
        let files = total.spilled.len();
        let buffer = read_buffer(opts.budget.saturating_sub(total.held), files);
        let mut cursors = Vec::with_capacity(files + total.runs.len());
        for (run, _) in total.spilled.drain(..) {
            cursors.push(Cursor::File(run.read(self.keys.len(), buffer)?));
        }
        let nkeys = self.keys.len();
        cursors.extend(total.runs.iter().map(|run| Cursor::Mem { run, pos: 0, nkeys }));
        let mut blocks = RecordBlocks::new(1 << 20);
        self.merge_cursors(&mut cursors, |c| blocks.push(c.record(), sink))?;
        blocks.finish(sink)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    use super::*;
    use crate::reduce::{SortKeySpec, SpillStats};

    /// Sorts `csv` by `keys` with chunks of `chunk` records on 2 threads,
    /// with or without spilling (`(budget, fan_in)`), and returns the
    /// output and the runs spilled.
    fn sort(csv: &str, keys: &str, chunk: usize, spill: Option<(u64, usize)>) -> (Vec<u8>, u64) {
        use crate::{ChunkLimit, Input, Pipeline};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, csv).unwrap();
        let spill_dir = tempfile::tempdir().unwrap();
        let pipeline = Pipeline::builder()
            .input(Input::Path(path))
            .chunk(ChunkLimit::Records(chunk))
            .threads(2)
            .max_in_flight(3)
            .build()
            .unwrap();
        let specs: Vec<SortKeySpec> = keys.split(',').map(|k| k.parse().unwrap()).collect();
        let stats = Arc::new(SpillStats::default());
        let mut out = Vec::new();
        pipeline
            .run_with(&mut out, "<mem>", |layout, enc| {
                let keys = specs
                    .iter()
                    .map(|k| Ok((layout.resolve(crate::Setting::SortBy, &k.column)?, k.clone())))
                    .collect::<Result<Vec<_>>>()?;
                let sorted = Sorted::new(keys, enc, vec![b"NA".to_vec()]);
                Ok(match spill {
                    None => sorted,
                    Some((budget, fan_in)) => {
                        let dir = spill_dir.path().to_path_buf();
                        sorted.with_spill(SpillOptions { budget, dir, fan_in }, stats.clone())
                    }
                })
            })
            .unwrap();
        assert_eq!(std::fs::read_dir(spill_dir.path()).unwrap().count(), 0);
        (out, stats.runs.load(Relaxed))
    }

    #[test]
    fn spilled_runs_and_merge_passes_give_the_in_memory_bytes() {
        let mut csv = String::from("id,k,name\n");
        for i in 0..3000u64 {
            // Many ties, missing values (empty and NA), text that needs quoting.
            let k = match i % 41 {
                0 => String::new(),
                1 => "NA".into(),
                _ => ((i * 7919) % 53).to_string(),
            };
            let name =
                if i % 7 == 0 { format!("\"n,{}\"", i % 13) } else { format!("n{}", i % 11) };
            csv.push_str(&format!("{i},{k},{name}\n"));
        }
        for keys in ["k:n", "k:n:desc,name", "name:desc", "name,k:n:desc"] {
            let (expected, none) = sort(&csv, keys, 50, None);
            assert_eq!(none, 0);
            // (budget, fan-in): a spill per chunk with passes of 2 and 3,
            // a few spills, and a budget never reached.
            for (budget, fan_in) in [(1, 2), (1, 3), (40_000, 2), (40_000, 128), (1 << 40, 2)] {
                let (out, spilled) = sort(&csv, keys, 50, Some((budget, fan_in)));
                assert!(out == expected, "{keys}, budget {budget}, fan-in {fan_in}: differs");
                match budget {
                    // 60 chunks, 60 spills, plus the merge passes.
                    1 => assert!(spilled > 60, "{spilled}"),
                    40_000 => assert!(spilled > 1, "{spilled}"),
                    _ => assert_eq!(spilled, 0),
                }
            }
        }
    }
}
