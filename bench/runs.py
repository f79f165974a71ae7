#!/usr/bin/env python3
"""Runs through the app against the bare `python -u` run of the same script with the same venv
Python, side by side in one process, as ratios against the SPEC targets:

1. start overhead: POST …/execute → the script's first line pushed to a WebSocket and stored,
   against `python -u script.py` → its first line read from the pipe (target ≤ 1.2×). The server
   pushes a batch of lines to its viewers before it writes it (the write is a commit, an fsync on
   PostgreSQL), so two figures: "pushed", when the line arrives on the bench's WebSocket, and
   "stored", that time plus the server's own time to write the batch (from /metrics,
   `pytask_log_batch_store_seconds`, read after each round): an upper bound, since the write
   began before the frame arrived;
2. throughput: a script printing 1,000,000 lines, POST → the later of `execution_finished`
   (every line stored) and the connected viewer having every line, against the bare run reading
   its whole output (target ≤ 2×); run twice, with the server's RSS before, after the first and after the second
   (target: flat, no growth with the log's length); then once more with 10 secrets set on the
   script, so every line is scanned for them (masking must keep it within the target);
3. 20 concurrent runs of a script printing 20,000 lines, all finished, against 20 bare runs at
   once.

Usage: bench/runs.py [--rounds 15] [--lines 1000000] [--database-url postgres://…]
Needs the release server (scripts/build) and uv on PATH (source scripts/env.sh).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

from common import BIN, TARGET, App, read_frame

# server/examples/ws_viewer.rs, built with the tests (cargo test --release --workspace --no-run).
VIEWER = os.environ.get("PYTASK_VIEWER", os.path.join(TARGET, "release", "examples", "ws_viewer"))

# The first line is the wall-clock time the script's first statement ran, so the bench can split
# the app's time (same clock: the bench, the server and the script share the machine).
FIRST_LINE = "import time\nprint(repr(time.time()))\ntime.sleep(0.05)\n"


def script(app, name, content):
    return app.json("POST", "/api/scripts", {"name": name, "content": content}, expect=201)["id"]


def execute(app, script_id):
    return app.json("POST", f"/api/scripts/{script_id}/execute", expect=201)["id"]


def wait_event(reader, kinds):
    while True:
        opcode, payload = read_frame(reader)
        if opcode == 8:
            raise SystemExit("the WebSocket closed early")
        if opcode != 1:
            continue
        event = json.loads(payload)
        if event["type"] in kinds:
            return event


def wait_finished(app, run_id):
    while True:
        run = app.json("GET", f"/api/executions/{run_id}")
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.02)


def bare_first_line(python, path):
    """(seconds to the first line read, seconds to the script's first statement)."""
    wall, start = time.time(), time.perf_counter()
    proc = subprocess.Popen([python, "-u", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=os.path.dirname(path))
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed, float(line) - wall


def bwrap_command(python, path):
    """The same Python in a bubblewrap sandbox made as the server makes a run's (namespaces,
    read-only system and venv, the run's user through setpriv), without the server: the
    sandbox's own cost."""
    venv = os.path.dirname(os.path.dirname(python))
    home = None
    with open(os.path.join(venv, "pyvenv.cfg")) as cfg:
        for line in cfg:
            key, _, value = line.partition("=")
            if key.strip() == "home":
                home = os.path.dirname(value.strip())
    workdir = os.path.dirname(path)
    args = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
            "--new-session", "--ro-bind", "/usr", "/usr"]
    for link in ("/bin", "/sbin", "/lib", "/lib64"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ("/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/resolv.conf", "/etc/ssl"):
        args += ["--ro-bind-try", name, name]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/tmp"]
    if home and not home.startswith("/usr"):
        args += ["--ro-bind", home, home]
    args += ["--ro-bind", venv, venv, "--bind", workdir, workdir, "--chdir", workdir, "--"]
    if os.geteuid() == 0:
        os.chown(workdir, 65534, 65534)
        args += ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + [python, "-u", path]


def bwrap_first_line(python, path):
    """Seconds to the first line read from the same Python started in a bare bubblewrap sandbox."""
    start = time.perf_counter()
    proc = subprocess.Popen(bwrap_command(python, path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed


def bare_whole(python, path):
    start = time.perf_counter()
    proc = subprocess.Popen([python, "-u", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=os.path.dirname(path))
    lines = sum(1 for _ in proc.stdout)
    proc.wait()
    return time.perf_counter() - start, lines


def store_seconds(app):
    """(sum, count) of the server's log batch writes so far."""
    _, _, text = app.request("GET", "/metrics")
    found = {}
    for line in text.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in ("pytask_log_batch_store_seconds_sum", "pytask_log_batch_store_seconds_count"):
            found[name] = float(value)
    return found.get("pytask_log_batch_store_seconds_sum", 0.0), found.get("pytask_log_batch_store_seconds_count", 0.0)


def app_first_line(app, script_id, reader):
    """(pushed, stored, started, relayed): seconds from the POST to the first line on the
    WebSocket, and to it being also in the database; from the POST to the script's first
    statement, and from the server reading the line to it arriving on the WebSocket."""
    before = store_seconds(app)
    wall, start = time.time(), time.perf_counter()
    run_id = execute(app, script_id)
    while True:
        event = wait_event(reader, ("log_output",))
        # The server's own notes (the warm-up round's "making the environment") are not the
        # script's first line.
        if event["execution_id"] == run_id and not event["line"].startswith("[pytask]"):
            pushed = time.perf_counter() - start
            arrived = time.time()
            wait_event(reader, ("execution_finished",))
            break
    after = store_seconds(app)
    # The run's one line is its one batch; were there more, all their writes are counted.
    assert after[1] > before[1], "no log batch was written"
    read_at = datetime.fromisoformat(event["at"]).timestamp()
    return pushed, pushed + after[0] - before[0], float(event["line"]) - wall, arrived - read_at


def viewer(app, run_id, result):
    """Reads every line of the run from its WebSocket in the Rust viewer (its own process; it
    checks each line arrives once and in order), and notes when it saw the run finish."""
    url = f"ws://127.0.0.1:{app.port}/ws/executions/{run_id}?after=0"
    out = subprocess.run([VIEWER, url, app.cookie], capture_output=True, text=True, check=True).stdout
    result.update(json.loads(out))
    result["streamed_at"] = time.perf_counter()


def first_line_rounds(app, data_dir, rounds):
    """Medians of the app's first-line figures and of the bare run's, interleaved rounds."""
    first = script(app, f"first line {time.time()}", FIRST_LINE)
    sock, reader = app.events(f"/ws/scripts/{first}")
    app_first_line(app, first, reader)  # makes the venv; not counted
    python = os.path.join(data_dir, "scripts", str(first), "venv", "bin", "python")
    bench_dir = os.path.join(data_dir, "bench")
    os.makedirs(bench_dir, exist_ok=True)
    path = os.path.join(bench_dir, "first.py")
    with open(path, "w") as f:
        f.write(FIRST_LINE)
    bare_first_line(python, path)
    bwrap_first_line(python, path)
    app_rounds, bare_rounds, bwrap_rounds = [], [], []
    for _ in range(rounds):  # interleaved, so drift hits all alike
        app_rounds.append(app_first_line(app, first, reader))
        # What the server does after a run (a warm Python starting) ends before the bare round.
        time.sleep(0.2)
        bare_rounds.append(bare_first_line(python, path))
        time.sleep(0.1)
        bwrap_rounds.append(bwrap_first_line(python, path))
        time.sleep(0.1)
    sock.close()
    medians = lambda rows: [statistics.median(column) for column in zip(*rows)]  # noqa: E731
    return medians(app_rounds), medians(bare_rounds), statistics.median(bwrap_rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in the data dir)")
    parser.add_argument("--sandbox", choices=("required", "off"), default=None, help="the server's --sandbox (default: its own, required)")
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} is missing: run scripts/build first (or set PYTASK_BIN)")
    if not os.access(VIEWER, os.X_OK):
        sys.exit(f"{VIEWER} is missing: cargo test --release --workspace --exclude frontend --no-run builds it")
    if not shutil.which("uv"):
        sys.exit("uv is not on PATH: source scripts/env.sh")
    work = tempfile.mkdtemp(prefix="pytask-bench-runs-")
    extra = ["--workers", str(args.concurrent)] + (["--sandbox", args.sandbox] if args.sandbox else [])
    if args.database_url:
        extra += ["--database-url", args.database_url]
    results = {}
    # --- 1. start overhead, cold: no Python kept waiting (PYTASK_WARM_INTERPRETERS=0) --------
    cold = App(os.path.join(work, "cold"), args=extra, env={"PYTASK_WARM_INTERPRETERS": "0"})
    try:
        results["cold"] = first_line_rounds(cold, os.path.join(work, "cold"), args.rounds)
    finally:
        cold.stop()
    app = App(os.path.join(work, "data"), args=extra)
    try:
        # --- 1. start overhead, warm (the default: the script ran here before) ---------------
        results["first"] = first_line_rounds(app, os.path.join(work, "data"), args.rounds)

        # --- 2. a million lines -------------------------------------------------------------
        body = f"for i in range({args.lines}):\n    print(i)\n"
        many = script(app, f"many lines {time.time()}", "print('warm')\n")
        wait_finished(app, execute(app, many))  # makes the venv; not counted
        python = os.path.join(work, "data", "scripts", str(many), "venv", "bin", "python")
        current = app.json("GET", f"/api/scripts/{many}")
        app.json("PUT", f"/api/scripts/{many}", {"updated_at": current["updated_at"], "content": body})
        path = os.path.join(work, "many.py")
        with open(path, "w") as f:
            f.write(body)
        bare_time, bare_lines = bare_whole(python, path)
        assert bare_lines == args.lines
        def million():
            """(seconds to finished, seconds to the viewer having every line) of one run."""
            start = time.perf_counter()
            run_id = execute(app, many)
            seen = {}
            watcher = threading.Thread(target=viewer, args=(app, run_id, seen))
            watcher.start()
            run = wait_finished(app, run_id)
            app_time = time.perf_counter() - start
            watcher.join()
            stored = app.json("GET", f"/api/executions/{run_id}")["log_lines"]
            assert run["status"] == "succeeded", run
            assert stored == args.lines and seen["lines"] == args.lines, (stored, seen)
            return app_time, seen["streamed_at"] - start

        rss = [app.rss_kb()]
        # Twice: memory that grew with the log would grow again with the second run.
        for _ in range(2):
            app_time, streamed = million()
            rss.append(app.rss_kb())
        results["many"] = (app_time, bare_time, streamed, rss)
        # The same with 10 secrets set on the script: every line is scanned for their forms.
        for k in range(10):
            app.json("PUT", f"/api/scripts/{many}/env/BENCH_SECRET_{k}", {"value": f"bench-secret-{k}-{os.urandom(8).hex()}", "secret": True})
        results["masked"] = million()

        # --- 3. concurrent runs ---------------------------------------------------------------
        body = "import time\nfor i in range(20000):\n    print(i)\n"
        path = os.path.join(work, "twenty.py")
        with open(path, "w") as f:
            f.write(body)
        ids = [script(app, f"concurrent {i} {time.time()}", body) for i in range(args.concurrent)]
        for script_id in ids:  # each script's venv made once, not counted
            wait_finished(app, execute(app, script_id))
        start = time.perf_counter()
        runs = [execute(app, script_id) for script_id in ids]
        for run_id in runs:
            assert wait_finished(app, run_id)["status"] == "succeeded"
        app_many = time.perf_counter() - start
        start = time.perf_counter()
        procs = [subprocess.Popen([python, "-u", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in ids]
        threads = [threading.Thread(target=lambda p=p: sum(1 for _ in p.stdout)) for p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in procs:
            p.wait()
        bare_many = time.perf_counter() - start
        results["concurrent"] = (app_many, bare_many)
    finally:
        app.stop()
        shutil.rmtree(work, ignore_errors=True)

    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"backend: {backend}")
    for key, label in (("cold", "cold start (PYTASK_WARM_INTERPRETERS=0)"), ("first", "warm (default; the script ran before)")):
        (pushed, stored, started, relayed), (bare_first, bare_started), bwrap_first = results[key]
        print(f"1. first line, {label}, median of {args.rounds}: pushed {pushed * 1000:.1f} ms, stored {stored * 1000:.1f} ms, "
              f"bare python -u {bare_first * 1000:.1f} ms → pushed {pushed / bare_first:.2f}×, stored {stored / bare_first:.2f}× (target ≤ 1.2)")
        print(f"   the same Python in a bare bwrap sandbox: {bwrap_first * 1000:.1f} ms ({bwrap_first / bare_first:.2f}× bare python; "
              f"the app pushed at {pushed / bwrap_first:.2f}× that)")
        print(f"   the script's first statement ran {started * 1000:.1f} ms after the POST (bare: {bare_started * 1000:.1f} ms after Popen); "
              f"the server's read of the line to the WebSocket: {relayed * 1000:.2f} ms")
    app_time, bare_time, streamed, rss = results["many"]
    # Done when every line is stored (the run finished) and streamed (the viewer had them all).
    done = max(app_time, streamed)
    print(f"2. {args.lines:,} lines (second run): finished {app_time:.2f} s, viewer had all at {streamed:.2f} s, bare {bare_time:.2f} s "
          f"→ {done / bare_time:.2f}× (target ≤ 2); server RSS before / after run 1 / after run 2: "
          + " / ".join(f"{kb / 1024:.1f}" for kb in rss) + " MB")
    masked_time, masked_streamed = results["masked"]
    print(f"   the same with 10 secrets set (every line masked for them): finished {masked_time:.2f} s, viewer had all at "
          f"{masked_streamed:.2f} s → {max(masked_time, masked_streamed) / bare_time:.2f}× bare, "
          f"{max(masked_time, masked_streamed) / done:.2f}× without secrets")
    app_many, bare_many = results["concurrent"]
    print(f"3. {args.concurrent} concurrent runs × 20,000 lines: app {app_many:.2f} s, bare {bare_many:.2f} s → {app_many / bare_many:.2f}×")


if __name__ == "__main__":
    main()
