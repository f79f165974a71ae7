#!/usr/bin/env python3
"""Making a venv and installing a warm-cache set of 5 packages: through the app (POST
…/dependencies/install until `installation_finished` arrives on the WebSocket) against the same
bare `uv` commands and against `python -m venv` + `pip install`, side by side in one run, as
ratios against the SPEC targets (app ≤ 1.1× bare uv; pip ≥ 10× the app).

Usage: bench/deps_install.py [--rounds 7]
Needs the release server (scripts/build), uv on PATH (source scripts/env.sh) and PyPI access for
the first, cache-warming round.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import BIN, App, read_frame

PACKAGES = ["six==1.17.0", "idna==3.10", "packaging==24.2", "attrs==24.3.0", "typing-extensions==4.12.2"]



def app_round(app, script_id, reader):
    start = time.perf_counter()
    status, _, data = app.request("POST", f"/api/scripts/{script_id}/dependencies/install")
    assert status == 202, (status, data)
    while True:
        opcode, payload = read_frame(reader)
        if opcode != 1:
            continue
        event = json.loads(payload)
        if event["type"] == "installation_finished":
            return time.perf_counter() - start
        if event["type"] == "installation_error":
            app.stop()
            sys.exit(f"install failed: {event['error']}")


def run(args, env=None):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def uv_round(work, uv_cache):
    venv = os.path.join(work, "uv-venv")
    shutil.rmtree(venv, ignore_errors=True)
    env = dict(os.environ, UV_CACHE_DIR=uv_cache, UV_NO_CONFIG="1")
    start = time.perf_counter()
    run(["uv", "venv", "--relocatable", "--no-project", "--python", "python3", venv], env)
    run(["uv", "pip", "install", "--python", os.path.join(venv, "bin", "python"), *PACKAGES], env)
    return time.perf_counter() - start


def pip_round(work):
    venv = os.path.join(work, "pip-venv")
    shutil.rmtree(venv, ignore_errors=True)
    start = time.perf_counter()
    run(["python3", "-m", "venv", venv])
    run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check", *PACKAGES])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} is missing: run scripts/build first (or set PYTASK_BIN)")
    if not shutil.which("uv"):
        sys.exit("uv is not on PATH: source scripts/env.sh")
    work = tempfile.mkdtemp(prefix="pytask-bench-deps-")
    uv_cache = os.path.join(work, "uv-cache")
    app = App(os.path.join(work, "data"), uv_cache=uv_cache)
    try:
        status, _, data = app.request("POST", "/api/scripts", {"name": "bench deps"})
        script_id = json.loads(data)["id"]
        for spec in PACKAGES:
            name, version = spec.split("==")
            status, _, data = app.request("POST", f"/api/scripts/{script_id}/dependencies", {"name": name, "version_spec": f"=={version}"})
            assert status == 201, data
        sock, reader = app.events(f"/ws/scripts/{script_id}")
        # Round 0 warms every cache (uv's, pip's, the page cache) and is not counted.
        app_round(app, script_id, reader)
        uv_round(work, uv_cache)
        pip_round(work)
        times = {"app": [], "uv": [], "pip": []}
        for _ in range(args.rounds):  # interleaved, so drift hits all three alike
            times["app"].append(app_round(app, script_id, reader))
            times["uv"].append(uv_round(work, uv_cache))
            times["pip"].append(pip_round(work))
        sock.close()
    finally:
        app.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"venv + install of {len(PACKAGES)} packages, warm caches, median of {args.rounds} rounds")
    print(f"{'':<34} {'median ms':>10} {'min ms':>8}")
    for label, key in [("through the app (POST → finished)", "app"), ("bare uv venv + uv pip install", "uv"), ("python -m venv + pip install", "pip")]:
        print(f"{label:<34} {med[key]:>10.0f} {min(times[key]) * 1000:>8.0f}")
    print(f"app / bare uv = {med['app'] / med['uv']:.2f}   (target ≤ 1.10)")
    print(f"pip / app     = {med['pip'] / med['app']:.1f}   (target ≥ 10)")


if __name__ == "__main__":
    main()
