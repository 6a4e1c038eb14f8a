"""pydantic models and attrs classes registered with @enact.register are resources."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import subprocess
import sys
from typing import Annotated, Any, Literal

import attrs
import pydantic
import pytest

import enact


@enact.register
class ToolCall(pydantic.BaseModel):
    name: str
    arguments: dict[str, Any] = {}
    when: datetime.date | None = None


@enact.register
class Search(ToolCall):
    query: str = ""


@enact.register
class Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    a: int


@enact.register
@attrs.define
class Point:
    x: int
    _y: int = 0


@enact.register
@attrs.frozen
class Segment:
    start: Point
    end: Point


@enact.register
@dataclasses.dataclass
class Transcript(enact.Resource):
    calls: list[ToolCall]
    points: dict[str, Point]


@enact.register
def length(call: ToolCall) -> Point:
    return Point(len(call.name), len(call.arguments))


def round_trip(value: Any) -> Any:
    with enact.InMemoryStore():
        return enact.commit(value)()


@pytest.mark.parametrize(
    "value",
    [
        ToolCall(name="search", arguments={"q": "x", "n": [1, 2]}, when=datetime.date(2024, 1, 2)),
        Search(name="search", query="enact"),
        Frozen(a=1),
        Point(1, 2),
        Segment(Point(1), Point(2, 3)),
    ],
    ids=repr,
)
def test_instances_round_trip_as_their_concrete_class(value: Any) -> None:
    """Checkout returns an equal instance of exactly the registered class."""
    back = round_trip(value)
    assert back == value
    assert type(back) is type(value)


def test_pydantic_model_comes_back_usable() -> None:
    """A checked-out model dumps, copies and validates like a constructed one."""
    call = ToolCall(name="s", arguments={"b": 1, "a": 2})
    back = round_trip(call)
    assert back.model_dump() == call.model_dump()
    assert json.loads(back.model_dump_json()) == json.loads(call.model_dump_json())
    assert list(back.model_dump()) == ["name", "arguments", "when"]  # declaration order
    assert back.model_copy(update={"name": "t"}).name == "t"
    assert ToolCall.model_validate(back.model_dump()) == call


def test_type_id_is_computed_like_any_resource() -> None:
    """The type id digests the class name and sorted field names, as docs/FORMAT.md says."""
    name = f"{__name__}.ToolCall"
    expected = hashlib.sha256((name + "'arguments''name''when'").encode()).hexdigest()
    with enact.InMemoryStore() as store:
        tokens = store.read_tokens(enact.commit(ToolCall(name="a")))
    type_id = json.loads(tokens[4 : tokens.index(b"}") + 1])
    assert type_id == {"digest": expected, "name": name}


def test_different_configurations_get_different_digests() -> None:
    """Two models that differ in one field are different objects (the silent-loss bug)."""
    with enact.InMemoryStore():
        first = enact.commit(ToolCall(name="a")).digest
        second = enact.commit(ToolCall(name="b")).digest
    assert first != second


def test_nested_in_a_dataclass_resource() -> None:
    """Models and attrs instances nest inside dataclass resources, lists and dicts."""
    transcript = Transcript([ToolCall(name="a"), Search(name="b", query="q")], {"p": Point(1, 2)})
    back = round_trip(transcript)
    assert back == transcript
    assert [type(call) for call in back.calls] == [ToolCall, Search]


def test_inputs_and_outputs_of_journaled_calls() -> None:
    """A registered function taking a model and returning an attrs instance is journaled."""
    with enact.InMemoryStore():
        invocation = enact.invoke(length, (ToolCall(name="abc", arguments={"k": 1}),))
        output = invocation.get_output()
        assert output == Point(3, 1)
        assert type(output) is Point
        replayed = invocation.replay()
        assert replayed.get_output() == Point(3, 1)


def test_checkout_does_not_validate_or_run_init_again() -> None:
    """Checkout restores the stored fields; validators do not run again."""
    runs: list[str] = []

    @enact.register
    class Checked(pydantic.BaseModel):
        a: int

        @pydantic.field_validator("a")
        @classmethod
        def count(cls, value: int) -> int:
            runs.append("validate")
            return value

    back = round_trip(Checked(a=1))
    assert back == Checked(a=1)
    assert runs.count("validate") == 2  # the two constructions above, not the checkout


def test_unfaithful_pydantic_models_are_refused() -> None:
    """Private attributes and an own __init__ would lose state: refused."""

    class Private(pydantic.BaseModel):
        a: int
        _cache: dict[str, int] = pydantic.PrivateAttr(default_factory=dict)

    class OwnInit(pydantic.BaseModel):
        a: int

        def __init__(self, a: int) -> None:
            super().__init__(a=a)

    for cls, reason in [(Private, "private"), (OwnInit, "__init__")]:
        with pytest.raises(enact.RegistrationError, match=f"{cls.__qualname__}.*{reason}"):
            enact.register(cls)


def test_attrs_class_with_its_own_init_is_refused() -> None:
    """An attrs class whose __init__ is hand-written is refused, naming the class."""

    @attrs.define(init=False)
    class Manual:
        a: int

        def __init__(self, a: int) -> None:
            self.a = a

    with pytest.raises(enact.RegistrationError, match=r"Manual.*__init__"):
        enact.register(Manual)


def test_an_unregistered_model_says_to_register_it() -> None:
    """Committing an instance of a model that was never registered names the fix."""

    class Unregistered(pydantic.BaseModel):
        a: int

    with enact.InMemoryStore(), pytest.raises(enact.UnsupportedValueError) as raised:
        enact.commit(Transcript([Unregistered(a=1)], {}))  # type: ignore[list-item]
    message = str(raised.value)
    assert "Unregistered at $." in message and "[0]: it is a pydantic model" in message
    # Both fixes: the decorator for a class of one's own, a call for an SDK's.
    assert "Decorate the class with @enact.register" in message
    assert message.endswith(
        "call enact.register(test_an_unregistered_model_says_to_register_it.<locals>."
        "Unregistered) once before committing it."
    )


def test_a_model_deriving_from_resource_is_refused() -> None:
    """A pydantic model that also derives from enact.Resource is refused (register it plainly)."""

    class Both(pydantic.BaseModel, enact.Resource):
        a: int

    with pytest.raises(enact.RegistrationError, match="Both"):
        enact.register(Both)


# Models shaped as the OpenAI and Anthropic SDKs declare theirs: one base class that allows
# extra fields and defers building, responses made of nested models, a discriminated union
# of content blocks. Only the response class is registered, as a user of an SDK would.


class SdkModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", defer_build=True)


class SdkUsage(SdkModel):
    input_tokens: int
    output_tokens: int


class SdkText(SdkModel):
    type: Literal["text"]
    text: str
    citations: list[str] | None = None


class SdkToolUse(SdkModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class SdkMessage(SdkModel):
    id: str
    role: Literal["assistant"] = "assistant"
    content: list[Annotated[SdkText | SdkToolUse, pydantic.Field(discriminator="type")]]
    stop_reason: str | None = None
    usage: SdkUsage


SDK_REPLY = {
    "id": "msg_1",
    "content": [
        {"type": "text", "text": "Looking it up."},
        {"type": "tool_use", "id": "tu_1", "name": "search", "input": {"q": "enact"}},
    ],
    "usage": {"input_tokens": 12, "output_tokens": 7, "service_tier": "standard"},
    "container": None,
}


def test_an_sdk_response_model_round_trips_with_its_extras_and_its_set_fields() -> None:
    """Registering the response class registers its parts, builds the deferred models, and
    a checked-out response equals the received one: extra fields kept (at every level),
    and model_dump(exclude_unset=True), which SDKs' to_dict() uses, gives the same dict."""
    enact.register(SdkMessage)
    assert SdkMessage.__pydantic_complete__
    received = SdkMessage.model_validate(SDK_REPLY)
    with enact.InMemoryStore():
        ref = enact.commit(received)
        back = ref()
        again = enact.commit(back)
    assert type(back) is SdkMessage and type(back.content[1]) is SdkToolUse
    assert back == received
    assert back.model_dump(exclude_unset=True) == received.model_dump(exclude_unset=True)
    assert back.model_dump(exclude_unset=True) == SDK_REPLY  # no unset default added
    assert back.container is None and back.usage.service_tier == "standard"  # type: ignore[attr-defined]
    assert again.digest == ref.digest
    # Extras and set fields are content: another extra value is another object.
    other = SdkMessage.model_validate({**SDK_REPLY, "container": "c1"})
    fewer = SdkMessage.model_validate({**SDK_REPLY, "stop_reason": None})
    with enact.InMemoryStore():
        digests = {enact.commit(value).digest for value in (received, other, fewer)}
    assert len(digests) == 3


SDK_DIGEST = """
import enact, json, sys
sys.path.insert(0, {tests!r})
import test_model_classes as t
enact.register(t.SdkMessage)
with enact.InMemoryStore():
    print(enact.commit(t.SdkMessage.model_validate(t.SDK_REPLY)).digest)
"""


def test_an_sdk_response_has_one_digest_whatever_the_hash_seed() -> None:
    """The set of set fields is stored in a fixed order: two processes with other hash seeds
    give the same digest (a replay in another process matches the recorded request)."""
    tests = str(pathlib.Path(__file__).parent)
    digests = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", SDK_DIGEST.format(tests=tests)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1 and len(next(iter(digests))) == 64


@enact.register
def sdk_model_call(prompt: str) -> SdkMessage:
    MODEL_CALLS.append(prompt)
    return SdkMessage.model_validate({**SDK_REPLY, "id": f"msg_{len(MODEL_CALLS)}"})


@enact.register
def sdk_agent(prompt: str) -> list[str]:
    first = sdk_model_call(prompt)
    # Sent back to the model as the SDKs' users do: the dict of the fields that were set.
    second = sdk_model_call(json.dumps(first.model_dump(exclude_unset=True), sort_keys=True))
    return [first.id, second.id]


MODEL_CALLS: list[str] = []


def test_a_program_that_sends_an_sdk_response_back_replays_from_the_journal() -> None:
    """The agent's second request is built from the first response's set fields: the first
    run and a replay build the same request, so the replay runs no model call."""
    enact.register(SdkMessage)
    MODEL_CALLS.clear()
    with enact.InMemoryStore():
        invocation = enact.invoke(sdk_agent, ("hello",))
        assert invocation.get_output() == ["msg_1", "msg_2"]
        assert json.loads(MODEL_CALLS[1]) == {**SDK_REPLY, "id": "msg_1"}
        replayed = invocation.rewind(0).replay()
        assert replayed.get_output() == ["msg_1", "msg_2"]
    assert len(MODEL_CALLS) == 2


def test_a_model_that_defers_building_keeps_its_fields() -> None:
    """A model declared with defer_build, registered before any instance was validated,
    stores its fields (it used to be registered with none, and checked out empty)."""

    class Deferred(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(defer_build=True)
        a: int
        b: str = "x"

    enact.register(Deferred)
    with enact.InMemoryStore():
        back = enact.commit(Deferred(a=1, b="y"))()
    assert back == Deferred(a=1, b="y")
    assert back.model_dump() == {"a": 1, "b": "y"}
