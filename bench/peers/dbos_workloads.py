"""DBOS's side of bench_peers.py (SQLite system database); runs in bench/.peers-venv/dbos.

    bench/.peers-venv/dbos/bin/python bench/peers/dbos_workloads.py WORKLOAD --size N --repeats R

A run of n steps is a workflow calling n ``@DBOS.step`` functions; DBOS
records each step's output in the system database when the step returns.
Replaying it is ``DBOS.fork_workflow(id, start_step)``: the new workflow
takes the outputs of the steps before `start_step` from the database and runs
the rest. (Starting the finished workflow again under its own id does not
re-run the function at all: DBOS returns its recorded result.) Input requests
are ``DBOS.recv`` in the workflow, answered by ``DBOS.send`` from the driver.
"""

from __future__ import annotations

import os
import queue
import sys
from importlib.metadata import version
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common
from dbos import DBOS, SetWorkflowID

NAME = "dbos"
VERSION = version("dbos")

# The driver of `ask` waits on this after each answer until the workflow has
# taken it, so the answers go one by one (an in-process signal, not durable).
_taken: queue.Queue[int] = queue.Queue()


@DBOS.step()
def step(seed: int, i: int) -> str:
    return peer_common.payload(seed, i)


@DBOS.workflow()
def steps(n: int, seed: int) -> int:
    return sum(len(step(seed, i)) for i in range(n))


@DBOS.workflow()
def asker(n: int) -> int:
    total = 0
    for i in range(n):
        total += DBOS.recv("answer", timeout_seconds=60)
        _taken.put(i)
    return total


def open_session(path: str, for_input: bool) -> None:
    config: Any = {
        "name": "bench-peers",
        "system_database_url": f"sqlite:///{path}",
        "log_level": "WARNING",
    }
    if for_input:
        # On SQLite a waiting recv learns of a message by polling (default every
        # 1 s); 1 ms is the smallest interval DBOS allows.
        config["notification_listener_polling_interval_sec"] = 0.001
    DBOS(config=config)
    DBOS.launch()


def close_session(session: None) -> None:
    DBOS.destroy()


def record(session: None, run_id: str, n: int, seed: int) -> str:
    with SetWorkflowID(run_id):
        assert steps(n, seed) == peer_common.expected_total(n)
    return run_id


def prepare_replay(session: None, recorded: str, n: int, keep: int) -> str:
    return recorded


def replay(session: None, token: str, n: int, keep: int) -> None:
    # Steps are numbered from 1: forking at keep + 1 copies the outputs of steps 1..keep.
    handle = DBOS.fork_workflow(token, keep + 1)
    assert handle.get_result(polling_interval_sec=0.02) == peer_common.expected_total(n)


def ask(session: None, run_id: str, n: int) -> None:
    with SetWorkflowID(run_id):
        handle = DBOS.start_workflow(asker, n)
    for i in range(n):
        DBOS.send(run_id, peer_common.ANSWER, topic="answer")
        assert _taken.get(timeout=60) == i
    assert handle.get_result() == n * peer_common.ANSWER


if __name__ == "__main__":
    sys.exit(peer_common.main(sys.modules[__name__]))
