"""DBOS's side of bench_workers.py (PostgreSQL system database); runs in bench/.peers-venv/dbos.

    python dbos_queue_workers.py enqueue DB_URL N STEPS   # DBOSClient.enqueue, N workflows
    python dbos_queue_workers.py worker DB_URL            # one worker process, until SIGTERM

A run of n steps is a workflow calling n ``@DBOS.step`` functions (DBOS
writes each step's output to the system database when it returns), enqueued
on the queue ``bench``. Each worker process serves the queue with
``worker_concurrency=1`` (one workflow at a time, like one enact worker) and
polls it every 10 ms (DBOS's default is 1 s; 10 ms favours DBOS's throughput).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions


@DBOS.step()
def step(seed: int, i: int) -> str:
    return f"payload {seed:08d} {i:04d} " + "x" * 80


@DBOS.workflow()
def steps(n: int, seed: int) -> int:
    return sum(len(step(seed, i)) for i in range(n))


def main() -> None:
    command, url = sys.argv[1:3]
    if command == "enqueue":
        n, count = int(sys.argv[3]), int(sys.argv[4])
        client = DBOSClient(system_database_url=url)
        options: EnqueueOptions = {"queue_name": "bench", "workflow_name": "steps"}
        for seed in range(n):
            client.enqueue(options, count, seed)
        client.destroy()
        print("enqueued", flush=True)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config: Any = {"name": "bench-workers", "system_database_url": url, "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue("bench", worker_concurrency=1, polling_interval_sec=0.01)
    print("ready", flush=True)
    stop.wait()
    DBOS.destroy()


if __name__ == "__main__":
    main()
