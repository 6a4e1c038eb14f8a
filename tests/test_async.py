"""asyncio: `AsyncInvokable`, awaited invoke and replay, call-ordered children of
`asyncio.gather`, unfinished background tasks, `exception_override`, and
meta-invocations (an invokable that invokes another).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import enact

T = TypeVar("T")

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    """An in-memory store, active for the test; the run counters start at zero."""
    RUNS.clear()
    with enact.InMemoryStore() as active:
        yield active


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine in a new event loop, as a script's asyncio.run does."""
    return asyncio.run(coroutine)


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class SlowValue(enact.AsyncInvokable):
    """Returns `value` after `delay` seconds."""

    value: int
    delay: float = 0.0

    async def call(self) -> int:
        RUNS[f"value {self.value}"] += 1
        await asyncio.sleep(self.delay)
        return self.value


@enact.register
@dataclasses.dataclass
class GatherValues(enact.AsyncInvokable):
    """Awaits several SlowValues concurrently."""

    delays: list[float]

    async def call(self) -> list[int]:
        values = [SlowValue(i, delay)() for i, delay in enumerate(self.delays)]
        return list(await asyncio.gather(*values))


@enact.register
@dataclasses.dataclass
class Staggered(enact.AsyncInvokable):
    """Awaits three Jittery children; which finishes first depends on `JITTER`."""

    async def call(self) -> int:
        return sum(await asyncio.gather(*[Jittery(i)() for i in range(3)]))


JITTER: list[float] = []


@enact.register
@dataclasses.dataclass
class Jittery(enact.AsyncInvokable):
    """Sleeps for `JITTER[index]` seconds, which is not part of its request."""

    index: int

    async def call(self) -> int:
        await asyncio.sleep(JITTER[self.index])
        FINISHED.append(self.index)
        return self.index


FINISHED: list[int] = []


# Calls and invocations -----------------------------------------------------------------


def test_async_invokable_called_outside_invoke_is_a_plain_coroutine() -> None:
    """Awaiting an AsyncInvokable without a running invocation needs no store."""
    assert run(SlowValue(3)()) == 3


def test_awaited_invoke_journals_the_call(store: enact.Store) -> None:
    """await invokable.invoke() returns the Invocation with output and children."""
    invocation = run(GatherValues([0.0, 0.0]).invoke())
    assert invocation.get_output() == [0, 1]
    assert [child.get_invokable() for child in invocation.get_children()] == [
        SlowValue(0, 0.0),
        SlowValue(1, 0.0),
    ]


def test_invoke_async_journals_async_registered_functions(store: enact.Store) -> None:
    """enact.invoke_async works with `async def` functions decorated with enact.register."""

    @enact.register
    async def add_later(a: int, b: int) -> int:
        first = await SlowValue(a)()
        return first + b

    invocation = run(enact.invoke_async(add_later, (1,), {"b": 2}))
    assert invocation.get_output() == 3
    assert invocation.get_child(0).get_output() == 1


def test_synchronous_invoke_of_an_async_invokable_is_an_error(store: enact.Store) -> None:
    """enact.invoke on an AsyncInvokable says to await invoke instead."""
    with pytest.raises(enact.InvocationError, match="asynchronous"):
        enact.invoke(SlowValue(1))


def test_typed_async_invokable_checks_types(store: enact.Store) -> None:
    """typed_invokable checks inputs and outputs of async calls too."""
    with pytest.raises(enact.InputTypeError):
        run(SlowValue(1)(5))
    raised = run(SlowValue(1).invoke(5)).get_raised()
    assert "InputTypeError" in str(raised)


# gather ---------------------------------------------------------------------------------


def test_gather_children_are_recorded_in_call_order(store: enact.Store) -> None:
    """Children of asyncio.gather appear in the order they were called, not finished."""
    invocation = run(GatherValues([0.03, 0.0, 0.015]).invoke())
    assert [child.get_output() for child in invocation.get_children()] == [0, 1, 2]


def test_strict_replay_of_gather_is_deterministic_whatever_finishes_first(
    store: enact.Store,
) -> None:
    """Re-run concurrently in another finishing order, the children still match their records."""
    JITTER[:] = [0.02, 0.0, 0.01]
    FINISHED.clear()
    invocation = run(Staggered().invoke())
    assert FINISHED == [1, 2, 0]
    assert [child.get_output() for child in invocation.get_children()] == [0, 1, 2]
    with invocation.response.modify() as response:
        response.output = None
        for child in response.children:  # force every child to run again
            with child.response.modify() as child_response:
                child_response.output = None
    JITTER[:] = [0.0, 0.01, 0.02]
    FINISHED.clear()
    replayed = run(invocation.replay_async())
    assert FINISHED == [0, 1, 2]
    assert replayed.get_output() == 3
    assert [child.get_invokable() for child in replayed.get_children()] == [
        Jittery(0),
        Jittery(1),
        Jittery(2),
    ]


def test_replay_async_reruns_only_the_rewound_call(store: enact.Store) -> None:
    """As in the spec: rewind() then replay_async() runs the last die only."""
    invocation = run(GatherValues([0.0, 0.0, 0.0]).invoke())
    RUNS.clear()
    replayed = run(invocation.rewind().replay_async())
    assert replayed.get_output() == [0, 1, 2]
    assert RUNS == {"value 2": 1}


def test_complete_async_invocation_replays_to_itself(store: enact.Store) -> None:
    """replay_async of an invocation with an output runs nothing."""
    invocation = run(GatherValues([0.0]).invoke())
    RUNS.clear()
    assert run(invocation.replay_async()) is invocation
    assert RUNS == {}


# Background tasks ---------------------------------------------------------------------------


@enact.register
@dataclasses.dataclass
class LeavesTasksBehind(enact.AsyncInvokable):
    """Starts children as tasks and returns (or raises) before some finish."""

    raise_error: bool = False

    async def call(self) -> int:
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(SlowValue(0, 0.0)()),
            loop.create_task(SlowValue(1, 0.5)()),
            loop.create_task(SlowValue(2, 0.5)()),
        ]
        await tasks[0]
        BACKGROUND.extend(tasks)
        if self.raise_error:
            raise KeyError("the body failed")
        return 0


BACKGROUND: list[asyncio.Task[Any]] = []


async def invoke_then_cancel_leftovers(invokable: Any, arg: Any = None) -> enact.Invocation:
    try:
        invocation: enact.Invocation = await invokable.invoke(arg)
        return invocation
    finally:
        for task in BACKGROUND:
            task.cancel()
        BACKGROUND.clear()


def test_unfinished_background_task_names_the_first_unfinished_child(
    store: enact.Store,
) -> None:
    """Child 0 finished, 1 and 2 did not: the error names child 1 and its invokable."""
    with pytest.raises(enact.IncompleteSubinvocationError) as caught:
        run(invoke_then_cancel_leftovers(LeavesTasksBehind()))
    assert str(caught.value) == (
        "Subinvocation 1 did not complete during invocation of parent: "
        "SlowValue(value=1, delay=0.5) invoked on None"
    )
    assert caught.value.__cause__ is None
    assert isinstance(caught.value, enact.InvocationError)


def test_unfinished_background_task_keeps_the_bodys_exception_as_cause(
    store: enact.Store,
) -> None:
    """When the body raised too, its exception is the __cause__ and is noted."""
    with pytest.raises(enact.IncompleteSubinvocationError) as caught:
        run(invoke_then_cancel_leftovers(LeavesTasksBehind(raise_error=True)))
    cause = caught.value.__cause__
    assert isinstance(cause, KeyError)
    assert cause.args == ("the body failed",)
    assert any("KeyError" in note for note in caught.value.__notes__)


def test_child_task_that_never_started_is_detected(store: enact.Store) -> None:
    """A child scheduled as a task that has not run yet is an unfinished child too."""

    @enact.register
    @dataclasses.dataclass
    class FireAndForget(enact.AsyncInvokable):
        async def call(self) -> int:
            BACKGROUND.append(asyncio.ensure_future(SlowValue(7)()))
            return 1

    with pytest.raises(enact.IncompleteSubinvocationError, match=r"Subinvocation 0 .*value=7"):
        run(invoke_then_cancel_leftovers(FireAndForget()))


def test_spec_background_task_example(store: enact.Store) -> None:
    """The spec's WaitForFirstResult: the body's own TypeError is the cause of the error."""

    @enact.typed_invokable(int, int)
    class WaitForFirst(enact.AsyncInvokable):
        async def call(self, num_dice: int) -> int:
            loop = asyncio.get_running_loop()
            delays = [0.3, 0.3, 0.0]
            tasks = [loop.create_task(SlowValue(i, delays[i])()) for i in range(num_dice)]
            BACKGROUND.extend(tasks)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return await done[0]  # type: ignore[index, no-any-return]

    with pytest.raises(enact.IncompleteSubinvocationError) as caught:
        run(invoke_then_cancel_leftovers(WaitForFirst(), 3))
    assert str(caught.value).startswith("Subinvocation 0 did not complete")
    assert isinstance(caught.value.__cause__, TypeError)


# exception_override -----------------------------------------------------------------------


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class AskRoll(enact.AsyncInvokable):
    """Asks for a roll (an int) for its roll id."""

    roll_id: int

    async def call(self) -> int:
        value: int = enact.request_input(int, for_value=self.roll_id, context="roll?")
        return value


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class CrowdRoll(enact.AsyncInvokable):
    """Asks for several rolls at once and sums them."""

    count: int

    async def call(self) -> int:
        calls = [AskRoll(i)() for i in range(self.count)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return sum(results)


def test_exception_override_answers_every_request_with_a_plain_value(
    store: enact.Store,
) -> None:
    """The override gets the ref of each recorded InputRequest; its value is the output."""
    asked = run(CrowdRoll(4).invoke())
    assert isinstance(asked.get_raised(), enact.InputRequest)
    refs: list[enact.Ref[Any]] = []

    def provide(exception_ref: enact.Ref[Any]) -> int:
        refs.append(exception_ref)
        request = exception_ref()
        assert isinstance(request, enact.InputRequest)
        return int(request.for_value()) * 10 + 1

    answered = run(asked.replay_async(exception_override=provide))
    assert answered.get_output() == 1 + 11 + 21 + 31
    assert all(isinstance(ref, enact.Ref) for ref in refs)
    assert [ref().for_value() for ref in refs] == [0, 1, 2, 3]
    assert isinstance(asked.get_raised(), enact.InputRequest)  # the original is unchanged


def test_exception_override_may_return_a_ref(store: enact.Store) -> None:
    """A Ref returned by the override is checked out and used as the output."""
    asked = run(CrowdRoll(2).invoke())
    answered = run(asked.replay_async(exception_override=lambda ref: enact.commit(5)))
    assert answered.get_output() == 10


def test_exception_override_answer_of_the_wrong_type_reaches_the_code(
    store: enact.Store,
) -> None:
    """An answer that is not of the requested type raises InputTypeError where input was asked."""
    asked = run(CrowdRoll(2).invoke())
    replayed = run(asked.replay_async(exception_override=lambda ref: "five"))
    raised = replayed.get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name == "enact.errors.AnswerError"
    assert "$: expected int, got 'five'" in raised.message


def test_exception_override_in_synchronous_replay(store: enact.Store) -> None:
    """Invocation.replay accepts exception_override as well."""

    @enact.register
    def shout() -> str:
        return str(enact.request_input(str, context="word")).upper()

    asked = enact.invoke(shout)
    assert asked.replay(exception_override=lambda ref: "hey").get_output() == "HEY"


def test_exception_override_leaves_other_exceptions_alone(store: enact.Store) -> None:
    """Only calls that raised (and had no output) reach the override; outputs are replayed."""
    calls: list[Any] = []

    @enact.register
    def mixed() -> int:
        first: int = enact.request_input(int)
        return first + int(SlowValueSync(2)())

    def override(ref: enact.Ref[Any]) -> int:
        calls.append(ref())
        return 40

    asked = enact.invoke(mixed)
    answered = asked.replay(exception_override=override)
    assert answered.get_output() == 42
    assert len(calls) == 1
    assert answered.replay(exception_override=override) is answered
    assert len(calls) == 1


@enact.register
@dataclasses.dataclass
class SlowValueSync(enact.Invokable):
    """A synchronous constant."""

    value: int

    def call(self) -> int:
        return self.value


# Meta-invocations -----------------------------------------------------------------------------


@enact.register
@dataclasses.dataclass
class Die(enact.Invokable):
    """A die that counts its rolls."""

    def call(self) -> int:
        RUNS["roll"] += 1
        return random.randint(1, 6)


@enact.register
def roll_until_six(die: Die) -> int:
    rolls = 1
    while die() != 6:
        rolls += 1
    return rolls


@enact.register
def meta_invoke(fun: Any, args: Any = (), kwargs: Any = None) -> enact.Invocation:
    return enact.invoke(fun, args, kwargs)


@enact.register
def count_rolls(die: Die) -> int:
    invocation = meta_invoke(roll_until_six, (die,))
    return len(list(invocation.get_children()))


def test_meta_invoke_records_the_inner_invocation_as_a_value(store: enact.Store) -> None:
    """An invokable may invoke another; the Invocation it gets is the child's output."""
    random.seed(8)
    invocation = enact.invoke(count_rolls, (Die(),))
    meta = invocation.get_child(0).get_output()
    assert isinstance(meta, enact.Invocation)
    assert invocation.get_output() == meta.get_output() == RUNS["roll"]
    assert [child.get_output() for child in meta.get_children()][-1] == 6
    assert meta.get_invokable() is roll_until_six


def test_meta_invocation_is_replayed_from_the_journal(store: enact.Store) -> None:
    """Replaying the outer call returns the recorded inner Invocation without rolling again."""
    random.seed(8)
    invocation = enact.invoke(count_rolls, (Die(),))
    RUNS.clear()
    replayed = invocation.rewind(0).replay()
    assert RUNS == {}
    assert replayed.get_output() == invocation.get_output()
    assert replayed.get_child(0).get_output() == invocation.get_child(0).get_output()


def test_nested_invoke_is_not_logged_as_a_top_level_run(store: enact.Store) -> None:
    """Only the outer invocation gets a runs/ name."""
    enact.invoke(count_rolls, (Die(),))
    assert len([name for name in store.names() if name.startswith("runs/")]) == 1


# Mixing synchronous and asynchronous --------------------------------------------------------


def test_synchronous_replay_of_an_async_invocation_points_to_replay_async(
    store: enact.Store,
) -> None:
    """Invocation.replay on an AsyncInvokable's journal says to await replay_async."""
    invocation = run(GatherValues([0.0]).invoke())
    with pytest.raises(enact.InvocationError, match="replay_async"):
        invocation.rewind().replay()


def test_async_replay_and_invoke_of_synchronous_invokables(store: enact.Store) -> None:
    """replay_async and invoke_async also run synchronous invokables."""
    invocation = run(enact.invoke_async(SlowValueSync(4)))
    assert invocation.get_output() == 4
    assert run(invocation.rewind(0).replay_async()).get_output() == 4
