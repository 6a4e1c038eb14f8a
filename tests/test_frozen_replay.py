"""Replays that forbid new calls: ``replay(new_calls="forbid")`` and ``enact replay --frozen``.

A call the journal has no record of is an `enact.UnrecordedCallError` that
names it, its child path and the recorded calls near it, and it does not run.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import enact

CALLS: list[str] = []


@enact.register
def model(prompt: str) -> str:
    CALLS.append(prompt)
    return prompt.upper()


@enact.register
def agent(num_questions: int) -> list[str]:
    return [model(f"question {i}") for i in range(num_questions)]


SETTINGS = {"fail": False, "style": "question"}


@enact.register
def styled_agent(num_questions: int) -> list[str]:
    return [model(f"{SETTINGS['style']} {i}") for i in range(num_questions)]


@enact.register
def flaky_step() -> str:
    first = model("inside")
    if SETTINGS["fail"]:
        raise RuntimeError("the step failed")
    return first + model("second inside")


@enact.register
def pipeline() -> str:
    return flaky_step()


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()
    SETTINGS.update(fail=False, style="question")


def test_a_frozen_replay_of_a_complete_record_runs_no_recorded_call() -> None:
    with enact.InMemoryStore():
        invocation = enact.invoke(agent, (3,))
        CALLS.clear()
        replayed = invocation.rewind(0).replay(new_calls="forbid")
        assert replayed.get_output() == ["QUESTION 0", "QUESTION 1", "QUESTION 2"]
    assert CALLS == []


def test_a_call_missing_from_the_journal_is_refused_and_not_run() -> None:
    with enact.InMemoryStore():
        invocation = enact.invoke(agent, (3,))
        CALLS.clear()
        rewound = invocation.rewind(1)  # the journal now lacks model("question 2")
        with pytest.raises(enact.UnrecordedCallError) as caught:
            rewound.replay(new_calls="forbid")
        assert CALLS == []
        error = caught.value
        assert isinstance(error, enact.ReplayError)
        assert error.path == (2,)
        assert error.difference == "new call"
        assert "question 2" in error.actual
        message = str(error)
        assert "Unrecorded call model(" in message
        assert "at child path [2]" in message
        assert "The record has 2 call(s) here." in message
        assert "Recorded nearby:\n  [0] model(" in message and "'question 0'" in message
        assert "[1] model(" in message and "'question 1'" in message
        assert "new_calls='run'" in message

        # The default runs it, as before.
        assert rewound.replay().get_output() == ["QUESTION 0", "QUESTION 1", "QUESTION 2"]
        assert CALLS == ["question 2"]


def test_more_calls_than_recorded_are_refused() -> None:
    with enact.InMemoryStore():
        invocation = enact.invoke(agent, (2,))
        request = invocation.request()
        bigger = enact.Invocation(
            enact.commit(enact.Request(request.invokable, enact.CallArgs([4], {}))),
            invocation.rewind(0).response,
        )
        CALLS.clear()
        with pytest.raises(enact.UnrecordedCallError) as caught:
            bigger.replay(new_calls="forbid")
        assert caught.value.path == (2,)
        assert CALLS == []


def test_strict_false_skips_a_mismatch_but_forbid_still_refuses_the_new_call() -> None:
    with enact.InMemoryStore():
        invocation = enact.invoke(styled_agent, (2,))
        SETTINGS["style"] = "query"  # the program changed: its calls match no record
        CALLS.clear()
        with pytest.raises(enact.UnrecordedCallError) as caught:
            invocation.rewind(0).replay(strict=False, new_calls="forbid")
        assert caught.value.path == (0,)
        assert "'query 0'" in str(caught.value)
        assert CALLS == []
        # strict=False alone runs them.
        replayed = invocation.rewind(0).replay(strict=False)
        assert replayed.get_output() == ["QUERY 0", "QUERY 1"]
        assert CALLS == ["query 0", "query 1"]


def test_a_recorded_call_that_raised_raises_again_and_runs_nothing() -> None:
    with enact.InMemoryStore():
        SETTINGS["fail"] = True
        invocation = enact.invoke(pipeline)
        assert invocation.get_raised() is not None
        SETTINGS["fail"] = False  # fixed: flaky_step now makes a second model call
        CALLS.clear()
        # The recorded exception is a recorded result: raised again, flaky_step not run.
        replayed = invocation.rewind(0).replay(new_calls="forbid")
        assert "the step failed" in str(replayed.get_raised())
        assert CALLS == []
        # Rewinding the failed step runs it again: it has no record now.
        with pytest.raises(enact.UnrecordedCallError) as caught:
            invocation.rewind(1).replay(new_calls="forbid")
        assert CALLS == []
        assert caught.value.path == (0,)
        assert "flaky_step(" in str(caught.value)


def test_new_calls_must_be_run_or_forbid() -> None:
    with enact.InMemoryStore():
        invocation = enact.invoke(agent, (1,)).rewind(0)
        with pytest.raises(ValueError, match="new_calls must be 'run' or 'forbid'"):
            invocation.replay(new_calls="never")  # type: ignore[arg-type]


@enact.register
async def async_model(prompt: str) -> str:
    CALLS.append(prompt)
    return prompt[::-1]


@enact.register
async def async_agent(count: int) -> list[str]:
    return list(await asyncio.gather(*(async_model(f"q{i}") for i in range(count))))


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")  # gather's others
def test_replay_async_forbids_new_calls_too() -> None:
    async def main() -> None:
        with enact.InMemoryStore():
            invocation = await enact.invoke_async(async_agent, (3,))
            CALLS.clear()
            replayed = await invocation.rewind(0).replay_async(new_calls="forbid")
            assert replayed.get_output() == ["0q", "1q", "2q"]
            with pytest.raises(enact.UnrecordedCallError) as caught:
                await invocation.rewind(1).replay_async(new_calls="forbid")
            assert caught.value.path == (2,)
        assert CALLS == []

    asyncio.run(main())


MODULE = """
import enact

@enact.register
def model(prompt: str) -> str:
    with open("calls.log", "a") as log:
        log.write(prompt + "\\n")
    return prompt.upper()

@enact.register
def agent(count: int) -> list[str]:
    return [model(f"question {i}") for i in range(count)]
"""


def _enact(cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ENACT_STORE=f"sqlite:///{cwd}/store.db", NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(enact.__file__).parent.parent), str(cwd)])
    return subprocess.run(
        [sys.executable, "-m", "enact", "--import", "frozen_agent", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_enact_replay_frozen_refuses_a_call_the_journal_lacks(tmp_path: pathlib.Path) -> None:
    (tmp_path / "frozen_agent.py").write_text(textwrap.dedent(MODULE))
    script = "import enact, frozen_agent\nwith enact.open_store():\n"
    script += "    enact.invoke(frozen_agent.agent, (3,), run_id='questions')\n"
    env = dict(os.environ, ENACT_STORE=f"sqlite:///{tmp_path}/store.db")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pathlib.Path(enact.__file__).parent.parent), str(tmp_path)]
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True)
    log = tmp_path / "calls.log"
    assert log.read_text().splitlines() == ["question 0", "question 1", "question 2"]

    complete = _enact(tmp_path, "replay", "questions", "--rewind", "0", "--frozen")
    assert complete.returncode == 0, complete.stderr
    assert "(complete)" in complete.stdout
    assert len(log.read_text().splitlines()) == 3

    refused = _enact(tmp_path, "replay", "questions", "--rewind", "1", "--frozen")
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "Unrecorded call model(" in refused.stderr
    assert "question 2" in refused.stderr
    assert "child path [2]" in refused.stderr
    assert len(log.read_text().splitlines()) == 3  # it did not run

    ran = _enact(tmp_path, "replay", "questions", "--rewind", "1")
    assert ran.returncode == 0, ran.stderr
    assert len(log.read_text().splitlines()) == 4
