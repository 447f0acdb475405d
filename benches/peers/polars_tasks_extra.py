#!/usr/bin/env python3
"""Polars side of the suite's own tasks (T6, T7, T8, T9), in the style of the kit's
../shared/bench/polars_tasks.py (T1-T5). Usage: polars_tasks_extra.py TASK INPUT OUTPUT
Threads: set POLARS_MAX_THREADS before starting (read at import time)."""
import sys

import polars as pl

task, inp, out = sys.argv[1:4]

if task == "t6":  # group-by user (~100k groups): count, sum(amount), mean(amount)
    (pl.scan_csv(inp)
       .group_by("user")
       .agg(pl.len().alias("n"), pl.col("amount").sum().alias("sum_amount"),
            pl.col("amount").mean().alias("mean_amount"))
       .sort("user")
       .sink_csv(out))
elif task == "t7":  # group-by id (every key unique): count, sum(amount)
    (pl.scan_csv(inp)
       .group_by("id")
       .agg(pl.len().alias("n"), pl.col("amount").sum().alias("sum_amount"))
       .sort("id")
       .sink_csv(out))
elif task == "t8":  # group-by city: median and 0.95 quantile (linear) of amount
    (pl.scan_csv(inp)
       .group_by("city")
       .agg(pl.col("amount").median().alias("median_amount"),
            pl.col("amount").quantile(0.95, "linear").alias("q95_amount"))
       .sort("city")
       .sink_csv(out))
elif task == "t9":  # group-by city: approximate distinct users (HyperLogLog)
    (pl.scan_csv(inp)
       .group_by("city")
       .agg(pl.col("user").approx_n_unique().alias("users"))
       .sort("city")
       .sink_csv(out))
else:
    sys.exit(f"unknown task {task}")
