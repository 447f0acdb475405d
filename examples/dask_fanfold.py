#!/usr/bin/env python3
"""Run a fanfold pipeline on a Dask cluster, byte for byte as one run.

The input is cut into line-aligned blocks (``dask.bag.read_text``); each
block goes through ``fanfold map`` in a subprocess on a worker (with
``--split-index`` its block's number, and for CSV ``--header-from`` the
input itself, since only the first block holds the header line); the map
outputs are merged in a tree of ``fanfold combine`` steps (``--fan-in``
at a time) and the last one, in key order, is written by ``fanfold reduce
--sorted``. A pipeline
with no reducer (``--map-only``) is the map outputs concatenated in block
order.

    python3 examples/dask_fanfold.py --fanfold target/release/fanfold \\
        --partitions 8 fixtures/flights.csv -- \\
        --group-by carrier --agg count,mean:arr_delay --null NA

Needs ``pip install 'dask[distributed]'``. The same flags go to every
step: they are what the partial lines' fingerprint is made of.
"""

import argparse
import os
import subprocess
import sys

import dask
import dask.bag as db
from dask.distributed import Client, LocalCluster


def fanfold(binary, step, flags, data, extra=()):
    """Runs ``fanfold STEP EXTRA FLAGS`` on ``data`` (bytes); its output."""
    done = subprocess.run(
        [binary, step, *extra, *flags], input=data, capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"fanfold {step} exited with {done.returncode}: {message}")
    return done.stdout


def run_pipeline(binary, path, flags, partitions, map_only=False, fan_in=4):
    """The output of the pipeline ``flags`` over the file at ``path``, run
    as ``partitions`` map steps (bytes). Runs on the current Dask client."""
    size = os.path.getsize(path)
    blocksize = max(1, -(-size // partitions))
    blocks = db.read_text(path, blocksize=blocksize).to_delayed()
    header = ["--header-from", path] if path.endswith((".csv", ".tsv")) else []

    @dask.delayed
    def map_block(lines, i):
        data = "".join(lines).encode()
        return fanfold(binary, "map", flags, data, ["--split-index", str(i), *header])

    @dask.delayed
    def combine(*outputs):
        return fanfold(binary, "combine", flags, b"".join(outputs))

    @dask.delayed
    def reduce(lines):
        # A combine's output is in key order: streamed key by key.
        return fanfold(binary, "reduce", flags, lines, ["--sorted"])

    mapped = [map_block(block, i) for i, block in enumerate(blocks)]
    if map_only:
        return b"".join(dask.compute(*mapped))
    level = mapped
    while True:
        level = [combine(*level[j : j + fan_in]) for j in range(0, len(level), fan_in)]
        if len(level) == 1:
            break
    return reduce(level[0]).compute()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanfold", default="fanfold", help="the fanfold binary")
    parser.add_argument("--partitions", type=int, default=8, help="map steps (blocks)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--fan-in", type=int, default=4, help="map outputs per combine")
    parser.add_argument("--map-only", action="store_true", help="a pipeline with no reducer")
    parser.add_argument("input", help="a CSV or NDJSON file")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="-- and the pipeline's flags")
    args = parser.parse_args()
    flags = args.flags[1:] if args.flags[:1] == ["--"] else args.flags
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, dashboard_address=None
    )
    with cluster, Client(cluster):
        out = run_pipeline(
            args.fanfold, args.input, flags, args.partitions, args.map_only, args.fan_in
        )
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
