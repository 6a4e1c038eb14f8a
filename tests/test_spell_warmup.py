"""White-box tests of enact.encoding._spell: the spelling of a class's first values.

A class's first `GENERATE_AFTER` values are spelled by `_spell_fields`, the
generated speller spells the rest: both must give the same tokens and links.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import enact
from enact.encoding import encode
from enact.encoding._spell import (
    GENERATE_AFTER,
    _spell_fields,
    _spelled,
    choose_speller,
    speller_for,
)
from enact.encoding._writer import walk
from enact.registry import lookup_class


@enact.register
def _named(x: int) -> int:
    return x


@enact.register
@dataclasses.dataclass
class Mixed(enact.Resource):
    """Fields of every kind a generated speller has a branch for, and one it has not."""

    flag: bool
    score: float | None
    ref: enact.Ref[Any] | None
    items: list[Any]
    other: Any


@enact.register
@dataclasses.dataclass
class Warming(enact.Resource):
    """Spelled only by the warm-up test, so that its count starts at zero."""

    value: Any


refs = st.text("0123456789abcdef", min_size=64, max_size=64).map(enact.Ref.from_digest)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | refs
    | st.just(_named)
)
anything = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner)
)
mixed = st.builds(Mixed, anything, anything, anything, anything, anything)


@settings(max_examples=300)
@given(mixed)
def test_first_values_are_spelled_as_the_generated_speller_spells_them(value: Mixed) -> None:
    """`_spell_fields` and the generated speller give the same tokens and links."""
    info = lookup_class(Mixed)
    assert info is not None
    generic_links: list[str] = []
    generated_links: list[str] = []
    generic = _spell_fields(info, value, generic_links, 1)
    generated = speller_for(info)(value, generated_links, 1)
    assert (generic, generic_links) == (generated, generated_links)
    if generic is not None:
        assert (generic.encode("utf-8"), generic_links) == walk(value)


def test_a_class_gets_its_generated_speller_after_its_first_values() -> None:
    """choose_speller hands out `_spell_fields` GENERATE_AFTER times, then the generated one;
    encode gives the walk's bytes all along."""
    info = lookup_class(Warming)
    assert info is not None and info not in _spelled
    for number in range(GENERATE_AFTER + 2):
        value = Warming([number, "x", None])
        assert encode(value) == walk(value)
    assert _spelled[info] == GENERATE_AFTER
    speller = choose_speller(info)
    assert not isinstance(speller, functools.partial)
    assert speller is speller_for(info)
