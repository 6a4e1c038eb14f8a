"""Replay and rewind: recorded calls are returned from the journal, missing ones re-run,
non-deterministic programs raise `ReplayError`, and replay costs grow linearly.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import enact
from enact.stores.memory import InMemoryBackend

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    """An in-memory store, active for the test; run counters and the clock start at zero."""
    RUNS.clear()
    TICKS[0] = 0
    with enact.InMemoryStore() as active:
        yield active


@enact.register
@dataclasses.dataclass
class Die(enact.Invokable):
    """A die that counts its rolls."""

    sides: int = 6

    def call(self) -> int:
        RUNS["roll"] += 1
        return random.randint(1, self.sides)


@enact.register
def roll_dice(dice: list[Any]) -> int:
    RUNS["roll_dice"] += 1
    return sum(die() for die in dice)


@enact.register
def echo(value: Any) -> Any:
    RUNS["echo"] += 1
    return value


@enact.register
def log_line(text: str) -> None:
    RUNS["log_line"] += 1


TICKS = [0]


@enact.register
def clock_reader() -> int:
    """Reads a changing value and passes it on: non-deterministic on purpose."""
    TICKS[0] += 1
    return int(echo(TICKS[0]))


def digest(value: Any) -> str:
    return enact.commit(value).digest


# Replaying recorded calls -------------------------------------------------------------


def test_replay_of_a_complete_invocation_runs_nothing(store: enact.Store) -> None:
    """An invocation that has its output replays to itself."""
    invocation = enact.invoke(roll_dice, ([Die(), Die()],))
    RUNS.clear()
    assert invocation.replay() is invocation
    assert RUNS == {}


def test_spec_style_replay_reruns_only_the_removed_roll(store: enact.Store) -> None:
    """Deleting the output and the last child replays the first rolls and re-runs the last."""
    random.seed(4)
    invocation = enact.invoke(roll_dice, ([Die(), Die(), Die()],))
    first = [child.get_output() for child in invocation.get_children()]
    with invocation.response.modify() as response:
        response.output = None
        response.children.pop()
    RUNS.clear()
    replayed = invocation.replay()
    rolls = [child.get_output() for child in replayed.get_children()]
    assert rolls[:2] == first[:2]
    assert replayed.get_output() == sum(rolls)
    assert RUNS == {"roll_dice": 1, "roll": 1}


def test_recorded_none_output_is_replayed_without_running(store: enact.Store) -> None:
    """A child that returned None is an output: the replay returns it and does not re-run."""

    @enact.register
    def writes_logs() -> int:
        log_line("a")
        log_line("b")
        return 2

    invocation = enact.invoke(writes_logs)
    RUNS.clear()
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == 2
    assert RUNS == {}
    assert [child.has_output() for child in replayed.get_children()] == [True, True]


def test_recorded_none_output_with_children_is_replayed(store: enact.Store) -> None:
    """A None-returning child that itself made calls replays without running them again."""

    @enact.register
    def side_effects() -> None:
        echo(1)
        echo(2)

    @enact.register
    def parent() -> str:
        side_effects()
        return "done"

    invocation = enact.invoke(parent)
    RUNS.clear()
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == "done"
    assert RUNS == {}
    assert len(list(replayed.get_child(0).get_children())) == 2


def test_raised_children_raise_their_recorded_exception_again(store: enact.Store) -> None:
    """A recorded child that raised is a recorded result: the replay raises it, not runs it."""
    attempts: list[int] = []

    @enact.register
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("first try fails")
        return "ok"

    @enact.register
    def caller() -> str:
        try:
            return str(flaky())
        except ConnectionError as error:
            return f"caught {error}"

    @enact.register
    def passes_it_on() -> str:
        return str(flaky())

    failed = enact.invoke(caller)
    assert failed.get_output() == "caught first try fails"
    replayed = failed.rewind(0).replay()
    assert replayed.get_output() == "caught first try fails"
    assert len(attempts) == 1
    assert replayed.get_child(0) == failed.get_child(0)
    # Rewound, the call runs again.
    assert failed.rewind(1).replay().get_output() == "ok"
    assert len(attempts) == 2

    attempts.clear()
    raised = enact.invoke(passes_it_on)
    again = raised.replay()
    # The same record as the call made when it ran, frames included.
    assert again.get_response().raised == raised.get_response().raised
    assert again.get_raised().format_traceback() == raised.get_raised().format_traceback()
    assert again.get_response().raised_here is False
    assert len(attempts) == 1


def test_replay_reruns_children_without_output_and_replays_their_children(
    store: enact.Store,
) -> None:
    """A child whose output was removed runs again, with its own children replayed."""

    @enact.register
    def inner() -> int:
        return int(echo(1)) + int(echo(2))

    @enact.register
    def outer() -> int:
        return int(inner()) * 10

    invocation = enact.invoke(outer)
    with invocation.response.modify() as response:
        response.output = None
        with response.children[0].response.modify() as child_response:
            child_response.output = None
    RUNS.clear()
    replayed = invocation.replay()
    assert replayed.get_output() == 30
    assert RUNS == {}


def test_replay_makes_new_calls_beyond_the_record(store: enact.Store) -> None:
    """Calls after the last recorded child simply run and are journaled."""
    invocation = enact.invoke(roll_dice, ([Die(1), Die(1), Die(1)],))
    with invocation.response.modify() as response:
        response.output = None
        del response.children[1:]
    RUNS.clear()
    replayed = invocation.replay()
    assert RUNS == {"roll_dice": 1, "roll": 2}
    assert len(list(replayed.get_children())) == 3


def test_replayed_outputs_are_fresh_copies(store: enact.Store) -> None:
    """A replayed mutable output can be changed by the caller without touching the journal."""

    @enact.register
    def make_list() -> list[int]:
        return [1, 2]

    @enact.register
    def grow() -> list[int]:
        items = make_list()
        items.append(3)
        return list(items)

    invocation = enact.invoke(grow)
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == [1, 2, 3]
    assert replayed.get_child(0).get_output() == [1, 2]


def test_equal_replayed_outputs_are_copies_of_their_own(store: enact.Store) -> None:
    """Two calls replayed from one recorded response each get a copy: changing the first,
    nested parts included, leaves the second as recorded."""

    @enact.register
    def make_table() -> dict[str, list[int]]:
        return {"b": [1], "a": [2]}

    @enact.register
    def twice() -> list[Any]:
        first = make_table()
        first["b"].append(9)
        first["c"] = []
        second = make_table()
        return [first, second, list(second)]

    invocation = enact.invoke(twice)
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == invocation.get_output()
    assert replayed.get_output() == [
        {"b": [1, 9], "a": [2], "c": []},
        {"b": [1], "a": [2]},
        ["a", "b"],
    ]


# Rewind ---------------------------------------------------------------------------------


def test_rewind_drops_the_output_and_the_last_calls(store: enact.Store) -> None:
    """rewind(num_calls) keeps the request, removes the output and the last num_calls children."""
    invocation = enact.invoke(roll_dice, ([Die(), Die(), Die()],))
    for num_calls, kept in ((0, 3), (1, 2), (2, 1), (3, 0), (10, 0)):
        rewound = invocation.rewind(num_calls)
        assert not rewound.has_output()
        assert rewound.get_raised() is None
        assert list(rewound.get_children()) == list(invocation.get_children())[:kept]
        assert rewound.request == invocation.request
    assert len(list(invocation.rewind().get_children())) == 2


def test_rewind_and_replay_leave_the_original_unchanged(store: enact.Store) -> None:
    """The original invocation keeps its digest, output and children through rewind and replay."""
    random.seed(9)
    invocation = enact.invoke(roll_dice, ([Die(), Die(), Die()],))
    before = digest(invocation)
    response_before = invocation.response.digest
    output = invocation.get_output()
    replayed = invocation.rewind(2).replay()
    with replayed.response.modify() as response:
        response.children.clear()
    assert digest(invocation) == before
    assert invocation.response.digest == response_before
    assert invocation.get_output() == output
    assert len(list(invocation.get_children())) == 3


def test_rewind_rejects_negative_counts(store: enact.Store) -> None:
    """rewind(-1) is a ValueError."""
    invocation = enact.invoke(echo, (1,))
    with pytest.raises(ValueError, match="num_calls"):
        invocation.rewind(-1)


def test_spec_rewind_then_replay_rerolls_the_last_die(store: enact.Store) -> None:
    """invocation.rewind().replay() keeps all rolls but the last, which is rolled again."""
    random.seed(1)
    invocation = enact.invoke(roll_dice, ([Die(), Die(), Die()],))
    RUNS.clear()
    replayed = invocation.rewind().replay()
    first = [child.get_output() for child in invocation.get_children()]
    second = [child.get_output() for child in replayed.get_children()]
    assert second[:2] == first[:2]
    assert replayed.get_output() == sum(second)
    assert RUNS == {"roll_dice": 1, "roll": 1}


# Non-determinism ------------------------------------------------------------------------


def test_non_deterministic_input_raises_replay_error_with_the_spec_message(
    store: enact.Store,
) -> None:
    """The message begins with the spec's two lines: expected call, actual call, the hint.

    (The lines after them are checked in tests/test_replay_errors.py.)
    """
    invocation = enact.invoke(clock_reader)
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    error = caught.value
    lines = str(error).split("\n")
    assert len(lines) > 2
    assert lines[0].startswith("Expected invocation echo(CallArgs(args=[1], kwargs={})) but got ")
    assert lines[0].endswith("(CallArgs(args=[2], kwargs={})).")
    assert "<function echo at 0x" in lines[0]
    assert lines[1] == ("Ensure that calls to subinvokables are deterministic or use strict=False.")


def test_replay_error_attributes_name_path_and_difference(store: enact.Store) -> None:
    """path, expected, actual and difference are attributes."""
    invocation = enact.invoke(clock_reader)
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    error = caught.value
    assert error.path == (0,)
    assert error.difference == "input"
    assert error.expected == "echo(CallArgs(args=[1], kwargs={}))"
    assert error.actual.endswith("(CallArgs(args=[2], kwargs={}))")
    assert error.differing_fields == ("input.args[0]",)
    assert isinstance(error, enact.InvocationError)


def test_replay_error_path_points_into_nested_calls(store: enact.Store) -> None:
    """A mismatch two levels down reports the child indices from the root."""

    @enact.register
    def outer() -> list[int]:
        return [int(echo(0)), int(clock_reader())]

    invocation = enact.invoke(outer)
    with invocation.response.modify() as response:
        response.output = None
        with response.children[1].response.modify() as child_response:
            child_response.output = None
    with pytest.raises(enact.ReplayError) as caught:
        invocation.replay()
    assert caught.value.path == (1, 0)
    assert "Replay stopped at call [1, 0] (child 0 of child 1 of" in str(caught.value)


def test_replay_error_names_a_different_invokable(store: enact.Store) -> None:
    """Calling another function than the recorded one is a difference in the invokable."""
    switch = {"use_log": False}

    @enact.register
    def choose() -> Any:
        return (log_line if switch["use_log"] else echo)("x")

    invocation = enact.invoke(choose)
    switch["use_log"] = True
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    assert caught.value.difference == "invokable"
    assert caught.value.expected == "echo(CallArgs(args=['x'], kwargs={}))"
    assert "log_line" in caught.value.actual


def test_replay_error_for_a_recorded_call_that_is_not_made(store: enact.Store) -> None:
    """Returning without making a recorded call is a ReplayError in strict mode."""
    switch = {"skip": False}

    @enact.register
    def maybe() -> int:
        return 0 if switch["skip"] else int(echo(1))

    invocation = enact.invoke(maybe)
    switch["skip"] = True
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    assert caught.value.path == (0,)
    assert caught.value.difference == "missing call"
    assert str(caught.value).split("\n")[1] == (
        "Ensure that calls to subinvokables are deterministic or use strict=False."
    )
    assert invocation.rewind(0).replay(strict=False).get_output() == 0


def test_strict_false_skips_mismatched_records(store: enact.Store) -> None:
    """With strict=False, a call that does not match its record runs instead."""
    invocation = enact.invoke(clock_reader)
    assert invocation.get_output() == 1
    RUNS.clear()
    replayed = invocation.rewind(0).replay(strict=False)
    assert RUNS == {"echo": 1}
    assert replayed.get_output() == 2
    assert replayed.get_child(0).get_input() == enact.CallArgs([2], {})


def test_strict_false_still_replays_matching_records(store: enact.Store) -> None:
    """Records that do match are still returned from the journal."""

    @enact.register
    def mixed() -> list[int]:
        return [int(echo(0)), int(clock_reader())]

    invocation = enact.invoke(mixed)
    RUNS.clear()
    with invocation.response.modify() as response:
        response.output = None
        with response.children[1].response.modify() as child_response:
            child_response.output = None
    replayed = invocation.replay(strict=False)
    assert RUNS == {"echo": 1}
    assert replayed.get_output() == [0, 2]


# Cost -------------------------------------------------------------------------------------


class CountingBackend(InMemoryBackend):
    """An in-memory backend that counts the objects it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        self.gets += 1
        return super().get(ref)

    def get_many(self, digests: Iterable[str]) -> dict[str, enact.PackedResource]:
        wanted = list(digests)
        self.gets += len(wanted)
        return super().get_many(wanted)


@enact.register
def leaf(i: int) -> int:
    return i


@enact.register
def branch(width: int, start: int) -> int:
    return sum(leaf(start + i) for i in range(width))


@enact.register
def tree(children: int, width: int) -> int:
    return sum(branch(width, i) for i in range(children))


def cold_replay_gets(children: int, width: int) -> int:
    """Backend reads of a replay with an empty cache (as in a new process)."""
    backend = CountingBackend()
    with enact.Store(backend):
        rewound = enact.invoke(tree, (children, width)).rewind(0)
    backend.gets = 0
    with enact.Store(backend):
        assert rewound.replay().get_output() == tree(children, width)
    return backend.gets


def count_calls(action: Callable[[], Any]) -> int:
    """The number of Python and C function calls `action` makes."""
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def test_replay_reads_each_recorded_child_once() -> None:
    """A cold replay reads a constant number of objects per recorded child."""
    small, large = cold_replay_gets(50, 1), cold_replay_gets(200, 1)
    assert large - small == 150
    assert small <= 50 + 5


def test_replay_does_not_read_below_the_recorded_children() -> None:
    """Recorded children are returned without reading their own subtrees."""
    assert cold_replay_gets(40, 1) == cold_replay_gets(40, 60)


def test_replay_work_grows_linearly_with_the_number_of_children(store: enact.Store) -> None:
    """Four times as many recorded children cost about four times as many function calls."""
    costs = {}
    for children in (100, 400):
        rewound = enact.invoke(tree, (children, 1)).rewind(0)
        rewound.replay()  # warm the caches
        costs[children] = count_calls(rewound.replay)
    assert costs[400] < 4.5 * costs[100]


def test_replay_never_rehashes_recorded_subtrees(
    store: enact.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes hashed by a replay do not depend on how big the recorded children are."""
    hashed = [0]
    sha256 = hashlib.sha256

    def counting_sha256(data: bytes = b"", **kwargs: Any) -> Any:
        hashed[0] += len(data)
        return sha256(data, **kwargs)

    def bytes_hashed(width: int) -> int:
        rewound = enact.invoke(tree, (30, width)).rewind(0)
        rewound.replay()  # warm the caches
        monkeypatch.setattr(hashlib, "sha256", counting_sha256)
        hashed[0] = 0
        rewound.replay()
        monkeypatch.setattr(hashlib, "sha256", sha256)
        return hashed[0]

    narrow, wide = bytes_hashed(1), bytes_hashed(80)
    assert narrow > 0  # replay hashes the requests it makes, through hashlib.sha256
    assert wide < 1.1 * narrow


def test_replay_plan_is_what_replay_runs(store: enact.Store) -> None:
    """A complete invocation has nothing to run; a rewound one plans its recorded children."""
    from enact.invocations.engine import invoke_root, replay_plan

    with store:
        invocation = enact.invoke(roll_dice, ([Die(), Die()],))
        assert replay_plan(invocation) is None
        rewound = invocation.rewind()
        plan = replay_plan(rewound, strict=False, new_calls="forbid")
        assert plan is not None
        assert (plan.strict, plan.new_calls, len(plan.template or [])) == (False, "forbid", 1)
        with pytest.raises(ValueError, match="new_calls must be 'run' or 'forbid'"):
            replay_plan(rewound, new_calls="never")  # type: ignore[arg-type]
        outcome = invoke_root(replay_plan(rewound) or plan)
        assert outcome.invocation is not None
        assert outcome.invocation.get_child(0).get_output() == invocation.get_child(0).get_output()
