"""request_input of generic and special types, exception_override, and what can be answered."""

from __future__ import annotations

import dataclasses
import enum
import json
import pathlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any, Literal

import pydantic
import pytest

import enact
from enact.invocations.requested_types import TypeForm


@pytest.fixture
def store() -> Iterator[enact.Store]:
    """An in-memory store, active for the test."""
    with enact.InMemoryStore() as active:
        yield active


class Mood(enum.Enum):
    """An enum asked for by class."""

    GOOD = "good"
    BAD = "bad"


@enact.register
class ToolCall(pydantic.BaseModel):
    """A pydantic model asked for by its concrete class."""

    name: str
    arguments: dict[str, int]


@enact.register
@dataclasses.dataclass
class Approval(enact.Resource):
    """A dataclass resource with a default."""

    approved: bool
    note: str | None = None


@enact.register
def survey() -> str:
    """Asks for one value of each kind."""
    tags = enact.request_input(list[str], context="tags")
    choice = enact.request_input(Literal["yes", "no"], context="choice")
    count = enact.request_input(int | None, context="count")
    mood = enact.request_input(Mood, context="mood")
    call = enact.request_input(ToolCall, context="tool")
    table = enact.request_input(dict[str, tuple[int, ...]], context="table")
    return f"{tags} {choice} {count} {mood} {call!r} {table}"


ANSWERS: list[tuple[str, Any, Any, str]] = [
    # label, a wrong answer, a right answer (as data), the problem the wrong one has
    ("list[str]", ["a", 1], ["a", "b"], "$[1]: expected str, got 1"),
    ("Literal['yes', 'no']", "maybe", "yes", "$: expected one of 'yes', 'no', got 'maybe'"),
    ("int | None", "3", None, "$: expected int | None, got '3'"),
    ("Mood", "meh", "good", "$: expected Mood (one of 'good', 'bad'), got 'meh'"),
    ("ToolCall", {"name": "s", "arguments": {}, "x": 1}, {"name": "s", "arguments": {"k": 2}},
     "$.x: unknown field of ToolCall"),
    ("dict[str, tuple[int, ...]]", {"a": [1, "2"]}, {"a": [1, 2]}, "$['a'][1]: expected int"),
]  # fmt: skip


def test_generic_requests_are_asked_checked_and_answered(store: Any) -> None:
    """Each request names its type; a wrong answer is refused and changes nothing; types kept."""
    generator = enact.InvocationGenerator.from_callable(survey)
    for request, (label, wrong, right, problem) in zip(generator, ANSWERS, strict=True):
        assert request.requested_label == label
        assert str(request) == f"Input of type {label} requested: {request.context}"
        head = generator.run.head if generator.run is not None else None
        with pytest.raises(enact.AnswerError, match=re.escape(problem)):
            generator.set_input(wrong)
        assert generator.run is not None and generator.run.refresh().head == head
        generator.set_input(right)
    assert generator.invocation.get_output() == (
        "['a', 'b'] yes None Mood.GOOD ToolCall(name='s', arguments={'k': 2}) {'a': (1, 2)}"
    )


def test_the_recorded_form_of_generic_types(store: Any) -> None:
    """A typing form is recorded as a TypeForm of wrapper classes, restored to the same form."""
    generator = enact.InvocationGenerator.from_callable(survey)
    request = next(generator)
    assert isinstance(request.requested, TypeForm) and request.requested.kind == "list"
    assert request.requested_type == list[str]
    generator.set_input(["x"])
    assert next(generator).requested_type == Literal["yes", "no"]
    generator.set_input("no")
    assert next(generator).requested_type == int | None
    generator.set_input(1)
    mood = next(generator)
    assert mood.requested == TypeForm("enum", [f"{__name__}.Mood"])
    assert mood.requested_type is Mood
    generator.set_input(Mood.BAD)
    tool = next(generator)
    assert tool.requested is ToolCall and tool.requested_type is ToolCall


WITHOUT_PROGRAM = """
import json, sys
import enact

store = enact.open_store(sys.argv[1])
with store:
    run = enact.get_run("ask")
    [(path, request)] = enact.pending_input_requests(run)
    report = {"label": request.requested_label, "context": request.context}
    try:
        enact.answer(run, json.loads(sys.argv[2]), run_now=False)
    except enact.AnswerError as error:
        report["refused"] = error.problems
    report["status"] = enact.get_run("ask").status
    run = enact.answer(run, json.loads(sys.argv[3]), run_now=False)
    report["after"] = run.status
print(json.dumps(report))
"""


@enact.register
def pick() -> str:
    """Two requests answerable without the program's classes."""
    tags = enact.request_input(list[str], context="tags")
    choice = enact.request_input(Literal["yes", "no"] | None, context="choice")
    return f"{tags} {choice}"


def answer_elsewhere(url: str, wrong: Any, right: Any) -> dict[str, Any]:
    """Reads and answers the run's request in a process that never imports this module."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_PROGRAM), url, json.dumps(wrong),
         json.dumps(right)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_another_process_reads_and_checks_a_generic_request(tmp_path: pathlib.Path) -> None:
    """The request is read, named and its answer checked without the program that asked."""
    url = f"sqlite:///{tmp_path}/store.db"
    with enact.open_store(url) as store:
        enact.invoke(pick, run_id="ask")
        first = answer_elsewhere(url, ["a", 2], ["a", "b"])
        assert first == {
            "label": "list[str]",
            "context": "tags",
            "refused": [["$[1]", "expected str, got 2"]],
            "status": "waiting",
            "after": "answered",
        }
        run = enact.resume("ask")
        assert run.status == "waiting"
        second = answer_elsewhere(url, "sure", None)
        assert second["label"] == "Literal['yes', 'no'] | None"
        assert second["refused"] == [["$", "expected Literal['yes', 'no'] | None, got 'sure'"]]
        assert enact.resume("ask").invocation().get_output() == "['a', 'b'] None"  # type: ignore[union-attr]
    store.close()


def test_unrequestable_types_are_refused_with_the_fix(store: Any) -> None:
    """Unregistered models, other generics, odd literals: the error names the fix."""

    class Loose(pydantic.BaseModel):
        """Not registered."""

        x: int

    cases: list[tuple[Any, str]] = [
        (Loose, "it is not registered: decorate the class with @enact.register"),
        (frozenset[int] | bytearray, "bytearray: it is not a resource class"),
        (Literal[1.5], "the Literal value 1.5 is not str, int, bool or None"),
    ]
    for requested, problem in cases:

        @enact.register
        def asks() -> Any:
            return enact.request_input(requested)  # noqa: B023

        raised = enact.invoke(asks).get_raised()
        assert isinstance(raised, enact.RecordedException)
        assert raised.type_name == "enact.errors.InvocationError"
        assert "request_input cannot request" in raised.message and problem in raised.message


def test_dicts_keyed_by_other_types_are_requested_and_answered(store: Any) -> None:
    """dict[int, str] is requested, recorded, and answered with int keys or JSON's str keys."""

    @enact.register
    def asks_for_scores() -> str:
        scores = enact.request_input(dict[int, str], context="scores")
        return repr(scores)

    invocation = enact.invoke(asks_for_scores)
    raised = invocation.get_raised()
    assert isinstance(raised, enact.InputRequest)
    assert raised.requested_type == dict[int, str]
    assert "dict[int, str]" in str(raised)
    answered = enact.answer(invocation, {"10": "b", "2": "a"})  # as JSON spells it
    assert answered.replay().get_output() == "{2: 'a', 10: 'b'}"  # sorted by key, as ints
    assert enact.answer(invocation, {3: "c"}).replay().get_output() == "{3: 'c'}"
    with pytest.raises(enact.AnswerError) as info:
        enact.answer(invocation, {"x": "a", "1": 2})
    message = str(info.value)
    assert "$['x'] (key): expected int, got 'x'" in message
    assert "$['1']: expected str, got 2" in message


@enact.register
def flaky(x: int) -> int:
    """A tool that fails the first time it is called per process run."""
    CALLS.append(x)
    if len(CALLS) == 1:
        raise ValueError("tool down")
    return x * 10


CALLS: list[int] = []


@enact.register
def careful() -> str:
    """Catches a tool error, then asks for input."""
    try:
        flaky(1)
        tool = "worked"
    except ValueError:
        tool = "failed"
    return f"{tool} {enact.request_input(str)}"


def test_override_returning_none_is_no_override(store: Any) -> None:
    """None from exception_override: the recorded tool error is raised again, the tool not run."""
    CALLS.clear()
    invocation = enact.invoke(careful)
    assert isinstance(invocation.get_raised(), enact.InputRequest)
    seen: list[str] = []

    def only_requests(ref: enact.Ref[Any]) -> Any:
        seen.append(type(ref()).__name__)
        return "hi" if isinstance(ref(), enact.InputRequest) else None

    answered = invocation.replay(exception_override=only_requests)
    assert seen == ["TracedException", "InputRequest"]  # a recorded ValueError, then the request
    assert answered.get_output() == "failed hi"  # caught as on the first run, not None
    assert CALLS == [1]  # the tool did not run again
    again = invocation.replay(exception_override=lambda ref: None)
    assert isinstance(again.get_raised(), enact.InputRequest)
    assert again.get_child(1) == invocation.get_child(1)  # the recorded request, raised again
    assert CALLS == [1]
    none_answer = enact.invoke(asks_optional).replay(
        exception_override=lambda r: enact.commit(None)
    )
    assert none_answer.get_output() == "None"


@enact.register
def asks_optional() -> str:
    """Asks for an optional string."""
    return str(enact.request_input(str | None))


def test_answer_refuses_what_is_not_an_input_request(store: Any) -> None:
    """Pointing answer() at a caught tool error names what is there and the pending requests."""
    CALLS.clear()
    invocation = enact.invoke(careful)
    with pytest.raises(enact.InvocationError) as info:
        enact.answer(invocation, "x", (0,))
    assert str(info.value) == (
        "No pending input request at child path [0]: that call raised builtins.ValueError, "
        "which is not an input request. Only input requests can be answered (other recorded "
        "exceptions stay as they are); pending input requests: [[1]]."
    )
    CALLS.clear()
    run_id = enact.invoke(careful, run_id="careful").request.digest and "careful"
    with pytest.raises(enact.InvocationError, match=r"raised builtins.ValueError, which is not"):
        enact.answer(run_id, "x", (0,))
    assert enact.get_run(run_id).status == "waiting"
    answered = enact.answer(run_id, "ok", (1,), run_now=True).invocation()
    assert answered is not None and answered.get_output() == "failed ok"  # the error stays


SURVEY_MODULE = """
from typing import Literal
import enact


@enact.register
def survey() -> str:
    choice = enact.request_input(Literal["yes", "no"], context="agree?")
    tags = enact.request_input(list[str], context="tags")
    return f"{choice}: {', '.join(tags)}"
"""
START = "import sys, enact, survey_types; enact.open_store(sys.argv[1]).__enter__(); " + (
    "enact.invoke(survey_types.survey, run_id='survey')"
)


def test_the_command_line_answers_generic_requests(tmp_path: pathlib.Path) -> None:
    """enact answer shows the requested form, refuses a wrong answer in one line, takes text."""
    (tmp_path / "survey_types.py").write_text(SURVEY_MODULE)
    url = f"sqlite:///{tmp_path}/store.db"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True,
            check=False, timeout=120,
        )  # fmt: skip

    started = run("-c", START, url)
    assert started.returncode == 0, started.stderr
    cli = ["-m", "enact", "--store", url, "--import", "survey_types", "answer", "survey"]
    listed = run(*cli, "--list")
    assert listed.returncode == 0, listed.stderr
    assert "Literal['yes', 'no']" in listed.stdout and "agree?" in listed.stdout
    wrong = run(*cli, "--input", "maybe")
    assert wrong.returncode == 1
    assert "$: expected one of 'yes', 'no', got 'maybe'" in wrong.stderr
    answered = run(*cli, "--input", "yes", "--input", '["a", "b"]')
    assert answered.returncode == 0, answered.stderr
    assert "run survey (complete)" in answered.stdout
    assert "'yes: a, b'" in answered.stdout
