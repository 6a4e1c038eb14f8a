"""LangGraph's side of bench_peers.py (SqliteSaver); runs in bench/.peers-venv/langgraph.

    bench/.peers-venv/langgraph/bin/python bench/peers/langgraph_workloads.py WORKLOAD --size N

A run of n steps is a one-node graph that loops n times (one superstep per
step), invoked with ``durability="sync"`` so the checkpoint of each step is
written before the next one starts. The state keeps the last payload only (a
growing list would make every checkpoint copy the whole history). Replaying
`all` invokes the finished thread again (LangGraph loads its last checkpoint
and has nothing to run); `last` invokes from the checkpoint before the last
step, which runs that step again. Input requests are ``interrupt()`` in the
node, answered by ``Command(resume=...)``, one superstep per request.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from importlib.metadata import version
from typing import Any, TypedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

NAME = "langgraph"
VERSION = f"{version('langgraph')} + checkpoint-sqlite {version('langgraph-checkpoint-sqlite')}"


class StepState(TypedDict):
    i: int
    n: int
    seed: int
    total: int
    payload: str


def _step(state: StepState) -> dict[str, Any]:
    out = peer_common.payload(state["seed"], state["i"])
    return {"i": state["i"] + 1, "total": state["total"] + len(out), "payload": out}


def _loop(state: StepState) -> str:
    return "step" if state["i"] < state["n"] else END


class AskState(TypedDict):
    i: int
    n: int
    total: int


def _ask(state: AskState) -> dict[str, Any]:
    answer = interrupt(state["i"])
    return {"i": state["i"] + 1, "total": state["total"] + answer}


def _ask_loop(state: AskState) -> str:
    return "ask" if state["i"] < state["n"] else END


class Session:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False)
        saver = SqliteSaver(self.conn)
        saver.setup()
        steps = StateGraph(StepState)
        steps.add_node("step", _step)
        steps.add_edge(START, "step")
        steps.add_conditional_edges("step", _loop, ["step", END])
        self.steps = steps.compile(checkpointer=saver)
        asks = StateGraph(AskState)
        asks.add_node("ask", _ask)
        asks.add_edge(START, "ask")
        asks.add_conditional_edges("ask", _ask_loop, ["ask", END])
        self.asks = asks.compile(checkpointer=saver)


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, "recursion_limit": 1_000_000}


def open_session(path: str, for_input: bool) -> Session:
    return Session(path)


def close_session(session: Session) -> None:
    session.conn.close()


def record(session: Session, run_id: str, n: int, seed: int) -> str:
    start = {"i": 0, "n": n, "seed": seed, "total": 0, "payload": ""}
    out = session.steps.invoke(start, _config(run_id), durability="sync")
    assert out["total"] == peer_common.expected_total(n)
    return run_id


def prepare_replay(session: Session, recorded: str, n: int, keep: int) -> Any:
    if keep == n:
        return _config(recorded)
    history = list(session.steps.get_state_history(_config(recorded)))
    before = next(s for s in history if s.values.get("i") == keep and s.next)
    return {**before.config, "recursion_limit": 1_000_000}


def replay(session: Session, token: Any, n: int, keep: int) -> None:
    out = session.steps.invoke(None, token, durability="sync")
    assert out["total"] == peer_common.expected_total(n)


def ask(session: Session, run_id: str, n: int) -> None:
    config = _config(run_id)
    session.asks.invoke({"i": 0, "n": n, "total": 0}, config, durability="sync")
    out: Any = None
    for _ in range(n):
        out = session.asks.invoke(Command(resume=peer_common.ANSWER), config, durability="sync")
    assert out["total"] == n * peer_common.ANSWER


if __name__ == "__main__":
    sys.exit(peer_common.main(sys.modules[__name__]))
