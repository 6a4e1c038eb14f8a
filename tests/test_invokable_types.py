"""Invokable[I, O]: declared types at run time, and call annotations checked on each call."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

import pytest

import enact


@pytest.fixture
def store() -> Iterator[enact.Store]:
    """An in-memory store, active for the test."""
    with enact.InMemoryStore() as active:
        yield active


@enact.register
@dataclasses.dataclass
class Length(enact.Invokable[str, int]):
    """Types from the generic arguments only (call is not annotated)."""

    def call(self, text):  # type: ignore[no-untyped-def]
        return len(text) if text != "lie" else "three"


@enact.register
@dataclasses.dataclass
class Halve(enact.Invokable):
    """Types from the annotations of call, with Optional and a union."""

    def call(self, value: int | None) -> float | str:
        return "nothing" if value is None else value / 2 if value >= 0 else [value]  # type: ignore[return-value]


@enact.register
@dataclasses.dataclass
class Vote(enact.Invokable):
    """A Literal output."""

    honest: bool

    def call(self) -> Literal["yes", "no"]:
        return "yes" if self.honest else "maybe"  # type: ignore[return-value]


@enact.register
@dataclasses.dataclass
class Untyped(enact.Invokable):
    """No annotations, no generic arguments: nothing is checked."""

    def call(self, value):  # type: ignore[no-untyped-def]
        return value


@enact.register
@dataclasses.dataclass
class AsyncEcho(enact.AsyncInvokable[str, str]):
    """An async invokable typed by its generic arguments and annotations."""

    async def call(self, text: str) -> str:
        return text if text else 0  # type: ignore[return-value]


def test_generic_invokables_are_subscriptable_and_report_their_types() -> None:
    """Invokable[int, str] works at run time; get_input_type/get_output_type return the types."""
    assert enact.Invokable[int, str] is not None
    assert (Length.get_input_type(), Length.get_output_type()) == (str, int)
    assert (Halve.get_input_type(), Halve.get_output_type()) == (int | None, float | str)
    assert (Vote.get_input_type(), Vote.get_output_type()) == (type(None), Literal["yes", "no"])
    assert (Untyped.get_input_type(), Untyped.get_output_type()) == (Any, Any)
    assert (AsyncEcho.get_input_type(), AsyncEcho.get_output_type()) == (str, str)


def test_annotations_are_checked_on_each_call(store: enact.Store) -> None:
    """Wrong inputs and outputs are InputTypeErrors naming the invokable; unions are understood."""
    assert Length()("abc") == 3
    with pytest.raises(enact.InputTypeError, match=r"Length: its input must be str, got int"):
        Length()(3)  # type: ignore[arg-type]
    with pytest.raises(enact.InputTypeError, match=r"Length: its output must be int, got str"):
        Length()("lie")
    assert Halve()(None) == "nothing" and Halve()(3) == 1.5
    with pytest.raises(enact.InputTypeError, match=r"Halve: its input must be int \| None"):
        Halve()("3")
    with pytest.raises(enact.InputTypeError, match=r"Halve: its output must be float \| str"):
        Halve()(-1)
    assert Vote(True)() == "yes"
    with pytest.raises(enact.InputTypeError, match=r"its output must be Literal\['yes', 'no'\]"):
        Vote(False)()
    assert Untyped()(object) is object


def test_checks_hold_inside_a_journaled_call(store: enact.Store) -> None:
    """Inside invoke, the wrong output is recorded as the call's exception."""
    raised = Length().invoke("lie").get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name == "enact.errors.InputTypeError"
    assert "Length: its output must be int, got str" in raised.message
    assert Length().invoke("four").get_output() == 4


def test_async_invokables_are_checked(store: enact.Store) -> None:
    """An async call's annotations are checked against what it returns."""
    assert asyncio.run(AsyncEcho()("hi")) == "hi"
    with pytest.raises(enact.InputTypeError, match="AsyncEcho: its output must be str, got int"):
        asyncio.run(AsyncEcho()(""))


def test_an_impossible_call_is_refused_at_registration() -> None:
    """call with two inputs cannot be called by enact: register says so, with the fix."""

    @dataclasses.dataclass
    class Pair(enact.Invokable):
        def call(self, a: int, b: int) -> int:
            return a + b

    with pytest.raises(enact.RegistrationError) as info:
        enact.register(Pair)
    assert "Pair.call takes 2 arguments" in str(info.value)
    assert "bundle several values into a resource or a dict" in str(info.value)
