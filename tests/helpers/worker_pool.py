"""Forks worker processes and kills a random one with SIGKILL every second, restarting it.

Usage: python worker_pool.py STORE_URL WORKERS STOP_FILE KILLED_FILE [INTERVAL]

For tests/test_workers_processes.py. The parent imports enact and the agent
once, then forks each worker (so a restart costs no imports: on a loaded
machine a fresh interpreter takes seconds to start). Each child runs
``enact.run_worker(STORE_URL, lease_seconds=2)`` with its own connections
(opened after the fork). Every INTERVAL seconds (default 1) the parent kills
a random child with SIGKILL, appends its pid to KILLED_FILE and forks a new
one. When STOP_FILE exists, it sends SIGTERM to every child, waits for them,
and prints one JSON line: ``{"kills": N, "exit_codes": [...]}``.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import sys
import time

import worker_agent  # noqa: F401  (the agent's functions, registered before forking)

import enact
import enact.stores.postgres

_PR_SET_PDEATHSIG = 1


def spawn(url: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # Die with the parent, whatever kills it.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        enact.run_worker(url, lease_seconds=2.0, grace=10.0)
        code = 0
    finally:
        os._exit(code)


def main() -> None:
    url, count, stop_file, killed_file = sys.argv[1:5]
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    rng = random.Random(int(os.environ.get("ENACT_TEST_SEED", "14")))
    children = [spawn(url) for _ in range(int(count))]
    print("ready", flush=True)
    kills = 0
    next_kill = time.monotonic() + interval
    while not os.path.exists(stop_file):
        time.sleep(0.02)
        if time.monotonic() < next_kill:
            continue
        next_kill += interval
        slot = rng.randrange(len(children))
        victim = children[slot]
        os.kill(victim, signal.SIGKILL)
        os.waitpid(victim, 0)
        fd = os.open(killed_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{victim}\n".encode())
        os.close(fd)
        kills += 1
        children[slot] = spawn(url)
    for child in children:
        os.kill(child, signal.SIGTERM)
    codes = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    print(json.dumps({"kills": kills, "exit_codes": codes}), flush=True)


if __name__ == "__main__":
    main()
