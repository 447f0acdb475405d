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

With --noisy it is a sampled model that errs: about one record in ten gets
a wrong class, different records for each replica (FANFOLD_REPLICA), for
`--replicas K --vote delay_class`.

With --persistent it is a long-lived worker for `--exec-persistent`: it
reads one JSON object a line and answers each at once with one line, the
record with the two columns (null for a record without dep_delay,
which it drops). It sleeps 0.2 s when it starts, as loading a model would.
"""

import csv
import json
import os
import sys
import time
import hashlib

CLASSES = ["on_time", "late", "very_late", "cancelled"]


def classify(dep_delay) -> str:
    if dep_delay in ("", "NA", None):
        return "cancelled"
    minutes = float(dep_delay)
    if minutes <= 15:
        return "on_time"
    if minutes <= 120:
        return "late"
    return "very_late"


def noisy(row: dict, label: str) -> str:
    """The label, or with --noisy for about one record in ten a wrong one
    that depends on the record and the replica."""
    if "--noisy" not in sys.argv[1:]:
        return label
    replica = os.environ.get("FANFOLD_REPLICA", "0")
    key = f"{row['year']}-{row['month']}-{row['day']}-{row['flight']}-{replica}"
    h = int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "big")
    if h % 10:
        return label
    return CLASSES[(CLASSES.index(label) + 1 + h // 10 % 3) % 4]


def persistent() -> int:
    time.sleep(0.2)
    for line in sys.stdin:
        row = json.loads(line)
        if "dep_delay" not in row:
            print("null", flush=True)
            continue
        row["delay_class"] = classify(row["dep_delay"])
        row["model"] = "rules-v1"
        print(json.dumps(row), flush=True)
    return 0


def main() -> int:
    if "--persistent" in sys.argv[1:]:
        return persistent()
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
        row["delay_class"] = noisy(row, classify(row["dep_delay"]))
        row["model"] = "rules-v1"
        writer.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
