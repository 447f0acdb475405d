#!/usr/bin/env python3
"""A stand-in for a slow classifier service, for `fanfold --exec`.

Reads a chunk of flights as CSV (header first) on standard input and
writes it back with two more columns: `delay_class` (on_time, late,
very_late or cancelled, from dep_delay) and `model` (which "model" answered).
Each call sleeps a little, as a request to a model would.

With --flaky, the first attempt at every third chunk fails like an
overloaded service (HTTP 503 on standard error, exit status 75), so that
`--retries` has something to do. With --stuck N, chunk N never answers
(for `--timeout`). fanfold sets FANFOLD_CHUNK (the chunk's
number, from 0) and FANFOLD_ATTEMPT (from 1) in the environment.

    fanfold fixtures/flights.csv --chunk-size 1000 --concurrency 8 --retries 2 \
        --exec 'python3 examples/classify_delays.py --flaky'
"""

import csv
import os
import sys
import time


def classify(dep_delay: str) -> str:
    if dep_delay in ("", "NA"):
        return "cancelled"
    minutes = float(dep_delay)
    if minutes <= 15:
        return "on_time"
    if minutes <= 120:
        return "late"
    return "very_late"


def main() -> int:
    chunk = int(os.environ.get("FANFOLD_CHUNK", "0"))
    attempt = int(os.environ.get("FANFOLD_ATTEMPT", "1"))
    if "--flaky" in sys.argv[1:] and chunk % 3 == 0 and attempt == 1:
        print(f"chunk {chunk}: HTTP 503 Service Unavailable (simulated)", file=sys.stderr)
        return 75
    args = sys.argv[1:]
    if "--stuck" in args and args[args.index("--stuck") + 1 :][:1] == [str(chunk)]:
        print(f"chunk {chunk}: waiting for the model...", file=sys.stderr, flush=True)
        time.sleep(3600)
    time.sleep(0.2)
    reader = csv.DictReader(sys.stdin)
    fields = list(reader.fieldnames or []) + ["delay_class", "model"]
    writer = csv.DictWriter(sys.stdout, fields, lineterminator="\n")
    writer.writeheader()
    for row in reader:
        row["delay_class"] = classify(row["dep_delay"])
        row["model"] = "rules-v1"
        writer.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
