"""LangGraph's functional API (``@entrypoint`` + ``@task``, SqliteSaver): a side of bench_peers.py.

    bench/.peers-venv/langgraph/bin/python bench/peers/langgraph_func_workloads.py WORKLOAD --size N

This is LangGraph's model that matches enact's: a run is a Python function
(the entrypoint) that calls tasks, each task's result is saved in the
checkpoint when it returns (``durability="sync"``), and a resumed run
executes the function again from the top, each finished task returning its
saved result instead of running. (bench/peers/langgraph_workloads.py is the
graph API, which resumes from its last checkpoint without running anything.)

A run of n steps is an entrypoint calling n tasks. Replaying `keep` of them
is a fresh thread (untimed, prepared by `prepare_replay`) that ran its first
`keep` tasks and then stopped at an ``interrupt()``; the timed part is the
``Command(resume=...)`` that runs the entrypoint again: `keep` tasks come
from the checkpoint, the rest (none, or the last one) run. Input requests are
``interrupt()`` calls in one entrypoint; each answer re-runs it from the top,
every earlier ``interrupt()`` returning its saved answer.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from importlib.metadata import version
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.func import entrypoint, task
from langgraph.types import Command, interrupt
from langgraph_workloads import _config
from langgraph_workloads import close_session as close_session  # the same for both APIs

NAME = "langgraph_func"
VERSION = (
    f"{version('langgraph')} functional API + checkpoint-sqlite "
    f"{version('langgraph-checkpoint-sqlite')}"
)


@task
def step(seed: int, i: int) -> str:
    return peer_common.payload(seed, i)


def _steps(spec: dict[str, int]) -> int:
    """n steps; with ``pause`` < n+1, an ``interrupt()`` before step `pause` (n: after all)."""
    n, seed, pause = spec["n"], spec["seed"], spec.get("pause", -1)
    total = 0
    for i in range(n):
        if i == pause:
            interrupt("paused")
        total += len(step(seed, i).result())
    if pause == n:
        interrupt("paused")
    return total


def _asker(n: int) -> int:
    return sum(interrupt(i) for i in range(n))


class Session:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False)
        saver = SqliteSaver(self.conn)
        saver.setup()
        self.steps = entrypoint(checkpointer=saver)(_steps)
        self.asks = entrypoint(checkpointer=saver)(_asker)
        self.prepared = 0


def open_session(path: str, for_input: bool) -> Session:
    return Session(path)


def record(session: Session, run_id: str, n: int, seed: int) -> str:
    out = session.steps.invoke({"n": n, "seed": seed}, _config(run_id), durability="sync")
    assert out == peer_common.expected_total(n), out
    return run_id


def prepare_replay(session: Session, recorded: str, n: int, keep: int) -> Any:
    # A resumed thread is finished: every replay needs a thread of its own, stopped
    # after `keep` finished tasks.
    session.prepared += 1
    thread = f"{recorded}-paused-{keep}-{session.prepared}"
    spec = {"n": n, "seed": 1, "pause": keep}
    session.steps.invoke(spec, _config(thread), durability="sync")
    return _config(thread)


def replay(session: Session, token: Any, n: int, keep: int) -> None:
    out = session.steps.invoke(Command(resume=True), token, durability="sync")
    assert out == peer_common.expected_total(n), out


def prepare_resume(session: Session, run_id: str, n: int) -> Any:
    # A thread stopped at an interrupt() after its n tasks: the run to resume.
    session.steps.invoke({"n": n, "seed": 1, "pause": n}, _config(run_id), durability="sync")
    return _config(run_id)


def resume(session: Session, token: Any, n: int) -> None:
    out = session.steps.invoke(Command(resume=True), token, durability="sync")
    assert out == peer_common.expected_total(n), out


def ask(session: Session, run_id: str, n: int) -> None:
    config = _config(run_id)
    session.asks.invoke(n, config, durability="sync")
    out: Any = None
    for _ in range(n):
        out = session.asks.invoke(Command(resume=peer_common.ANSWER), config, durability="sync")
    assert out == n * peer_common.ANSWER, out


if __name__ == "__main__":
    sys.exit(peer_common.main(sys.modules[__name__]))
