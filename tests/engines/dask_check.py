#!/usr/bin/env python3
"""The Dask run of fanfold pipelines gives the bytes of one run.

Run by .ci/run (through tests/engines/dask.sh, which makes a virtual
environment with dask[distributed]): each pipeline below runs once on the
flights fixture as one fanfold run, and once on a Dask LocalCluster as map,
combine and reduce steps (examples/dask_fanfold.py); the outputs must be
the same bytes. Exits 1 naming the pipelines that differ.

    python3 tests/engines/dask_check.py target/debug/fanfold
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))

from dask.distributed import Client, LocalCluster  # noqa: E402

from dask_fanfold import run_pipeline  # noqa: E402

CSV = os.path.join(ROOT, "fixtures", "flights.csv")
NDJSON = os.path.join(ROOT, "fixtures", "flights.ndjson")

EVERY_AGGREGATE = (
    "count,count:dep_delay,sum:distance,mean:arr_delay,min:dep_delay,max:dep_delay,"
    "min:tailnum,max:tailnum,count_distinct:dest,mode:dest,first:tailnum,last:tailnum,"
    "var_samp:arr_delay,var_pop:arr_delay,stddev_samp:arr_delay,stddev_pop:arr_delay,"
    "median:dep_delay,quantile_cont:air_time:0.25,quantile_disc:air_time:0.75,"
    "approx_distinct:tailnum,approx_quantile:air_time:0.9"
)

# (name, input, flags, map only)
PIPELINES = [
    ("group-by, every aggregate", CSV,
     ["--group-by", "carrier,origin", "--agg", EVERY_AGGREGATE, "--null", "NA"], False),
    ("group-by over NDJSON with transforms", NDJSON,
     ["--input-format", "ndjson", "--filter", ".distance > 500",
      "--map", ".late = (.arr_delay // 0) > 15", "--group-by", "month,late",
      "--agg", "count,mean:dep_delay,first:tailnum,median:air_time"], False),
    ("top 3 per group", CSV,
     ["--top", "3", "--sort-by", "dep_delay:n:desc", "--group-by", "carrier",
      "--null", "NA"], False),
    ("custom reducer", CSV,
     ["--reduce-init", "{}",
      "--reduce-update", ".[$record.carrier] += [$record.dep_delay]",
      "--reduce-merge",
      "$left as $l | $right | to_entries | reduce .[] as $e ($l; .[$e.key] += $e.value)",
      "--reduce-finish",
      "to_entries[] | {carrier: .key, n: (.value | length), "
      "firsts: (.value[:3] | map(tostring) | join(\";\"))}",
      "--null", "NA"], False),
    ("sort", CSV, ["--sort-by", "dest,arr_delay:n:desc", "--null", "NA"], False),
    ("concat with --map", CSV,
     ["--filter", ".month == 1", "--map", ".late = .dep_delay > 30", "--null", "NA"], True),
]


def one_run(binary, path, flags):
    done = subprocess.run([binary, path, *flags], capture_output=True, check=True)
    return done.stdout


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/debug/fanfold")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    failed = []
    with cluster, Client(cluster):
        for name, path, flags, map_only in PIPELINES:
            expected = one_run(binary, path, flags)
            got = run_pipeline(binary, path, flags, partitions=5, map_only=map_only, fan_in=2)
            same = got == expected and len(expected) > 100
            print(f"{'same' if same else 'DIFFERENT'}: {name} ({len(expected)} bytes)")
            if not same:
                failed.append(name)
    if failed:
        print(f"the Dask runs differ from one run: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
