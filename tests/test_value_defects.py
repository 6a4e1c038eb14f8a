"""Regression tests for defects found by differential testing against the original enact."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, ClassVar

import pytest

import enact


class Counter:
    """The spec's MyCounter: a foreign class with a registered wrapper."""

    def __init__(self, i: int = 0) -> None:
        self._i = i


@enact.register
@dataclasses.dataclass
class CounterWrapper(enact.ResourceWrapper[Counter]):
    count: int

    @classmethod
    def wrapped_type(cls) -> type[Counter]:
        return Counter

    @classmethod
    def wrap(cls, value: Counter) -> CounterWrapper:
        return cls(value._i)

    def unwrap(self) -> Counter:
        return Counter(self.count)


class Recycled:
    """A foreign value whose wrappers are recycled, as freed memory is: ids come back."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items


@enact.register
@dataclasses.dataclass
class RecycledWrapper(enact.ResourceWrapper[Recycled]):
    items: list[Any]

    pool: ClassVar[list[RecycledWrapper]] = []

    @classmethod
    def wrapped_type(cls) -> type[Recycled]:
        return Recycled

    @classmethod
    def wrap(cls, value: Recycled) -> RecycledWrapper:
        if cls.pool:
            wrapper = cls.pool.pop()
            wrapper.items = value.items
            return wrapper
        return cls(value.items)

    def unwrap(self) -> Recycled:
        return Recycled(self.items)

    def __del__(self) -> None:
        # Resurrect into the pool: the next wrap() returns an object with the same
        # id(), exactly what the allocator does with a freed temporary.
        type(self).pool.append(self)


@enact.register
@dataclasses.dataclass
class Leaf(enact.Resource):
    value: enact.FieldValue


@enact.register
@dataclasses.dataclass
class Pair(enact.Resource):
    name: str
    count: int


def test_two_wrapped_values_in_a_tuple_commit() -> None:
    """Leaf((Counter(), Counter())): a tuple of two user-wrapped values is no cycle."""
    with enact.InMemoryStore():
        leaf = enact.commit(Leaf((Counter(1), Counter(2))))()
        assert [c._i for c in leaf.value] == [1, 2]


def test_a_reused_wrapper_id_is_not_taken_for_a_cycle() -> None:
    """A temporary wrapper's id, reused by a later wrapper, does not look like a cycle."""
    RecycledWrapper.pool.clear()
    value = Leaf(Recycled([Recycled([1]), Recycled([2])]))
    with enact.InMemoryStore():
        back = enact.commit(value)()
    assert [item.items for item in back.value.items] == [[1], [2]]


def test_a_real_cycle_through_a_wrapper_is_still_found() -> None:
    """A tuple holding a list that holds the tuple is still a CycleError."""
    items: list[Any] = []
    loop = (items,)
    items.append(loop)
    with enact.InMemoryStore(), pytest.raises(enact.CycleError):
        enact.commit(Leaf(loop))


def test_pformat_of_a_ref_to_a_ref() -> None:
    """commit(commit(x)) prints as a ref whose target is a ref, like any nested ref."""
    with enact.InMemoryStore():
        inner = enact.commit(Pair("a", 1))
        outer = enact.commit(inner)
        text = enact.pformat(outer)
    assert text == (
        f"-> Ref#{outer.digest[:6]}:\n  digest: -> Pair(name='a', count=1)#{inner.digest[:6]}"
    )


def test_invoke_of_an_unregistered_function_says_to_register_it() -> None:
    """invoke(f) of a plain function says to decorate it with @enact.register."""

    def plain(x: int) -> int:
        return x

    with enact.InMemoryStore(), pytest.raises(enact.InvocationError, match=r"@enact\.register"):
        enact.invoke(plain, (1,))


def test_resource_base_is_the_resource_class() -> None:
    """enact.ResourceBase, named by the spec's prose, is enact.Resource."""
    assert enact.ResourceBase is enact.Resource
    assert isinstance(Pair("a", 1), enact.ResourceBase)


def test_packed_resource_has_the_ref_of_its_digest() -> None:
    """A backend written after the spec reads packed_resource.ref."""
    seen: list[enact.Ref[Any]] = []

    class Recording(enact.InMemoryBackend):
        def commit(self, packed_resource: enact.PackedResource) -> None:
            seen.append(packed_resource.ref)
            super().commit(packed_resource)

    with enact.Store(Recording()):
        ref = enact.commit(Pair("a", 1))
        assert seen == [ref]
        assert type(seen[0]) is enact.Ref
        assert seen[0]() == Pair("a", 1)


def test_deepcopy_resource_copies_the_whole_resource() -> None:
    """Resource.deepcopy_resource() returns an equal, independent copy."""
    original = Leaf({"items": [Pair("a", 1)], "counter": Counter(3)})
    duplicate = original.deepcopy_resource()
    assert type(duplicate) is Leaf
    assert duplicate.value["items"] == [Pair("a", 1)]
    assert duplicate.value["counter"]._i == 3
    duplicate.value["items"][0].count = 2
    assert original.value["items"][0].count == 1
    assert duplicate.value["counter"] is not original.value["counter"]


@enact.register
def unordered() -> dict[str, int]:
    """The defect's call: a dict built in an order other than sorted."""
    return {"b": 1, "a": 2}


@enact.register
def echo_keys(keys: list[str]) -> list[str]:
    return keys


@enact.register
def passes_the_order_on() -> list[str]:
    """Passes the order of a journaled call's output on to another journaled call."""
    return echo_keys(list(unordered()))


def test_a_journaled_dict_output_has_one_order_on_the_first_run_and_replays() -> None:
    """The caller sees the recorded order on the first run too: the strict replay matches."""
    with enact.InMemoryStore():
        invocation = enact.invoke(passes_the_order_on)
        assert invocation.get_output() == ["a", "b"]
        replayed = invocation.rewind(0).replay()  # strict: echo_keys got the same input
        assert replayed.get_output() == ["a", "b"]
        assert replayed.get_child(1) == invocation.get_child(1)


def test_the_readme_states_that_calls_must_not_change_their_input() -> None:
    """The rule is in the README's things to know, with the fix (copy first)."""
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    things = " ".join(readme.split("## Things to know")[1].split("\n## ")[0].split())
    assert "A journaled call must not change its own input or the invokable's fields" in things
    assert "changed its own input or fields while running" in things
    assert "Copy first and change the copy" in things
