"""Runs, in one process: ids, statuses, history, listing, fork, answers, durability, threads.

Each test uses a real SQLite file (or, where it says so, every backend that
another connection can reach). Executions are counted by the journaled
functions themselves (`calls`), never read back from the journal. The same
behaviour across real processes (kill -9, Ctrl-C, racing answerers) is in
tests/test_runs_processes.py.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import os
import pathlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.counting import CountingSQLiteBackend, counted_reads, recorded

import enact
from enact.invocations import answer, pending_input_requests
from enact.stores.base import NameQuery
from enact.stores.store import _Batch

calls: collections.Counter[str] = collections.Counter()
"""How many times each journaled body ran in this process, by key."""

stops: dict[str, BaseException] = {}
"""``stops[key] = error`` makes the body with that key raise `error` (once) after it ran."""

seen: list[Any] = []
"""What `look` saw from another connection while a run was running."""

watch: dict[str, str] = {}
"""``url`` and ``run_id`` of the run `look` watches."""


def ran(key: str) -> None:
    calls[key] += 1
    error = stops.pop(key, None)
    if error is not None:
        raise error


def look() -> None:
    """Records the run's journal as another connection sees it now."""
    other = enact.open_store(watch["url"])
    try:
        run = enact.get_run(watch["run_id"], store=other)
        seen.append((run.status, sorted(entry.path for entry in run.entries())))
    finally:
        other.close()


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    calls.clear()
    stops.clear()
    seen.clear()
    watch.clear()
    yield
    stops.clear()


@pytest.fixture
def url(tmp_path: pathlib.Path) -> str:
    """The URL of a new SQLite store file."""
    return f"sqlite:///{tmp_path}/store.db"


@pytest.fixture
def store(url: str) -> Iterator[enact.Store]:
    """A SQLite store file, active for the test."""
    opened = enact.open_store(url)
    with opened:
        yield opened
    opened.close()


@enact.register
def double(x: int) -> int:
    ran(f"double.{x}")
    return 2 * x


@enact.register
def total(n: int) -> int:
    ran("total")
    return sum(double(i) for i in range(n))


@enact.register
def pair(x: int) -> int:
    ran(f"pair.{x}")
    return double(x) + double(x + 100)


@enact.register
def nested(n: int) -> int:
    """Two levels below the root: ``pair(i)`` calls ``double`` twice."""
    ran("nested")
    return sum(pair(i) for i in range(n))


@enact.register
def watched(n: int) -> int:
    ran("watched")
    result = 0
    for i in range(n):
        result += pair(i)
        look()
    return result


@enact.register
def fails(x: int) -> int:
    ran("fails")
    double(x)
    raise ValueError(f"no {x}")


@enact.register
def effect(text: str) -> str:
    ran(f"effect.{text}")
    return text.upper()


@enact.register
def ask(x: int) -> str:
    ran("ask")
    prepared = double(x)
    decision = enact.request_input(str, for_value=prepared, context="approve?")
    return effect(f"{prepared}:{decision}")


@enact.register
async def async_pair(x: int) -> int:
    ran(f"async_pair.{x}")
    await asyncio.sleep(0)
    return double(x)


@enact.register
async def gathered(n: int) -> int:
    ran("gathered")
    values = await asyncio.gather(*(async_pair(i) for i in range(n)))
    look()
    ran("gathered.after")
    return sum(values)


@enact.register
def pooled(n: int) -> list[int]:
    ran("pooled")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(double, i) for i in range(n)]
        mapped = list(pool.map(pair, range(n)))
        values = [future.result() for future in futures]
    ran("pooled.after")
    return values + mapped


def run_of(invocation: enact.Invocation | None = None, run_id: str | None = None) -> enact.Run:
    """The run with `run_id`, or the only run in the store."""
    if run_id is not None:
        return enact.get_run(run_id)
    (run,) = enact.list_runs()
    return run


def digest(invocation: enact.Invocation | None) -> str:
    assert invocation is not None
    return enact.commit(invocation).digest


# Run ids ------------------------------------------------------------------------


def test_invoke_starts_a_run_with_a_generated_id(store: enact.Store) -> None:
    """Every top-level invoke is a run; its id sorts by time and the run is complete."""
    invocation = enact.invoke(total, (3,))
    run = run_of()
    assert re.fullmatch(r"r\d{8}T\d{6}-[0-9a-f]{10}", run.id)
    assert run.status == "complete"
    assert run.function == f"{total.__module__}.total"
    assert run.created <= run.updated
    assert digest(run.invocation()) == digest(invocation)
    assert run.invocation().get_output() == 6  # type: ignore[union-attr]


def test_a_given_run_id_is_kept_and_cannot_be_reused(store: enact.Store) -> None:
    """run_id="ticket-42" names the run; a second run with that id is refused before it runs."""
    enact.invoke(total, (2,), run_id="ticket-42")
    assert enact.get_run("ticket-42").status == "complete"
    calls.clear()
    with pytest.raises(enact.RunConflictError) as raised:
        enact.invoke(total, (2,), run_id="ticket-42")
    assert raised.value.run_id == "ticket-42"
    assert raised.value.status == "complete"
    assert "ticket-42" in str(raised.value)
    assert "fork it (enact.fork)" in str(raised.value)  # a finished run is not resumed
    assert calls == {}


def test_a_taken_run_id_of_a_waiting_run_says_to_answer_it(store: enact.Store) -> None:
    """The error for a taken id says what to do with the run that has it, by its status."""
    enact.invoke(ask, (1,), run_id="ticket-43")
    assert enact.get_run("ticket-43").status == "waiting"
    with pytest.raises(
        enact.RunConflictError,
        match=r"status waiting\). It waits for input: "
        r"answer it with enact\.answer, or choose another run id\.",
    ):
        enact.invoke(ask, (1,), run_id="ticket-43")


def test_resuming_a_waiting_or_finished_run_says_what_to_do_instead(
    store: enact.Store,
) -> None:
    """A waiting run is answered, not resumed; a finished one is forked."""
    enact.invoke(ask, (1,), run_id="waits")
    with pytest.raises(enact.RunConflictError) as raised:
        enact.resume("waits")
    assert raised.value.status == "waiting"
    assert str(raised.value).endswith(
        "It waits for input: answer it (enact.answer, or `enact answer RUN`)."
    )
    enact.invoke(total, (2,), run_id="done")
    with pytest.raises(enact.RunConflictError, match=r"is complete; .* Fork it to run it again"):
        enact.resume("done")


def run_index_names(store: enact.Store) -> list[str]:
    return [name for name, _ in store.list_names(NameQuery("enact/run-index/"))]


def test_a_refused_run_id_leaves_one_index_name(store: enact.Store) -> None:
    """Starting a run under a taken id writes, then removes, its index name: one row per run."""
    enact.invoke(total, (2,), run_id="ticket-7")
    names = run_index_names(store)
    with pytest.raises(enact.RunConflictError):
        enact.invoke(total, (3,), run_id="ticket-7")
    assert run_index_names(store) == names
    assert [run.id for run in enact.list_runs()] == ["ticket-7"]


def test_index_names_without_a_matching_head_are_not_listed(store: enact.Store) -> None:
    """What a crash between the two writes of a new run leaves (index name first) is skipped."""
    enact.invoke(total, (2,), run_id="kept")
    kept_head = store.get_name("runs/kept")
    assert kept_head is not None
    # The index name of a start that crashed before writing its head, and one of an
    # earlier start under the id of a run that exists (its head names another start time).
    store.set_name("enact/run-index/00000000000000000001/crashed", kept_head)
    store.set_name("enact/run-index/00000000000000000002/kept", kept_head)
    assert [run.id for run in enact.list_runs()] == ["kept"]
    with pytest.raises(enact.RunNotFoundError):
        enact.get_run("crashed")


@pytest.mark.parametrize("bad", ["", "has space", "-leading", "a/b", "x" * 201, "ticket-ü"])
def test_an_invalid_run_id_is_refused_before_the_call_runs(store: enact.Store, bad: str) -> None:
    """A run id that cannot name a run raises InvalidNameError; nothing runs or is listed."""
    with pytest.raises(enact.InvalidNameError) as raised:
        enact.invoke(total, (2,), run_id=bad)
    assert str(raised.value) == (
        f"Run id {bad!r} is not valid: use 1 to 200 ASCII letters, digits and . _ : @ + -, "
        "starting with a letter or digit (for example 'ticket-42')."
    )
    assert calls == {}
    assert enact.list_runs() == []


def test_a_misspelt_keyword_is_refused_naming_the_function(store: enact.Store) -> None:
    """invoke, invoke_async and answer raise TypeError for a misspelt keyword; nothing runs."""
    with pytest.raises(TypeError, match=r"^invoke\(\) got an unexpected keyword argument 'runid'"):
        enact.invoke(total, (2,), runid="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^invoke_async\(\) got an unexpected keyword argument"):
        asyncio.run(enact.invoke_async(async_pair, (2,), runid="x"))  # type: ignore[call-overload]
    assert calls == {}
    assert enact.list_runs() == []
    enact.invoke(ask, (3,), run_id="a")
    waiting = enact.get_run("a")
    with pytest.raises(TypeError, match=r"^answer\(\) got an unexpected keyword argument 'run_nw'"):
        answer(waiting, "yes", run_nw=True)  # type: ignore[call-overload]
    assert enact.get_run("a").head == waiting.head


def test_nested_invokes_are_not_runs(store: enact.Store) -> None:
    """An invoke inside a running invocation is part of that run: no run of its own."""

    @enact.register
    def outer() -> int:
        inner = enact.invoke(total, (2,))
        return int(inner.get_output())

    assert enact.invoke(outer).get_output() == 2
    assert [run.function.rsplit(".", 1)[1] for run in enact.list_runs()] == ["outer"]


def test_a_nested_invoke_cannot_name_a_run(store: enact.Store) -> None:
    """run_id on a nested invoke is an InvocationError (recorded as the outer call's exception)."""

    @enact.register
    def outer() -> None:
        enact.invoke(total, (2,), run_id="inner")

    invocation = enact.invoke(outer, run_id="outer")
    raised = invocation.get_raised()
    assert "nested invocations have no run id" in str(raised)
    assert enact.get_run("outer").status == "raised"
    with pytest.raises(enact.RunNotFoundError):
        enact.get_run("inner")


# Statuses and history -------------------------------------------------------------


def test_statuses_complete_raised_and_waiting(store: enact.Store) -> None:
    """A run that returns is complete, one that raises is raised, one that asks is waiting."""
    enact.invoke(total, (2,), run_id="ok")
    enact.invoke(fails, (1,), run_id="bad")
    enact.invoke(ask, (1,), run_id="asks")
    assert [(run.id, run.status) for run in enact.list_runs()] == [
        ("asks", "waiting"),
        ("bad", "raised"),
        ("ok", "complete"),
    ]
    bad = enact.get_run("bad").invocation()
    assert bad is not None and str(bad.get_raised()).endswith("no 1")


def test_a_running_run_is_held_by_its_process_with_a_lease(store: enact.Store) -> None:
    """While running, a run is `running`, owned here; an expired lease shows as interrupted."""
    states: list[enact.RunState] = []

    @enact.register
    def inspects() -> None:
        states.append(enact.get_run("held").state)
        with pytest.raises(enact.RunConflictError, match="running") as raised:
            enact.resume("held")
        assert raised.value.status == "running"

    enact.invoke(inspects, run_id="held")
    (state,) = states
    assert state.status == "running" and state.effective_status() == "running"
    assert state.owner is not None and state.lease_until is not None
    assert state.lease_until > state.updated
    assert state.effective_status(now=state.lease_until + 1) == "interrupted"
    assert enact.get_run("held").status == "complete"


def test_a_moved_state_is_a_new_state_with_the_changes(store: enact.Store) -> None:
    """`RunState.moved` gives what dataclasses.replace would, leaves the old state as it
    was, and names a field that does not exist."""
    enact.invoke(ask, (4,), run_id="mv")
    run = enact.get_run("mv")
    before = dataclasses.replace(run.state)
    moved = run.state.moved(run.head, "queued", "claimed", owner=None, updated=5.0)
    assert moved == dataclasses.replace(
        before, status="queued", event="claimed", previous=run.head, owner=None, updated=5.0
    )
    assert run.state == before and moved is not run.state
    assert moved.previous == run.head and store.checkout(store.commit(moved)) == moved
    with pytest.raises(TypeError, match="RunState has no field ownr"):
        run.state.moved(run.head, "queued", "claimed", ownr=None)


def test_history_lists_the_states_of_one_run_newest_first(store: enact.Store) -> None:
    """Starting, waiting, answering and resuming one run make one chain of states."""
    enact.invoke(ask, (4,), run_id="h")
    answer("h", "yes")
    run = enact.resume("h")
    assert [(state.event, state.status) for _, state in run.history()] == [
        ("finished", "complete"),
        ("resumed", "running"),
        ("answered", "answered"),
        ("finished", "waiting"),
        ("started", "running"),
    ]
    refs = [ref for ref, _ in run.history()]
    assert refs[0] == run.head and len(set(refs)) == len(refs)
    assert all(state.run_id == "h" for _, state in run.history())
    assert [row.id for row in enact.list_runs()] == ["h"]


# Listing -----------------------------------------------------------------------


def test_list_runs_filters_by_status_function_and_time(store: enact.Store) -> None:
    """list_runs selects by status, function (full name or last part) and start time."""
    for n in range(3):
        enact.invoke(total, (n,), run_id=f"total-{n}")
    middle = time.time()
    time.sleep(0.01)
    enact.invoke(fails, (1,), run_id="fails-1")
    enact.invoke(ask, (1,), run_id="ask-1")

    def ids(**filters: Any) -> list[str]:
        return [run.id for run in enact.list_runs(**filters)]

    assert ids() == ["ask-1", "fails-1", "total-2", "total-1", "total-0"]
    assert ids(status="complete") == ["total-2", "total-1", "total-0"]
    assert ids(status="raised") == ["fails-1"]
    assert ids(status="waiting") == ["ask-1"]
    assert ids(status="interrupted") == []
    assert ids(function="total") == ["total-2", "total-1", "total-0"]
    assert ids(function=f"{total.__module__}.fails") == ["fails-1"]
    assert ids(function="otal") == []
    assert ids(since=middle) == ["ask-1", "fails-1"]
    assert ids(until=middle) == ["total-2", "total-1", "total-0"]
    assert ids(since=middle, status="raised") == ["fails-1"]
    with pytest.raises(ValueError, match="status"):
        enact.list_runs(status="finished")


def test_list_runs_pages_with_the_cursor(store: enact.Store) -> None:
    """Pages of `limit` runs, continued with `before=cursor`, list every run once, newest first."""
    for n in range(7):
        enact.invoke(fails if n % 3 == 0 else total, (n,), run_id=f"run-{n}")
    everything = [run.id for run in enact.list_runs(limit=100)]
    assert everything == [f"run-{n}" for n in reversed(range(7))]
    for filters in ({}, {"status": "complete"}):
        expected = [run.id for run in enact.list_runs(limit=100, **filters)]
        pages: list[list[str]] = []
        cursor = None
        while True:
            page = enact.list_runs(limit=2, before=cursor, **filters)
            if not page:
                break
            assert len(page) <= 2
            pages.append([run.id for run in page])
            cursor = page[-1].cursor
        assert [run_id for page in pages for run_id in page] == expected
    assert [run.id for run in enact.list_runs(limit=3)] == everything[:3]


def test_get_run_errors(store: enact.Store) -> None:
    """Unknown ids, invalid ids and names that are not runs each get a clear error."""
    with pytest.raises(enact.RunNotFoundError, match="nope") as raised:
        enact.get_run("nope")
    assert raised.value.run_id == "nope"
    assert isinstance(raised.value, LookupError)
    with pytest.raises(enact.InvalidNameError):
        enact.get_run("not a run id")
    legacy = "00000001700000000000-0123456789ab"
    store.set_name(f"runs/{legacy}", enact.commit(enact.invoke(total, (1,))))
    with pytest.raises(enact.RunNotFoundError, match="not at a run state"):
        enact.get_run(legacy)
    # a name that is not a run does not break the listing
    assert [run.function.rsplit(".", 1)[1] for run in enact.list_runs()] == ["total"]


# Answers, superseded states and forks ------------------------------------------------


def test_record_only_answer_then_resume(store: enact.Store) -> None:
    """answer() without run_now stores the answer and runs nothing; resume continues the run."""
    enact.invoke(ask, (3,), run_id="a")
    waiting = enact.get_run("a")
    ((path, request),) = pending_input_requests(waiting)
    assert request.context == "approve?" and request.for_value() == 6
    calls.clear()
    answered = answer(waiting, "yes")
    assert answered.status == "answered" and answered.id == "a"
    assert calls == {}
    assert enact.get_run("a").head == answered.head
    done = enact.resume("a")
    assert done.status == "complete" and done.id == "a"
    assert done.invocation().get_output() == "6:YES"  # type: ignore[union-attr]
    # The recorded call and the answered request did not run again; only the rest did.
    assert calls == {"ask": 1, "effect.6:yes": 1}
    assert path == (1,)


def test_answer_with_run_now_continues_the_same_run(store: enact.Store) -> None:
    """answer(run_id, value, run_now=True) continues the run here and keeps its id."""
    enact.invoke(ask, (3,), run_id="now")
    run = answer("now", "ok", run_now=True)
    assert (run.id, run.status) == ("now", "complete")
    assert run.invocation().get_output() == "6:OK"  # type: ignore[union-attr]
    assert [row.id for row in enact.list_runs()] == ["now"]


def test_a_wrong_answer_type_changes_nothing(store: enact.Store) -> None:
    """An answer of the wrong type raises InputTypeError; the run stays waiting at its head."""
    enact.invoke(ask, (3,), run_id="typed")
    before = enact.get_run("typed")
    with pytest.raises(enact.InputTypeError):
        answer(before, 42)
    after = enact.get_run("typed")
    assert after.head == before.head and after.status == "waiting"


def test_answering_a_superseded_state_is_refused(store: enact.Store) -> None:
    """A state that is no longer the head cannot be answered: RunConflictError names it all."""
    enact.invoke(ask, (5,), run_id="s")
    stale = enact.get_run("s")
    answer(stale, "first", run_now=True)
    current = enact.get_run("s")
    calls.clear()
    with pytest.raises(enact.RunConflictError) as raised:
        answer(stale, "second", run_now=True)
    error = raised.value
    assert (error.run_id, error.status, error.head) == ("s", "complete", current.head.digest)
    assert "'s'" in str(error) and current.head.digest in str(error)
    assert "fork" in str(error)
    assert calls == {}
    assert enact.get_run("s").head == current.head
    with pytest.raises(enact.RunConflictError, match="not waiting"):
        answer("s", "third")


def test_forking_a_superseded_state_makes_a_new_run(store: enact.Store) -> None:
    """fork(run, state) starts a new run from an old state; the original run is unchanged."""
    enact.invoke(ask, (5,), run_id="orig")
    waiting_ref = enact.get_run("orig").head
    answer("orig", "first", run_now=True)
    original = enact.get_run("orig")
    calls.clear()
    fork = enact.fork("orig", waiting_ref, run_id="orig-2")
    assert (fork.id, fork.status, fork.state.forked_from) == ("orig-2", "waiting", "orig")
    assert calls == {}
    done = answer(fork, "second", run_now=True)
    assert done.invocation().get_output() == "10:SECOND"  # type: ignore[union-attr]
    assert calls == {"ask": 1, "effect.10:second": 1}
    assert enact.get_run("orig").head == original.head
    assert original.invocation().get_output() == "10:FIRST"  # type: ignore[union-attr]
    assert sorted(run.id for run in enact.list_runs()) == ["orig", "orig-2"]
    # A fork of the head by default; a fork's id cannot be taken twice.
    assert enact.fork("orig").status == "complete"
    with pytest.raises(enact.RunConflictError):
        enact.fork("orig", waiting_ref, run_id="orig-2")


def test_fork_refuses_a_state_of_another_run(store: enact.Store) -> None:
    """A state must belong to the run it is forked from."""
    enact.invoke(ask, (1,), run_id="one")
    enact.invoke(ask, (2,), run_id="two")
    with pytest.raises(enact.InvocationError, match="not a state of run 'one'"):
        enact.fork("one", enact.get_run("two").head)


def test_a_generator_drives_one_run(store: enact.Store) -> None:
    """InvocationGenerator.from_callable: every answer moves the same run; one row in the list."""
    generator = enact.InvocationGenerator.from_callable(ask, (2,), run_id="gen")
    request = next(generator)
    assert request.for_value() == 4
    with pytest.raises(StopIteration):
        generator.send("go")
    assert generator.run is not None and generator.run.id == "gen"
    assert [(run.id, run.status) for run in enact.list_runs()] == [("gen", "complete")]
    assert generator.invocation.get_output() == "4:GO"


# Interruptions and resume ---------------------------------------------------------------


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)])
def test_an_interrupt_marks_the_run_interrupted_and_is_reraised(
    store: enact.Store, error: BaseException
) -> None:
    """KeyboardInterrupt or SystemExit in a nested call: re-raised, recorded as interrupted."""
    stops["pair.2"] = error
    with pytest.raises(type(error)):
        enact.invoke(nested, (5,), run_id="int")
    run = enact.get_run("int")
    assert (run.status, run.state.status, run.state.event) == ("interrupted",) * 3
    assert [listed.id for listed in enact.list_runs(status="interrupted")] == ["int"]
    assert run.state.raised is not None  # what interrupted it, recorded in the state
    assert store.checkout(run.state.raised).type_name == f"builtins.{type(error).__name__}"
    before = calls.copy()
    done = enact.resume("int")
    assert done.status == "complete"
    assert done.invocation().get_output() == sum(4 * n + 200 for n in range(5))  # type: ignore[union-attr]
    again = calls - before
    # pair.2 was in flight (interrupted before its doubles); pairs 0 and 1 do not run again.
    assert again == {"nested": 1, "pair.2": 1, "pair.3": 1, "pair.4": 1, **_doubles(2, 3, 4)}


def test_an_interrupt_at_the_end_of_a_calls_record_still_marks_the_run(
    store: enact.Store,
) -> None:
    """Ctrl-C can land between a call's record block ending and its write (seen once in
    a few hundred Ctrl-Cs): that call's record is not written, but the run is still
    marked interrupted (it used to stay running, its mark refused as inside a block),
    and resume runs that call and the ones after it only."""
    block_exit = _Batch.__exit__.__code__
    exits = [0]

    def interrupt_at_the_fourth_record(frame: Any, event: str, arg: Any) -> None:
        # A trace function that raises does so in the frame just entered, before its first
        # line: where a signal's KeyboardInterrupt lands at worst.
        if event == "call" and frame.f_code is block_exit:
            exits[0] += 1
            if exits[0] == 4:
                raise KeyboardInterrupt

    sys.settrace(interrupt_at_the_fourth_record)
    try:
        with pytest.raises(KeyboardInterrupt):
            enact.invoke(total, (6,), run_id="cut")
    finally:
        sys.settrace(None)
    run = enact.get_run("cut")
    assert (run.state.status, run.state.event) == ("interrupted", "interrupted")
    assert store.checkout(run.state.raised).type_name == "builtins.KeyboardInterrupt"  # type: ignore[arg-type]
    assert not store.in_batch()
    before = calls.copy()
    assert before == {"total": 1, "double.0": 1, "double.1": 1, "double.2": 1}
    done = enact.resume("cut")
    assert done.status == "complete"
    assert done.invocation().get_output() == 2 * sum(range(6))  # type: ignore[union-attr]
    # double.2 ran, but its record was cut: it runs again, as a call still running would.
    assert calls - before == {"total": 1, **{f"double.{i}": 1 for i in range(2, 6)}}


code_version = ["recorded"]
"""What `versioned` calls: ``"recorded"``, or ``"changed"`` for code that no longer
matches the journal."""


@enact.register
def versioned(n: int) -> int:
    ran("versioned")
    shift = 0 if code_version[0] == "recorded" else 1
    return sum(pair(i + shift) for i in range(n))


def test_a_run_that_no_longer_matches_its_code_is_marked_interrupted_at_once(
    store: enact.Store,
) -> None:
    """A replay or resume that stops with ReplayError leaves its run interrupted (stored so,
    not shown as running until its lease runs out), for `enact.resume` once the code is
    fixed, as a worker leaves it."""
    stops["pair.2"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(versioned, (4,), run_id="versioned")
    finished = enact.invoke(versioned, (2,), run_id="finished")
    code_version[0] = "changed"
    try:
        with pytest.raises(enact.ReplayError, match="Replay stopped at call"):
            enact.resume("versioned")
        run = enact.get_run("versioned")
        assert (run.status, run.state.status) == ("interrupted", "interrupted")
        assert run.state.owner is None and run.state.lease_until is None
        assert run.state.raised is not None
        why = store.checkout(run.state.raised)
        assert why.type_name == "enact.errors.ReplayError"
        assert "Replay stopped at call [0]" in why.message  # pair(0) is now called as pair(1)
        # A replay of a recorded invocation is a new run: marked the same way.
        with pytest.raises(enact.ReplayError):
            finished.rewind(0).replay()  # type: ignore[union-attr]
        (replayed,) = [r for r in enact.list_runs() if r.id not in ("versioned", "finished")]
        assert (replayed.status, replayed.state.status) == ("interrupted", "interrupted")
    finally:
        code_version[0] = "recorded"
    before = calls.copy()
    done = enact.resume("versioned")
    assert done.status == "complete"
    assert done.invocation().get_output() == sum(4 * i + 200 for i in range(4))  # type: ignore[union-attr]
    assert calls - before == {"versioned": 1, "pair.2": 1, "pair.3": 1, **_doubles(2, 3)}
    assert enact.get_run("finished").status == "complete"  # the replayed run is untouched


def test_a_run_whose_root_returns_without_a_recorded_call_is_marked_interrupted_at_once(
    store: enact.Store,
) -> None:
    """The mismatch found when the root returns (it made fewer calls than its journal holds)
    leaves the run interrupted at once too, not running until its lease runs out."""
    finished = enact.invoke(versioned, (3,), run_id="three")
    rewound = finished.rewind(0)  # type: ignore[union-attr]
    rewound_request = rewound.request()
    rewound_request.input = enact.CallArgs([2], {})
    shorter = enact.Invocation(enact.commit(rewound_request), rewound.response)
    with pytest.raises(enact.ReplayError, match="returned without making the call") as caught:
        shorter.replay()
    assert caught.value.difference == "missing call"
    (replayed,) = [r for r in enact.list_runs() if r.id != "three"]
    assert (replayed.status, replayed.state.status) == ("interrupted", "interrupted")
    assert replayed.state.owner is None and replayed.state.lease_until is None


@enact.register
def steals_its_head(run_id: str) -> None:
    """Stands for another process moving the run's head, then Ctrl-C arrives."""
    run = enact.get_run(run_id)
    moved = dataclasses.replace(run.state, status="queued", owner=None, lease_until=None)
    run.store.set_name(f"runs/{run_id}", run.store.commit(moved))
    raise KeyboardInterrupt


def test_an_interrupt_that_cannot_be_recorded_says_so(store: enact.Store) -> None:
    """The interrupt is re-raised with a note saying why the run could not be marked."""
    with pytest.raises(KeyboardInterrupt) as raised:
        enact.invoke(steals_its_head, ("stolen",), run_id="stolen")
    (note,) = raised.value.__notes__
    assert note.startswith("enact could not mark run 'stolen' interrupted (RunConflictError: ")
    assert note.endswith("enact.resume continues it then.")
    assert enact.get_run("stolen").state.status == "queued"  # the other writer's state stays


def _doubles(*pairs: int) -> dict[str, int]:
    return {f"double.{x}": 1 for n in pairs for x in (n, n + 100)}


def test_a_resumed_run_has_the_tree_of_an_uninterrupted_one(store: enact.Store) -> None:
    """The finished journal is the same content-addressed tree, with or without a crash."""
    whole = enact.invoke(nested, (6,), run_id="whole")
    stops["double.103"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(nested, (6,), run_id="broken")
    resumed = enact.resume("broken").invocation()
    assert digest(resumed) == digest(whole)


def test_resume_refuses_runs_that_cannot_continue(store: enact.Store) -> None:
    """Only interrupted, answered and queued runs resume; others raise RunConflictError."""
    enact.invoke(total, (1,), run_id="done")
    enact.invoke(ask, (1,), run_id="waits")
    for run_id, status in (("done", "complete"), ("waits", "waiting")):
        with pytest.raises(enact.RunConflictError) as raised:
            enact.resume(run_id)
        assert (raised.value.run_id, raised.value.status) == (run_id, status)
    with pytest.raises(enact.RunNotFoundError):
        enact.resume("missing")


# Durability ------------------------------------------------------------------------------


@pytest.fixture
def shared_url(backend_kind: Any, new_store_url: Callable[[], str]) -> str:
    """A new store of each kind that a second connection can reach."""
    if not backend_kind.shared:
        pytest.skip(f"a second connection cannot reach a {backend_kind.name} store")
    return new_store_url()


def test_durability_call_writes_each_call_when_it_finishes(shared_url: str) -> None:
    """Default durability: another connection sees each finished call, at every depth."""
    watch.update(url=shared_url, run_id="w")
    with enact.open_store(shared_url) as active:
        enact.invoke(watched, (3,), run_id="w")
        assert enact.get_run("w").status == "complete"
        active.close()
    pairs = [[(n,), (n, 0), (n, 1)] for n in range(3)]
    assert seen == [
        ("running", sorted(path for group in pairs[: n + 1] for path in group)) for n in range(3)
    ]


def test_durability_end_writes_the_run_when_it_ends(url: str, store: enact.Store) -> None:
    """durability="end": nothing of the calls is written until the run ends."""
    watch.update(url=url, run_id="e")
    invocation = enact.invoke(watched, (3,), run_id="e", durability="end")
    assert seen == [("running", [])] * 3
    assert enact.get_run("e").status == "complete"
    calls.clear()
    watch.update(run_id="c")
    same = enact.invoke(watched, (3,), run_id="c", durability="call")
    assert digest(same) == digest(invocation)
    with pytest.raises(ValueError, match="durability"):
        enact.invoke(total, (1,), durability="sometimes")  # type: ignore[arg-type]


def test_the_store_sets_the_default_durability(url: str, store: enact.Store) -> None:
    """store.durability = "end" makes every run of the store write at its end."""
    store.durability = "end"
    watch.update(url=url, run_id="d")
    enact.invoke(watched, (2,), run_id="d")
    assert seen == [("running", [])] * 2
    seen.clear()
    watch.update(run_id="d2")
    enact.invoke(watched, (1,), run_id="d2", durability="call")
    assert seen == [("running", [(0,), (0, 0), (0, 1)])]


def test_durability_end_loses_the_calls_of_an_interrupted_run(store: enact.Store) -> None:
    """durability="end" keeps nothing of an interrupted run: resume runs every call again."""
    stops["pair.3"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(nested, (4,), run_id="lost", durability="end")
    run = enact.get_run("lost")
    assert run.status == "interrupted" and run.entries() == []
    before = calls.copy()
    assert enact.resume("lost").status == "complete"
    assert calls - before == {
        "nested": 1,
        **{f"pair.{n}": 1 for n in range(4)},
        **_doubles(0, 1, 2, 3),
    }


def test_gathered_children_are_durable_and_not_run_again(url: str, store: enact.Store) -> None:
    """asyncio.gather children and their nested calls are written as each finishes."""
    watch.update(url=url, run_id="g")
    stops["gathered.after"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(enact.invoke_async(gathered, (5,), run_id="g"))
    assert seen == [("running", sorted([(n,) for n in range(5)] + [(n, 0) for n in range(5)]))]
    assert enact.get_run("g").status == "interrupted"
    before = calls.copy()
    done = enact.resume("g")
    assert done.status == "complete"
    assert done.invocation().get_output() == 2 * sum(range(5))  # type: ignore[union-attr]
    assert calls - before == {"gathered": 1, "gathered.after": 1}


# Threads ------------------------------------------------------------------------------------


def test_thread_pool_calls_are_journaled_in_call_order(store: enact.Store) -> None:
    """Calls submitted to (and mapped on) a pool of 8 threads are children in call order."""
    invocation = enact.invoke(pooled, (12,), run_id="pool")
    assert invocation.get_output() == [2 * n for n in range(12)] + [4 * n + 200 for n in range(12)]
    children = list(invocation.get_children())
    assert [child.get_invokable() for child in children] == [double] * 12 + [pair] * 12
    assert [child.get_input().args for child in children] == [[n] for n in range(12)] * 2
    assert all(child.get_output() is not None for child in children)
    assert [len(list(child.get_children())) for child in children] == [0] * 12 + [2] * 12
    expected = collections.Counter({"pooled": 1, "pooled.after": 1})
    for n in range(12):
        expected.update([f"double.{n}", f"pair.{n}", f"double.{n}", f"double.{n + 100}"])
    assert calls == expected


def test_thread_pool_calls_are_not_run_again_on_replay_or_resume(store: enact.Store) -> None:
    """Replaying, or resuming after an interrupt, runs none of the calls the threads made."""
    invocation = enact.invoke(pooled, (16,), run_id="pool")
    before = calls.copy()
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == invocation.get_output()
    assert calls - before == {"pooled": 1, "pooled.after": 1}

    stops["pooled.after"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(pooled, (16,), run_id="pool-2")
    assert enact.get_run("pool-2").status == "interrupted"
    before = calls.copy()
    resumed = enact.resume("pool-2")
    assert resumed.invocation().get_output() == invocation.get_output()  # type: ignore[union-attr]
    assert calls - before == {"pooled": 1, "pooled.after": 1}
    assert digest(resumed.invocation()) == digest(invocation)


@enact.register
def threaded(n: int) -> list[int]:
    """Threads of its own: a registered target each, and one plain target that calls."""
    ran("threaded")
    threads = [threading.Thread(target=double, args=(i,)) for i in range(n)]
    found: list[int] = []
    threads.append(threading.Thread(target=lambda: found.append(pair(n))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran("threaded.after")
    return found


def test_threads_started_in_a_run_are_journaled_and_not_run_again(store: enact.Store) -> None:
    """Calls made from `threading.Thread`s started inside a run are its children (a
    registered target in start order) and a replay or resume runs none of them."""
    invocation = enact.invoke(threaded, (6,), run_id="threads")
    assert invocation.get_output() == [4 * 6 + 200]
    children = list(invocation.get_children())
    assert [child.get_invokable() for child in children] == [double] * 6 + [pair]
    assert [child.get_input().args for child in children] == [[n] for n in range(7)]
    before = calls.copy()
    assert invocation.rewind(0).replay().get_output() == [4 * 6 + 200]
    assert calls - before == {"threaded": 1, "threaded.after": 1}

    stops["threaded.after"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(threaded, (6,), run_id="threads-2")
    before = calls.copy()
    resumed = enact.resume("threads-2")
    assert calls - before == {"threaded": 1, "threaded.after": 1}
    assert digest(resumed.invocation()) == digest(invocation)


@enact.register
def leaves_a_thread() -> int:
    errors: list[BaseException] = []
    gate = gates[0]

    def late() -> None:
        gate.wait()
        try:
            double(1)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=late, name="late-worker")
    thread.start()
    leftovers.append((thread, errors))
    return 1


leftovers: list[tuple[threading.Thread, list[BaseException]]] = []
gates: list[threading.Event] = []


def test_a_thread_that_outlives_its_run_cannot_journal_into_it(store: enact.Store) -> None:
    """A journaled call from a thread started in a call that has returned is an error
    naming the thread, not a call that silently goes unjournaled; a thread started
    outside any invocation runs registered functions plainly, as before."""
    gate = threading.Event()
    gates[:] = [gate]
    invocation = enact.invoke(leaves_a_thread, (), run_id="leaves")
    ((thread, errors),) = leftovers
    gate.set()
    thread.join()
    leftovers.clear()
    (error,) = errors
    assert isinstance(error, enact.InvocationError)
    assert str(error).startswith("double was called from thread 'late-worker', which was started")
    assert "Join the thread before that call returns" in str(error)
    assert list(invocation.get_children()) == []
    plain: list[int] = []
    outside = threading.Thread(target=lambda: plain.append(double(2)))
    outside.start()
    outside.join()
    assert plain == [4]


late_work: list[concurrent.futures.Future[int]] = []
late_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)


@enact.register
def leaves_work_in_a_pool() -> int:
    gate = gates[0]

    def later() -> int:
        gate.wait()
        return double(5)

    late_work.append(late_pool.submit(later))  # not waited for
    return double(1)


def test_pool_work_that_outlives_its_call_is_refused_not_lost(store: enact.Store) -> None:
    """A journaled call made by pool work after the call that submitted it returned is
    an error, and does not run: before, it ran unjournaled and left a journal entry
    under a run that had ended."""
    gate = threading.Event()
    gates[:] = [gate]
    invocation = enact.invoke(leaves_work_in_a_pool, (), run_id="late-pool")
    assert [child.get_output() for child in invocation.get_children()] == [2]
    gate.set()
    (future,) = late_work
    late_work.clear()
    with pytest.raises(enact.InvocationError) as raised:
        future.result(timeout=30)
    assert str(raised.value).startswith(
        "double was called inside the root invocation after that call had returned"
    )
    assert "double.5" not in calls
    assert store.list_names("enact/journal/") == []
    assert enact.get_run("late-pool").status == "complete"


@enact.register
def asks_in_a_thread() -> str:
    errors: list[BaseException] = []

    def ask_there() -> None:
        try:
            enact.request_input(str, context="from a thread")
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=ask_there)
    thread.start()
    thread.join()
    return str(errors[0])


def test_request_input_from_a_thread_says_where_to_ask(store: enact.Store) -> None:
    message = enact.invoke(asks_in_a_thread, (), run_id="asks-thread").get_output()
    assert message is not None and message.startswith(
        "enact.request_input() was called from a thread started with threading.Thread"
    )


@enact.register
def counted(i: int) -> int:
    ran(f"counted.{i}")
    return i


@enact.register
def asks_after(n: int) -> int:
    total = sum(counted(i) for i in range(n))
    return total + enact.request_input(requested_type=int, context="one more")


def test_answering_reads_the_recorded_calls_in_one_go(tmp_path: pathlib.Path) -> None:
    """Answering a waiting run reads its recorded calls' responses in one backend call: the
    single-object reads do not grow with the number of calls before the request."""
    single_reads = {}
    for n in (10, 60):
        path = tmp_path / f"{n}.db"
        recorded(path, asks_after, (n,), f"ask-{n}")

        def answer_now(store: enact.Store, run_id: str = f"ask-{n}") -> Any:
            run = enact.answer(run_id, 5, run_now=True)
            return run.status, run.invocation().get_output()  # type: ignore[union-attr]

        backend, shown = counted_reads(path, answer_now)
        assert shown == ("complete", sum(range(n)) + 5)
        single_reads[n] = backend.single_reads
    assert all(calls[f"counted.{i}"] == 2 for i in range(10))  # once per run, none on answer
    assert single_reads[60] - single_reads[10] <= 2, single_reads


def test_pending_requests_of_an_invocation_are_found_in_one_read_per_level(
    tmp_path: pathlib.Path,
) -> None:
    """`pending_input_requests` of a waiting invocation reads its children's responses
    in one backend call, however many calls came before the request."""
    single_reads = {}
    for n in (10, 60):
        path = tmp_path / f"{n}.db"
        with enact.SQLiteStore(path) as first:
            waiting = enact.invoke(asks_after, (n,))
        first.close()
        backend, found = counted_reads(path, lambda store, w=waiting: pending_input_requests(w))
        [(where, request)] = found
        single_reads[n] = backend.single_reads
        assert where == (n,)
        assert request.context == "one more"
    assert single_reads[60] - single_reads[10] <= 1, single_reads


@enact.register
def counts_then_stops(n: int) -> int:
    total = sum(counted(i) for i in range(n))
    ran("counts_then_stops.after")
    return total


def test_resuming_lists_the_journal_once(tmp_path: pathlib.Path) -> None:
    """Resuming an interrupted run reads its journal once: the claim's read (which finds
    where the journal ends) is the one the replay of the recorded calls uses, which
    asks only for entries after it (answers recorded under the claim)."""
    path = tmp_path / "store.db"
    stops["counts_then_stops.after"] = KeyboardInterrupt()
    with enact.SQLiteStore(path) as first, pytest.raises(KeyboardInterrupt):
        enact.invoke(counts_then_stops, (30,), run_id="stopped")
    first.close()
    backend = CountingSQLiteBackend(path)
    with enact.Store(backend):
        assert enact.get_run("stopped").status == "interrupted"
        resumed = enact.resume("stopped")
        assert resumed.status == "complete"
        assert resumed.invocation().get_output() == sum(range(30))  # type: ignore[union-attr]
    backend.close()
    journal = "enact/journal/stopped/"
    assert [after for prefix, after in backend.listed if prefix == journal] == [
        None,
        f"{journal}0000000029/~",
    ]
    assert all(calls[f"counted.{i}"] == 1 for i in range(30))  # none ran again


@enact.register
def squared(i: int) -> int:
    return i * i


def run_of_its_own(url: str, i: int) -> int | None:
    """A process pool's task that starts a run of its own in the child. First it makes
    the lease renewal of every run this process knows due (as if the parent's run had
    gone on for a third of its lease), and its run lasts past a tick of the lease thread:
    a child must never renew the parent's run, whose head would move behind its back."""
    from enact.invocations.runs import _claims

    for handle in list(_claims._leases._runs):
        handle.renew_at = 0.0
    with enact.open_store(url):
        invocation = enact.invoke(squared_slowly, (i,), run_id=f"child-{i}")
    return invocation.get_output()


@enact.register
def squared_slowly(i: int) -> int:
    time.sleep(0.5)  # the lease thread ticks every 0.2 s
    return i * i


_FORK: Any = None if sys.platform == "win32" else __import__("multiprocessing").get_context("fork")


@enact.register
def in_process_pool(n: int, url: str, own_runs: bool) -> list[int | None]:
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=_FORK) as pool:
        if own_runs:
            return list(pool.map(run_of_its_own, [url] * n, range(n)))
        try:
            return list(pool.map(squared, range(n)))
        finally:
            look()  # what the children wrote into this run's journal: nothing


@pytest.mark.skipif(_FORK is None, reason="fork start method (POSIX only)")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_journaled_call_in_a_forked_child_process_is_refused(
    store: enact.Store, url: str
) -> None:
    """A process pool's worker inherits a copy of the running invocation that the parent
    never sees: a journaled call there is an InvocationError (it does not run, and writes
    nothing into the parent's run), not a call that silently goes unjournaled. The child
    may start a run of its own, and never renews the lease of the parent's run."""
    watch.update(url=url, run_id="pool")
    invocation = enact.invoke(in_process_pool, (3, url, False), run_id="pool")
    assert seen == [("running", [])]
    raised = invocation.get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name == "enact.errors.InvocationError"
    assert re.fullmatch(
        r"squared was called in process \d+, which process \d+ forked while it ran an "
        r"invocation \(a ProcessPoolExecutor worker, or multiprocessing\): enact journals the "
        r"calls of an invocation's own process \(its threads and asyncio tasks\), not those "
        r"of child processes, and the call did not run\. Make journaled calls in parallel "
        r"from a ThreadPoolExecutor or asyncio; give the process pool functions that are not "
        r"registered; or have the child start a run of its own with "
        r"enact\.invoke\(\.\.\., run_id=\.\.\.\)\.",
        raised.message,
    )
    assert list(invocation.get_children()) == []

    own = enact.invoke(in_process_pool, (2, url, True), run_id="pool-own")
    assert own.get_output() == [0, 1], own.get_raised()
    # Only the parent moved its run's head: started, then finished.
    events = [state.event for _, state in enact.get_run("pool-own").history()]
    assert events == ["finished", "started"], events
    assert sorted((run.id, run.status) for run in enact.list_runs()) == [
        ("child-0", "complete"),
        ("child-1", "complete"),
        ("pool", "raised"),
        ("pool-own", "complete"),
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_while_other_threads_hold_enact_s_locks_can_use_the_store(
    store: enact.Store,
) -> None:
    """Another thread holds the store's, its backend's and the registry's locks at the
    fork: in the child those threads do not exist, and the child, using the same store
    object, still commits, reads and runs (it would wait forever for the copies)."""
    from enact import registry

    backend = store._backend  # a SQLite backend: its lock for new connections
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store._lock, backend._holders_lock, registry._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 if it could use the store
        code = 1
        try:
            with store:
                ref = enact.commit("from the child")
                ok = ref() == "from the child"
                ok = ok and enact.invoke(squared, (3,), run_id="in-child").get_output() == 9
            code = 0 if ok else 1
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child waited for a lock held by a thread of its parent")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    assert enact.get_run("in-child").status == "complete"
