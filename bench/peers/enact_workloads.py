"""enact's side of bench_peers.py.

Runs in the bench process (and as a fresh process for cold start), against
this checkout's API: `record` is a run with per-call durability (the
default), `replay` rewinds and replays a recorded run from a fresh store
object, and `ask` answers a run's input requests one by one through an
`enact.InvocationGenerator` (the program waits in place at each request).
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common

import enact

NAME = "enact"
VERSION = f"{getattr(enact, '__version__', 'dev')} (this checkout)"


@enact.register
def step(seed: int, i: int) -> str:
    return peer_common.payload(seed, i)


@enact.register
def steps(n: int, seed: int) -> int:
    return sum(len(step(seed, i)) for i in range(n))


@enact.register
def steps_then_ask(n: int, seed: int) -> int:
    total = sum(len(step(seed, i)) for i in range(n))
    return total if enact.request_input(requested_type=bool, context="go on?") else -1


@enact.register
def asker(n: int) -> int:
    total = 0
    for i in range(n):
        total += enact.request_input(requested_type=int, for_value=i, context="give an int")
    return total


class Session:
    def __init__(self, path: str) -> None:
        self.path = path
        self.store = enact.SQLiteStore(path)


def open_session(path: str, for_input: bool) -> Session:
    return Session(path)


def close_session(session: Session) -> None:
    session.store.close()


def record(session: Session, run_id: str, n: int, seed: int) -> str:
    with session.store:
        inv = enact.invoke(steps, (n, seed), run_id=run_id)  # durability="call", the default
        assert inv.get_output() == peer_common.expected_total(n)
        return enact.commit(inv).digest  # already stored by invoke: only the digest


def prepare_replay(session: Session, recorded: str, n: int, keep: int) -> Any:
    # A fresh store object on the same file, so the replay reads the record from
    # disk as a resuming process would (not from the verified-object cache).
    session.store.close()
    session.store = enact.SQLiteStore(session.path)
    return recorded


def replay(session: Session, token: Any, n: int, keep: int) -> None:
    with session.store:
        inv = enact.Ref.from_digest(token)()
        out = inv.rewind(n - keep).replay()
        assert out.get_output() == peer_common.expected_total(n)


def prepare_resume(session: Session, run_id: str, n: int) -> str:
    with session.store:
        enact.invoke(steps_then_ask, (n, 1), run_id=run_id)  # waits for input
    # As for a replay: a fresh store object, the resuming process.
    session.store.close()
    session.store = enact.SQLiteStore(session.path)
    return run_id


def resume(session: Session, token: str, n: int) -> None:
    with session.store:
        run = enact.answer(token, True, run_now=True)  # the same run, continued here
        assert run.status == "complete", run.status


def ask(session: Session, run_id: str, n: int) -> None:
    with session.store:
        gen = enact.InvocationGenerator.from_callable(asker, args=(n,), run_id=run_id)
        count = 0
        for _request in gen:
            gen.set_input(peer_common.ANSWER)
            count += 1
        assert count == n
        assert gen.invocation.get_output() == n * peer_common.ANSWER


if __name__ == "__main__":
    sys.exit(peer_common.main(sys.modules[__name__]))
