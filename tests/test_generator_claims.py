"""InvocationGenerator: an answer claims the run back before any more of the program runs.

The claim (the compare-and-set from ``waiting`` to ``running`` that records
the answer) is made by the program's own thread, just before its
`request_input` call returns; these tests pin what that must keep: a refused
answer runs none of the program, and an accepted one is in the store, with
the run held, by the time the program's next line runs.
"""

from __future__ import annotations

import collections
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import enact

entered: collections.Counter[str] = collections.Counter()
"""How many times each body ran in this process."""

seen: list[tuple[str, Any, list[str]]] = []
"""What a second connection saw of the run right after each answer came back."""

STORE_PATH: list[pathlib.Path] = []


@enact.register
def count(i: int) -> int:
    entered["count"] += 1
    return i


@enact.register
def ask_and_count(n: int) -> int:
    total = 0
    for i in range(n):
        total += count(enact.request_input(int, for_value=i))
    return total


@enact.register
def ask_and_look(n: int) -> int:
    total = 0
    for i in range(n):
        total += enact.request_input(int, for_value=i)
        other = enact.SQLiteStore(STORE_PATH[0])  # as another process would read it
        with other:
            run = enact.get_run("looked")
            seen.append((run.status, run.state.answer, [e.response for e in run.entries()]))
        other.close()
    return total


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    entered.clear()
    seen.clear()
    yield
    STORE_PATH.clear()


@pytest.fixture
def path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(path: pathlib.Path) -> Iterator[enact.Store]:
    opened = enact.SQLiteStore(path)
    with opened:
        yield opened
    opened.close()


def _wait_for_program_threads() -> None:
    for thread in threading.enumerate():
        if thread.name == "enact-program":
            thread.join(timeout=30)


def test_a_refused_answer_runs_none_of_the_program(path: pathlib.Path, store: enact.Store) -> None:
    """An answer given here after another process answered runs no program code, writes nothing."""
    generator = enact.InvocationGenerator.from_callable(ask_and_count, (3,), run_id="refused")
    next(generator)
    generator.set_input(5)
    next(generator)  # the first answer went through: count(5) ran
    assert entered == {"count": 1}
    other = enact.SQLiteStore(path)
    with other:
        enact.answer("refused", 7, run_now=False)
    other.close()
    head = enact.get_run("refused").head
    generator.set_input(1)
    with pytest.raises(enact.RunConflictError) as raised:
        next(generator)
    assert raised.value.run_id == "refused" and raised.value.status == "answered"
    _wait_for_program_threads()
    assert entered == {"count": 1}  # count(1) never ran
    run = enact.get_run("refused")
    assert run.head == head and run.status == "answered"
    answered = enact.commit(enact.Response(enact.Output(1), None, False, []))
    assert answered.digest not in [entry.response for entry in run.entries()]
    assert enact.resume("refused").status == "waiting"  # for its third answer
    done = enact.answer("refused", 3, run_now=True)
    invocation = done.invocation()
    assert invocation is not None and invocation.get_output() == 5 + 7 + 3


def test_an_answer_is_stored_before_the_program_goes_on(
    path: pathlib.Path, store: enact.Store
) -> None:
    """When request_input returns, another connection sees the run running with that answer."""
    STORE_PATH.append(path)
    generator = enact.InvocationGenerator.from_callable(ask_and_look, (2,), run_id="looked")
    for request in generator:
        generator.set_input(10 + request.for_value())
    assert generator.invocation.get_output() == 10 + 11
    assert [status for status, _, _ in seen] == ["running", "running"]
    for value, (_, answer, responses) in zip((10, 11), seen, strict=True):
        recorded = enact.commit(enact.Response(enact.Output(value), None, False, []))
        assert answer == recorded and recorded.digest in responses
