#!/usr/bin/env python3
"""Time from starting `mcpauth serve` to its first answered request.

    python3 bench/startup.py [BINARY] [RUNS]      # default target/release/mcpauth, 10

For each run: spawn `mcpauth serve` on 127.0.0.1 with a data directory,
then poll `GET /healthz` (a fresh connection every millisecond until one
is accepted) and stop the clock at the first complete `200` answer. The
first run uses a fresh data directory (it generates the RSA signing key);
the others restart on that directory, the usual case (open the database,
load the keys, bind). Prints each figure and the median of the restarts.
"""

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PORT = int(os.environ.get("PORT", "18491"))
REQ = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nConnection: close\r\n\r\n".encode()


def first_answer(deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=2) as s:
                s.sendall(REQ)
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.001)
    return False


@contextlib.contextmanager
def serving(binary, port, data_dir):
    """`binary serve` on 127.0.0.1:`port` with `data_dir`, stopped (SIGTERM)
    on leaving."""
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir, "--log", "warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def run_once(binary, data_dir):
    start = time.monotonic()
    with serving(binary, PORT, data_dir):
        if not first_answer(start + 30):
            raise SystemExit("no answer within 30 s")
        return (time.monotonic() - start) * 1000


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/mcpauth"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = tempfile.mkdtemp()
    try:
        data = os.path.join(work, "data")
        fresh = run_once(binary, data)
        print(f"fresh data directory (generates the signing key): {fresh:.1f} ms")
        restarts = [run_once(binary, data) for _ in range(runs)]
        print("restarts: " + " ".join(f"{t:.1f}" for t in restarts) + " ms")
        print(
            f"start to first answered request: median {statistics.median(restarts):.1f} ms, "
            f"min {min(restarts):.1f}, max {max(restarts):.1f} ({runs} restarts)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
