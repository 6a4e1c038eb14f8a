"""Registration refuses what enact could not store or journal: stateful classes, generators."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

import enact


def test_init_without_dataclass_is_refused() -> None:
    """An Invokable with an __init__ that sets attributes (a forgotten @dataclass) is refused."""

    class Model(enact.Invokable):
        def __init__(self, name: str) -> None:
            self.name = name

        def call(self) -> str:
            return self.name

    with pytest.raises(enact.RegistrationError, match=r"Model: it defines __init__.*dataclass"):
        enact.register(Model)


def test_annotations_without_dataclass_are_refused() -> None:
    """Annotated fields on a class that is not a dataclass name the forgotten decorator."""

    class Config(enact.Resource):
        temperature: float = 0.5

    with pytest.raises(enact.RegistrationError, match=r"\['temperature'\].*forgotten"):
        enact.register(Config)


def test_subclass_of_a_dataclass_without_its_own_decorator_is_refused() -> None:
    """A subclass that adds an annotated field but is not decorated would drop that field."""

    @dataclasses.dataclass
    class Base(enact.Resource):
        a: int

    class Child(Base):
        b: int = 0

    with pytest.raises(enact.RegistrationError, match=r"Child.*\['b'\]"):
        enact.register(Child)


def test_dataclass_with_its_own_init_is_refused() -> None:
    """A dataclass whose __init__ is hand-written (it may set more than the fields) is refused."""

    @dataclasses.dataclass
    class Hand(enact.Resource):
        a: int

        def __init__(self, a: int) -> None:
            self.a = a
            self.cache: dict[str, int] = {}

    with pytest.raises(enact.RegistrationError, match=r"Hand: it defines __init__.*__post_init__"):
        enact.register(Hand)


def test_state_in_a_base_class_is_refused_and_named() -> None:
    """A mixin base with an __init__ is named in the error."""

    class Mixin:
        def __init__(self) -> None:
            self.state = 1

    @dataclasses.dataclass
    class Uses(Mixin, enact.Resource):
        a: int

    with pytest.raises(enact.RegistrationError, match=r"Uses.*base class .*Mixin"):
        enact.register(Uses)


def test_slots_that_are_not_fields_are_refused() -> None:
    """__slots__ on a class without fields would hold state that is never stored."""

    class Slotted(enact.Resource):
        __slots__ = ("hidden",)

    with pytest.raises(enact.RegistrationError, match=r"__slots__ \['hidden'\]"):
        enact.register(Slotted)


def test_refused_class_is_refused_on_first_commit_too() -> None:
    """An unregistered class is registered on first use: the same check applies there."""

    class Late(enact.Resource):
        def __init__(self) -> None:
            self.x = 1

    with enact.InMemoryStore(), pytest.raises(enact.RegistrationError, match="Late"):
        enact.commit(Late())


def test_stateless_classes_keep_working() -> None:
    """Classes without state (the spec's FormatCurrentTime, ClassVar constants) register."""

    @enact.register
    class FormatCurrentTime(enact.Invokable):
        greeting: ClassVar[str] = "now"

        def call(self) -> str:
            return self.greeting

    @enact.register
    @dataclasses.dataclass(slots=True, frozen=True)
    class Slotted(enact.Resource):
        a: int

    @enact.register
    @dataclasses.dataclass
    class WithPostInit(enact.Resource):
        a: int
        doubled: int = dataclasses.field(init=False, default=0)

        def __post_init__(self) -> None:
            self.doubled = 2 * self.a

    with enact.InMemoryStore():
        assert enact.invoke(FormatCurrentTime()).get_output() == "now"
        assert enact.commit(Slotted(1))() == Slotted(1)
        assert enact.commit(WithPostInit(3))().doubled == 6


def test_a_registered_wrapper_is_checked_too() -> None:
    """A ResourceWrapper is a resource: a hand-written __init__ on it is refused."""

    class Foreign:
        pass

    class BadWrapper(enact.ResourceWrapper[Foreign]):
        def __init__(self, value: Any) -> None:
            self.value = value

        @classmethod
        def wrapped_type(cls) -> type[Foreign]:
            return Foreign

    with pytest.raises(enact.RegistrationError, match="BadWrapper"):
        enact.register(BadWrapper)


def test_register_refuses_an_unknown_keyword() -> None:
    """A misspelt option of enact.register raises TypeError naming it, as for any function."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'nme'"):
        enact.register(nme="myapp.Thing")  # type: ignore[call-overload]


def test_a_generator_function_is_refused() -> None:
    """A generator function's call returns before its values exist: nothing to journal.
    Refused when it is registered, not when its first journaled call fails."""

    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    for function in (numbers, stream):
        with pytest.raises(enact.RegistrationError) as raised:
            enact.register(function)
        assert str(raised.value).startswith(f"{function.__qualname__} is a generator function")
        assert "Return a list instead" in str(raised.value)


def test_a_function_that_returns_a_stream_says_to_consume_it() -> None:
    """A plain function returning an iterator (a generator made inside, an SDK's stream):
    its call raises an error that says to store what the stream produced, not to write a
    ResourceWrapper for it."""

    @enact.register
    def tokens(text: str) -> Iterator[str]:
        return iter(text.split())

    @enact.register
    def answer(text: str) -> str:
        return " ".join(tokens(text))

    with enact.InMemoryStore():
        invocation = enact.invoke(answer, ("a b",))
        raised = invocation.get_raised()
    assert raised.type_name == "enact.errors.UnsupportedValueError"
    assert raised.message == (
        "Cannot commit value of type list_iterator at $.output.value: it is an iterator, "
        "whose items are produced after it is stored (a generator, a streamed response). "
        "Consume it first and store what it produced: a list (list(...)), the joined text, "
        "or the final message."
    )
