"""How a run writes to a SQLite file: its start is one transaction, its end is one more.

A run's start (its request, its first state, its index name and its head) and
its end (the root's response and tree, its timings, its last state and the
head's move) are each written in one transaction, so a crash leaves all of
either or none of it, and a head move that loses its compare-and-set leaves
nothing of the end behind. Every row the SQLite store writes carries the time
of its transaction (``objects.committed_at``, ``names.updated_at``), which is
how these tests tell transactions apart on disk.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

import enact

state: dict[str, str] = {}
"""The store file and run id `hijacked` works on."""


@enact.register
def greet(name: str) -> str:
    return f"hello {name}"


@enact.register
def shout(text: str) -> str:
    return text.upper()


@enact.register
def greet_twice(name: str) -> str:
    return shout(greet(name)) + "!"


@enact.register
def hijacked(name: str) -> str:
    """Moves its own run's head from another store object (as a process that claimed
    the run after this one's lease expired would), then returns."""
    other = enact.SQLiteStore(state["path"])
    try:
        run = enact.get_run(state["run_id"], store=other)
        taken = dataclasses.replace(run.state, owner="another-process", updated=run.state.updated)
        with other:
            other.set_name(f"runs/{run.id}", other.commit(taken), expected=run.head)
        state["taken"] = other.get_name(f"runs/{run.id}").digest  # type: ignore[union-attr]
    finally:
        other.close()
    state["objects"] = str(_count(state["path"], "objects"))
    return f"hello {name}"


@pytest.fixture
def path(tmp_path: pathlib.Path) -> Iterator[str]:
    state.clear()
    yield str(tmp_path / "store.db")
    state.clear()


def _count(path: str, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _write_times(path: str, run_id: str) -> dict[str, list[float]]:
    """The transaction time of every row the store holds: objects by digest, names by name."""
    with sqlite3.connect(path) as db:
        objects = db.execute("SELECT hex(digest), committed_at FROM objects").fetchall()
        names = db.execute("SELECT name, updated_at FROM names").fetchall()
    times: dict[str, list[float]] = {}
    for key, when in [*objects, *names]:
        times.setdefault(str(when), []).append(str(key).lower())
    return times


def test_a_run_of_one_call_is_written_in_two_transactions(path: str) -> None:
    """The start (request, first state, index name) and the end (response, tree, last state,
    head) each share one transaction time; there is no third."""
    store = enact.SQLiteStore(path)
    with store:
        invocation = enact.invoke(greet, ("ada",), run_id="one-call")
        run = enact.get_run("one-call")
        assert run.status == "complete"
        assert invocation.get_output() == "hello ada"
        first, _ = list(run.history())[-1]
        assert run.state.tree is not None
        request, tree = invocation.request.digest, run.state.tree.digest
        response = invocation.response.digest
    store.close()
    times = _write_times(path, "one-call")
    assert len(times) == 2, times
    start, end = sorted(times, key=float)
    assert set(times[start]) == {request, first.digest, *_index_names(path)}
    assert set(times[end]) == {response, tree, run.head.digest, "runs/one-call"}


def _index_names(path: str) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM names WHERE name LIKE 'enact/run-index/%'").fetchall()
    return [str(name) for (name,) in rows]


def test_a_run_with_children_deletes_its_journal_in_a_transaction_of_its_own(path: str) -> None:
    """Children are journaled as they finish; at the end the tree replaces the journal, whose
    entries are deleted after the head moved (a crash in between leaves entries the last
    state does not read)."""
    store = enact.SQLiteStore(path)
    with store:
        invocation = enact.invoke(greet_twice, ("ada",), run_id="two-children")
        assert invocation.get_output() == "HELLO ADA!"
        run = enact.get_run("two-children")
        assert run.status == "complete"
        assert run.entries() == []
    store.close()
    with sqlite3.connect(path) as db:
        journal = db.execute("SELECT count(*) FROM names WHERE name LIKE 'enact/journal/%'")
        assert journal.fetchone()[0] == 0


@pytest.mark.parametrize("function", [greet, greet_twice])
def test_a_run_journaled_at_its_end_is_written_in_two_transactions(
    path: str, function: Any
) -> None:
    """With durability "end", the run's start is one transaction, and its calls, its
    tree, its last state and its head's move are the other."""
    store = enact.SQLiteStore(path, durability="end")
    with store:
        invocation = enact.invoke(function, ("ada",), run_id="at-the-end")
        run = enact.get_run("at-the-end")
        assert run.status == "complete" and invocation.get_output() in ("hello ada", "HELLO ADA!")
        first, _ = list(run.history())[-1]
        assert run.state.tree is not None
        tree = run.state.tree.digest
        children = [child.response.digest for child in invocation.get_children()]
    store.close()
    times = _write_times(path, "at-the-end")
    assert len(times) == 2, times
    start, end = sorted(times, key=float)
    assert set(times[start]) == {invocation.request.digest, first.digest, *_index_names(path)}
    assert {tree, run.head.digest, "runs/at-the-end", *children} <= set(times[end])


def test_a_lost_head_move_leaves_nothing_of_the_end(path: str) -> None:
    """When another process took the run over while its call ran, the end is refused as a
    whole: RunConflictError names the run, and no object of the end is written."""
    state["path"], state["run_id"] = path, "taken-over"
    store = enact.SQLiteStore(path)
    with store, pytest.raises(enact.RunConflictError) as raised:
        enact.invoke(hijacked, ("ada",), run_id="taken-over")
    store.close()
    message = str(raised.value)
    assert "taken-over" in message and "moved on" in message
    assert raised.value.head == state["taken"]
    assert _count(path, "objects") == int(state["objects"])
    other = enact.SQLiteStore(path)
    with other:
        run = enact.get_run("taken-over")
        assert run.head.digest == state["taken"]
        assert run.state.owner == "another-process"
        assert run.state.tree is None
    other.close()


def test_a_run_id_taken_meanwhile_leaves_no_name_of_the_new_run(path: str) -> None:
    """A start that loses the race for its run id writes no index name and no head."""
    store = enact.SQLiteStore(path)
    with store:
        enact.invoke(greet, ("ada",), run_id="ticket-1")
        names = dict(store.names())
        with pytest.raises(enact.RunConflictError, match=r"ticket-1.*exists already"):
            enact.invoke(greet, ("bob",), run_id="ticket-1")
        assert dict(store.names()) == names
        assert [run.id for run in enact.list_runs()] == ["ticket-1"]
    store.close()
