#!/usr/bin/env python3
"""What running a pipeline as map and reduce steps costs, against one run.

The input is PARTS files (whole-file splits of one table, each with its
header, e.g. the 10M-row benchmark file cut into 8 by id). For each
pipeline: the median wall time (of --rounds runs) of one fanfold run over
all the parts; of the map steps, one after the other, each over one part
(as an engine's tasks would run them, one per slot); of `LC_ALL=C sort`
over their lines; and of the reduce step. Also the partial lines' bytes,
and per line (one line per group a part holds). Prints a Markdown table.

    python3 benches/partials_overhead.py --fanfold target/release/fanfold \\
        /work/bench/parts/part*.csv
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

PIPELINES = [
    ("T1: group-by city (1k groups): count, sum, mean",
     ["--group-by", "city", "--agg", "count,sum:amount,mean:amount"]),
    ("group-by user (high cardinality): count, sum, mean",
     ["--group-by", "user", "--agg", "count,sum:amount,mean:amount"]),
    ("group-by category: median, stddev, approx_distinct:user",
     ["--group-by", "category", "--agg", "median:amount,stddev:amount,approx_distinct:user"]),
]


def timed(argv, stdin=None, stdout=None, env=None):
    started = time.monotonic()
    subprocess.run(argv, stdin=stdin, stdout=stdout, check=True, env=env)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanfold", default="target/release/fanfold")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("parts", nargs="+")
    args = parser.parse_args()
    size = sum(os.path.getsize(p) for p in args.parts)
    sort_env = dict(os.environ, LC_ALL="C")
    print(f"{len(args.parts)} parts, {size / 1e6:.0f} MB; medians of {args.rounds} runs\n")
    print("| pipeline | one run | map steps | sort | reduce | map + reduce | ratio "
          "| partial bytes | bytes per line |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in PIPELINES:
            one_out = os.path.join(tmp, "one")
            rows = []
            for _ in range(args.rounds):
                with open(one_out, "wb") as out:
                    one = timed([args.fanfold, *args.parts, *flags], stdout=out)
                maps = 0.0
                lines = []
                for i, part in enumerate(args.parts):
                    path = os.path.join(tmp, f"map{i}")
                    with open(path, "wb") as out:
                        maps += timed([args.fanfold, "map", part, "--split-index", str(i),
                                       *flags], stdout=out)
                    lines.append(path)
                sorted_path = os.path.join(tmp, "sorted")
                with open(sorted_path, "wb") as out:
                    sort = timed(["sort", "-S", "1G", *lines], stdout=out, env=sort_env)
                reduce_out = os.path.join(tmp, "reduce")
                with open(sorted_path, "rb") as inp, open(reduce_out, "wb") as out:
                    red = timed([args.fanfold, "reduce", "--sorted", *flags], stdin=inp, stdout=out)
                with open(one_out, "rb") as a, open(reduce_out, "rb") as b:
                    if a.read() != b.read():
                        raise SystemExit(f"{name}: the reduce's output differs from one run's")
                partial_bytes = sum(os.path.getsize(p) for p in lines)
                line_count = 0
                for path in lines:
                    with open(path, "rb") as f:
                        line_count += f.read().count(b"\n")
                with open(one_out, "rb") as a:
                    groups = a.read().count(b"\n") - 1
                rows.append((one, maps, sort, red, partial_bytes, (line_count, groups)))
            one, maps, sort, red = (statistics.median(r[i] for r in rows) for i in range(4))
            partial_bytes, (line_count, groups) = rows[0][4], rows[0][5]
            print(f"| {name} | {one:.2f} s | {maps:.2f} s | {sort:.2f} s | {red:.2f} s "
                  f"| {maps + red:.2f} s | {(maps + red) / one:.2f} "
                  f"| {partial_bytes / 1e6:.1f} MB | {partial_bytes / line_count:.0f} "
                  f"({line_count} lines, {groups} groups) |")


if __name__ == "__main__":
    main()
