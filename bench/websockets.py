#!/usr/bin/env python3
"""Thousands of WebSocket viewers against the cap (`--max-websockets`, default 1000): opens
`--clients` viewers of one running execution, counts those let in and those refused (503 with
the JSON error naming the limit), times `GET /api/health` while they are all open against the
same request before any was opened, and reads the server's RSS and open file descriptors
before, with all open, and after they are closed.

Usage: bench/websockets.py [--clients 2000] [--limit 1000] [--database-url postgres://…]
Needs the release server (scripts/build) and uv on PATH (source scripts/env.sh).
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from common import App


def health_ms(app, n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        status, _, _ = app.request("GET", "/api/health")
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, status
    return statistics.median(times)


def open_viewer(app, path):
    """(socket, None) once upgraded, or (None, (status, body)) when refused."""
    sock, reader, status, headers = app.upgrade(path)
    if status == 101:
        return sock, None
    body = reader.read(int(headers.get("content-length", "0")))
    sock.close()
    return None, (status, body)


def fds(app):
    return len(os.listdir(f"/proc/{app.proc.pid}/fd"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="pytask-ws-")
    env = {"DATABASE_URL": args.database_url} if args.database_url else {}
    app = App(data, args=["--max-websockets", str(args.limit)], env=env)
    script = app.json("POST", "/api/scripts", {"name": f"ws-{os.getpid()}", "content": "import time\nprint('up', flush=True)\ntime.sleep(600)\n"}, expect=201)["id"]
    run = app.json("POST", f"/api/scripts/{script}/execute", expect=201)["id"]
    while app.json("GET", f"/api/executions/{run}")["status"] != "running":
        time.sleep(0.1)
    before = {"rss_mb": round(app.rss_kb() / 1024, 1), "fds": fds(app), "health_ms": round(health_ms(app), 2)}

    viewers, refusals = [], []
    began = time.perf_counter()
    for _ in range(args.clients):
        sock, refused = open_viewer(app, f"/ws/executions/{run}?after=0")
        if sock:
            viewers.append(sock)
        else:
            refusals.append(refused)
    opened_s = time.perf_counter() - began
    during = {"rss_mb": round(app.rss_kb() / 1024, 1), "fds": fds(app), "health_ms": round(health_ms(app), 2)}
    statuses = sorted({status for status, _ in refusals})
    message = json.loads(refusals[0][1])["error"]["message"] if refusals else None

    for sock in viewers:
        sock.close()
    time.sleep(2)
    again, _ = open_viewer(app, f"/ws/executions/{run}?after=0")
    after = {"rss_mb": round(app.rss_kb() / 1024, 1), "fds": fds(app), "health_ms": round(health_ms(app), 2)}
    if again:
        again.close()
    app.json("POST", f"/api/executions/{run}/stop")
    app.stop()
    shutil.rmtree(data, ignore_errors=True)

    print(f"{args.clients} viewers against a cap of {args.limit} ({'PostgreSQL' if args.database_url else 'SQLite'}), opened in {opened_s:.1f} s:")
    print(f"  let in {len(viewers)}, refused {len(refusals)} with status {statuses}: {message}")
    print(f"  before  {before}")
    print(f"  all open {during}  (health p50 {during['health_ms'] / before['health_ms']:.2f}x of before)")
    print(f"  closed  {after}; a new viewer let in again: {again is not None}")
    ok = len(viewers) == min(args.clients, args.limit) and all(s == 503 for s in statuses) and again is not None
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
