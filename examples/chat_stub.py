#!/usr/bin/env python3
"""A stand-in for OpenAI's chat-completions endpoint, for the README's `--http` demo.

    python3 examples/chat_stub.py --port 8765 [--fail-every N] [--noise P --seed S]
        [--require-key STUB_KEY] [--verbose]

Serves POST /v1/chat/completions on 127.0.0.1 (standard library only, one thread
per connection, keep-alive) and answers in OpenAI's response shape. The answer's
content is a toy classification of the last user message: its first integer
(a delay in minutes) > 15 gives "late", < 0 "early", anything else (or no
integer) "on time". usage.prompt_tokens is the messages' characters // 4 + 1.

--noise P: a fraction P of answers carry one of the other two labels (drawn from
    a generator seeded with --seed, so a vote over replicas has work to do).
--fail-every N: every N-th request gets 429 with Retry-After: 1, and every
    (N+1)-th (unless already a 429) a 500, so the demo shows retries.
--require-key VAR: requests must carry `Authorization: Bearer $VAR`, else 401.
"""

import argparse
import itertools
import json
import os
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABELS = ("late", "early", "on time")


def classify(text):
    found = re.search(r"-?\d+", text)
    minutes = int(found.group()) if found else 0
    return "late" if minutes > 15 else "early" if minutes < 0 else "on time"


def text_of(content):
    if isinstance(content, list):  # the multi-part form: [{"type": "text", "text": ...}]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, kind, code=None, headers=()):
        self.answer(status, {"error": {"message": message, "type": kind, "param": None,
                                       "code": code}}, headers)

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            return self.error(404, f"Unknown path {self.path}", "invalid_request_error")
        if server.key is not None and self.headers.get("Authorization") != f"Bearer {server.key}":
            return self.error(401, "Incorrect API key provided.", "invalid_request_error",
                              "invalid_api_key")
        n = next(server.counter)  # itertools.count: atomic under the GIL
        if server.fail_every and n % server.fail_every == 0:
            return self.error(429, "Rate limit reached (stub).", "requests",
                              "rate_limit_exceeded", [("Retry-After", "1")])
        if server.fail_every and n % (server.fail_every + 1) == 0:
            return self.error(500, "The server had an error (stub).", "server_error")
        try:
            request = json.loads(body)
            messages = request["messages"]
            contents = [text_of(m.get("content")) for m in messages]
            users = [c for m, c in zip(messages, contents) if m.get("role") == "user"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.error(400, "Expected a JSON object with a `messages` list.",
                              "invalid_request_error")
        label = classify(users[-1] if users else "")
        with server.lock:
            noisy = server.rng.random() < server.noise
            if noisy:
                label = server.rng.choice([x for x in LABELS if x != label])
        prompt_tokens = sum(map(len, contents)) // 4 + 1
        self.answer(200, {
            "id": f"chatcmpl-stub-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "stub"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": label},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1,
                      "total_tokens": prompt_tokens + 1},
        })

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default, 5, drops connections opened all at once


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fail-every", type=int, default=0, metavar="N")
    parser.add_argument("--noise", type=float, default=0.0, metavar="P")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--require-key", metavar="VAR")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.fail_every == 1 or args.fail_every < 0:
        parser.error("--fail-every must be 0 (never) or at least 2")
    if not 0.0 <= args.noise <= 1.0:
        parser.error("--noise must be between 0 and 1")
    server = Server(("127.0.0.1", args.port), Handler)
    server.key = None
    if args.require_key:
        server.key = os.environ.get(args.require_key)
        if not server.key:
            parser.error(f"--require-key: the variable {args.require_key} is unset or empty")
    server.fail_every, server.noise, server.verbose = args.fail_every, args.noise, args.verbose
    server.counter, server.lock = itertools.count(1), threading.Lock()
    server.rng = random.Random(args.seed)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
