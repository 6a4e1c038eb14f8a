"""pydantic models and attrs classes registered with @enact.register are resources."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from typing import Any

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
    """extra='allow', private attributes and an own __init__ would lose state: refused."""

    class Extra(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        a: int

    class Private(pydantic.BaseModel):
        a: int
        _cache: dict[str, int] = pydantic.PrivateAttr(default_factory=dict)

    class OwnInit(pydantic.BaseModel):
        a: int

        def __init__(self, a: int) -> None:
            super().__init__(a=a)

    for cls, reason in [(Extra, "extra"), (Private, "private"), (OwnInit, "__init__")]:
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
