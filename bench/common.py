"""What the benchmarks share: where the release server is, a free port, and waiting for it."""

import os
import socket
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("PYTASK_BIN", os.path.join(TARGET, "release", "pytask"))
ADMIN, PASSWORD = "bench", "bench-password-123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, proc):
    """Until the server answers /api/health (30 s at most, or until it exits)."""
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 30 s")
