#!/usr/bin/env python3
"""The script list at scale: GET /api/scripts (all, filtered, one page) and the server-rendered dashboard `/` (its first page) with
10,000 scripts (tags, descriptions, sources of ~1.5 KB, 20,000 past runs), p50/p99 latency
against the SPEC target (<50 ms p99), on SQLite and on PostgreSQL.

Usage: bench/scripts_list.py [--scripts 10000] [--requests 200] [--backend sqlite|postgres|both]
Needs the release server (scripts/build); PYTASK_BIN overrides its path.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from common import ADMIN, BIN, PASSWORD, ROOT, free_port, wait_healthy

PG_ADMIN_URL = os.environ.get("PYTASK_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
TAGS = [f"tag-{i}" for i in range(40)]
SOURCE = "import json, sys\n\n" + "".join(f"def step_{i}(data):\n    return [x * {i} for x in data]\n\n" for i in range(20))



class Server:
    def __init__(self, backend):
        self.backend = backend
        self.data_dir = tempfile.mkdtemp(prefix="pytask-bench-")
        self.port = free_port()
        env = dict(os.environ, PYTASK_ADMIN_USER=ADMIN, PYTASK_ADMIN_PASSWORD=PASSWORD, PYTASK_LOG="warn",
                   PYTASK_SITE_ROOT=os.path.join(ROOT, "target", "site"))
        args = [BIN, "serve", "--bind", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir]
        if backend == "postgres":
            self.pg_db = f"pytask_bench_{os.getpid()}"
            psql("postgres", f"CREATE DATABASE {self.pg_db}")
            args += ["--database-url", f"{PG_ADMIN_URL}/{self.pg_db}"]
        # PYTASK_BENCH_LOG=file keeps the server's log.
        self.proc = subprocess.Popen(args, env=env, stdout=open(os.environ.get("PYTASK_BENCH_LOG", os.devnull), "a"))
        wait_healthy(self.port, self.proc)
        self.cookie = self.login()

    def login(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        conn.request("POST", "/api/auth/login", json.dumps({"username": ADMIN, "password": PASSWORD}),
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        return response.getheader("Set-Cookie").split(";")[0]

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port)

    def request(self, conn, method, path, body=None):
        headers = {"Cookie": self.cookie, "Origin": f"http://127.0.0.1:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data

    def sql(self, statements):
        if self.backend == "sqlite":
            db = sqlite3.connect(os.path.join(self.data_dir, "pytask.db"))
            db.executescript(statements)
            db.commit()
            db.close()
        else:
            psql(self.pg_db, statements)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.backend == "postgres":
            psql("postgres", f"DROP DATABASE IF EXISTS {self.pg_db}")


def psql(db, sql):
    subprocess.run(["psql", "-q", f"{PG_ADMIN_URL}/{db}", "-v", "ON_ERROR_STOP=1"], input=sql, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def seed(server, count):
    """Through the API, like users would, 8 requests at a time."""
    rng = random.Random(7)
    bodies = [{
        "name": f"Report {i:05d}",
        "description": f"Builds report {i} from the warehouse and mails it",
        "content": SOURCE,
        "tags": rng.sample(TAGS, 3),
        "is_active": i % 5 != 0,
    } for i in range(count)]

    def post(chunk):
        conn = server.connection()
        for body in chunk:
            status, data = server.request(conn, "POST", "/api/scripts", body)
            assert status == 201, (status, data[:200])
        conn.close()

    chunks = [bodies[i::8] for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(post, chunks))
    # Two finished runs per script, so every row shows a last run.
    runs = ",".join(
        f"({sid}, '{'succeeded' if (sid + n) % 3 else 'failed'}', 'manual', '2026-11-0{1 + n} 10:00:00+00:00', 0)"
        for sid in range(1, count + 1) for n in range(2))
    server.sql(f'INSERT INTO executions (script_id, status, "trigger", queued_at, log_lines) VALUES {runs};')


def measure(server, path, requests, change_first=False):
    """Sequential GETs; with `change_first`, each follows a new script (not timed), so the
    list's cache never holds it."""
    conn = server.connection()
    for _ in range(5):  # warm-up
        status, _ = server.request(conn, "GET", path)
        assert status == 200, (path, status)
    times, size = [], 0
    for n in range(requests):
        if change_first:
            status, _ = server.request(conn, "POST", "/api/scripts", {"name": f"changed {n} {time.time()}"})
            assert status == 201
        start = time.perf_counter()
        status, data = server.request(conn, "GET", path)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200
        size = len(data)
    conn.close()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99, size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scripts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} is missing: run scripts/build first (or set PYTASK_BIN)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"{args.scripts} scripts, {args.requests} sequential requests per row, target p99 < 50 ms")
    print(f"{'backend':<9} {'request':<36} {'p50 ms':>8} {'p99 ms':>8} {'p99/target':>10} {'bytes':>10}")
    for backend in backends:
        server = Server(backend)
        try:
            started = time.perf_counter()
            seed(server, args.scripts)
            print(f"# {backend}: seeded through the API in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            for label, path, change_first in [
                ("GET /api/scripts after a change", "/api/scripts", True),
                ("GET /api/scripts (unchanged)", "/api/scripts", False),
                ("GET /api/scripts?q=report 00&tag=…", "/api/scripts?q=report%2000&tag=tag-3", False),
                ("GET /api/scripts?limit=51 (a page)", "/api/scripts?limit=51&offset=5000", False),
                ("GET / (server-rendered)", "/", False),
            ]:
                p50, p99, size = measure(server, path, args.requests, change_first)
                print(f"{backend:<9} {label:<36} {p50:>8.1f} {p99:>8.1f} {p99 / 50:>10.2f} {size:>10}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
