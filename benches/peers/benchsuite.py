#!/usr/bin/env python3
"""Peer benchmark suite: fanfold beside DuckDB, Polars and shell floors.

In the spirit of ripgrep's benchsuite: the same tasks as the peer kit in
../shared/bench/ (T1-T5, see its README.md) and two of the suite's own
(T6, T7: group-by with many groups; T8: exact quantiles; T1gz, T1zst: T1 on the
gzip and zstd files), run by fanfold and by the tools its
users would otherwise reach for, on the same generated data, timed in one
session and checked for agreement afterwards. The suite never builds
fanfold: it times the binary --fanfold names (default target/release/fanfold).

    python3 benches/peers/benchsuite.py [--data-dir DIR] [--rounds N]
        [--only REGEX] [--fanfold PATH] [--no-install] [--out FILE.md]

Timing: every command runs under `/usr/bin/time -f '%e %U %S %M'` (wall,
user, sys, peak RSS of the largest process), the commands alternated
round-robin: one warm-up round, then N rounds (default 5); "slow" peers
(Miller, xsv sort) get no warm-up and at most 3 rounds. Reported: median
wall, median user+sys, max peak RSS, MB/s (input bytes / median wall) and
fanfold's wall divided by each peer's. Each command's previous output is
deleted before each run, outside the timed region, so no run pays for
freeing the page cache of the file it overwrites.

Correctness: after timing, the outputs are compared with the logic of the
kit's check_outputs.py (copied below; T6/T7 with the suite's own
group_digest, T8 with quantile_table to a relative 1e-9, T9's estimates to
25% of DuckDB's) and each is
reported AGREES/DIFFERS.

Standard library only; the tools it times are separate processes, and the
T4 check uses the duckdb Python module (or the DuckDB CLI without it).
Exit status: 0 when every command ran and every output agrees, else 1.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import filecmp
import hashlib
import io
import importlib.util
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KIT = REPO.parent / "shared" / "bench"  # ../shared/bench, relative to the repo root
KIT_POLARS = KIT / "polars_tasks.py"  # Polars side of T1-T5
OWN_POLARS = Path(__file__).resolve().parent / "polars_tasks_extra.py"  # ... and of T6, T7
WORK = REPO / "target" / "peer-bench"  # outputs, logs and generated data
PY = sys.executable  # the interpreter itself, not a pyenv shim (its start-up costs ~50 ms)

# rows per data set the tasks read (gen_data.py --rows N --out-prefix data/rows_<name>)
DATASETS = {"10m": 10_000_000, "1m": 1_000_000}

SLOW_ROUNDS = 3  # "slow" commands: no warm-up, at most this many timed rounds
FANFOLD_ORIGIN = ""  # where the timed fanfold binary came from (set by `snapshot`)

# amount > 5000.00 as a regex on the 2-decimal text (xsv has no numeric filter); from anchors.sh
GT5000 = (r"^(5000\.(0[1-9]|[1-9][0-9])|500[1-9]\.[0-9]{2}|50[1-9][0-9]\.[0-9]{2}"
          r"|5[1-9][0-9]{2}\.[0-9]{2}|[6-9][0-9]{3}\.[0-9]{2}|10000\.00)$")

TASKS = {
    "T1": "group-by city: count, sum(amount), mean(amount); 10M CSV",
    "T1gz": "T1 on rows_10m.csv.gz (gzip -6), each tool decompressing it itself",
    "T1zst": "T1 on rows_10m.csv.zst (zstd -3), each tool decompressing it itself",
    "T2": "filter amount > 5000, keep id,city,amount; 10M CSV",
    "T3": "full sort by amount desc, ties by id; 1M CSV",
    "T4": "CSV to NDJSON; 10M CSV",
    "T5": "group-by category: count, sum(amount); 10M NDJSON",
    "T6": "group-by user (~100k groups): count, sum(amount), mean(amount); 10M CSV",
    "T7": "group-by id (10M groups, one row each): count, sum(amount); 10M CSV",
    "T8": "group-by city: median(amount), 0.95 quantile (linear) of amount; 10M CSV",
    "T9": "group-by city: approximate distinct users; 10M CSV",
    "F": "floors and start-up costs",
}


@dataclass
class Cmd:
    """One timed command. `threads` is '1' or 'all'; rows compare like with like."""
    id: str
    task: str  # T1..T7, or F for floors
    tool: str
    input: str | None  # data set file name (rows_10m.csv), None for start-up probes
    cmd: str | None  # shell command run from WORK; None: not available (see `note`)
    output: str | None = None  # path relative to WORK
    cls: str = "fast"  # fast | slow
    threads: str = "all"
    note: str = ""
    runs: list = field(default_factory=list)  # (wall, cpu, rss_kib, busy elsewhere) per round
    failed: str = ""

    @property
    def is_fanfold(self) -> bool:
        return self.tool.startswith("fanfold")

    @property
    def is_peer(self) -> bool:
        return self.task != "F" and not self.is_fanfold


# --------------------------------------------------------------------------- tools

def have(prog: str) -> bool:
    return shutil.which(prog) is not None


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def duckdb_cli() -> str | None:
    """The native binary shipped in the duckdb-cli wheel (its bin/duckdb is a Python launcher)."""
    spec = importlib.util.find_spec("duckdb_cli")
    if spec and spec.origin:
        exe = os.path.join(os.path.dirname(spec.origin), "duckdb")
        if os.access(exe, os.X_OK):
            return exe
    return shutil.which("duckdb")


def sh(args: list[str], check: bool = False) -> subprocess.CompletedProcess:
    print("+ " + " ".join(shlex.quote(a) for a in args), file=sys.stderr)
    return subprocess.run(args, check=check)


def install_tools(cargo: bool) -> None:
    """Install missing peers as anchors.sh does: pip (duckdb, polars, duckdb-cli),
    apt (time, required; miller, optional), cargo (xsv, xan) only when asked."""
    pip = [m for m in ("duckdb", "polars") if not has_module(m)]
    if not has_module("duckdb_cli"):
        pip.append("duckdb-cli")
    if pip:
        sh([PY, "-m", "pip", "install", "-q", *pip], check=True)
        importlib.invalidate_caches()
    apt = []
    if not os.access("/usr/bin/time", os.X_OK):
        apt.append("time")
    if not have("mlr"):
        apt.append("miller")
    if apt and have("apt-get"):
        prefix = [] if os.geteuid() == 0 else ["sudo"]
        if sh(prefix + ["apt-get", "update", "-q"]).returncode == 0:
            if sh(prefix + ["apt-get", "install", "-y", "-q", *apt]).returncode != 0:
                print(f"warning: apt-get install {' '.join(apt)} failed; going on without",
                      file=sys.stderr)
    if cargo:
        for crate, prog in (("xsv", "xsv"), ("xan", "xan")):
            if not have(prog) and sh(["cargo", "install", crate]).returncode != 0:
                print(f"warning: cargo install {crate} failed; going on without", file=sys.stderr)


def first_line(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def git_describe() -> str:
    rev = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src",
                            "Cargo.toml", "Cargo.lock"], capture_output=True, text=True).stdout
    return rev + (" + uncommitted changes in src/ or Cargo.*" if dirty.strip() else "")


def versions(fanfold: str, duckdb: str | None) -> list[str]:
    v = [f"fanfold: {first_line([fanfold, '--version'])}, {FANFOLD_ORIGIN or fanfold}"]
    if duckdb:
        v.append(f"duckdb CLI: {first_line([duckdb, '--version'])}")
    for mod in ("duckdb", "polars"):
        if has_module(mod):
            v.append(f"{mod} (python): "
                     + first_line([PY, "-c", f"import {mod}; print({mod}.__version__)"]))
    v.append(f"python: {platform.python_version()} ({PY})")
    for prog, args in (("mlr", ["--version"]), ("xsv", ["--version"]), ("xan", ["--version"])):
        if have(prog):
            v.append(f"{prog}: {first_line([prog, *args])}")
    v.append(f"coreutils: {first_line(['cat', '--version'])}")
    return v


def machine() -> list[str]:
    model = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    return [f"cores (nproc): {nproc()}", f"CPU: {model}", f"memory: {mem}",
            f"kernel: {platform.system()} {platform.release()}",
            f"load average before the run: {os.getloadavg()[0]:.2f}",
            "date: " + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")]


def nproc() -> int:
    return len(os.sched_getaffinity(0))


def snapshot(fanfold: str) -> str:
    """Copy the binary to WORK/bin: a `cargo build` during the run (it takes minutes) must not
    swap the binary between rounds. Records where it came from for the report."""
    global FANFOLD_ORIGIN
    src = Path(fanfold)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    built = datetime.datetime.fromtimestamp(src.stat().st_mtime, datetime.timezone.utc)
    FANFOLD_ORIGIN = (f"copied from {src} (built {built:%Y-%m-%d %H:%M:%S} UTC, sha256 {digest}); "
                      f"repo at git {git_describe()} when the suite started")
    dst = WORK / "bin" / "fanfold"
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    return str(dst)


# --------------------------------------------------------------------------- data

def ensure_data(data_dir: Path, needed: set[str], generate: bool) -> None:
    """Check the inputs exist; generate the missing ones with the kit's gen_data.py."""
    for name, rows in DATASETS.items():
        files = [f"rows_{name}.csv", f"rows_{name}.ndjson"]
        if not needed & set(files):
            continue
        if all((data_dir / f).is_file() and (data_dir / f).stat().st_size > 0 for f in files):
            continue
        if not generate:
            sys.exit(f"error: {data_dir} lacks {' or '.join(files)}; leave out --data-dir "
                     f"to generate the data into {WORK / 'data'}")
        gen = KIT / "gen_data.py"
        if not gen.is_file():
            sys.exit(f"error: {gen} not found (the peer kit lives in ../shared/bench/)")
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} rows into {data_dir}/rows_{name}.* (a few minutes for 10M)",
              file=sys.stderr)
        sh([PY, str(gen), "--rows", str(rows), "--out-prefix", str(data_dir / f"rows_{name}")],
           check=True)


# Compressed copies of a data set file (T1gz, T1zst and their floors): the suffix, the
# command that writes one to stdout (the file to compress appended) and how it is described.
COMPRESSORS = {".gz": (["gzip", "-6", "-c"], "gzip -6"), ".zst": (["zstd", "-3", "-q", "-c"], "zstd -3")}


def compressed_base(name: str) -> tuple[str, str] | None:
    """('rows_10m.csv', '.gz') for 'rows_10m.csv.gz'; None for an uncompressed name."""
    for ext in COMPRESSORS:
        if name.endswith(ext):
            return name[: -len(ext)], ext
    return None


def needs_making(data_dir: Path, name: str) -> bool:
    """A compressed input that is missing, empty, or older than the file it compresses."""
    base, _ = compressed_base(name)
    path, src = data_dir / name, data_dir / base
    if not path.is_file() or path.stat().st_size == 0:
        return True
    return src.is_file() and path.stat().st_mtime < src.stat().st_mtime


def ensure_compressed(data_dir: Path, needed: set[str]) -> dict[str, str]:
    """Make the compressed inputs in `needed` that are missing or stale (gzip -6, zstd -3,
    through a temporary file renamed into place). Returns {name: why it is unavailable}."""
    missing: dict[str, str] = {}
    for name in sorted(n for n in needed if compressed_base(n)):
        if not needs_making(data_dir, name):
            continue
        base, ext = compressed_base(name)
        cmd, how = COMPRESSORS[ext]
        path, src = data_dir / name, data_dir / base
        if not have(cmd[0]):
            missing[name] = f"no {name} in {data_dir} and no {cmd[0]} to make it"
            continue
        if not src.is_file():
            missing[name] = f"no {name} in {data_dir} and no {base} to make it from"
            continue
        print(f"making {path} from {base} with {how} (a minute or two for 10M rows)",
              file=sys.stderr)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as out:
                rc = subprocess.run(cmd + [str(src)], stdout=out).returncode
            if rc != 0:
                raise OSError(f"{how} exited with status {rc}")
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            missing[name] = f"could not make {name} ({e})"
    return missing


# --------------------------------------------------------------------------- commands

SAFE_PATH = re.compile(r"^[\w./@:+,=-]+$")


def build_commands(fanfold: str, data_dir: Path, duckdb: str | None) -> list[Cmd]:
    """Every command of the suite, from WORK; peers as in `anchors.sh --list`, paths adapted."""
    d = os.path.relpath(data_dir, WORK)
    if d.startswith(".."):
        d = str(data_dir)
    if not SAFE_PATH.match(d):  # it goes inside SQL strings inside double-quoted shell words
        sys.exit(f"error: data directory {data_dir} has characters this suite does not quote")
    c10, j10, c1 = f"{d}/rows_10m.csv", f"{d}/rows_10m.ndjson", f"{d}/rows_1m.csv"
    n = nproc()
    ff = os.path.relpath(fanfold, WORK)  # bin/fanfold for the snapshot (see `snapshot`)
    ff = shlex.quote(ff if ff.startswith("bin/") else fanfold)
    have_polars = has_module("polars") and KIT_POLARS.is_file()
    ddb = shlex.quote(duckdb) if duckdb else None
    cmds: list[Cmd] = []

    def add(id_, task, tool, inp, cmd, output=None, **kw):
        cmds.append(Cmd(id_, task, tool, inp, cmd, output, **kw))

    def fanfold(task, inp, src, args, ext):
        """fanfold on all cores and with --threads 1, outputs out/<task>_fanfold[_1t].<ext>."""
        t = task.lower()
        add(f"{task}_fanfold", task, f"fanfold ({n} threads)", inp,
            f"{ff} {src} {args} -o out/{t}_fanfold.{ext}", f"out/{t}_fanfold.{ext}")
        add(f"{task}_fanfold_1t", task, "fanfold (--threads 1)", inp,
            f"{ff} {src} {args} --threads 1 -o out/{t}_fanfold_1t.{ext}",
            f"out/{t}_fanfold_1t.{ext}", threads="1")

    def duck(id_, task, tool, inp, sql, output, **kw):
        if ddb:
            add(id_, task, tool, inp, f'{ddb} -c "{sql}"', output, **kw)

    def polars(id_, task, tool, inp, t, src, output, env_threads=None, script=KIT_POLARS, **kw):
        if has_module("polars") and script.is_file():  # threads are read at import time
            env = f"POLARS_MAX_THREADS={env_threads} " if env_threads else ""
            pol = f"{shlex.quote(PY)} {shlex.quote(str(script))}"
            add(id_, task, tool, inp, f"{env}{pol} {t} {src} {output}", output, **kw)

    def grouped(task, key, mean, polars_script, inp="rows_10m.csv", polars_task=None):
        """A group-by of the 10M CSV by `key` (count, sum and, with `mean`, mean of amount):
        fanfold, DuckDB and Polars, each on all cores and on 1 thread. `inp` may be a
        compressed copy (rows_10m.csv.gz): every tool reads it as it is, DuckDB's read_csv
        and Polars' scan_csv telling the compression by the name, fanfold by the first bytes;
        `polars_task` is the Polars script's task when it is not `task` (T1 for T1gz)."""
        t = task.lower()
        src = f"{d}/{inp}"
        fanfold(task, inp, src, group_args(key, mean), "csv")
        sql = group_sql(key, f"read_csv('{src}')", mean)
        variants = (("", n, f"{n} threads", "all"), ("_1t", 1, "1 thread", "1"))
        for sfx, k, word, threads in variants:
            duck(f"{task}_duckdb{sfx}", task, f"duckdb ({word})", inp,
                 f"SET threads={k}; COPY ({sql}) TO 'out/{t}_duckdb{sfx}.csv' (HEADER)",
                 f"out/{t}_duckdb{sfx}.csv", threads=threads)
        for sfx, k, word, threads in variants:
            polars(f"{task}_polars{sfx}", task, f"polars ({word})", inp,
                   (polars_task or task).lower(), src, f"out/{t}_polars{sfx}.csv",
                   env_threads=k, script=polars_script, threads=threads)

    # floors and start-up costs
    add("F_cat", "F", "cat (10M CSV)", "rows_10m.csv", f"cat {c10} > /dev/null")
    add("F_cat_json", "F", "cat (10M NDJSON)", "rows_10m.ndjson", f"cat {j10} > /dev/null")
    # the decompressors' floors under T1gz and T1zst: decompress to nowhere, one thread each
    for id_, prog, name in (("F_gzip_dc", "gzip", "rows_10m.csv.gz"),
                            ("F_zstd_dc", "zstd", "rows_10m.csv.zst")):
        add(id_, "F", f"{prog} -dc (10M {name[len('rows_10m'):]})", name,
            f"{prog} -dc {d}/{name} > /dev/null" if have(prog) else None,
            note="" if have(prog) else f"{prog} not installed")
    if ddb:
        add("F_duckdb", "F", "duckdb CLI start-up", None, f"{ddb} -c 'SELECT 1' > /dev/null")
    if have_polars:
        add("F_py_polars", "F", "python3 + import polars", None,
            f"POLARS_MAX_THREADS={n} {shlex.quote(PY)} -c 'import polars'")
    if have("xsv"):
        add("F_xsv_count", "F", "xsv count", "rows_10m.csv", f"xsv count {c10} > /dev/null")
    if have("xan"):
        add("F_xan_count", "F", "xan count", "rows_10m.csv", f"xan count {c10} > /dev/null")

    # T1: group-by city, count + sum + mean of amount
    grouped("T1", "city", True, KIT_POLARS)
    # T1gz, T1zst: T1 on the gzip and zstd copies of the 10M CSV (made when missing)
    grouped("T1gz", "city", True, KIT_POLARS, inp="rows_10m.csv.gz", polars_task="T1")
    grouped("T1zst", "city", True, KIT_POLARS, inp="rows_10m.csv.zst", polars_task="T1")
    if have("xan"):
        xan_aggs = "'count() as n, sum(amount) as sum_amount, mean(amount) as mean_amount'"
        add("T1_xan", "T1", "xan groupby (1 thread)", "rows_10m.csv",
            f"xan groupby city {xan_aggs} {c10} > out/t1_xan.csv", "out/t1_xan.csv", threads="1")
        add("T1_xan_par", "T1", "xan parallel groupby", "rows_10m.csv",
            f"xan parallel groupby city {xan_aggs} {c10} > out/t1_xan_par.csv",
            "out/t1_xan_par.csv")
    if have("mlr"):
        add("T1_mlr", "T1", "miller", "rows_10m.csv",
            f"mlr --icsv --ocsv stats1 -a count,sum,mean -f amount -g city then sort -f city "
            f"{c10} > out/t1_mlr.csv", "out/t1_mlr.csv", cls="slow")

    # T2: filter amount > 5000, keep id,city,amount
    fanfold("T2", "rows_10m.csv", c10, "--filter '.amount > 5000' --select id,city,amount", "csv")
    duck("T2_duckdb", "T2", "duckdb", "rows_10m.csv",
         f"COPY (SELECT id, city, amount FROM read_csv('{c10}') WHERE amount > 5000) "
         f"TO 'out/t2_duckdb.csv' (HEADER)", "out/t2_duckdb.csv")
    polars("T2_polars", "T2", "polars", "rows_10m.csv", "t2", c10, "out/t2_polars.csv")
    if have("xsv"):
        add("T2_xsv", "T2", "xsv search | select", "rows_10m.csv",
            f"xsv search -s amount '{GT5000}' {c10} | xsv select id,city,amount > out/t2_xsv.csv",
            "out/t2_xsv.csv")
    if have("xan"):
        add("T2_xan", "T2", "xan filter | select", "rows_10m.csv",
            f"xan filter 'amount > 5000' {c10} | xan select id,city,amount > out/t2_xan.csv",
            "out/t2_xan.csv")
    if have("mlr"):
        add("T2_mlr", "T2", "miller", "rows_10m.csv",
            f"mlr --icsv --ocsv filter '$amount > 5000' then cut -o -f id,city,amount {c10} "
            f"> out/t2_mlr.csv", "out/t2_mlr.csv", cls="slow")

    # T3: full sort by amount desc, ties by id
    fanfold("T3", "rows_1m.csv", c1, "--sort-by amount:n:desc,id:n", "csv")
    duck("T3_duckdb", "T3", "duckdb", "rows_1m.csv",
         f"COPY (SELECT * FROM read_csv('{c1}') ORDER BY amount DESC, id) "
         f"TO 'out/t3_duckdb.csv' (HEADER)", "out/t3_duckdb.csv")
    polars("T3_polars", "T3", "polars", "rows_1m.csv", "t3", c1, "out/t3_polars.csv")
    if have("xsv"):
        add("T3_xsv", "T3", "xsv sort", "rows_1m.csv",
            f"xsv sort -s amount -N -R {c1} > out/t3_xsv.csv", "out/t3_xsv.csv", cls="slow")
    if have("mlr"):
        add("T3_mlr", "T3", "miller", "rows_1m.csv",
            f"mlr --icsv --ocsv sort -nr amount -n id {c1} > out/t3_mlr.csv", "out/t3_mlr.csv",
            cls="slow")

    # T4: CSV to NDJSON
    fanfold("T4", "rows_10m.csv", c10, "--output-format ndjson", "ndjson")
    duck("T4_duckdb", "T4", "duckdb", "rows_10m.csv",
         f"COPY (SELECT * FROM read_csv('{c10}')) TO 'out/t4_duckdb.ndjson' (FORMAT json)",
         "out/t4_duckdb.ndjson")
    polars("T4_polars", "T4", "polars", "rows_10m.csv", "t4", c10, "out/t4_polars.ndjson")
    if have("mlr"):
        add("T4_mlr", "T4", "miller", "rows_10m.csv",
            f"mlr --icsv --ojsonl cat {c10} > out/t4_mlr.ndjson", "out/t4_mlr.ndjson", cls="slow")

    # T5: group-by category on NDJSON, count + sum of amount
    t5sql = group_sql("category", f"read_ndjson('{j10}')", False)
    fanfold("T5", "rows_10m.ndjson", j10, group_args("category", False) + " --output-format csv",
            "csv")
    duck("T5_duckdb", "T5", "duckdb", "rows_10m.ndjson",
         f"COPY ({t5sql}) TO 'out/t5_duckdb.csv' (HEADER)", "out/t5_duckdb.csv")
    polars("T5_polars", "T5", "polars", "rows_10m.ndjson", "t5", j10, "out/t5_polars.csv")
    if have("mlr"):
        add("T5_mlr", "T5", "miller", "rows_10m.ndjson",
            f"mlr --ijsonl --ocsv stats1 -a count,sum -f amount -g category then sort -f category "
            f"{j10} > out/t5_mlr.csv", "out/t5_mlr.csv", cls="slow")

    # T6: group-by user (~100k groups), T7: group-by id (every key unique); the suite's own
    grouped("T6", "user", True, OWN_POLARS)
    grouped("T7", "id", False, OWN_POLARS)

    def by_city(task, args, sql):
        """A group-by city of the 10M CSV (T8, T9): fanfold, DuckDB (`sql`, a SELECT) and Polars
        (polars_tasks_extra.py), each on all cores and on 1 thread."""
        t = task.lower()
        fanfold(task, "rows_10m.csv", c10, args, "csv")
        for sfx, k, word, threads in (("", n, f"{n} threads", "all"), ("_1t", 1, "1 thread", "1")):
            duck(f"{task}_duckdb{sfx}", task, f"duckdb ({word})", "rows_10m.csv",
                 f"SET threads={k}; COPY ({sql}) TO 'out/{t}_duckdb{sfx}.csv' (HEADER)",
                 f"out/{t}_duckdb{sfx}.csv", threads=threads)
            polars(f"{task}_polars{sfx}", task, f"polars ({word})", "rows_10m.csv", t, c10,
                   f"out/{t}_polars{sfx}.csv", env_threads=k, script=OWN_POLARS, threads=threads)

    # T8: exact median and 0.95 quantile (linear interpolation) of amount per city
    by_city("T8", QUANTILE_ARGS,
            f"SELECT city, median(amount) AS median_amount, quantile_cont(amount, 0.95) "
            f"AS q95_amount FROM read_csv('{c10}') GROUP BY city ORDER BY city")
    # T9: approximate distinct users per city (HyperLogLog in every tool)
    by_city("T9", "--group-by city --agg approx_distinct:user=users",
            f"SELECT city, approx_count_distinct(\\\"user\\\") AS users FROM read_csv('{c10}') "
            f"GROUP BY city ORDER BY city")
    return cmds


QUANTILE_ARGS = ("--group-by city --agg median:amount=median_amount "
                 "--agg quantile_cont:amount:0.95=q95_amount")


def group_args(key: str, mean: bool) -> str:
    """fanfold's arguments for a group-by `key`: count, sum(amount) and maybe mean(amount)."""
    args = f"--group-by {key} --agg count=n --agg sum:amount=sum_amount"
    return args + (" --agg mean:amount=mean_amount" if mean else "")


def group_sql(key: str, source: str, mean: bool) -> str:
    """The same group-by in DuckDB SQL, ordered by the key as fanfold orders groups (numbers
    numerically, text by bytes: DuckDB's default collation is binary)."""
    aggs = "count(*) AS n, sum(amount) AS sum_amount" + (", avg(amount) AS mean_amount"
                                                          if mean else "")
    return f"SELECT {key}, {aggs} FROM {source} GROUP BY {key} ORDER BY {key}"


# --------------------------------------------------------------------------- timing

TIME_FMT = "%e %U %S %M"  # wall s, user s, sys s, peak RSS KiB (largest single process)


BUSY_WARN = 0.10  # a run with more than this share of the machine busy elsewhere is flagged
MIN_JUDGED = 0.2  # ... if it lasted this long (seconds): /proc/stat counts in 10 ms ticks


def disturbed(wall: float, other: float) -> bool:
    return wall >= MIN_JUDGED and other > BUSY_WARN


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def time_once(c: Cmd, time_file: Path) -> tuple[float, float, int, float] | str:
    """Run one command under /usr/bin/time from WORK: (wall, user+sys, rss KiB, share of
    the machine busy with other processes meanwhile), or an error message.

    The command's previous output is deleted first, before the clock and the /proc/stat
    reading start: overwriting it would make the run free its page cache (GBs for T4), and
    no stale output from an earlier round or suite run can pass the check."""
    if c.output:
        (WORK / c.output).unlink(missing_ok=True)
    busy0 = busy_seconds()
    p = subprocess.run(["/usr/bin/time", "-f", TIME_FMT, "-o", str(time_file), "sh", "-c", c.cmd],
                       cwd=WORK, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    if p.returncode != 0:
        tail = p.stderr.strip().splitlines()[-3:]
        return f"exit {p.returncode}: " + " | ".join(tail)
    busy = busy_seconds() - busy0
    wall, user, sys_, rss = time_file.read_text().strip().splitlines()[-1].split()
    wall, cpu = float(wall), float(user) + float(sys_)
    other = max(0.0, busy - cpu) / (max(wall, 0.01) * nproc())
    return wall, cpu, int(rss), min(other, 1.0)


def run_rounds(cmds: list[Cmd], rounds: int, log: Path) -> None:
    """Alternate the commands round-robin: a warm-up round, then `rounds` timed rounds."""
    time_file = WORK / "logs" / "time.txt"
    with open(log, "w", encoding="utf-8") as raw:
        raw.write("round\tid\twall_s\tcpu_s\tpeak_rss_kib\tbusy_elsewhere\n")
        for r in range(rounds + 1):
            label = "warm-up" if r == 0 else f"round {r}/{rounds}"
            for c in cmds:
                if c.cmd is None or c.failed:
                    continue
                if c.cls == "slow" and (r == 0 or r > SLOW_ROUNDS):
                    continue
                res = time_once(c, time_file)
                if isinstance(res, str):
                    c.failed = res
                    print(f"[{label}] {c.id:<16} FAILED {res}", file=sys.stderr)
                    continue
                wall, cpu, rss, other = res
                flag = "  <- machine busy elsewhere" if disturbed(wall, other) else ""
                print(f"[{label}] {c.id:<16} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
                      f"peak {rss / 1024:7.0f} MiB  elsewhere {other:4.0%}{flag}", file=sys.stderr)
                raw.write(f"{'warm-up' if r == 0 else r}\t{c.id}\t{wall}\t{cpu:.2f}\t{rss}"
                          f"\t{other:.3f}\n")
                raw.flush()
                if r > 0:
                    c.runs.append(res)


def wall(c: Cmd) -> float | None:
    return statistics.median(x[0] for x in c.runs) if c.runs and not c.failed else None


# --------------------------------------------------------------------------- checks
# isnum, read_rows, agg_table, seq_digest and summary are copied from the peer kit's
# ../shared/bench/check_outputs.py (same semantics: T1/T5 aggregates equal to 2 decimals,
# T2/T3 the same sequence of ids and amounts, T4 read back by DuckDB); group_digest (T6, T7)
# is the suite's own.

csv.field_size_limit(1 << 30)


def isnum(x):
    try:
        float(x)
        return True
    except ValueError:
        return False


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows and not isnum(rows[0][1]):  # header
        return rows[0], rows[1:]
    return None, rows


def agg_table(path, ncols):
    _, rows = read_rows(path)
    t = {}
    for r in rows:
        vals = [int(float(r[1]))] + [round(float(x), 2) for x in r[2:ncols]]
        t[r[0]] = tuple(vals)
    return t


def seq_digest(path, id_col, amount_col):
    hdr, rows = read_rows(path)
    if hdr:
        id_col, amount_col = hdr.index("id"), hdr.index("amount")
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{int(r[id_col])}:{float(r[amount_col]):.2f};".encode())
    return len(rows), h.hexdigest()[:16]


def group_digest(path, numeric_key):
    """T6/T7: (groups, rows, whether the keys ascend as fanfold sorts them, a digest of the
    groups in file order: key, count, sum to 2 decimals, mean × count to 2 decimals).
    Streamed: T7 has 10M groups. The mean is compared through mean × count because the exact
    mean of a few 2-decimal amounts often ends in 5 at the third decimal (6070.35 / 2 =
    3035.175), and a float sum a hair off rounds it the other way; mean × count is the
    2-decimal sum, far from a rounding edge, as the sums themselves are."""
    h = hashlib.sha256()
    groups = rows = 0
    prev, ascending = None, True
    with open(path, newline="", encoding="utf-8") as f:
        for i, r in enumerate(csv.reader(f)):
            if i == 0 and not isnum(r[1]):  # header
                continue
            key = int(r[0]) if numeric_key else r[0]
            order = key if numeric_key else key.encode()  # numbers numerically, text by bytes
            ascending = ascending and (prev is None or prev < order)
            prev = order
            n = int(float(r[1]))
            vals = [str(key), str(n), f"{float(r[2]):.2f}"]
            vals += [f"{float(x) * n:.2f}" for x in r[3:4]]  # mean_amount, when there
            h.update((":".join(vals) + ";").encode())
            groups, rows = groups + 1, rows + n
    return groups, rows, "ascending" if ascending else "NOT ASCENDING", h.hexdigest()[:16]


def quantile_table(path):
    """T8: {city: [median, q95]} as floats."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    return {r[0]: [float(x) for x in r[1:]] for r in rows}


def within(table, ref, rel=1e-9):
    """T8, T9: "same groups, values within `rel`" when `table` matches `ref`, else what
    differs. (T8: equal bits are not asked, DuckDB's builds round lo*(1-d) + hi*d once or
    twice; T9: every tool's estimate is approximate, DuckDB's the least accurate.)"""
    if not isinstance(table, dict) or not isinstance(ref, dict):
        return str(table)
    if table.keys() != ref.keys():
        return f"groups differ: {len(table)} vs {len(ref)}"
    for k, vs in table.items():
        for a, b in zip(vs, ref[k]):
            if abs(a - b) > rel * max(abs(a), abs(b)):
                return f"group {k!r}: {vs} vs {ref[k]}"
    return f"groups={len(table)}, quantiles within {rel:g}"


def exact_distinct_users(duckdb: str | None, data: str):
    """T9: {city: exact distinct users}, by the DuckDB CLI."""
    if duckdb is None:
        raise RuntimeError("T9 check needs the DuckDB CLI")
    q = f"SELECT city, count(DISTINCT \"user\") FROM read_csv('{data}') GROUP BY city"
    out = subprocess.run([duckdb, "-csv", "-noheader", "-c", q], capture_output=True, text=True,
                         check=True).stdout
    return {r[0]: int(r[1]) for r in csv.reader(io.StringIO(out))}


def summary(val):
    if isinstance(val, dict):
        n = sum(v[0] for v in val.values())
        return f"groups={len(val)} rows={n}"
    return str(val)


T4_SQL = ("SELECT count(*), sum(id), round(sum(amount), 2), count(DISTINCT city), "
          "sum(length(note)) FROM read_ndjson('{}')")


def ndjson_digest(path: str, duckdb: str | None):
    """T4: the output read back by DuckDB (the Python module, else the CLI)."""
    q = T4_SQL.format(path.replace("'", "''"))
    if has_module("duckdb"):
        import duckdb as ddb  # imported here: the rest of the suite is stdlib only
        return tuple(ddb.sql(q).fetchall()[0])
    if duckdb is None:
        raise RuntimeError("T4 check needs the duckdb Python module or the DuckDB CLI")
    out = subprocess.run([duckdb, "-csv", "-noheader", "-c", q], capture_output=True, text=True,
                         check=True).stdout.strip()
    return tuple(next(csv.reader([out])))


def safe(fn, *args):
    """fn(*args), or a value that equals no other when the output cannot be read."""
    try:
        return fn(*args)
    except Exception as e:  # a malformed output must not lose the timings: it DIFFERS
        return f"unreadable: {type(e).__name__}: {e}"


T1_FAMILY = ("T1", "T1gz", "T1zst")  # T1 on the plain, gzip and zstd CSV: one output
# the floor each of them is compared with in the "Compressed inputs" table
T1_FLOORS = {"T1": "F_cat", "T1gz": "F_gzip_dc", "T1zst": "F_zstd_dc"}


def check_outputs(cmds: list[Cmd], duckdb: str | None,
                  data_dir: Path) -> tuple[list[str], int]:
    """Compare the outputs of the commands that ran: lines to print, number that differ."""
    lines: list[str] = []
    bad = 0
    done = {c.output: c for c in cmds if c.output and c.runs and not c.failed}

    def files(task, ext):
        ps = [p for p, c in done.items() if c.task == task and p.endswith(ext)]
        return sorted(ps, key=lambda p: (0 if "duckdb" in p else 1, p))  # DuckDB is the reference

    def report(task, results):
        """Each output against the first; a line labelled by the output's own task."""
        nonlocal bad
        ref_name, ref = next(iter(results.items()))
        for name, val in results.items():
            ok = val == ref
            bad += not ok
            label = done[name].task if name in done else task
            lines.append(f"{label}\t{os.path.basename(name)}\t{'AGREES' if ok else 'DIFFERS'} "
                         f"with {os.path.basename(ref_name)}\t{summary(val)}")

    # T1, T1gz and T1zst are one comparison: the same aggregates whatever the compression,
    # every output against T1's DuckDB output (T1gz's when T1 did not run)
    for tasks, ncols in ((T1_FAMILY, 4), (("T5",), 3)):
        task = tasks[0]
        fs = [p for t in tasks for p in files(t, ".csv")]
        if not fs:
            continue
        tables = {p: safe(agg_table, WORK / p, ncols) for p in fs}
        report(task, tables)
        if not all(isinstance(t, dict) for t in tables.values()):
            continue  # an unreadable output: no detail to add
        ref = tables[fs[0]]
        for p in fs[1:]:  # name the groups that differ, if any
            diff = sorted(k for k in set(ref) | set(tables[p]) if ref.get(k) != tables[p].get(k))
            name = os.path.basename(p)
            for k in diff[:5]:
                lines.append(f"{done[p].task}\t  {name}: group {k!r}: {tables[p].get(k)} vs "
                             f"{os.path.basename(fs[0])} {ref.get(k)}")
            if len(diff) > 5:
                lines.append(f"{done[p].task}\t  {name}: ... {len(diff)} groups differ in all")
        if task == "T1" and len(fs) > 1:  # informative: float sums before rounding
            raw = {p: {r[0]: float(r[2]) for r in read_rows(WORK / p)[1]} for p in fs}
            worst = max(abs(v - raw[fs[0]].get(k, float("nan")))
                        for p in fs[1:] for k, v in raw[p].items())
            lines.append(f"T1\tmax |sum difference| across tools before rounding: {worst:.3g} "
                         "(informative)")

    for task in ("T2", "T3"):
        fs = files(task, ".csv")
        if fs:
            report(task, {p: safe(seq_digest, WORK / p, 0, 2) for p in fs})

    for task, numeric_key in (("T6", False), ("T7", True)):
        fs = files(task, ".csv")
        if fs:
            report(task, {p: safe(group_digest, WORK / p, numeric_key) for p in fs})

    fs = files("T8", ".csv")
    if fs:
        tables = {p: safe(quantile_table, WORK / p) for p in fs}
        report("T8", {p: within(t, tables[fs[0]]) for p, t in tables.items()})

    fs = files("T9", ".csv")
    if fs:
        # Each tool's estimates against the exact counts (DuckDB's count(DISTINCT)): fanfold's
        # must be within 3 standard errors of its HyperLogLog (2.43%); the peers' are shown.
        exact = safe(exact_distinct_users, duckdb, str(data_dir / "rows_10m.csv"))
        for p in fs:
            table = safe(quantile_table, WORK / p)
            if not isinstance(exact, dict) or not isinstance(table, dict):
                bad += 1
                lines.append(f"T9\t{os.path.basename(p)}\tUNCHECKED: {exact if not isinstance(exact, dict) else table}")
                continue
            worst = max(abs(v[0] - exact[k]) / exact[k] for k, v in table.items())
            ok = table.keys() == exact.keys() and ("fanfold" not in p or worst <= 0.0243)
            bad += not ok
            verdict = ("AGREES" if ok else "DIFFERS") if "fanfold" in p else "shown"
            lines.append(f"T9\t{os.path.basename(p)}\t{verdict}: groups={len(table)}, largest error "
                         f"{worst:.2%} of the exact count")

    fs = files("T4", ".ndjson")
    if fs:
        report("T4", {p: safe(ndjson_digest, str(WORK / p), duckdb) for p in fs})
    # fanfold's promise: the same bytes at 1 and N threads (compared in
    # blocks, the T4 files are large).
    for task, ext in (("T1", ".csv"), ("T1gz", ".csv"), ("T1zst", ".csv"), ("T3", ".csv"),
                      ("T4", ".ndjson"), ("T5", ".csv"), ("T6", ".csv"), ("T7", ".csv"),
                      ("T8", ".csv"), ("T9", ".csv")):
        ff = [p for p in files(task, ext) if "fanfold" in p]
        if len(ff) == 2:
            same = filecmp.cmp(WORK / ff[0], WORK / ff[1], shallow=False)
            bad += not same
            verdict = "byte-identical" if same else "DIFFER (fanfold promises identical bytes)"
            lines.append(f"{task}\t{os.path.basename(ff[0])} vs {os.path.basename(ff[1])}: "
                         f"{verdict}")
    # ... and whether its input was compressed: T1gz's and T1zst's outputs against plain T1's
    # (t1_fanfold.csv, else the first there is)
    ff = [p for t in T1_FAMILY for p in files(t, ".csv") if "fanfold" in p]
    for p in ff[1:]:
        if done[p].task == done[ff[0]].task:
            continue  # the same input at another thread count: compared above
        same = filecmp.cmp(WORK / ff[0], WORK / p, shallow=False)
        bad += not same
        verdict = "byte-identical" if same else "DIFFER (the same text, compressed or not)"
        lines.append(f"{done[p].task}\t{os.path.basename(p)} vs {os.path.basename(ff[0])}: "
                     f"{verdict}")
    lines.append("ALL AGREE" if bad == 0 else f"{bad} OUTPUT(S) DIFFER")
    return lines, bad


# --------------------------------------------------------------------------- report

def fmt_s(x: float) -> str:
    return f"{x:.2f}"


def fanfold_ref(c: Cmd, cmds: list[Cmd]) -> Cmd | None:
    """The fanfold run a row is compared with: same task, same thread class if there is one."""
    ffs = [f for f in cmds if f.task == c.task and f.is_fanfold and wall(f)]
    same = [f for f in ffs if f.threads == c.threads]
    return (same or [f for f in ffs if f.threads == "all"] or [None])[0]


def text_bytes(data_dir: Path, name: str) -> tuple[int, bool]:
    """The bytes of text an input holds, and whether they were counted in its uncompressed
    twin (rows_10m.csv for rows_10m.csv.gz): compressed or not, MB/s is text per second."""
    cb = compressed_base(name)
    if cb and (data_dir / cb[0]).is_file():
        return (data_dir / cb[0]).stat().st_size, True
    return (data_dir / name).stat().st_size, False


def results_table(cmds: list[Cmd], data_dir: Path) -> list[str]:
    out = ["| task | tool | wall s | MB/s | cpu s | peak RSS MiB | fanfold ÷ tool |",
           "|---|---|---:|---:|---:|---:|---:|"]
    order = {t: i for i, t in enumerate(TASKS)}
    rows = sorted(cmds, key=lambda c: (order[c.task], not c.is_fanfold))
    for c in rows:
        if c.cmd is None:
            out.append(f"| {c.task} | {c.tool} | {c.note} | | | | |")
            continue
        if c.failed:
            out.append(f"| {c.task} | {c.tool} | FAILED | | | | |")
            continue
        w = wall(c)
        if w is None:
            out.append(f"| {c.task} | {c.tool} | not run | | | | |")
            continue
        cpu = statistics.median(x[1] for x in c.runs)
        rss = max(x[2] for x in c.runs) / 1024
        mbs = "—"
        if c.input and w > 0:
            size, unpacked = text_bytes(data_dir, c.input)
            mbs = f"{size / 1e6 / w:,.0f}" + (" ²" if unpacked else "")
        ratio = "—"
        if c.is_peer:
            ref = fanfold_ref(c, cmds)
            if ref is not None and w > 0:
                ratio = f"{wall(ref) / w:.2f}"
                if ref.threads != "all":
                    ratio += " (1t)"
        runs = "" if len(c.runs) > 1 else " ¹"
        out.append(f"| {c.task} | {c.tool} | {fmt_s(w)}{runs} | {mbs} | {fmt_s(cpu)} | "
                   f"{rss:,.0f} | {ratio} |")
    return out


def fastest_table(cmds: list[Cmd]) -> list[str]:
    out = ["| task | fanfold | wall s | fastest peer | wall s | fanfold ÷ fastest | "
           "speed-up over 1 thread |",
           "|---|---|---:|---|---:|---:|---:|"]
    for f in cmds:
        if not f.is_fanfold:
            continue
        if f.cmd is None:
            out.append(f"| {f.task} | {f.tool} | {f.note} | | | | |")
            continue
        fw = wall(f)
        peers = [c for c in cmds if c.task == f.task and c.is_peer and wall(c)]
        if f.threads == "1":
            peers = [c for c in peers if c.threads == "1"]
        best = min(peers, key=wall, default=None)
        one = [g for g in cmds
               if g.task == f.task and g.is_fanfold and g.threads == "1" and wall(g)]
        speedup = f"{wall(one[0]) / fw:.2f}×" if fw and one and f.threads == "all" else ""
        fw_s = fmt_s(fw) if fw else "FAILED" if f.failed else "—"
        if best and fw:
            peer = f"{best.tool} | {fmt_s(wall(best))} | {fw / wall(best):.2f}"
        else:
            peer = "— | — | —"
        out.append(f"| {f.task} | {f.tool} | {fw_s} | {peer} | {speedup} |")
    return out


def compressed_table(cmds: list[Cmd]) -> list[str]:
    """T1 on the plain, gzip and zstd CSV: fanfold's wall beside DuckDB's and Polars' (the
    same thread class) and beside the floor of its input (cat, gzip -dc, zstd -dc)."""
    by_id = {c.id: c for c in cmds}
    ran = [c for c in cmds if c.task in T1_FAMILY[1:] and wall(c)]
    if not ran:
        return []
    out = ["| task | fanfold | wall s | duckdb wall s | fanfold ÷ duckdb | polars wall s | "
           "fanfold ÷ polars | floor | wall s | fanfold ÷ floor |",
           "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for task in T1_FAMILY:
        floor = by_id.get(T1_FLOORS[task])
        fl = wall(floor) if floor else None
        for sfx in ("", "_1t"):
            f = by_id.get(f"{task}_fanfold{sfx}")
            fw = wall(f) if f else None
            if f is None or not fw:
                continue
            cells = [task, f.tool, fmt_s(fw)]
            for peer in ("duckdb", "polars"):
                c = by_id.get(f"{task}_{peer}{sfx}")
                pw = wall(c) if c else None
                cells += [fmt_s(pw), f"{fw / pw:.2f}"] if pw else ["—", "—"]
            cells += ([floor.tool, fmt_s(fl), f"{fw / fl:.2f}"] if fl
                      else [floor.tool if floor else "—", "—", "—"])
            out.append("| " + " | ".join(cells) + " |")
    return out


def contention(cmds: list[Cmd]) -> list[str]:
    """How busy the machine was with other processes during the timed runs."""
    runs = [(c.id, k, w, o) for c in cmds for k, (w, _, _, o) in enumerate(c.runs, 1)]
    if not runs:
        return []
    mean = sum(w * o for _, _, w, o in runs) / max(sum(w for _, _, w, _ in runs), 1e-9)
    hit = [(i, k, o) for i, k, w, o in runs if disturbed(w, o)]
    line = (f"Contention: other processes kept {mean:.0%} of the machine's CPU busy "
            "(time-weighted) during the timed runs (/proc/stat busy time minus the run's own "
            "user+sys).")
    if not hit:
        return [line + f" No run of {MIN_JUDGED} s or more above {BUSY_WARN:.0%}."]
    worst = ", ".join(f"{i} r{k} {o:.0%}" for i, k, o in sorted(hit, key=lambda r: -r[2])[:8])
    return [f"**{line} {len(hit)} of {len(runs)} runs above {BUSY_WARN:.0%}** ({worst}"
            f"{', ...' if len(hit) > 8 else ''}): treat these timings as noisy and rerun on a "
            "quiet machine."]


def render(args, cmds, data_dir, fanfold, duckdb, check_lines) -> str:
    lines = ["# fanfold beside its peers", ""]
    lines += [f"- {x}" for x in machine()]
    lines += ["", "Versions:", ""] + [f"- {x}" for x in versions(fanfold, duckdb)]
    sizes = sorted({c.input for c in cmds if c.input and c.runs})
    lines += ["", f"Data: `{data_dir}`: " + ", ".join(
        f"{s} {(data_dir / s).stat().st_size / 1e6:,.0f} MB" for s in sizes) + ".",
        "",
        f"Method: round-robin, 1 warm-up round + {args.rounds} timed round"
        f"{'s' if args.rounds > 1 else ''} (slow peers: no warm-up, ≤ {SLOW_ROUNDS} rounds), "
        f"every run under `/usr/bin/time -f '{TIME_FMT}'`. wall and cpu (user+sys) are "
        "medians, peak RSS the max over runs (largest single process), "
        "MB/s = input bytes / median wall. "
        "**fanfold ÷ tool** = fanfold's median wall / the tool's: above 1 the tool is faster; "
        "1-thread rows are compared with fanfold `--threads 1` (marked 1t). "
        "¹ a single timed run. "
        "² a compressed input (.gz, .zst): MB/s counts its decompressed CSV bytes.",
        ""] + contention(cmds) + ["", "Tasks: " + "; ".join(
            f"**{t}** {d}" for t, d in TASKS.items() if any(c.task == t for c in cmds)) + ".",
        "", "## Results", ""]
    lines += results_table(cmds, data_dir)
    lines += ["", "## fanfold and the fastest peer", ""] + fastest_table(cmds)
    comp = compressed_table(cmds)
    if comp:
        lines += ["", "## Compressed inputs", "",
                  "T1 on the same rows as CSV, gzip -6 and zstd -3, each tool decompressing "
                  "the file itself; the floor is the time to read (cat) or decompress "
                  "(gzip -dc, zstd -dc, one thread) the input to /dev/null. "
                  "fanfold ÷ X: above 1 X is faster.", ""] + comp
    if check_lines is not None:
        lines += ["", "## Outputs", "", "```"] + check_lines + ["```"]
    failed = [c for c in cmds if c.failed]
    if failed:
        lines += ["", "## Failures", ""] + [f"- `{c.id}`: {c.failed}" for c in failed]
    lines += ["", "## Commands (run from `target/peer-bench/`)", "", "```"]
    lines += [f"{c.id}\t{c.cmd}" for c in cmds if c.cmd and (c.runs or c.failed)]
    lines += ["```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Example: cargo build --release && python3 benches/peers/benchsuite.py "
               "--out target/peer-bench/results.md")
    ap.add_argument("--data-dir", type=Path, metavar="DIR",
                    help="directory holding rows_10m.csv/.ndjson and rows_1m.csv (default: "
                         "generate them into target/peer-bench/data with "
                         "../shared/bench/gen_data.py); rows_10m.csv.gz and .zst (T1gz, "
                         "T1zst) are made there from rows_10m.csv (gzip -6, zstd -3) when "
                         "missing or older than it")
    ap.add_argument("--rounds", type=int, default=5, metavar="N",
                    help="timed rounds after the warm-up (default 5)")
    ap.add_argument("--only", metavar="REGEX",
                    help="run only the ids this regex matches (re.search), e.g. 'T1|F_cat'; "
                         "see --list")
    ap.add_argument("--fanfold", type=Path, default=REPO / "target" / "release" / "fanfold",
                    metavar="PATH", help="the fanfold binary (default target/release/fanfold; "
                                         "timed from a copy in target/peer-bench/bin)")
    ap.add_argument("--no-install", action="store_true", help="install no missing peer")
    ap.add_argument("--cargo-install", action="store_true",
                    help="also `cargo install` xsv and xan when missing (slow builds)")
    ap.add_argument("--no-slow", action="store_true", help="skip the slow peers (Miller, xsv sort)")
    ap.add_argument("--no-check", action="store_true", help="skip the output check")
    ap.add_argument("--list", action="store_true",
                    help="print ID, TASK, TOOL, CLASS and COMMAND of every command and exit")
    ap.add_argument("--out", type=Path, metavar="FILE.md",
                    help="also write the markdown report to this file")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    fanfold = str(args.fanfold.resolve())
    if not os.access(fanfold, os.X_OK) and not args.list:
        sys.exit(f"error: no fanfold binary at {fanfold}: run `cargo build --release` first")
    if not args.list:
        fanfold = snapshot(fanfold)
    if not args.no_install and not args.list:
        install_tools(cargo=args.cargo_install)
    if not os.access("/usr/bin/time", os.X_OK) and not args.list:
        sys.exit("error: /usr/bin/time (GNU time) is missing: apt-get install time")
    duckdb = duckdb_cli()
    data_dir = (args.data_dir or WORK / "data").resolve()
    cmds = build_commands(fanfold, data_dir, duckdb)
    if args.only:
        cmds = [c for c in cmds if re.search(args.only, c.id)]
    if args.no_slow:
        cmds = [c for c in cmds if c.cls != "slow"]
    if args.list:
        for c in cmds:
            print("\t".join([c.id, c.task, c.tool, c.cls, c.cmd or c.note]))
        return 0
    if not cmds:
        sys.exit("error: --only matched no command (see --list)")
    if not duckdb:
        print("warning: no DuckDB CLI (pip install duckdb-cli): DuckDB rows left out",
              file=sys.stderr)
    for script in (KIT_POLARS, OWN_POLARS):
        if not (has_module("polars") and script.is_file()):
            print(f"warning: no polars module or no {script}: its Polars rows left out",
                  file=sys.stderr)

    needed = {c.input for c in cmds if c.input and c.cmd}
    # a compressed input still to be made needs the file it is made from
    needed |= {compressed_base(f)[0] for f in needed
               if compressed_base(f) and needs_making(data_dir, f)}
    ensure_data(data_dir, needed, args.data_dir is None)
    for name, why in ensure_compressed(data_dir, needed).items():
        print(f"warning: {why}: the commands reading it are skipped", file=sys.stderr)
        for c in cmds:
            if c.input == name and c.cmd:
                c.cmd, c.note = None, f"skipped: {why}"
    (WORK / "out").mkdir(parents=True, exist_ok=True)
    (WORK / "logs").mkdir(parents=True, exist_ok=True)

    try:
        run_rounds(cmds, args.rounds, WORK / "logs" / "runs.tsv")
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the rounds done so far", file=sys.stderr)

    check_lines, bad = None, 0
    if not args.no_check:
        print("checking outputs ...", file=sys.stderr)
        check_lines, bad = check_outputs(cmds, duckdb, data_dir)
    report = render(args, cmds, data_dir, fanfold, duckdb, check_lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    return 1 if bad or any(c.failed for c in cmds) else 0


if __name__ == "__main__":
    sys.exit(main())
