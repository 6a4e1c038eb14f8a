"""Input requests: `enact.request_input`, `InputRequest`, `InvocationGenerator`, and
answering a request from another process.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import random
import subprocess
import sys
from typing import Any

import pytest

import enact

HELPERS = pathlib.Path(__file__).parent / "helpers"


@pytest.fixture
def store() -> Any:
    """An in-memory store, active for the test."""
    with enact.InMemoryStore() as active:
        yield active


@enact.register
@dataclasses.dataclass
class Note(enact.Resource):
    """A resource that a request can ask for."""

    text: str


@enact.register
def ask_name(greeting: str) -> str:
    name = enact.request_input(str, for_value=greeting, context="Who is there?")
    return f"{greeting}, {name}!"


@enact.register
def ask_twice() -> str:
    first = enact.request_input(int, for_value="first", context="A number")
    second = enact.request_input(str, for_value=first, context="A word")
    return f"{first}-{second}"


BODY_RUNS: list[str] = []


@enact.register
def costly_step(label: str) -> str:
    BODY_RUNS.append(label)
    return label.upper()


@enact.register
def step_then_ask() -> str:
    prepared = costly_step("prepare")
    answer_value = enact.request_input(str, for_value=prepared)
    return prepared + answer_value


def test_request_input_outside_an_invocation_is_a_clear_error() -> None:
    """request_input with no running invocation raises InvocationError naming the fix."""
    with pytest.raises(enact.InvocationError, match=r"outside of an invocation.*enact.invoke"):
        enact.request_input(str)


def test_request_input_outside_an_invocation_but_inside_a_store_is_an_error(store: Any) -> None:
    """An active store is not enough: request_input needs a running invocation."""
    with pytest.raises(enact.InvocationError, match="outside of an invocation"):
        enact.request_input(int, for_value=3)


def test_request_input_raises_an_input_request_journaled_as_a_child(store: Any) -> None:
    """The request is a child call that raised; the invocation records it as raised."""
    invocation = enact.invoke(ask_name, ("Hello",))
    raised = invocation.get_raised()
    assert isinstance(raised, enact.InputRequest)
    assert not invocation.has_output()
    (child,) = invocation.get_children()
    assert isinstance(child.get_raised(), enact.InputRequest)
    assert child.response().raised_here
    assert not invocation.response().raised_here


def test_input_request_exposes_requested_type_value_and_context(store: Any) -> None:
    """for_value() checks out the value; context and requested_type are readable."""
    request = enact.invoke(ask_name, ("Hello",)).get_raised()
    assert request.for_value() == "Hello"
    assert isinstance(request.for_value, enact.Ref)
    assert request.context == "Who is there?"
    assert request.requested_type is str
    assert "Who is there?" in str(request)


def test_input_request_can_be_caught_by_the_invokable(store: Any) -> None:
    """Code may catch the InputRequest; the journal still records the request call."""

    @enact.register
    def polite() -> str:
        try:
            return str(enact.request_input(str))
        except enact.InputRequest as request:
            return f"no answer for {request.requested_type.__name__}"

    invocation = enact.invoke(polite)
    assert invocation.get_output() == "no answer for str"
    assert isinstance(invocation.get_child(0).get_raised(), enact.InputRequest)


def test_requested_resource_and_none_types(store: Any) -> None:
    """A resource class and NoneType can be requested and answered."""

    @enact.register
    def wants_note() -> str:
        note = enact.request_input(Note, context="Leave a note")
        nothing = enact.request_input(type(None))
        return f"{note.text}/{nothing}"

    generator = enact.InvocationGenerator.from_callable(wants_note)
    first = next(generator)
    assert first.requested_type is Note
    with pytest.raises(enact.InputTypeError):
        generator.set_input("not a note")
    generator.set_input(Note("hi"))
    second = next(generator)
    assert second.requested_type is type(None)
    generator.set_input(None)
    assert list(generator) == []
    assert generator.invocation.get_output() == "hi/None"


def test_request_of_an_unstorable_type_is_an_error(store: Any) -> None:
    """Requesting a type enact cannot store fails with an error naming what can be asked."""

    class Plain:
        """Neither a resource nor wrapped."""

    @enact.register
    def wants_object() -> Any:
        return enact.request_input(Plain)

    raised = enact.invoke(wants_object).get_raised()
    assert "request_input cannot request" in str(raised) and "Plain" in str(raised)


def test_generator_yields_requests_and_finishes(store: Any) -> None:
    """Iteration yields each pending request; the final invocation has the output."""
    generator = enact.InvocationGenerator.from_callable(ask_twice)
    seen = []
    answers: list[Any] = [7, "seven"]
    for request in generator:
        seen.append(request.context)
        generator.set_input(answers.pop(0))
    assert seen == ["A number", "A word"]
    assert generator.invocation.get_output() == "7-seven"
    outputs = [child.get_output() for child in generator.invocation.get_children()]
    assert outputs == [7, "seven"]


def test_generator_send_answers_and_returns_the_next_request(store: Any) -> None:
    """send(value) answers the pending request and returns the next; StopIteration at the end."""
    generator = enact.InvocationGenerator.from_callable(ask_twice)
    first = next(generator)
    assert first.for_value() == "first"
    second = generator.send(3)
    assert second.for_value() == 3
    with pytest.raises(StopIteration):
        generator.send("x")
    assert generator.invocation.get_output() == "3-x"


def test_set_input_checks_the_requested_type(store: Any) -> None:
    """An answer of the wrong type raises InputTypeError and leaves the request pending."""
    generator = enact.InvocationGenerator.from_callable(ask_twice)
    next(generator)
    with pytest.raises(enact.InputTypeError, match=r"\$: expected int, got 'seven'"):
        generator.set_input("seven")
    generator.set_input(7)
    assert next(generator).requested_type is str


def test_generator_misuse_is_reported(store: Any) -> None:
    """invocation before start, next() without an answer, set_input with nothing pending."""
    generator = enact.InvocationGenerator.from_callable(ask_twice)
    with pytest.raises(enact.InvocationError, match="not started"):
        _ = generator.invocation
    with pytest.raises(enact.InvocationError, match="No input request is pending"):
        generator.set_input(1)
    next(generator)
    with pytest.raises(enact.InvocationError, match="has not been answered"):
        next(generator)


def test_generator_passes_args_and_kwargs(store: Any) -> None:
    """from_callable(fn, args, kwargs) calls fn(*args, **kwargs)."""

    @enact.register
    def greet(greeting: str, *, punctuation: str = ".") -> str:
        name = enact.request_input(str, for_value=greeting)
        return f"{greeting} {name}{punctuation}"

    generator = enact.InvocationGenerator.from_callable(greet, ("Hi",), {"punctuation": "?"})
    for _ in generator:
        generator.set_input("you")
    assert generator.invocation.get_output() == "Hi you?"


def test_generator_without_requests_stops_at_once(store: Any) -> None:
    """A callable that asks nothing yields no request; its output is recorded."""

    @enact.register
    def quiet(x: int) -> int:
        return x + 1

    generator = enact.InvocationGenerator.from_callable(quiet, (1,))
    assert list(generator) == []
    assert generator.invocation.get_output() == 2


def test_answered_steps_do_not_run_again(store: Any) -> None:
    """Continuing after an answer replays the recorded steps without running them."""
    BODY_RUNS.clear()
    generator = enact.InvocationGenerator.from_callable(step_then_ask)
    for _ in generator:
        generator.set_input("!")
    assert generator.invocation.get_output() == "PREPARE!"
    assert BODY_RUNS == ["prepare"]


def test_answering_never_changes_earlier_invocations(store: Any) -> None:
    """Each answer makes a new invocation; the one that asked keeps its digest."""
    generator = enact.InvocationGenerator.from_callable(ask_twice)
    next(generator)
    asked = generator.invocation
    digest = enact.commit(asked).digest
    generator.set_input(1)
    next(generator)
    assert enact.commit(asked).digest == digest
    assert isinstance(asked.get_raised(), enact.InputRequest)
    assert generator.invocation != asked


def test_spec_dice_example_with_known_answers(store: Any) -> None:
    """The spec's confirm-with-user dice game rerolls rolls below 5 and sums the kept ones."""

    @enact.register
    @dataclasses.dataclass
    class Die(enact.Invokable):
        sides: int = 6

        def call(self) -> int:
            return random.randint(1, self.sides)

    @enact.register
    def confirm_rolls(num_calls: int) -> int:
        die = Die()
        total = 0
        for i in range(num_calls):
            while True:
                score = die()
                again = enact.request_input(str, for_value=score, context=f"Reroll #{i}?")
                if again != "yes":
                    break
            total += score
        return total

    random.seed(11)
    generator = enact.InvocationGenerator.from_callable(confirm_rolls, args=(3,))
    for request in generator:
        generator.set_input("yes" if request.for_value() < 5 else "no")
    invocation = generator.invocation
    outputs = [child.get_output() for child in invocation.get_children()]
    rolls, answers = outputs[0::2], outputs[1::2]
    assert answers == ["yes" if roll < 5 else "no" for roll in rolls]
    assert answers.count("no") == 3
    kept = [roll for roll, said in zip(rolls, answers, strict=True) if said == "no"]
    assert invocation.get_output() == sum(kept)


def test_pending_requests_and_answer_by_path(store: Any) -> None:
    """pending_input_requests lists paths; answer(path=...) answers that request."""

    @enact.register
    def nested() -> str:
        return str(ask_name("Hey"))

    invocation = enact.invoke(nested)
    ((path, request),) = enact.pending_input_requests(invocation)
    assert path == (0, 0)
    assert request.context == "Who is there?"
    answered = enact.answer(invocation, "Ada", path)
    assert enact.pending_input_requests(answered) == []
    assert answered.replay().get_output() == "Hey, Ada!"
    with pytest.raises(enact.InvocationError, match="No pending input request at child path"):
        enact.answer(invocation, "Ada", (5,))
    with pytest.raises(enact.InputTypeError):
        enact.answer(invocation, 5)
    with pytest.raises(enact.InvocationError, match="no pending input request"):
        enact.answer(answered.replay(), "again")


def test_many_input_requests(store: Any) -> None:
    """A hundred input requests in one invocation are answered in turn."""

    @enact.register
    def ask_many(n: int) -> int:
        return sum(enact.request_input(int, for_value=i) for i in range(n))

    generator = enact.InvocationGenerator.from_callable(ask_many, (100,))
    count = 0
    for request in generator:
        generator.set_input(request.for_value() * 2)
        count += 1
    assert count == 100
    assert generator.invocation.get_output() == 2 * sum(range(100))


# Answering in another process ------------------------------------------------------


def run_worker(url: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(HELPERS / "input_request_worker.py"), url, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    state: dict[str, Any] = json.loads(result.stdout)
    return state


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_request_pending_in_one_process_is_answered_in_another(
    tmp_path: pathlib.Path, kind: str
) -> None:
    """Process 1 stops at a request; processes 2 and 3 find it by ref and name, answer, finish."""
    url = f"sqlite:///{tmp_path}/store.db" if kind == "sqlite" else f"file://{tmp_path}/store"
    started = run_worker(url, "start")
    assert started["output"] is None
    assert started["pending"] == [
        {
            "path": [1],
            "requested_type": "str",
            "for_value": ["Lisbon-early", "Lisbon-late"],
            "context": "Which flight?",
        }
    ]
    assert started["runs"] == {"plan_trip": 1, "search_flights": 1}

    answered = run_worker(url, "answer", started["digest"], '"Lisbon-late"')
    assert answered["output"] is None
    assert [p["context"] for p in answered["pending"]] == ["How many seats?"]
    assert answered["pending"][0]["for_value"] == "Lisbon-late"
    assert answered["runs"] == {"plan_trip": 1}  # the flight search was replayed, not run

    finished = run_worker(url, "generator", "jobs/trip", "2")
    assert finished["output"] == "booked 2 on Lisbon-late"
    assert finished["pending"] == []
    assert finished["runs"] == {"plan_trip": 1, "book": 1}

    with enact.open_store(url) as store:
        ref = store.get_name("jobs/trip")
        assert ref is not None and ref.digest == finished["digest"]
        invocation = ref()
        assert invocation.get_output() == "booked 2 on Lisbon-late"
        # The run that asked is still in the store, unchanged.
        first = enact.Ref.from_digest(started["digest"])()
        assert isinstance(first.get_raised(), enact.InputRequest)
    store.close()


def test_wrong_answer_from_another_process_is_rejected(tmp_path: pathlib.Path) -> None:
    """An answer of the wrong type fails in the answering process and changes nothing."""
    url = f"sqlite:///{tmp_path}/store.db"
    started = run_worker(url, "start")
    result = subprocess.run(
        [sys.executable, str(HELPERS / "input_request_worker.py"), url, "answer", "jobs/trip", "3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "AnswerError" in result.stderr and "$: expected str, got 3" in result.stderr
    with enact.open_store(url) as store:
        ref = store.get_name("jobs/trip")
        assert ref is not None and ref.digest == started["digest"]
    store.close()
