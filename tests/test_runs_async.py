"""Runs of asynchronous invokables: gathered children, answers, resume_async."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

import enact

LEDGER: list[int] = []


@enact.register
@dataclasses.dataclass
class AskRoll(enact.AsyncInvokable):
    """Asks for one roll, then counts it in the ledger."""

    roll_id: int

    async def call(self) -> int:
        value = enact.request_input(int, for_value=self.roll_id)
        LEDGER.append(self.roll_id)
        return int(value)


@enact.register
class CrowdRoll(enact.AsyncInvokable):
    """Asks for three rolls at once and sums them."""

    async def call(self) -> int:
        results = await asyncio.gather(*[AskRoll(i)() for i in range(3)], return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return sum(results)


def test_gathered_requests_are_answered_one_by_one_in_the_same_run(tmp_path: Path) -> None:
    """Each answer keeps the run id; the run completes after the third answer."""
    LEDGER.clear()
    with enact.SQLiteStore(tmp_path / "store.db"):
        invocation = asyncio.run(CrowdRoll().invoke(run_id="crowd"))
        assert isinstance(invocation.get_raised(), enact.InputRequest)
        run = enact.get_run("crowd")
        assert run.status == "waiting"
        assert [path for path, _ in enact.pending_input_requests(run)] == [(0, 0), (1, 0), (2, 0)]
        for answer in (4, 5, 6):
            run = enact.answer("crowd", answer, run_now=True)
        assert run.status == "complete"
        assert run.invocation() is not None
        assert run.invocation().get_output() == 15  # type: ignore[union-attr]
        assert next(state.status for _, state in run.history()) == "complete"
        assert len(enact.list_runs()) == 1
    assert sorted(LEDGER) == [0, 1, 2]


def test_gathered_requests_can_all_be_answered_before_the_run_continues_once(
    tmp_path: Path,
) -> None:
    """Answers recorded without running add up; one resume continues with all of them."""
    LEDGER.clear()
    with enact.SQLiteStore(tmp_path / "store.db"):
        asyncio.run(CrowdRoll().invoke(run_id="crowd"))
        assert LEDGER == []
        run = enact.answer("crowd", 6, (1, 0))
        assert run.status == "answered"
        assert [path for path, _ in enact.pending_input_requests(run)] == [(0, 0), (2, 0)]
        with pytest.raises(
            enact.InvocationError, match=r"no pending input request at child path \[1, 0\]"
        ):
            enact.answer("crowd", 1, (1, 0))  # answered already: refused, nothing recorded
        run = enact.answer("crowd", 4)  # the first pending one: (0, 0)
        run = enact.answer(run, 5)
        assert enact.pending_input_requests(run) == []
        with pytest.raises(enact.InvocationError, match="no pending input request"):
            enact.answer("crowd", 7)
        assert LEDGER == []  # nothing of the program ran while answers were recorded
        assert [state.status for _, state in run.history()][:4] == ["answered"] * 3 + ["waiting"]

        async def go() -> enact.Run:
            return await enact.resume_async("crowd")

        done = asyncio.run(go())
        assert done.status == "complete"
        assert done.invocation().get_output() == 15  # type: ignore[union-attr]
        statuses = [state.status for _, state in done.history()]
        assert statuses.count("waiting") == 1  # it never waited again
        assert sorted(LEDGER) == [0, 1, 2]
        # The journal holds each answer once, where its request was.
        replayed = asyncio.run(done.invocation().replay_async())  # type: ignore[union-attr]
        assert replayed.get_output() == 15


def test_resume_async_continues_an_answered_run_in_the_running_loop(tmp_path: Path) -> None:
    """An answer recorded without running is continued by resume_async inside a loop."""
    with enact.SQLiteStore(tmp_path / "store.db"):
        asyncio.run(AskRoll(7).invoke(run_id="one"))
        run = enact.answer("one", 3)
        assert run.status == "answered"
        with pytest.raises(enact.InvocationError, match="resume_async"):

            async def wrong() -> None:
                enact.resume("one")

            asyncio.run(wrong())

    with enact.SQLiteStore(tmp_path / "store.db"):
        assert enact.get_run("one").status == "answered"  # the refused attempt claimed nothing
        forked = enact.fork("one", run_id="two")
        assert forked.status == "answered"

        async def right() -> enact.Run:
            return await enact.resume_async("two")

        finished = asyncio.run(right())
        assert finished.status == "complete"
        assert finished.invocation().get_output() == 3  # type: ignore[union-attr]


STARTED: list[str] = []
"""The journaled calls of `with_a_timeout` whose bodies ran, in order."""


@enact.register
async def model_call(prompt: str, seconds: float) -> str:
    STARTED.append(prompt)
    await asyncio.sleep(seconds)
    return f"answer to {prompt}"


@enact.register
async def with_a_timeout(seconds: float) -> str:
    """A model call given 50 ms (``asyncio.wait_for``), then a fallback call."""
    try:
        first = await asyncio.wait_for(model_call("slow", seconds), 0.05)
    except TimeoutError:
        first = "timed out"
    return first + " / " + await model_call("fallback", 0)


def test_a_call_cancelled_by_a_timeout_is_recorded_and_runs_again_on_replay(
    tmp_path: Path,
) -> None:
    """`asyncio.wait_for` cancelling a journaled call is a common way to bound a model
    call: the run goes on and completes (it used to fail with
    IncompleteSubinvocationError), the cancelled call keeps its place in the tree as a
    cancellation, and a replay runs it again (it has no result) and replays the rest."""
    STARTED.clear()
    with enact.SQLiteStore(tmp_path / "store.db"):
        invocation = asyncio.run(enact.invoke_async(with_a_timeout, (5.0,), run_id="timeout"))
        assert invocation.get_output() == "timed out / answer to fallback"
        assert enact.get_run("timeout").status == "complete"
        cancelled, fallback = invocation.get_children()
        raised = cancelled.get_raised()
        assert raised is not None and raised.type_name == "asyncio.exceptions.CancelledError"
        assert fallback.get_output() == "answer to fallback"
        assert STARTED == ["slow", "fallback"]
        replayed = asyncio.run(invocation.rewind(0).replay_async())
        assert replayed.get_output() == "timed out / answer to fallback"
        assert STARTED == ["slow", "fallback", "slow"]  # the fallback came from the journal


@enact.register
async def paid_tool(i: int) -> int:
    await asyncio.sleep(0.2)
    return i


@enact.register
async def failing_tool(i: int) -> int:
    await asyncio.sleep(0.01)
    raise ValueError(f"tool {i} failed")


@enact.register
async def gathers_a_failure(n: int) -> int:
    return sum(await asyncio.gather(paid_tool(1), failing_tool(2), paid_tool(3)))


def test_a_run_left_with_gathered_calls_running_is_marked_interrupted_at_once(
    tmp_path: Path,
) -> None:
    """asyncio.gather passes on a failure and leaves its other calls running: the root ends
    with IncompleteSubinvocationError (the spec's error for calls left running), which
    keeps the tool's error as its cause, says how to fix the program, and leaves the run
    interrupted at once (not running until its lease runs out)."""

    async def main() -> None:
        with pytest.raises(enact.IncompleteSubinvocationError) as caught:
            await enact.invoke_async(gathers_a_failure, (3,), run_id="gathered")
        assert isinstance(caught.value.__cause__, ValueError)
        notes = "\n".join(caught.value.__notes__)
        assert "The parent itself raised ValueError: tool 2 failed" in notes
        assert "Use asyncio.TaskGroup" in notes
        assert "return_exceptions=True" in notes
        run = enact.get_run("gathered")
        assert (run.status, run.state.status) == ("interrupted", "interrupted")
        assert run.state.owner is None and run.state.lease_until is None
        await asyncio.sleep(0.3)  # the calls left running end: the run stays as it was
        assert enact.get_run("gathered").head == run.head

    with enact.SQLiteStore(tmp_path / "store.db"):
        asyncio.run(main())


LEAVES: list[str] = []
ROOT_TASK: list[asyncio.Task[Any]] = []


@enact.register
async def slow_leaf(group: int, index: int) -> int:
    if ROOT_TASK and (group, index) == (2, 0):
        # Ctrl-C's stand-in, at the worst moment: the run's task is cancelled while the
        # other leaves of this group are scheduled but have not started.
        ROOT_TASK.pop().cancel()
    await asyncio.sleep(0.01 * index)
    LEAVES.append(f"{group}.{index}")
    return index


@enact.register
async def leaf_group(group: int) -> int:
    if group == 2:
        await asyncio.sleep(0.1)  # groups 0 and 1 finish first
    return sum(await asyncio.gather(*(slow_leaf(group, index) for index in range(4))))


@enact.register
async def groups(n: int) -> int:
    return sum(await asyncio.gather(*(leaf_group(group) for group in range(n))))


def test_a_run_cancelled_around_gathered_calls_is_interrupted_and_resumes(
    tmp_path: Path,
) -> None:
    """Cancelling the task of a run (what asyncio.run does on Ctrl-C) while gathered calls
    have not started yet: the cancellation goes on as itself (not as an
    IncompleteSubinvocationError of the call that made them), the run is interrupted,
    and resuming it runs only the calls that had not finished."""

    async def main() -> None:
        task = asyncio.ensure_future(enact.invoke_async(groups, (3,), run_id="cancelled"))
        ROOT_TASK.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task
        run = enact.get_run("cancelled")
        assert (run.status, run.state.status) == ("interrupted", "interrupted")
        finished = list(LEAVES)
        assert sorted(finished) == [f"{g}.{i}" for g in range(2) for i in range(4)]
        done = await enact.resume_async("cancelled")
        assert done.status == "complete"
        assert done.invocation().get_output() == 3 * 6  # type: ignore[union-attr]
        assert sorted(LEAVES[len(finished) :]) == [f"2.{i}" for i in range(4)]

    LEAVES.clear()
    with enact.SQLiteStore(tmp_path / "store.db"):
        asyncio.run(main())
