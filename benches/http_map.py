#!/usr/bin/env python3
"""The `--http` step against other ways to call a web service once per record.

The service is examples/latency_server.rs on loopback: it waits --delay-ms,
then echoes the request's body, so with C requests in flight the ideal rate
is C x 1000 / delay_ms records/s (1,280/s at 64 and 5,120/s at 256 for 50 ms),
and a client's output records must equal its input records. The input is
--records NDJSON lines {"id": i, "text": "record i ..."}. For each client, the
median wall time of --rounds runs, records/s, the share of the ideal, and
whether the output comes in input order (by the ids). Prints a Markdown table.

  - fanfold IN --input-format ndjson --http URL --concurrency 64 / 256, with
    --stats-json: the "p95 overhead" is http.latency_p95_secs less the delay.
    Its output must equal the input records, in order. Skipped, with the
    reason, if the binary rejects --http.
  - GNU parallel -j256 -k --pipe -N1 curl ... (one curl per record, stdin).
  - xargs -d '\\n' -P256 -I{} curl ... --data-binary {} URL (one curl per
    record; its output is in completion order, and curl ends no answer with a
    newline, so outputs are read as a stream of JSON values).
  - the OpenAI cookbook's api_request_parallel_processor.py, reimplemented
    below with the standard library (see cookbook_client): once with its
    1 ms sleep per loop, once without it.

    cargo build --release --example latency_server
    python3 benches/http_map.py --fanfold target/release/fanfold \\
        [--records 10000] [--delay-ms 50] [--rounds 3] [--work DIR] [--server PATH]
"""

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

PEER_CONCURRENCY = 256
OUT = "{out}"  # stands for the output file in an argv
SPACE = re.compile(r"\s*")
CURL = ["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json"]


def start_server(path, delay_ms):
    server = subprocess.Popen([path, "--delay-ms", str(delay_ms), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("listening on "):
        server.kill()
        raise SystemExit(f"{path} did not start: {line!r}")
    return server, line.removeprefix("listening on ")


def server_binary(args):
    if args.server:
        return args.server
    path = os.path.join("target", "release", "examples", "latency_server")
    if not os.path.exists(path):
        print(f"{path} is missing: cargo build --release --example latency_server", flush=True)
        subprocess.run(["cargo", "build", "--release", "--example", "latency_server"], check=True)
    return path


def timed(argv, stdin_path, stdout_path):
    with open(stdin_path, "rb") as inp, open(stdout_path, "wb") as out:
        started = time.monotonic()
        done = subprocess.run(argv, stdin=inp, stdout=out, stderr=subprocess.PIPE)
        wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace').strip()[:500]}")
    return wall


def read_records(path, pick=lambda r: r):
    """The output's JSON values, read as a stream (curl ends none with a newline),
    and how many stretches of it weren't JSON."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    decoder, records, garbled, at = json.JSONDecoder(), [], 0, 0
    while (at := SPACE.match(text, at).end()) < len(text):
        try:
            value, at = decoder.raw_decode(text, at)
            records.append(pick(value))
        except (ValueError, LookupError, TypeError):
            garbled += 1
            at = min((i for i in (text.find("\n", at + 1), text.find("{", at + 1)) if i > 0),
                     default=len(text))
    return records, garbled


def fanfold_probe(fanfold, url, work):
    """None if `fanfold --http` runs, else why not."""
    if not os.path.exists(fanfold):
        return f"{fanfold} is missing (cargo build --release)"
    probe_in, probe_out = os.path.join(work, "probe.ndjson"), os.path.join(work, "probe.out")
    with open(probe_in, "w") as f:
        f.write('{"id":0}\n{"id":1}\n')
    done = subprocess.run([fanfold, probe_in, "--input-format", "ndjson", "--http", url,
                           "-o", probe_out], capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
        return f"fanfold rejects --http (exit {done.returncode}: {first})"
    return None


def main():
    if sys.argv[1:2] == ["--cookbook-client"]:
        return cookbook_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanfold", default="target/release/fanfold")
    parser.add_argument("--server", help="a built latency_server (default: build the example)")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", help="a folder for the files (default: a temporary one)")
    parser.add_argument("--skip", default="", help="clients to leave out, comma-separated: "
                        "fanfold, parallel, xargs, cookbook")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    server, url = start_server(server_binary(args), args.delay_ms)
    tmp = None if args.work else tempfile.TemporaryDirectory()
    work = args.work or tmp.name
    os.makedirs(work, exist_ok=True)
    try:
        run_all(args, skip, url, work)
    finally:
        server.kill()
        server.wait()
        if tmp:
            tmp.cleanup()


def run_all(args, skip, url, work):
    n = args.records
    in_path = os.path.join(work, "records.ndjson")
    with open(in_path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "text": f"record {i} of {n}, a line of filler text"},
                               separators=(",", ":")) + "\n")
    inputs, _ = read_records(in_path)
    by_id = lambda r: r["id"]  # noqa: E731
    rows = []  # (client, concurrency, argv (or why not), its output's ids, notes)
    why_not = "left out (--skip)" if "fanfold" in skip else fanfold_probe(args.fanfold, url, work)
    for c in (64, 256):
        stats = os.path.join(work, f"stats{c}.json")
        argv = [args.fanfold, in_path, "--input-format", "ndjson", "--http", url,
                "--concurrency", str(c), "--stats-json", stats, "-o", OUT]
        rows.append((f"fanfold --http --concurrency {c}", c, why_not or argv, by_id,
                     lambda out, stats=stats: fanfold_notes(out, inputs, stats, args.delay_ms)))
    if "parallel" in skip:
        parallel = "left out (--skip)"
    elif not shutil.which("parallel"):
        parallel = "not installed (GNU parallel is not on PATH)"
    elif "GNU parallel" not in subprocess.run(["parallel", "--version"], capture_output=True,
                                              text=True).stdout:
        parallel = "not run: `parallel` on PATH is not GNU parallel (moreutils'?)"
    else:  # one string: GNU parallel hands its command to a shell unquoted
        parallel = ["parallel", "--will-cite", f"-j{PEER_CONCURRENCY}", "-k", "--pipe", "-N1",
                    shlex.join([*CURL, "--data-binary", "@-", url])]
    rows.append((f"GNU parallel -j{PEER_CONCURRENCY} -k --pipe -N1 curl", PEER_CONCURRENCY,
                 parallel, by_id, None))
    xargs = "left out (--skip)" if "xargs" in skip else [
        "xargs", "-d", "\n", f"-P{PEER_CONCURRENCY}", "-I{}", *CURL,
        "--data-binary", "{}", url]
    rows.append((f"xargs -P{PEER_CONCURRENCY} curl", PEER_CONCURRENCY, xargs, by_id,
                 lambda out: "a curl process per record"))
    for sleep_ms, label in ((1, "1 ms sleep per loop, as the original"), (0, "no loop sleep")):
        argv = [sys.executable, os.path.abspath(__file__), "--cookbook-client", in_path, OUT,
                url, "--max-connections", str(PEER_CONCURRENCY), "--loop-sleep-ms", str(sleep_ms)]
        rows.append((f"cookbook loop, asyncio ({label})", PEER_CONCURRENCY,
                     "left out (--skip)" if "cookbook" in skip else argv,
                     lambda r: r[1]["id"], lambda out: "[request, response] lines"))

    print(f"{n} records, server delay {args.delay_ms} ms, medians of {args.rounds} runs "
          f"({os.cpu_count()} CPUs)\n", flush=True)
    table = ["| client | concurrency | wall | records/s | % of ideal | in input order | notes |",
             "|---|---|---|---|---|---|---|"]
    out = os.path.join(work, "out")
    for name, c, argv, pick, notes in rows:
        if isinstance(argv, str):
            table.append(f"| {name} | {c} | – | – | – | – | {argv} |")
            print(f"{name}: {argv}", flush=True)
            continue
        # A client that names its output file writes nothing to stdout.
        stdout_path = os.devnull if OUT in argv else out
        argv = [out if a == OUT else a for a in argv]
        walls, extra = [], []
        try:
            for _ in range(args.rounds):
                walls.append(timed(argv, in_path, stdout_path))
                if notes:
                    extra.append(notes(out))
        except RuntimeError as err:
            table.append(f"| {name} | {c} | – | – | – | – | failed: {err} |")
            print(f"{name}: failed: {err}", flush=True)
            continue
        wall = statistics.median(walls)
        ids, garbled = read_records(out, pick)
        note = []
        missing = n - len(set(ids) & set(range(n)))
        if missing or len(ids) != n:
            note.append(f"{missing} records missing, {len(ids)} lines")
        if garbled:
            note.append(f"{garbled} lines not JSON")
        if extra:
            note.append(summarise(extra) if isinstance(extra[0], dict) else extra[0])
        rate, ideal = n / wall, c * 1000 / args.delay_ms
        table.append(f"| {name} | {c} | {wall:.2f} s | {rate:,.0f} | {100 * rate / ideal:.0f}% "
                     f"| {'yes' if ids == list(range(n)) else 'no'} | {'; '.join(note)} |")
        print(f"{name}: {wall:.2f} s, {rate:,.0f} records/s", flush=True)
    print("\n" + "\n".join(table))


def fanfold_notes(out, inputs, stats_path, delay_ms):
    outputs, _ = read_records(out)
    with open(stats_path) as f:
        http = json.load(f).get("http", {})
    p95 = http.get("latency_p95_secs")
    return {"same": outputs == inputs, "retries": http.get("retries"),
            "overhead_ms": None if p95 is None else 1000 * p95 - delay_ms}


def summarise(extra):
    overheads = [e["overhead_ms"] for e in extra if e["overhead_ms"] is not None]
    parts = ["output = input" if all(e["same"] for e in extra) else "OUTPUT DIFFERS from input"]
    if overheads:
        parts.append(f"p95 overhead per request {statistics.median(overheads):.1f} ms")
    parts.append(f"retries {max((e['retries'] or 0) for e in extra)}")
    return ", ".join(parts)


# The OpenAI cookbook's client, with the standard library only.

def cookbook_main(argv):
    parser = argparse.ArgumentParser(prog="http_map.py --cookbook-client")
    parser.add_argument("requests")
    parser.add_argument("save")
    parser.add_argument("url")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--loop-sleep-ms", type=float, default=1.0)
    parser.add_argument("--max-requests-per-minute", type=float, default=1e12)
    parser.add_argument("--max-attempts", type=int, default=5)
    args = parser.parse_args(argv)
    open(args.save, "w").close()
    asyncio.run(cookbook_client(args.requests, args.save, args.url, args.max_connections,
                                args.loop_sleep_ms / 1000, args.max_requests_per_minute,
                                args.max_attempts))


class Pool:
    """Keep-alive HTTP/1.1 connections, at most `limit` of them in use (as an
    aiohttp TCPConnector, whose default limit is 100)."""

    def __init__(self, url, limit):
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or "/"
        self.slots, self.idle = asyncio.Semaphore(limit), []

    async def post_json(self, payload):
        body = json.dumps(payload).encode()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        async with self.slots:
            reader, writer = self.idle.pop() if self.idle else \
                await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(head.encode() + body)
                status, close, data = await read_response(reader)
            except BaseException:
                writer.close()
                raise
            if close:
                writer.close()
            else:
                self.idle.append((reader, writer))
        if status // 100 != 2:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")
        return json.loads(data)


async def read_response(reader):
    status = int((await reader.readline()).split()[1])
    length, chunked, close = 0, False, False
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = value.endswith("chunked")
        elif name == "connection":
            close = value == "close"
    if not chunked:
        return status, close, await reader.readexactly(length)
    data = b""
    while size := int((await reader.readline()).split(b";")[0], 16):
        data += (await reader.readexactly(size + 2))[:-2]
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    return status, close, data


class APIRequest:
    def __init__(self, task_id, request_json, attempts_left):
        self.task_id, self.request_json, self.attempts_left = task_id, request_json, attempts_left
        self.result = []

    async def call_api(self, pool, retry_queue, save_path, status):
        error = None
        try:
            response = await pool.post_json(self.request_json)
            if isinstance(response, dict) and "error" in response:
                status["api_errors"] += 1
                error = response
        except Exception as e:  # as the original: every failure is retried
            status["other_errors"] += 1
            error = e
        if error:
            self.result.append(error)
            if self.attempts_left:
                retry_queue.put_nowait(self)
                return
            data = [self.request_json, [str(e) for e in self.result]]
            status["failed"] += 1
        else:
            data = [self.request_json, response]
        with open(save_path, "a") as f:  # append_to_jsonl: one open per result
            f.write(json.dumps(data) + "\n")
        status["in_progress"] -= 1


async def cookbook_client(requests_path, save_path, url, max_connections, loop_sleep,
                          max_requests_per_minute, max_attempts):
    """The core loop of openai-cookbook's examples/api_request_parallel_processor.py.

    The original needs aiohttp, and tiktoken (which fetches its encodings over
    the network) to count each request's tokens; this stands in for it with
    asyncio streams. Kept: requests read one line at a time; each loop turn
    refills the request capacity (max_requests_per_minute, here so high that
    it never binds) and starts at most one request as a fire-and-forget task
    when capacity allows, then sleeps `loop_sleep` (1 ms in the original, whose
    comment says this caps it at ~1,000 requests/s); failed requests go to a
    retry queue taken before new lines; each result is appended to the save
    file as [request, response] by opening it, so in completion order.
    Left out: the token budget (no tiktoken), the 15 s pause after a
    rate-limit error, logging, metadata. The connection pool (aiohttp's
    TCPConnector, 100 connections by default) is --max-connections.
    """
    pool = Pool(url, max_connections)
    retry_queue = asyncio.Queue()
    status = {"in_progress": 0, "api_errors": 0, "other_errors": 0, "failed": 0}
    tasks = set()  # the original keeps no reference; asyncio may then drop a task
    next_request, task_ids = None, iter(range(1 << 62))
    available_request_capacity = max_requests_per_minute
    last_update_time = time.time()
    with open(requests_path) as requests:
        file_not_finished = True
        while True:
            if next_request is None:
                if not retry_queue.empty():
                    next_request = retry_queue.get_nowait()
                elif file_not_finished:
                    line = next(requests, None)
                    if line is None:
                        file_not_finished = False
                    else:
                        next_request = APIRequest(next(task_ids), json.loads(line), max_attempts)
                        status["in_progress"] += 1
            current_time = time.time()
            available_request_capacity = min(
                available_request_capacity
                + max_requests_per_minute * (current_time - last_update_time) / 60.0,
                max_requests_per_minute)
            last_update_time = current_time
            if next_request and available_request_capacity >= 1:
                available_request_capacity -= 1
                next_request.attempts_left -= 1
                task = asyncio.create_task(
                    next_request.call_api(pool, retry_queue, save_path, status))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_request = None
            if status["in_progress"] == 0:
                break
            await asyncio.sleep(loop_sleep)
    if status["failed"]:
        print(f"{status['failed']} requests failed", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
