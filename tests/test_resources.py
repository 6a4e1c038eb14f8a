"""Resources, field access, resource dicts, and resource wrappers."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional

import pytest

import enact


@enact.register
@dataclasses.dataclass
class Point(enact.Resource):
    x: int
    y: int


@enact.register
@dataclasses.dataclass
class Node(enact.Resource):
    value: enact.FieldValue
    next: Optional[enact.Ref[Node]] = None  # noqa: UP045 - the spec's spelling must work


@enact.register
@dataclasses.dataclass
class Everything(enact.Resource):
    """A resource with one field of each kind the spec allows."""

    primitives: list[Any]
    mapping: dict[str, Point]
    nested: Point
    point_type: type[Point]
    ref: enact.Ref[Point] | None
    pair: tuple[int, str]
    members: set[str]
    anything: enact.FieldValue


class Clock(enact.Resource):
    """A resource without fields that only defines behaviour, like the spec's FormatCurrentTime."""

    def now(self) -> str:
        return "noon"


class Counter:
    """A foreign class, as in the spec."""

    def __init__(self) -> None:
        self._i = 0

    def add(self) -> int:
        self._i += 1
        return self._i


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
        counter = Counter()
        counter._i = self.count
        return counter


@enact.register
@dataclasses.dataclass
class HoldsCounter(enact.Resource):
    counter: Counter
    counters: list[Counter]


def everything() -> Everything:
    return Everything(
        primitives=[1, 2.0, False, None, "test", b"bytes", [[]], {"k": {}}],
        mapping={"a": Point(1, 2)},
        nested=Point(3, 4),
        point_type=Point,
        ref=enact.Ref.from_digest("ab" * 32),
        pair=(1, "one"),
        members={"x", "y"},
        anything={"deep": [Point(5, 6), (7, 8), {"s"}]},
    )


def test_type_id_is_json_of_digest_and_name() -> None:
    """type_id() is sorted JSON with the digest of name and sorted field names."""
    parsed = json.loads(Point.type_id())
    assert list(parsed) == ["digest", "name"]
    assert parsed["name"] == f"{__name__}.Point"
    assert len(parsed["digest"]) == 64


def test_type_id_depends_on_field_names_not_order_or_types() -> None:
    """Reordering or retyping fields keeps the type id; renaming a field changes it."""

    def make(fields: list[tuple[str, type]]) -> type[enact.Resource]:
        cls = dataclasses.make_dataclass("Shape", fields, bases=(enact.Resource,))
        cls.__module__ = "shapes"
        cls.__qualname__ = "Shape"
        return cls

    base = make([("a", int), ("b", str)]).type_id()
    assert make([("b", str), ("a", int)]).type_id() == base
    assert make([("a", float), ("b", bytes)]).type_id() == base
    assert make([("a", int), ("c", str)]).type_id() != base


def test_field_names_values_and_items_in_declaration_order() -> None:
    """field_names, field_values and field_items follow declaration order."""
    point = Point(x=1, y=2)
    assert list(Point.field_names()) == ["x", "y"]
    assert list(point.field_values()) == [1, 2]
    assert list(point.field_items()) == [("x", 1), ("y", 2)]


def test_resource_without_fields_works() -> None:
    """A non-dataclass Resource subclass with no fields has a type id and round-trips."""
    assert list(Clock.field_names()) == []
    assert list(Clock().field_values()) == []
    assert json.loads(Clock.type_id())["name"] == f"{__name__}.Clock"
    with enact.InMemoryStore():
        clock = enact.commit(Clock())()
    assert isinstance(clock, Clock)
    assert clock.now() == "noon"


def test_every_kind_of_field_value_round_trips() -> None:
    """Primitives, lists, dicts, resources, classes, refs, tuples and sets survive checkout."""
    with enact.InMemoryStore():
        result = enact.commit(everything())()
    assert result == everything()
    assert result.point_type is Point
    assert type(result.pair) is tuple
    assert type(result.members) is set
    assert type(result.anything["deep"][1]) is tuple
    assert isinstance(result.ref, enact.Ref)


def test_to_resource_dict_matches_the_spec() -> None:
    """to_resource_dict turns nested resources into dicts and keeps classes as they are."""
    resource_dict = everything().to_resource_dict()
    assert resource_dict["primitives"] == [1, 2.0, False, None, "test", b"bytes", [[]], {"k": {}}]
    assert resource_dict["mapping"] == {"a": {"x": 1, "y": 2}}
    assert resource_dict["nested"] == {"x": 3, "y": 4}
    assert resource_dict["point_type"] is Point
    assert resource_dict["pair"] == {"items": [1, "one"]}


def test_from_resource_dict_inverts_to_resource_dict() -> None:
    """from_resource_dict(to_resource_dict()) rebuilds the resource, guided by annotations."""
    original = everything()
    rebuilt = Everything.from_resource_dict(original.to_resource_dict())
    assert rebuilt == dataclasses.replace(original, anything=rebuilt.anything)
    assert type(rebuilt.pair) is tuple
    assert type(rebuilt.members) is set
    # A field annotated as any field value gives no guidance: resources stay dicts.
    assert rebuilt.anything["deep"][0] == {"x": 5, "y": 6}
    node = Node(value=[3], next=enact.Ref.from_digest("cd" * 32))
    assert Node.from_resource_dict(node.to_resource_dict()) == node


def test_from_resource_dict_names_missing_fields() -> None:
    """A resource dict without a field is rejected, naming the field."""
    with pytest.raises(KeyError, match="'y'"):
        Point.from_resource_dict({"x": 1})


def test_spec_wrapper_wraps_and_unwraps() -> None:
    """The spec's counter wrapper: enact.wrap, enact.unwrap, field_values wrap automatically."""
    counter = Counter()
    counter.add()
    wrapped = enact.wrap(counter)
    assert wrapped == CounterWrapper(count=1)
    assert enact.unwrap(wrapped).add() == 2
    holder = HoldsCounter(Counter(), [counter])
    assert list(holder.field_values()) == [CounterWrapper(0), [counter]]
    assert next(iter(holder.field_items())) == ("counter", CounterWrapper(0))


def test_wrapped_values_are_unwrapped_on_checkout() -> None:
    """A field of a wrapped type, alone or in a list, checks out as the foreign type."""
    counter = Counter()
    counter.add()
    with enact.InMemoryStore():
        result = enact.commit(HoldsCounter(counter, [counter, Counter()]))()
        bare = enact.commit(counter)()
    assert isinstance(result.counter, Counter)
    assert result.counter is not counter
    assert [c._i for c in [result.counter, *result.counters]] == [1, 1, 0]
    assert isinstance(bare, Counter)
    assert bare._i == 1


def test_type_wrapper_is_resource_wrapper() -> None:
    """TypeWrapper is an alias of ResourceWrapper."""
    assert enact.TypeWrapper is enact.ResourceWrapper


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", (2.0, None)),
        (),
        {"a", "b", 3},
        set(),
        frozenset({b"x", (1, 2)}),
    ],
    ids=["tuple", "empty tuple", "set", "empty set", "frozenset"],
)
def test_built_in_wrappers_round_trip(value: Any) -> None:
    """Tuples, sets and frozensets round-trip alone and as fields, keeping their types."""
    with enact.InMemoryStore():
        assert enact.commit(value)() == value
        assert type(enact.commit(value)()) is type(value)
        node = enact.commit(Node(value=value))()
    assert node.value == value
    assert type(node.value) is type(value)


def test_wrap_of_an_unregistered_type_names_it() -> None:
    """enact.wrap of a type without a wrapper raises UnsupportedValueError naming the type."""
    with pytest.raises(enact.UnsupportedValueError, match=r"builtins\.complex") as info:
        enact.wrap(1j)
    assert "ResourceWrapper" in str(info.value)
    assert info.value.value_type is complex


def test_register_rejects_classes_that_are_not_resources() -> None:
    """Registering a plain class raises RegistrationError (a TypeError) naming it."""

    class Plain:
        pass

    with pytest.raises(enact.RegistrationError, match=r"Plain.*enact\.Resource"):
        enact.register(Plain)
    with pytest.raises(TypeError):
        enact.register(42)


def test_register_rejects_a_wrapper_without_wrapped_type() -> None:
    """A ResourceWrapper that does not say what it wraps cannot be registered."""

    @dataclasses.dataclass
    class Incomplete(enact.ResourceWrapper[Any]):
        value: int

    with pytest.raises(enact.RegistrationError, match="wrapped_type"):
        enact.register(Incomplete)


def test_register_returns_the_class() -> None:
    """@enact.register returns the class itself and may be applied twice."""
    assert enact.register(Point) is Point
    assert enact.register(enact.register(Clock)) is Clock


def test_slotted_and_frozen_dataclasses_round_trip() -> None:
    """Resources that are frozen or use slots check out with their field values."""

    @dataclasses.dataclass(frozen=True)
    class Frozen(enact.Resource):
        a: int
        b: list[int]

    @dataclasses.dataclass(slots=True)
    class Slotted(enact.Resource):
        a: int
        b: str

    with enact.InMemoryStore():
        assert enact.commit(Frozen(1, [2]))() == Frozen(1, [2])
        assert enact.commit(Slotted(1, "b"))() == Slotted(1, "b")


def test_checkout_does_not_run_init_again() -> None:
    """Checkout restores state like pickle does: __post_init__ does not run again."""
    calls: list[int] = []

    @dataclasses.dataclass
    class Counted(enact.Resource):
        a: int

        def __post_init__(self) -> None:
            calls.append(self.a)

    with enact.InMemoryStore():
        result = enact.commit(Counted(5))()
    assert result == Counted(5)
    assert calls == [5, 5]  # the original and the comparison value, not the checkout


def test_redefined_class_replaces_the_old_one() -> None:
    """Re-running a cell that defines a class makes checkout return the new class."""

    def define() -> type[Any]:
        @dataclasses.dataclass
        class Cell(enact.Resource):
            a: int

        return enact.register(Cell)

    old, new = define(), define()
    with enact.InMemoryStore():
        ref = enact.commit(old(1))
        assert type(ref()) is new


class Ambiguous:
    """A foreign class whose truth value raises, like a numpy array's."""

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")


@enact.register
@dataclasses.dataclass
class AmbiguousWrapper(enact.ResourceWrapper[Ambiguous]):
    items: list[int]

    @classmethod
    def wrapped_type(cls) -> type[Ambiguous]:
        return Ambiguous

    @classmethod
    def wrap(cls, value: Ambiguous) -> AmbiguousWrapper:
        return cls(value.items)

    def unwrap(self) -> Ambiguous:
        return Ambiguous(self.items)


def test_wrapped_field_whose_truth_value_raises_round_trips() -> None:
    """A field of a wrapped type is never tested for truth (numpy arrays raise there)."""

    @enact.register
    @dataclasses.dataclass
    class Holds(enact.Resource):
        value: Any

    with enact.InMemoryStore():
        result = enact.commit(Holds(Ambiguous([1, 2])))()
    assert result.value.items == [1, 2]


def test_type_names_with_braces_are_refused() -> None:
    """A brace would end the type id inside stored objects, so registration refuses it."""

    @dataclasses.dataclass
    class Braced(enact.Resource):
        value: int

    Braced.__qualname__ = "Braced{x}"
    with pytest.raises(enact.RegistrationError, match="braces"):
        enact.register(Braced)
