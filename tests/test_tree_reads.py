"""Printing a recorded tree reads each level's calls in one backend call.

`enact tree` (`cli._render.invocation_tree`), the web UI's JSON
(`jsonview.call_tree`, `jsonview.run_input_requests`) and `invocation_summary`
each read every call's request and response; one query per object made a
1,000-call run take 2,000 of them.
Counted on a real SQLite file through a fresh store object (nothing cached).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from helpers.counting import counted_reads, recorded

import enact
from enact import jsonview
from enact.cli import _render


@enact.register
def square(i: int) -> int:
    return i * i


@enact.register
def squares(n: int) -> int:
    return sum(square(i) for i in range(n))


SHOWS: dict[str, Callable[[enact.Store, str], Any]] = {
    "call_tree": lambda store, digest: jsonview.call_tree(store, digest),
    "invocation_tree": lambda store, digest: _render.invocation_tree(
        store, enact.Ref.from_digest(digest)(), depth=None, limit=80
    ),
    "invocation_summary": lambda store, digest: enact.invocation_summary(
        enact.Ref.from_digest(digest)()
    ),
}


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_a_tree_is_read_a_level_at_a_time(tmp_path: pathlib.Path, name: str) -> None:
    reads = {}
    for n in (5, 50):
        path = tmp_path / f"{n}.db"
        digest = recorded(path, squares, (n,), f"squares-{n}")
        backend, shown = counted_reads(path, lambda store, d=digest: SHOWS[name](store, d))
        reads[n] = backend.single_reads
        if name == "call_tree":
            assert [child["output"] for child in shown["children"]] == [i * i for i in range(n)]
        elif name == "invocation_summary":
            assert shown.splitlines()[-1].endswith(f" = {(n - 1) ** 2}")
    assert reads[50] - reads[5] <= 2, reads


@enact.register
def squares_then_ask(n: int) -> int:
    total = sum(square(i) for i in range(n))
    return total + enact.request_input(requested_type=int, context="add what?")


def test_the_inbox_reads_a_waiting_run_a_level_at_a_time(tmp_path: pathlib.Path) -> None:
    """The web UI's pending requests of a run that waits after many calls."""
    reads = {}
    for n in (5, 50):
        path = tmp_path / f"{n}.db"
        recorded(path, squares_then_ask, (n,), f"asks-{n}")

        def inbox(store: enact.Store, run_id: str = f"asks-{n}") -> Any:
            return jsonview.run_input_requests(store, enact.get_run(run_id, store=store))

        backend, shown = counted_reads(path, inbox)
        reads[n] = backend.single_reads
        assert [(item["path"], item["context"]) for item in shown] == [([n], "add what?")]
    assert reads[50] - reads[5] <= 2, reads
