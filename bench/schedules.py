#!/usr/bin/env python3
"""The scheduler under 10,000 active schedules (SPEC: p99 fire delay under 1 s, CPU idle between
fires), side by side with a bare Python process that sleeps until the same minute boundaries.

Schedule i belongs to script i % 20 and is `<i % 10>/10 * * * *`: every minute, a tenth of them
(1,000) are due at once, and each of those runs really executes (`pass`, on the default 4
workers). For each minute observed:
- fire delay of every run it queued: `queued_at` − the due minute (from the API);
- the bare baseline: how late `time.sleep(until the boundary)` wakes a Python process;
- the server's own CPU time (utime + stime, children excluded) over the quiet 12 s before the
  next boundary, as a share of one core, and its RSS.

Usage: bench/schedules.py [--schedules 10000] [--minutes 3] [--database-url postgres://…]
Needs the release server (scripts/build) and uv on PATH (source scripts/env.sh).
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import threading
import time

from common import App

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def bare_sleeper(boundaries, delays):
    """A bare process's own timer: sleep until each boundary, note how late it woke."""
    for boundary in boundaries:
        time.sleep(max(0.0, boundary - time.time()))
        delays.append(time.time() - boundary)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="pytask-bench-schedules-")
    env = {"DATABASE_URL": args.database_url} if args.database_url else {}
    app = App(os.path.join(data, "app"), uv_cache=os.path.join(data, "uv-cache"), env=env)
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; {os.cpu_count()} CPUs", flush=True)
    try:
        scripts = [app.json("POST", "/api/scripts", {"name": f"bench-sched-{os.getpid()}-{n}", "content": "pass\n"}, expect=201)["id"] for n in range(20)]
        begun = time.time()
        for i in range(args.schedules):
            app.json("POST", f"/api/scripts/{scripts[i % 20]}/schedules", {"cron_expression": f"{i % 10}/10 * * * *"}, expect=201)
        made = time.time() - begun
        print(f"{args.schedules} schedules created in {made:.1f} s ({made / args.schedules * 1000:.2f} ms each)", flush=True)

        # Observe whole minutes only: the first boundary at least 5 s away.
        first = (int(time.time()) // 60 + 1) * 60
        if first - time.time() < 5:
            first += 60
        boundaries = [first + 60 * k for k in range(args.minutes)]
        bare = []
        sleeper = threading.Thread(target=bare_sleeper, args=(boundaries, bare))
        sleeper.start()

        # CPU before any fire: the pure idle cost of 10,000 waiting schedules.
        time.sleep(max(0.0, first - 13 - time.time()))
        rss_idle = app.rss_kb()
        cpu0, t0 = cpu_seconds(app.proc.pid), time.time()
        time.sleep(max(0.0, first - 1 - time.time()))
        idle = [(cpu_seconds(app.proc.pid) - cpu0) / (time.time() - t0)]

        for boundary in boundaries:
            quiet_from = boundary + 60 - 13
            time.sleep(max(0.0, quiet_from - time.time()))
            cpu0, t0 = cpu_seconds(app.proc.pid), time.time()
            time.sleep(max(0.0, boundary + 60 - 1 - time.time()))
            idle.append((cpu_seconds(app.proc.pid) - cpu0) / (time.time() - t0))
        sleeper.join()
        rss_end = app.rss_kb()

        delays, page, unfinished = [], 1, 0
        while True:
            runs = app.json("GET", f"/api/executions?per_page=200&page={page}&sort=oldest")
            for run in runs["items"]:
                if run["trigger"] != "schedule":
                    continue
                queued = parse_time(run["queued_at"])
                due = int(queued) // 60 * 60
                if due in boundaries:
                    delays.append(queued - due)
                    unfinished += run["status"] in ("queued", "running")
            if page * 200 >= runs["total"]:
                break
            page += 1
    finally:
        # A shared database (--database-url) keeps nothing of the bench: its scripts go, and
        # their schedules and runs with them.
        for script_id in locals().get("scripts", []):
            app.request("DELETE", f"/api/scripts/{script_id}")
        app.stop()

    expected = args.schedules // 10 * args.minutes
    print(f"\nfires observed: {len(delays)} (expected {expected}) over {args.minutes} minute boundaries; {unfinished} still queued or running at the end")
    if len(delays) != expected:
        print("MISMATCH: a due time fired twice or not at all", file=sys.stderr)
    p50, p99, worst = (percentile(delays, 50), percentile(delays, 99), max(delays))
    b50, b99 = percentile(bare, 50), percentile(bare, 99)
    print(f"{'':24}{'p50':>10}{'p99':>10}{'max':>10}")
    print(f"{'app fire delay':24}{p50 * 1000:>8.1f}ms{p99 * 1000:>8.1f}ms{worst * 1000:>8.1f}ms")
    print(f"{'bare sleep wake-up':24}{b50 * 1000:>8.1f}ms{b99 * 1000:>8.1f}ms{max(bare) * 1000:>8.1f}ms")
    print(f"p99 fire delay: {p99 * 1000:.0f} ms = {p99:.3f} s (SPEC: under 1 s) {'MET' if p99 < 1 else 'NOT MET'}")
    print("server CPU while waiting (share of one core): before the first fire "
          f"{idle[0] * 100:.2f}%, quiet 12 s before each next boundary " + ", ".join(f"{c * 100:.2f}%" for c in idle[1:]))
    print(f"server RSS: {rss_idle / 1024:.1f} MB waiting, {rss_end / 1024:.1f} MB at the end")


if __name__ == "__main__":
    main()
