#!/usr/bin/env python3
"""The one-time costs of a process's first token grant, A/B over builds.

    python3 bench/first_grant.py BIN_A BIN_B [ROUNDS]     # default 5 rounds

For each round and each binary, alternately: restart `mcpauth serve` on a
data directory with a user and a signing key (made once, up front, so no
key is generated in a round), wait for `GET /healthz`, then walk the whole
OAuth flow twice (bench/get_tokens.py: register, sign in, consent, code
exchange, MCP initialize) and time each walk. The first walk pays what a
process pays once (aws-lc parsing the key and seeding its generator,
unless the build does that at start); the second is the same walk
without it. Prints each round and the medians. Loopback only.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from startup import serving

BINS = sys.argv[1:3]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PORT = int(os.environ.get("PORT", "18493"))
PASSWORD = "bench-password-123"
BASE = f"http://127.0.0.1:{PORT}"
HERE = os.path.dirname(os.path.abspath(__file__))


def wait_up(deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(BASE + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.005)
    raise SystemExit("no answer within 30 s")


def walk():
    start = time.monotonic()
    subprocess.run(
        [sys.executable, os.path.join(HERE, "get_tokens.py"), BASE, "bench", PASSWORD, "1"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (time.monotonic() - start) * 1000


def round_of(binary, template, work):
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    with serving(binary, PORT, data):
        wait_up(time.monotonic() + 30)
        # As a client would: some time after the start, not at once.
        time.sleep(0.2)
        return walk(), walk()


def main():
    work = tempfile.mkdtemp()
    try:
        template = os.path.join(work, "template")
        subprocess.run(
            [BINS[0], "user", "add", "bench", "--data-dir", template],
            input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL,
        )
        # One start makes the signing key.
        round_of(BINS[0], template, work)
        shutil.rmtree(template)
        shutil.copytree(os.path.join(work, "data"), template)
        results = {b: [] for b in BINS}
        for r in range(ROUNDS):
            for b in BINS:
                first, second = round_of(b, template, work)
                results[b].append((first, second))
                print(f"round {r + 1} {b}: first walk {first:.1f} ms, second {second:.1f} ms")
        for b in BINS:
            firsts = [f for f, _ in results[b]]
            extra = [f - s for f, s in results[b]]
            print(
                f"{b}: first walk median {statistics.median(firsts):.1f} ms, "
                f"first − second median {statistics.median(extra):.1f} ms "
                f"(range {min(extra):.1f}–{max(extra):.1f})"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
