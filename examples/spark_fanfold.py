#!/usr/bin/env python3
"""Run a fanfold pipeline on Spark with RDD.pipe, as map, combine and reduce.

    python3 examples/spark_fanfold.py --fanfold "$PWD/target/release/fanfold" \\
        --partitions 8 fixtures/flights.csv -- \\
        --group-by carrier --agg count,mean:arr_delay --null NA

The input is read by lines (``textFile``: only the first split holds the
CSV header, so every map step gets ``--header-from`` the input); each
split goes through ``fanfold map``; ``sortByKey`` shuffles
the partial lines into key ranges, sorted, which ``fanfold combine
--sorted`` merges range by range; the ranges, in order, go through one
``fanfold reduce --sorted``.
The output is written to standard output.

``RDD.pipe`` is called with ``checkCode=True``: with its default (False), a
step that fails gives zero lines and no error, and the job "succeeds"
with a wrong answer.

``RDD.pipe`` runs one command line for every split, so it cannot tell a
map step its split's number (``--split-index``), which orders ``first``,
``last``, the ties of ``mode``, ``min`` and ``max``, and a sort's ties, as
one run does. So the map steps run through ``mapPartitionsWithIndex``
(``pipe_split`` below: the same subprocess, the same exit-code check),
and the combine and reduce steps through ``RDD.pipe``.

Needs ``pip install pyspark`` and a Java runtime (Debian: openjdk-17-jre).
"""

import argparse
import shlex
import subprocess
import sys
import time

from pyspark.sql import SparkSession


def pipe_split(command):
    """A function for ``mapPartitionsWithIndex``: split ``i``'s lines
    through ``command + ["--split-index", i]``, its output lines back;
    a non-zero exit is an error, as ``RDD.pipe(checkCode=True)`` makes it."""

    def run(index, lines):
        data = "".join(f"{line}\n" for line in lines).encode()
        argv = [*command, "--split-index", str(index)]
        done = subprocess.run(argv, input=data, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} exited with {done.returncode}: "
                               f"{done.stderr.decode(errors='replace')}")
        return done.stdout.decode().splitlines()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanfold", default="fanfold", help="the fanfold binary (a full path)")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--partitions", type=int, default=8, help="input splits, at least")
    parser.add_argument("--ranges", type=int, default=2, help="key ranges of the shuffle")
    parser.add_argument("input", help="a CSV or NDJSON file")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="-- and the pipeline's flags")
    args = parser.parse_args()
    flags = args.flags[1:] if args.flags[:1] == ["--"] else args.flags
    quoted = " ".join(shlex.quote(f) for f in flags)
    header = ""
    if args.input.endswith((".csv", ".tsv")):
        header = f"--header-from {shlex.quote(args.input)} "
    fanfold = shlex.quote(args.fanfold)

    started = time.monotonic()
    spark = SparkSession.builder.master(args.master).appName("fanfold").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    sc = spark.sparkContext
    lines = sc.textFile(args.input, minPartitions=args.partitions)
    map_command = [args.fanfold, "map", *shlex.split(header), *flags]
    partials = lines.mapPartitionsWithIndex(pipe_split(map_command))
    ranges = (
        partials.map(lambda line: tuple(line.split("\t", 1)))
        .sortByKey(numPartitions=args.ranges)
        .map(lambda kv: f"{kv[0]}\t{kv[1]}")
        .pipe(f"{fanfold} combine --sorted {quoted}", checkCode=True)
    )
    reduce = f"{fanfold} reduce --sorted {quoted}"
    rows = ranges.coalesce(1).pipe(reduce, checkCode=True).collect()
    elapsed = time.monotonic() - started
    spark.stop()
    sys.stdout.write("".join(f"{row}\n" for row in rows))
    print(f"spark_fanfold: {elapsed:.1f} s on {args.master}", file=sys.stderr)


if __name__ == "__main__":
    main()
