"""What the benchmarks share: where the release server is, starting it signed in, a free port,
and a minimal WebSocket client."""

import base64
import http.client
import json
import os
import socket
import subprocess
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


# 32 bytes in base64: the bench's own, public, key (its data is thrown away).
BENCH_KEY = "cHl0YXNrIGJlbmNoIGtleSwgbm90IGEgc2VjcmV0ISE=\n"


class App:
    """The release server on a free port with its own data dir, signed in as the bench admin."""

    def __init__(self, data_dir, uv_cache=None, args=(), env=None):
        self.port = free_port()
        env = {**os.environ, "PYTASK_ADMIN_USER": ADMIN, "PYTASK_ADMIN_PASSWORD": PASSWORD, "PYTASK_LOG": "warn", **(env or {})}
        os.makedirs(data_dir, exist_ok=True)
        if uv_cache:
            # The app keeps its uv cache in the data dir; point it at a shared warm one.
            os.makedirs(uv_cache, exist_ok=True)
            link = os.path.join(data_dir, "uv-cache")
            if not os.path.exists(link):
                os.symlink(uv_cache, link)
        # Every instance of one database needs the key its variables were sealed with: the
        # bench's apps share one (fixed, so a PostgreSQL database reused by the next bench opens too).
        key = os.path.join(os.path.dirname(os.path.abspath(data_dir)), "bench-secret.key")
        with open(key, "w") as f:
            f.write(BENCH_KEY)
        self.proc = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{self.port}", "--data-dir", data_dir,
                                      "--secret-key-file", key, *args],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)
        self.cookie = None
        status, headers, _ = self.request("POST", "/api/auth/login", {"username": ADMIN, "password": PASSWORD})
        assert status == 200, status
        self.cookie = headers["set-cookie"].split(";")[0]
        self.conn = None

    def request(self, method, path, body=None):
        """One request on a kept-alive connection."""
        if getattr(self, "conn", None) is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port)
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def json(self, method, path, body=None, expect=200):
        status, _, data = self.request(method, path, body)
        assert status == expect, (method, path, status, data)
        return json.loads(data)

    def upgrade(self, path):
        """A minimal WebSocket handshake (stdlib only): (socket, reader, status, headers), the
        reader positioned after the headers (at the frames, or at a refusal's body)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=300)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Cookie: {self.cookie}\r\n\r\n").encode())
        reader = sock.makefile("rb", buffering=1 << 20)
        status = int(reader.readline().split(b" ", 2)[1])
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        return sock, reader, status, headers

    def events(self, path):
        """A WebSocket client: the handshake, then unmasked frames (see read_frame)."""
        sock, reader, status, _ = self.upgrade(path)
        assert status == 101, status
        return sock, reader

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def read_frame(reader):
    """(opcode, payload) of the next frame; (8, b"") at the end of the stream."""
    head = reader.read(2)
    if len(head) < 2:
        return 8, b""
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(reader.read(2), "big")
    elif length == 127:
        length = int.from_bytes(reader.read(8), "big")
    return head[0] & 0x0F, reader.read(length)
