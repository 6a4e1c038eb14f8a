"""The engine's fast spelling of a call's request gives the encoder's very bytes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import enact
from enact.encoding import encode
from enact.invocations.engine._matching import request_tokens
from enact.invocations.records import CallArgs, Request


@enact.register
def tool(*args: Any, **kwargs: Any) -> int:
    return len(args) + len(kwargs)


@enact.register
@dataclasses.dataclass
class Box(enact.Resource):
    value: int


@enact.register
@enact.typed_invokable(int, int)
@dataclasses.dataclass
class Doubler(enact.Invokable[int, int]):
    def call(self, x: int) -> int:
        return 2 * x


CASES: list[tuple[list[Any], dict[Any, Any]]] = [
    ([], {}),
    ([1], {}),
    ([True, False, None, 0, -7, 1.5, float("inf")], {}),
    (list(range(20)), {}),
    ([f"s{i}" for i in range(12)], {}),
    (["é", "naïve 'quoted' \"text\"", "\n\t", ""], {}),
    ([10**50, -(10**80)], {}),
    ([1], {"b": 2, "a": "x", "ü": None, "c": True}),
    ([], {f"k{i}": i for i in range(12)}),
    ([], {f"k{i}": f"v{i}" for i in range(12)}),
    ([[1, 2], {"x": 1}], {}),  # containers: the general encoder
    ([Box(3)], {"box": Box(4)}),  # resources
    ([b"bytes", (1, 2)], {}),  # wrapped values
    ([], {1: "int key"}),  # a dict with a key that is not a str
]


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_same_bytes_and_links_as_the_encoder(args: list[Any], kwargs: dict[Any, Any]) -> None:
    with enact.InMemoryStore():
        box_ref = enact.commit(Box(1))
        for extra in ([], [box_ref]):
            value = CallArgs([*args, *extra], dict(kwargs))
            assert request_tokens(tool, value) == encode(Request(tool, value))


def test_other_invokables_and_inputs_as_the_encoder() -> None:
    for invokable, value in [
        (Doubler(), 3),
        (Doubler(), CallArgs([1], {})),
        (tool, 5),
        (tool, None),
        (len, CallArgs([1], {})),  # not registered: encoding reports it
    ]:
        try:
            expected: Any = encode(Request(invokable, value))
        except enact.EnactError as error:
            expected = type(error)
        try:
            got: Any = request_tokens(invokable, value)
        except enact.EnactError as error:
            got = type(error)
        assert got == expected


def test_a_replay_still_stops_at_a_changed_argument() -> None:
    @enact.register
    def add(x: int, y: int) -> int:
        return x + y

    calls: dict[str, Any] = {"y": 2, "flag": True}

    @enact.register
    def program() -> int:
        return add(1, calls["y"]) + add(calls["flag"], 0)

    with enact.InMemoryStore():
        recorded = enact.invoke(program)
        assert recorded.rewind(0).replay().get_output() == 4
        calls["y"] = 3
        with pytest.raises(enact.ReplayError):
            recorded.rewind(0).replay()
        calls["y"] = 2
        calls["flag"] = 1  # equal to True in Python, another request for enact
        with pytest.raises(enact.ReplayError):
            recorded.rewind(0).replay()
        calls["flag"] = True
        assert recorded.rewind(0).replay().get_output() == 4


@enact.register
@dataclasses.dataclass
class Blob(enact.Resource):
    data: Any


def test_long_lists_of_one_resource_class_spell_as_the_general_walk() -> None:
    from enact.encoding._writer import walk

    with enact.InMemoryStore():
        ref = enact.commit(Box(9))
        values: list[Any] = [
            [Box(i) for i in range(20)],
            [Blob(ref) for _ in range(12)],
            [Blob(b"raw") for _ in range(12)],  # bytes: the general walk
            [Blob([Box(i)]) for i in range(12)],
            [Box(1)] * 9 + [Blob(1)],  # two classes
            [ref] * 12,  # refs
        ]
        for value in values:
            assert encode(value) == walk(value)
            assert encode(Blob(value)) == walk(Blob(value))
