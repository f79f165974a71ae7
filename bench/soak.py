#!/usr/bin/env python3
"""A soak: the release server under steady mixed load for a long time, watching that nothing
grows. Load, per minute (stated by the flags' defaults):

- 20 schedules `* * * * *` (20 scheduled runs of a 100-line script each minute);
- `--runs-per-minute` manual runs (default 30) cycling through four scripts: 100 lines, 20,000
  lines, an exception with a traceback, and a 2 s sleep; every third one watched to its end by a
  WebSocket viewer on `/ws/executions/{id}`;
- one viewer on `/ws/scripts/{id}` of each script for the whole soak, reading every event;
- API reads (the script list, the first page of runs) twice a second.

Every minute it samples the server's RSS, open file descriptors and threads, and the runs done;
at the end it prints the first and last samples and checks that no run was left `queued` or
`running` and none ended `lost`.

Usage: bench/soak.py [--minutes 30] [--runs-per-minute 30] [--database-url postgres://…]
Needs the release server (scripts/build) and uv on PATH (source scripts/env.sh).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from common import App, read_frame

SCRIPTS = {
    "soak-short": "for i in range(100):\n    print('line', i)\n",
    "soak-chatty": "import sys\nfor i in range(20000):\n    print('line', i, 'x' * 40)\n",
    "soak-failing": "print('about to fail')\nraise RuntimeError('on purpose')\n",
    "soak-sleepy": "import time\nprint('sleeping')\ntime.sleep(2)\nprint('awake')\n",
}


def sample(app):
    pid = app.proc.pid
    threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    return {"rss_mb": round(app.rss_kb() / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads}


def drain(app, path, stop, counts, key):
    """Reads a WebSocket to its end (or until `stop`), counting frames; true if the server
    closed it."""
    try:
        sock, reader = app.events(path)
    except Exception as err:  # noqa: BLE001 - a refused viewer is counted, not fatal
        counts["viewer_errors"] += 1
        print("viewer could not connect:", err, file=sys.stderr)
        return False
    # No read timeout: a timed-out read leaves the buffered reader unusable. A viewer blocks
    # until a frame or the end; the soak's end ends its daemon thread.
    sock.settimeout(None)
    closed = False
    while not stop.is_set():
        try:
            opcode, _ = read_frame(reader)
        except OSError:
            break
        if opcode == 8:
            closed = True
            break
        counts[key] += 1
    sock.close()
    return closed


def follow(app, path, stop, counts):
    """A script page's viewer: reconnects whenever the server closes (as the page does; a viewer
    that falls behind a chatty run is closed with 1013 and comes back)."""
    while not stop.is_set():
        if drain(app, path, stop, counts, "script_frames"):
            counts["script_reconnects"] += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--runs-per-minute", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="pytask-soak-")
    env = {"DATABASE_URL": fresh_database(args.database_url)} if args.database_url else {}
    app = App(data, env=env)
    api = App.__new__(App)  # a second connection for the reader thread, same session
    api.port, api.cookie, api.conn, api.proc = app.port, app.cookie, None, app.proc
    counts = {"manual": 0, "viewer_frames": 0, "script_frames": 0, "script_reconnects": 0, "viewer_errors": 0, "api_errors": 0}
    stop = threading.Event()

    ids = {name: app.json("POST", "/api/scripts", {"name": name, "content": body}, expect=201)["id"] for name, body in SCRIPTS.items()}
    # The first run of each makes its venv: done before the clock starts.
    for script_id in ids.values():
        run = app.json("POST", f"/api/scripts/{script_id}/execute", expect=201)["id"]
        while app.json("GET", f"/api/executions/{run}")["status"] in ("queued", "running"):
            time.sleep(0.1)
    for _ in range(20):
        app.json("POST", f"/api/scripts/{ids['soak-short']}/schedules", {"cron_expression": "* * * * *"}, expect=201)

    threads = [threading.Thread(target=follow, args=(app, f"/ws/scripts/{i}", stop, counts), daemon=True) for i in ids.values()]

    def reader():
        while not stop.is_set():
            for path in ("/api/scripts", "/api/executions?per_page=50"):
                try:
                    status, _, _ = api.request("GET", path)
                except OSError:
                    api.conn = None
                    status = 0
                if status != 200:
                    counts["api_errors"] += 1
            time.sleep(0.5)

    threads.append(threading.Thread(target=reader, daemon=True))
    for thread in threads:
        thread.start()

    samples = [{"minute": 0, **sample(app), "runs": 0}]
    print(f"soak: {args.minutes} min, {args.runs_per_minute} manual runs/min + 20 scheduled/min, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}; start {samples[0]}", flush=True)
    names = list(ids)
    begun = time.monotonic()
    next_sample = begun + 60
    interval = 60 / args.runs_per_minute
    n = 0
    while time.monotonic() - begun < args.minutes * 60:
        script_id = ids[names[n % len(names)]]
        run = app.json("POST", f"/api/scripts/{script_id}/execute", expect=201)["id"]
        counts["manual"] += 1
        if n % 3 == 0:
            threading.Thread(target=drain, args=(app, f"/ws/executions/{run}?after=0", threading.Event(), counts, "viewer_frames"), daemon=True).start()
        n += 1
        if time.monotonic() >= next_sample:
            done = app.json("GET", "/api/executions?per_page=1")["total"]
            samples.append({"minute": round((time.monotonic() - begun) / 60), **sample(app), "runs": done})
            print(samples[-1], flush=True)
            next_sample += 60
        time.sleep(max(0.0, begun + n * interval - time.monotonic()))

    stop.set()
    # Let the last runs end, then read the outcome.
    for _ in range(600):
        page = app.json("GET", "/api/executions?status=running&per_page=1")["total"] + app.json("GET", "/api/executions?status=queued&per_page=1")["total"]
        if page == 0:
            break
        time.sleep(0.1)
    statuses = {s: app.json("GET", f"/api/executions?status={s}&per_page=1")["total"] for s in ("succeeded", "failed", "stopped", "timed_out", "lost", "queued", "running")}
    end = {"minute": "end", **sample(app), "runs": sum(statuses.values())}
    samples.append(end)
    print(json.dumps({"samples": samples, "statuses": statuses, "counts": counts}, indent=1))
    first, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    print(f"\nRSS {first['rss_mb']} MB (minute {first['minute']}) -> {last['rss_mb']} MB (end); "
          f"fds {first['fds']} -> {last['fds']}; threads {first['threads']} -> {last['threads']}; runs {end['runs']}; "
          f"statuses {statuses}; viewer frames {counts['viewer_frames']}, script frames {counts['script_frames']} ({counts['script_reconnects']} reconnects), "
          f"api errors {counts['api_errors']}, viewer errors {counts['viewer_errors']}")
    app.stop()
    shutil.rmtree(data, ignore_errors=True)
    bad = statuses["lost"] + statuses["queued"] + statuses["running"] + counts["api_errors"]
    sys.exit(1 if bad else 0)


def fresh_database(url):
    """A new database `pytask_soak` beside the given one: the soak counts runs, so an earlier
    soak's rows must not be there, and the given database is left alone."""
    import subprocess
    for sql in ("DROP DATABASE IF EXISTS pytask_soak", "CREATE DATABASE pytask_soak"):
        subprocess.run(["psql", url, "-q", "-c", sql], check=True)
    return url.rsplit("/", 1)[0] + "/pytask_soak"


if __name__ == "__main__":
    main()
