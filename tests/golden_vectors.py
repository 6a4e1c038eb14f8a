"""Golden vectors of the digest format v1 (docs/FORMAT.md), shared by tests and helper scripts.

The spec's classes are defined here with ``__module__`` set to ``"__main__"``,
because the module is part of a type's name and the spec's digests were taken
in a notebook. Importing this module registers them; `VECTORS` lists each
value (built lazily) with the digest that ``enact.commit`` must return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import enact

C = TypeVar("C", bound=type)


def as_main(cls: C) -> C:
    """Makes `cls` look as if it had been defined in a notebook (module ``__main__``)."""
    cls.__module__ = "__main__"
    return cls


@enact.register
@as_main
@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int


@enact.register
@as_main
@dataclasses.dataclass
class LinkedList(enact.Resource):
    """A linked list of resources."""

    value: enact.FieldValue
    next: Optional[enact.Ref["LinkedList"]] = None  # noqa: UP037, UP045 - as the spec writes it


@enact.register
@as_main
@dataclasses.dataclass
class ComplexResource(enact.Resource):
    primitives: list[int | float | bool | str | bytes | None]
    map_value: dict[str, MyResource]
    nested_resource: MyResource
    resource_type: type[MyResource]


MY_RESOURCE_TYPE_ID = (
    '{"digest": "a46cd7bf341ef134fe8fd7e97e564f0f84425c747c3c55850cd599f1249b97f5", '
    '"name": "__main__.MyResource"}'
)

LIST_TAIL = "dd2ab0744767e3341c4023ee56a34b4a1669203990dd02e120125ec006b2c4bd"
LIST_MIDDLE = "0f9059894ee7a32b22a520efc0caf56f44336edaea842e13af932b08ff26df47"
LIST_HEAD = "0b182faa856eb750ed931465c2779f5ad60f13804c2d7d0d6882dd10d43b7998"
MY_RESOURCE_REF = "947051f773d0e01ed76be7506fe4cfde5be54d35eef91f10b488d3e8b789ee3b"


def _ref(digest: str) -> enact.Ref[Any]:
    return enact.Ref.from_digest(digest)


VECTORS: list[tuple[str, Callable[[], Any], str]] = [
    ("MyResource('hello', 42)", lambda: MyResource("hello", 42), MY_RESOURCE_REF),
    ("LinkedList(1, None)", lambda: LinkedList(value=1, next=None), LIST_TAIL),
    ("LinkedList(2, tail)", lambda: LinkedList(value=2, next=_ref(LIST_TAIL)), LIST_MIDDLE),
    ("LinkedList(1, middle)", lambda: LinkedList(value=1, next=_ref(LIST_MIDDLE)), LIST_HEAD),
    ("7", lambda: 7, "fbf3c2c989df549221996d31e0b1095cfb2c631cb74423891f6eeba8849b9877"),
    ("None", lambda: None, "afe760e874a5f8af605003906f476310ba1385bf327c6b4b4d6531f7433049fc"),
    (
        "'hello'",
        lambda: "hello",
        "c6b59f46822e0aeb1394d4dc1c079a70bbc5eed746edbbb71fb8481f5a96dcc6",
    ),
    ("[1, 2]", lambda: [1, 2], "08bc6b422a018111843f0be1824c817eb3c2ef76fc41822357b83d49a51ac2de"),
    (
        "{'a': 1}",
        lambda: {"a": 1},
        "5f9b171d0174eb9a77187ff4f87d138f846ccb24330746b0e64e64e14827d52e",
    ),
    ("1.5", lambda: 1.5, "84601e9dd5e784782a99cf57c7840460013f0e3a66bbc6e013a0f1c51ef17a74"),
    ("True", lambda: True, "099dca4bc8e850ba4be40fdeb99c807cb601a7f55a358597c1f8ab6e942de162"),
    ("b'xy'", lambda: b"xy", "9ce0ac14c9c250f3c77d5f930fbe8be73a93e40082d950cc91107f93a86cdf04"),
    ("[True]", lambda: [True], "81b7767a48923a2aadd5814d3324bf65698ee4190cdf2d699a338d15c0333859"),
    ("[1]", lambda: [1], "45d9e02cd64bfd1b5622c3487b0cfb48c491d724c7cdf8d4c92fd4b57325009a"),
    (
        "[b'x', None]",
        lambda: [b"x", None],
        "0ec12c84652d036e70d6e28d37af12993c81a7791844544b4e32f983cdaf6657",
    ),
    (
        "[b'xn']",
        lambda: [b"xn"],
        "36dad3ce5b3f832480b5ded45e34cd591a93c4c5fd114afa4aa7d7664ade6125",
    ),
    (
        "MyResource('a', True)",
        lambda: MyResource("a", True),  # type: ignore[arg-type]
        "1f9a0f2c24a57c4e1cb63e35f5c84d8daf68e5687e48958b9ec82453562e35ec",
    ),
    (
        "MyResource('a', 1)",
        lambda: MyResource("a", 1),
        "95661bf53aa2c587af8c7c307c112430d11c0376115b865d7329de5e74d8dca4",
    ),
    (
        "ComplexResource(...)",
        lambda: ComplexResource(
            primitives=[1, 2.0, False, None, "test", b"bytes"],
            map_value={"hello": MyResource("hello", 69)},
            nested_resource=MyResource("hola", 42),
            resource_type=MyResource,
        ),
        "915845f0fe203e8eeb82d5649cd8e18c21a578236a388f1aff680ca6b9c6e411",
    ),
    (
        "floats",
        lambda: [-0.0, 0.0, float("inf"), float("-inf"), 1e16, 1e-07],
        "c28b6c6289adcc46f712047324e430f5f6d678e048abe2c3521162d4ae9259f7",
    ),
    (
        "quoted ASCII and BMP text",
        lambda: "café ☃ 'q' \"d\" \\ \n",
        "7932720d296382cc2fa5b2c4ffbc074de05124291927a0a441e16f1aa840af68",
    ),
    (
        "{2: 'b', 1: 'a'}",
        lambda: {2: "b", 1: "a"},
        "ed7c88236793a3bca99e89bf2aef46e5db077a73097be610edfde13addad9adf",
    ),
    (
        "dict keyed by a frozenset, a tuple and a str",
        lambda: {frozenset({"x", "y", "z"}): 1, ("b",): 2, "a": 3},
        "a2375a5223221c2db18d5bb35b117261a30ad532f09a91e82e37b9064edb2d5e",
    ),
    (
        "control, format, astral and surrogate characters",
        lambda: "\u00a0\x85\U0001f6dc\u200b\ud800\x00\x7f",
        "0d0e9db4da876f3308e47a1b3e699c97150b08f32d1b04e2cd406e623511992c",
    ),
]


def digests_of_vectors() -> dict[str, str]:
    """Returns ``{label: digest}`` for every vector, as this process computes them."""
    with enact.InMemoryStore():
        return {label: enact.commit(build()).digest for label, build, _ in VECTORS}
