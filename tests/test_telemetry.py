"""Timings beside the journal, token usage, call observers and the ``enact`` logger."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import pathlib
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import enact
from enact.invocations import telemetry
from enact.invocations.timings import (
    INLINE_TIMINGS,
    CallEvent,
    CallTimer,
    RunTimings,
    _calls_of,
    read_timings,
)

TESTS = pathlib.Path(__file__).parent
sys.path.insert(0, str(TESTS / "helpers"))

import telemetry_agent as agents  # noqa: E402


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[enact.Store]:
    with enact.open_store(f"sqlite:///{tmp_path}/store.db") as opened:
        yield opened


def _paths(invocation: enact.Invocation, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    found = [prefix]
    for index, child in enumerate(invocation.get_children()):
        found += _paths(child, (*prefix, index))
    return found


def _requests(invocation: enact.Invocation, prefix: tuple[int, ...] = ()) -> dict[Any, str]:
    found = {prefix: invocation.request.digest}
    for index, child in enumerate(invocation.get_children()):
        found.update(_requests(child, (*prefix, index)))
    return found


# Timings -----------------------------------------------------------------------------


def test_every_call_of_a_run_has_its_start_end_and_process(store: enact.Store) -> None:
    invocation = enact.invoke(agents.nested, (3,), run_id="nested")
    timings = enact.get_run("nested").timings()
    assert sorted(timing.path for timing in timings) == sorted(_paths(invocation))
    requests = _requests(invocation)
    for timing in timings:
        assert requests[timing.path].startswith(timing.request)
        assert timing.start <= timing.end
        assert (timing.host, timing.pid) == (socket.gethostname(), os.getpid())
        if timing.path:  # a child runs within its parent's time
            parent = timings.get(timing.path[:-1])
            assert parent is not None
            assert parent.start <= timing.start <= timing.end <= parent.end
    (attempt,) = timings.attempts
    assert (attempt.event, attempt.status, attempt.ran, attempt.reused) == (
        "started",
        "complete",
        len(requests),
        0,
    )
    root = timings.get(())
    assert root is not None and attempt.start <= root.start and root.end <= attempt.end


def test_timings_live_beside_the_journal_and_leave_digests_alone(store: enact.Store) -> None:
    with_timings = enact.invoke(agents.nested, (2,), run_id="on")
    telemetry.configure_telemetry(timings=False)
    try:
        without = enact.invoke(agents.nested, (2,), run_id="off")
    finally:
        telemetry.configure_telemetry(timings=True)
    assert store.commit(with_timings).digest == store.commit(without).digest
    assert enact.get_run("off").state.timings is None
    assert enact.get_run("off").timings().attempts == []
    # The record of a first attempt of a few calls is kept in the run's state, as text.
    inline = enact.get_run("on").state.timings
    assert isinstance(inline, str)
    record = RunTimings.from_text(inline, "on")
    assert record is not None and record.run_id == "on" and record.count == 5
    assert RunTimings.from_text(record.to_text() or "", "on") == record


@enact.register
def lone(x: int) -> int:
    return x * 2


def test_a_run_of_one_call_keeps_its_timings_as_a_short_line(store: enact.Store) -> None:
    enact.invoke(lone, (4,), run_id="lone")
    run = enact.get_run("lone")
    inline = run.state.timings
    assert isinstance(inline, str) and inline.startswith("enact-ts4|started|complete|")
    assert "lone" not in inline  # the state names the run
    # The root alone: its start and end as offsets from the attempt's start, no
    # clock origin, parent, index or attempt end (the attempt ends with its call).
    fields = inline.split("|")
    assert len(fields) == 9
    *_, started, start, end, requests = fields
    assert 0 <= int(start) <= int(end) < 60 * 10**9
    assert requests == run.state.request.digest[:16]
    assert abs(int(started) / 1e9 - run.state.created) < 60
    record = RunTimings.from_text(inline, "lone")
    assert record is not None and record.count == 1 and record.parents == ""
    assert record.run_id == "lone" and record.ended == int(started) + int(end)
    assert record.requests == bytes.fromhex(run.state.request.digest[:16])
    root = run.timings().get((), run.state.request.digest)
    assert root is not None and 0 <= root.duration < 60
    assert root.start_ns == int(started) + int(start)
    attempt = run.timings().attempts[0]
    assert attempt.start <= root.start <= root.end <= attempt.end
    # The long form of the same record reads back to it, and damage reads as nothing.
    assert RunTimings.from_text(record.to_text() or "", "lone") == record
    for position, bad in (
        (4, "pid"),
        (5, "when"),
        (6, "0,1"),
        (7, f"{1 << 64}"),
        (7, "1;2"),
        (8, "x|y"),
        (8, "x" * 16),
        (8, "ab"),
    ):
        damaged = "|".join([*fields[:position], bad, *fields[position + 1 :]])
        assert RunTimings.from_text(damaged) is None, damaged


def test_one_call_that_is_not_the_root_keeps_the_one_parent_line() -> None:
    """A first attempt of one call that is not the root (index >= 0) keeps ``enact-ts3``."""
    timer = CallTimer("one", "started")
    origin = timer._clock_origin
    timer.add(((0,), 2, "ab" * 32, origin + 10, origin + 30))
    line = timer.close_text("complete")
    assert line is not None and line.startswith("enact-ts3|started|complete|")
    record = RunTimings.from_text(line, "one")
    assert record is not None and record.parents == "0" and record.count == 1


@pytest.mark.parametrize("count", [0, 2, 3, 7, INLINE_TIMINGS])
@pytest.mark.parametrize("parent", [(), (0, 3)])
def test_the_short_line_of_one_parent_reads_back_as_its_long_record(
    count: int, parent: tuple[int, ...]
) -> None:
    """For every size of a first attempt that gets the short ``enact-ts3`` line (calls of
    one parent, the last one the parent's own row), the line reads back to the calls,
    requests and times of the long record of the same timer."""
    timer = CallTimer("short", "started")
    origin = timer._clock_origin
    for index in range(count):
        last = index == count - 1
        request = f"{index:02x}" * 32
        timer.add((parent, -1 if last and not parent else index, request, origin + 10 * index,
                   origin + 10 * index + 7))  # fmt: skip
    line = timer.close_text("complete")
    assert line is not None and line.startswith("enact-ts3|started|complete|")
    short = RunTimings.from_text(line, "short")
    long = timer.close("complete", None)
    assert short is not None and long is not None and short.count == long.count == count

    def calls(record: RunTimings) -> list[tuple[Any, ...]]:
        return [(c.path, c.request, c.start_ns, c.end_ns) for c in _calls_of(record, 0)[0]]

    assert calls(short) == calls(long)
    assert [path for path, *_ in calls(short)][: max(count - 1, 0)] == [
        (*parent, index) for index in range(max(count - 1, 0))
    ]


def test_the_generated_line_formatter_shows_its_source() -> None:
    """The short line's formatter is generated code: its source is registered, so a
    traceback through it (or `inspect.getsource`) shows what it runs."""
    import inspect

    from enact.invocations.timings import _one_parent_line

    line = _one_parent_line(3)
    source = inspect.getsource(line)
    assert source.startswith("def line(c, o):") and "{c[1]}" in source
    origin = 100
    calls = [(), 0, "ab" * 32, 110, 120, (), 1, "cd" * 32, 130, 140, (), -1, "ef" * 32, 105, 150]
    assert line(calls, origin) == "0,10,20;1,30,40;-1,5,50|" + "ab" * 8 + "cd" * 8 + "ef" * 8


@enact.register
def pair(x: int) -> int:
    return lone(x) + lone(x + 1)


def test_a_root_and_its_children_keep_their_timings_as_a_short_line(store: enact.Store) -> None:
    invocation = enact.invoke(pair, (1,), run_id="pair")
    run = enact.get_run("pair")
    assert isinstance(run.state.timings, str) and run.state.timings.startswith("enact-ts3|")
    timings = run.timings()
    assert set(timings.calls) == {(), (0,), (1,)} == set(_paths(invocation))
    root, first, second = timings.calls[()], timings.calls[(0,)], timings.calls[(1,)]
    assert root.start <= first.start <= first.end <= second.start <= second.end <= root.end
    record = RunTimings.from_text(run.state.timings, "pair")
    assert record is not None and RunTimings.from_text(record.to_text() or "", "pair") == record


def test_the_timings_of_a_larger_attempt_are_an_object_of_their_own(
    store: enact.Store,
) -> None:
    enact.invoke(agents.pooled, (INLINE_TIMINGS,), run_id="larger")
    ref = enact.get_run("larger").state.timings
    assert isinstance(ref, enact.Ref)
    record = store.checkout(ref)
    assert isinstance(record, RunTimings) and record.count == INLINE_TIMINGS + 1
    # Stored packed: 24 bytes a call (two 32-bit and two 64-bit columns), 8 bytes of
    # each request digest.
    count = record.count
    assert isinstance(record.calls, bytes) and len(record.calls) == 24 * count
    columns = struct.unpack(f"<{2 * count}i{2 * count}q", record.calls)
    assert columns[count - 1] == 0 and columns[2 * count - 1] == -1  # the root finished last
    assert sorted(columns[count : 2 * count - 1]) == list(range(INLINE_TIMINGS))  # its children
    starts, ends = columns[2 * count : 3 * count], columns[3 * count :]
    assert all(start <= end for start, end in zip(starts, ends, strict=True))
    assert isinstance(record.requests, bytes) and len(record.requests) == 8 * count
    timings = enact.get_run("larger").timings()
    assert len(timings.calls) == INLINE_TIMINGS + 1
    tree = enact.get_run("larger").invocation()
    assert tree is not None
    for index, child in enumerate(tree.get_children()):
        assert timings.get((index,), child.request.digest) is not None  # each its own request
    assert timings.get((0,), tree.get_child(1).request.digest) is None


def test_timings_stored_in_the_older_forms_are_still_read(store: enact.Store) -> None:
    """Stores written before the 24-byte layout keep their timings: the text forms that
    named the run or gave the clock origin, and objects whose columns are base64 text of
    64-bit numbers."""
    enact.invoke(lone, (1,), run_id="old")
    run = enact.get_run("old")
    request = run.state.request.digest
    started, clock = 1_700_000_000_000_000_000, 5_000
    short = f"enact-timings-s1|old|started|complete|h|7|{started}|{clock}|900||-1,100,800|"
    s2 = f"enact-timings-s2|started|complete|h|7|{started}|{clock}|900||-1,100,800|"
    long_columns = base64.b64encode(struct.pack("<4q", 0, -1, clock + 100, clock + 800))
    long = (
        f"enact-timings-1|old|started|complete|h|7|{started}|{started + 900}|{clock}|1|0||"
        f"{long_columns.decode()}|{request[:16]}|"
    )
    stored = RunTimings(
        "old", "started", "complete", "h", 7, started, started + 900, clock, 1, "",
        long_columns.decode(), request[:16], [], 0,
    )  # fmt: skip
    for kept in (short + request[:16], s2 + request[:16], long, store.commit(stored)):
        state = dataclasses.replace(run.state, timings=kept)
        store.set_name("runs/old", store.commit(state))
        timings = enact.get_run("old").timings()
        root = timings.get((), request)
        assert root is not None and (root.host, root.pid) == ("h", 7)
        assert (root.start_ns, root.end_ns) == (started + 100, started + 800)
        (attempt,) = timings.attempts
        assert (attempt.run_id, attempt.status, attempt.ran) == ("old", "complete", 1)


def test_timings_recorded_by_another_process_are_read_from_the_store(
    tmp_path: pathlib.Path,
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS / "helpers"), *sys.path])}
    process = subprocess.run(
        [sys.executable, str(TESTS / "helpers" / "telemetry_agent.py"), url, "elsewhere"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    with enact.open_store(url):
        run = enact.get_run("elsewhere")
        timings = run.timings()
        invocation = run.invocation()
        assert invocation is not None
        assert {timing.path for timing in timings} == set(_paths(invocation))
        assert {timing.pid for timing in timings} != {os.getpid()}
        assert timings.usage.total_tokens > 0


def test_a_replay_marks_which_calls_ran_and_which_came_from_the_journal(
    store: enact.Store,
) -> None:
    invocation = enact.invoke(agents.nested, (3,), run_id="original")
    replayed = invocation.rewind(1).replay()
    new_run = enact.list_runs(limit=1)[0]
    assert new_run.id != "original"
    timings = new_run.timings()
    paths = _paths(replayed)
    ran = {path for path in paths if timings.ran(path)}
    # nested(3) = nested(2) + square(3): the rewound last call and the root ran again.
    assert ran == {(), (1,)}
    assert timings.get((0,)) is None  # taken from the journal: no timing in this run
    assert timings.attempts[0].reused == 1


def test_resumed_and_answered_runs_keep_the_timings_of_earlier_attempts(
    store: enact.Store,
) -> None:
    enact.invoke(agents.confirm, (3,), run_id="ask")
    first = enact.get_run("ask").timings()
    assert [attempt.status for attempt in first.attempts] == ["waiting"]
    enact.answer("ask", "yes", run_now=True)
    run = enact.get_run("ask")
    timings = run.timings()
    assert [attempt.status for attempt in timings.attempts] == ["waiting", "waiting"]
    # The first attempt's record, kept in its state as text, became an object of its
    # own, which the second attempt's record refers to.
    latest = run.state.timings
    assert isinstance(latest, enact.Ref)
    second = store.checkout(latest)
    assert isinstance(second, RunTimings) and second.previous is not None
    assert store.checkout(second.previous).status == "waiting"
    square_0 = timings.get((0,))
    assert square_0 is not None and square_0.attempt == 0  # recorded by the first attempt
    assert not timings.ran((0,))
    assert timings.ran(())  # the root runs again in every attempt
    assert timings.ran((2,))  # the second square ran in the second attempt
    fork = enact.fork("ask", run_id="ask-fork")
    assert fork.timings().calls == timings.calls  # a fork's tree keeps its calls' timings


def test_calls_in_worker_threads_and_gathered_tasks_are_timed(store: enact.Store) -> None:
    pooled = enact.invoke(agents.pooled, (6,), run_id="pool")
    assert {t.path for t in enact.get_run("pool").timings()} == set(_paths(pooled))

    async def gathered() -> enact.Invocation:
        return await enact.invoke_async(agents.gather_all, (["a", "b", "c"],), run_id="gather")

    import asyncio

    invocation = asyncio.run(gathered())
    timings = enact.get_run("gather").timings()
    assert {t.path for t in timings} == set(_paths(invocation))
    first, last = timings.get((0,)), timings.get((3,))
    assert first is not None and last is not None and first.end <= last.start


def test_runs_with_durability_end_record_timings_too(store: enact.Store) -> None:
    invocation = enact.invoke(agents.nested, (2,), run_id="at-end", durability="end")
    timings = enact.get_run("at-end").timings()
    assert {t.path for t in timings} == set(_paths(invocation))


def test_damaged_timings_show_calls_without_timings(store: enact.Store) -> None:
    enact.invoke(agents.nested, (1,), run_id="damaged")
    run = enact.get_run("damaged")
    assert isinstance(run.state.timings, str)
    record = RunTimings.from_text(run.state.timings, "damaged")
    assert record is not None
    broken = dataclasses.replace(record, calls=b"\x00" * 25, usage=[[1, "x"]])
    older = dataclasses.replace(broken, calls="not base64!")  # the older, base64 form
    for kept in (broken.to_text(), store.commit(broken), store.commit(older)):
        state = dataclasses.replace(run.state, timings=kept)
        store.set_name("runs/damaged", store.commit(state))
        timings = enact.get_run("damaged").timings()
        assert timings.calls == {}
        assert len(timings.attempts) == 1 and timings.attempts[0].ran == 0
    for damaged in ("enact-timings-1|not|a|record", "enact-timings-1" + "|x" * 14):
        state = dataclasses.replace(run.state, timings=damaged)
        store.set_name("runs/damaged", store.commit(state))
        assert enact.get_run("damaged").timings().attempts == []


# Token usage ---------------------------------------------------------------------------


@enact.register
@dataclasses.dataclass
class Usage(enact.Resource):
    prompt_tokens: int
    completion_tokens: int


@enact.register
@dataclasses.dataclass
class Completion(enact.Resource):
    text: str
    usage: Usage


class Hostile:
    @property
    def usage(self) -> Any:
        raise RuntimeError("no usage here")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 9}}, (3, 4, 9)),
        ({"usage": {"input_tokens": 10, "output_tokens": 7}}, (10, 7, 17)),
        (Completion("x", Usage(5, 6)), (5, 6, 11)),
        ({"usage": {"input_tokens": -1, "output_tokens": True}}, None),
        ({"usage": "lots"}, None),
        ({"text": "no usage"}, None),
        (Hostile(), None),
        (42, None),
    ],
)
def test_token_usage_is_read_from_the_openai_and_anthropic_shapes(
    output: Any, expected: tuple[int, int, int] | None
) -> None:
    usage = enact.token_usage(output)
    if expected is None:
        assert usage is None
    else:
        assert usage is not None
        assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == expected


def test_token_usage_of_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    class PUsage(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        input_tokens: int
        output_tokens: int

    class Message(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        usage: PUsage

    usage = enact.token_usage(Message(usage=PUsage(input_tokens=2, output_tokens=3)))
    assert usage == enact.TokenUsage(2, 3, 5, 1)


def test_token_usage_is_summed_per_run_and_counted_once(store: enact.Store) -> None:
    invocation = enact.invoke(agents.agent, (["hi", "you"],), run_id="tokens")
    timings = enact.get_run("tokens").timings()
    # Two openai_chat calls (2 and 3 prompt tokens, 2 completion tokens each), wrapped by
    # ask_model, whose identical usage is not counted again; one anthropic_message call.
    assert timings.usage == enact.TokenUsage(2 + 3 + 10, 2 + 2 + 7, 4 + 5 + 17, 3)
    assert timings.get((0,)) is not None and timings.get((0,)).usage is None  # the wrapper
    inner = timings.get((0, 0))
    assert inner is not None and inner.usage == enact.TokenUsage(2, 2, 4, 1)
    # A replay that takes the model calls from the journal spends no tokens.
    invocation.rewind(1).replay()
    replay_timings = enact.list_runs(limit=1)[0].timings()
    assert replay_timings.usage == enact.TokenUsage(10, 7, 17, 1)


# Observers and logging -------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, CallEvent]] = []

    def call_started(self, event: CallEvent) -> None:
        self.events.append(("started", event))

    def call_finished(self, event: CallEvent) -> None:
        self.events.append(("finished", event))


def test_observers_hear_every_call_start_and_finish(store: enact.Store) -> None:
    recorder = Recorder()
    with telemetry.observing(recorder):
        invocation = enact.invoke(agents.nested, (2,), run_id="observed")
        invocation.rewind(1).replay()
    after = Recorder()
    enact.add_call_observer(after)
    enact.remove_call_observer(after)
    enact.invoke(agents.nested, (1,))
    assert after.events == []
    first = [(kind, e.path, e.status) for kind, e in recorder.events if e.run_id == "observed"]
    assert first[0] == ("started", (), "running")
    assert first[-1] == ("finished", (), "complete")
    finished = {path for kind, path, _ in first if kind == "finished"}
    assert finished == set(_paths(invocation))
    replay = [(kind, e.path, e.status) for kind, e in recorder.events if e.run_id != "observed"]
    assert ("finished", (0,), "reused") in replay
    assert ("finished", (1,), "complete") in replay
    for _, event in recorder.events:
        assert event.end_ns is None or event.start_ns <= event.end_ns


def test_a_failing_observer_is_logged_and_does_not_break_the_run(
    store: enact.Store, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def call_started(self, event: CallEvent) -> None:
            raise ValueError("observer bug")

        def call_finished(self, event: CallEvent) -> None:
            pass

    with caplog.at_level(logging.WARNING, logger="enact"), telemetry.observing(Broken()):
        invocation = enact.invoke(agents.square, (4,))
    assert invocation.get_output() == 16
    assert any("observer bug" in record.getMessage() for record in caplog.records)


def test_the_enact_logger_reports_runs_and_calls(
    store: enact.Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="enact"):
        invocation = enact.invoke(agents.nested, (2,), run_id="logged")
    messages = [record.getMessage() for record in caplog.records]
    assert (
        messages[0] == f"run logged started: nested (pid {os.getpid()} on {socket.gethostname()})"
    )
    assert messages[-1].startswith("run logged finished: nested, complete in ")
    assert messages[-1].endswith("; 5 call(s) ran, 0 reused from the journal")
    assert len(messages) == 2  # no call lines at INFO
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="enact"):
        invocation.rewind(1).replay()
    debug = [record.getMessage() for record in caplog.records if record.levelno == logging.DEBUG]
    assert any(" call 0 reused from the journal: nested" in line for line in debug)
    assert any(" call 1 complete in " in line and line.endswith(": square") for line in debug)
    assert caplog.records[-1].getMessage().endswith("; 2 call(s) ran, 1 reused from the journal")
    with caplog.at_level(logging.DEBUG, logger="enact"):
        telemetry.cache_hit(agents.square, "ab" * 32, "logged")
    assert caplog.records[-1].getMessage() == (
        "cache hit: square (request abababababab) served from run logged"
    )


def test_the_enact_logger_is_silent_by_default() -> None:
    script = (
        "import enact, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import telemetry_agent as a\n"
        "with enact.InMemoryStore():\n"
        "    enact.invoke(a.nested, (2,))\n"
        "    enact.invocations.telemetry._observer_failed('x', ValueError('warned'))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script, str(TESTS / "helpers")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert (process.stdout, process.stderr) == ("", "")
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("enact").handlers)


# The command line ------------------------------------------------------------------------


def _enact(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS / "helpers"), *sys.path])}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_enact_tree_timings_shows_durations_tokens_and_journal_marks(
    tmp_path: pathlib.Path,
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with enact.open_store(url):
        invocation = enact.invoke(agents.agent, (["hi"],), run_id="cli")
        invocation.rewind(1).replay()
        replay_id = enact.list_runs(limit=1)[0].id
    shown = _enact(url, "--import", "telemetry_agent", "tree", "--timings", "cli")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("agent(['hi']) = ['HI', 'enod']  [")
    assert "ask_model('hi')" in lines[1] and "(from the journal)" not in lines[1]
    assert "2 in + 2 out tokens]" in lines[2]
    assert lines[-1].startswith("run cli: 1 attempt, ")
    assert "21 tokens (12 in + 9 out tokens, 2 calls)" in lines[-1]
    raw = _enact(url, "tree", "--raw", "-t", replay_id)
    assert raw.returncode == 0, raw.stderr
    raw_lines = raw.stdout.splitlines()
    assert raw_lines[1].endswith("(from the journal)")  # ask_model came from the journal
    assert "(from the journal)" not in raw_lines[-2]  # anthropic_message ran again
    assert "1 from the journal" in raw_lines[-1]
    plain = _enact(url, "--import", "telemetry_agent", "tree", "cli")
    assert plain.returncode == 0, plain.stderr
    assert re.search(r"\[\d+(\.\d+)? (µs|ms|s)", plain.stdout) is None  # no timings unasked
    assert re.search(r"\[\d+(\.\d+)? (µs|ms|s)", shown.stdout) is not None
    assert "from the journal" not in plain.stdout
    digest = invocation.request.digest
    refused = _enact(url, "tree", "--raw", "--timings", digest)
    assert refused.returncode == 1
    assert "only runs record timings" in refused.stderr


@enact.register
def stopped(x: int) -> int:
    agents.square(x)
    raise KeyboardInterrupt


def test_an_interrupted_run_records_the_calls_that_finished(store: enact.Store) -> None:
    with pytest.raises(KeyboardInterrupt):
        enact.invoke(stopped, (3,), run_id="stopped")
    run = enact.get_run("stopped")
    assert run.status == "interrupted"
    timings = run.timings()
    assert [attempt.status for attempt in timings.attempts] == ["interrupted"]
    assert {timing.path for timing in timings} == {(), (0,)}


def test_records_kept_at_renewals_read_as_one_attempt(store: enact.Store) -> None:
    """What a lease renewal keeps (the calls since the last one, chained) reads as one
    attempt, token usage included; the attempt after it reads as its own."""
    timer = CallTimer("kept", "claimed")
    digests = [f"{index:064x}" for index in range(5)]

    def call(index: int, output: Any) -> None:
        started = timer.start((), index, digests[index], None)
        timer.finish((), index, digests[index], None, started, started + 1000, output, None)

    call(0, "plain")
    call(1, {"usage": {"input_tokens": 2, "output_tokens": 3}})
    first = timer.close("running", None)
    assert first is not None and first.count == 2
    call(2, "plain")
    call(3, {"usage": {"input_tokens": 5, "output_tokens": 1}})
    timer.reused((), 4, digests[4], None, "from the journal")
    second = timer.close("running", store.commit(first), since=2)
    assert second is not None and (second.count, second.reused) == (2, 1)
    assert second.usage == [[1, 5, 1, 6]]  # its own second call
    later = CallTimer("kept", "resumed").close("complete", store.commit(second))
    assert later is not None
    timings = read_timings(store, store.commit(later))
    kept, resumed = timings.attempts
    assert (kept.event, kept.status, kept.ran, kept.reused) == ("claimed", "running", 4, 1)
    assert (kept.usage.input_tokens, kept.usage.output_tokens) == (7, 4)
    assert (resumed.event, resumed.status) == ("resumed", "complete")
    assert sorted(timing.path for timing in timings) == [(0,), (1,), (2,), (3,)]
    assert {timing.attempt for timing in timings} == {0}
    usage = timings.get((3,))
    assert usage is not None and usage.usage is not None and usage.usage.total_tokens == 6
