"""Built-in resource wrappers.

The primitive wrappers let a bare value (``commit(7)``, ``commit([1, 2])``) be
committed as a resource; their type names are format constants (see
``docs/FORMAT.md``), independent of where the classes live. `TupleWrapper` and
`SetWrapper` let tuples, sets and frozensets be used as field values, and
`KeyedDictWrapper` dicts whose keys are not all str (the codec wraps such a
dict wherever it sits; it is not the registered wrapper of `dict`).

The standard library's value types have wrappers in `enact.stdlib_wrappers`,
whose registration this module defers (`enact.registry.defer_registrations`):
that module, and the modules of the types it wraps, are imported on the first
lookup that needs one of them, so a process that stores none of those types
never imports them.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import threading
from typing import Any, Final, Self, TypeVar

from enact import encoding, registry
from enact.errors import CycleError, DecodeError, UnsupportedValueError
from enact.resources import ResourceWrapper, register_resource_class


@dataclasses.dataclass
class _PrimitiveWrapper(ResourceWrapper[Any]):
    wrapped: Any

    @classmethod
    def wrap(cls, value: Any) -> _PrimitiveWrapper:
        return cls(value)

    def unwrap(self) -> Any:
        return self.wrapped


def _primitive(name: str, value_type: type) -> type[_PrimitiveWrapper]:
    # No field of its own: the dataclass methods of _PrimitiveWrapper serve it as they
    # are (decorating it again would only generate the same methods once more).
    wrapper: type[_PrimitiveWrapper] = type(
        name,
        (_PrimitiveWrapper,),
        {
            "__enact_type_name__": f"enact.resource_registry.{name}",
            "__enact_builtin__": True,
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"Wraps a bare {value_type.__name__} committed on its own.",
            "wrapped_type": classmethod(lambda cls: value_type),
        },
    )
    register_resource_class(wrapper)
    return wrapper


IntWrapper: Final = _primitive("IntWrapper", int)
FloatWrapper: Final = _primitive("FloatWrapper", float)
StrWrapper: Final = _primitive("StrWrapper", str)
BytesWrapper: Final = _primitive("BytesWrapper", bytes)
BoolWrapper: Final = _primitive("BoolWrapper", bool)
NoneWrapper: Final = _primitive("NoneWrapper", type(None))
ListWrapper: Final = _primitive("ListWrapper", list)
DictWrapper: Final = _primitive("DictWrapper", dict)

PRIMITIVE_WRAPPERS: Final[dict[type, type[_PrimitiveWrapper]]] = {
    int: IntWrapper,
    float: FloatWrapper,
    str: StrWrapper,
    bytes: BytesWrapper,
    bool: BoolWrapper,
    type(None): NoneWrapper,
    list: ListWrapper,
    dict: DictWrapper,
}


@dataclasses.dataclass
class TupleWrapper(ResourceWrapper[tuple[Any, ...]]):
    """Stores a tuple as the list of its items."""

    __enact_type_name__ = "enact.wrappers.TupleWrapper"

    items: list[Any]

    @classmethod
    def wrapped_type(cls) -> type[tuple[Any, ...]]:
        return tuple

    @classmethod
    def wrap(cls, value: tuple[Any, ...]) -> TupleWrapper:
        return cls(list(value))

    def unwrap(self) -> tuple[Any, ...]:
        return tuple(self.items)


_Set = TypeVar("_Set", set[Any], frozenset[Any])


@dataclasses.dataclass
class _SetKindWrapper(ResourceWrapper[_Set]):
    """Base of the set and frozenset wrappers: the items as a list in canonical order."""

    items: list[Any]

    @classmethod
    def wrap(cls, value: _Set) -> Self:
        return cls(_canonical_order(value))

    def unwrap(self) -> _Set:
        return self.wrapped_type()(self.items)


@dataclasses.dataclass
class SetWrapper(_SetKindWrapper[set[Any]]):
    """Stores a set as a list in canonical order (sorted by token stream).

    Sorting by the encoded items makes the digest independent of hash seeds and
    insertion order.
    """

    __enact_type_name__ = "enact.wrappers.SetWrapper"

    @classmethod
    def wrapped_type(cls) -> type[set[Any]]:
        return set


@dataclasses.dataclass
class FrozenSetWrapper(_SetKindWrapper[frozenset[Any]]):
    """Stores a frozenset as a list in canonical order."""

    __enact_type_name__ = "enact.wrappers.FrozenSetWrapper"

    @classmethod
    def wrapped_type(cls) -> type[frozenset[Any]]:
        return frozenset


def _canonical_order(items: set[Any] | frozenset[Any]) -> list[Any]:
    return sorted(items, key=lambda item: encoding.encode(item)[0])


_SORTED_KEY_TYPES: Final = frozenset({int, float, bytes, tuple})
_SORTED_STDLIB_KEY_TYPES: Final = {
    "Decimal": "decimal",
    **dict.fromkeys(("datetime", "date", "time", "timedelta"), "datetime"),
    "UUID": "uuid",
}
"""Key types whose dicts check out sorted by key (the others: in stored order). Those of
the standard library are named (class name: module), as their modules may not be imported."""

_keying = threading.local()


@dataclasses.dataclass
class KeyedDictWrapper(ResourceWrapper[dict[Any, Any]]):
    """Stores a dict whose keys are not all str, as its keys and its values.

    The pairs are stored in canonical order, sorted by the token stream of
    each key, so the digest does not depend on insertion order or hash seeds
    (str-keyed dicts keep their own format, ``map[...]``). Keys may be of any
    storable hashable type, mixed included: ints, tuples, enum members,
    UUIDs, dates, frozen resources.

    On checkout the dict is rebuilt in one fixed order, whatever order it was
    built in: sorted by key when all keys are of one type Python orders
    (`int` and `float` together, `bytes`, `tuple`, `Decimal`, the `datetime`
    types, `UUID`), else in the stored order. The first run of a journaled
    call and every replay see the same order.
    """

    __enact_type_name__ = "enact.wrappers.KeyedDictWrapper"

    keys: list[Any]
    values: list[Any]

    @classmethod
    def wrapped_type(cls) -> type[dict[Any, Any]]:
        return dict

    @classmethod
    def wrap(cls, value: dict[Any, Any]) -> KeyedDictWrapper:
        keying: set[int] = _keying.__dict__.setdefault("dicts", set())
        if id(value) in keying:
            raise CycleError(
                "Cannot commit a dict that is inside one of its own keys. Commit the dict "
                "first and use its Ref in the key instead."
            )
        keying.add(id(value))
        try:
            tokens = [(encoding.encode(key)[0], key) for key in value]
        finally:
            keying.discard(id(value))
        tokens.sort(key=operator.itemgetter(0))
        for (first, key), (second, other) in itertools.pairwise(tokens):
            if first == second:
                raise UnsupportedValueError(
                    f"Cannot commit a dict with the distinct keys {key!r} and {other!r}: "
                    "they are stored alike, so the dict could not be rebuilt from what "
                    "is stored. Use keys that are equal exactly when their stored forms "
                    "are (not resources compared by identity, not NaN).",
                    value_type=type(key),
                )
        keys = [key for _, key in tokens]
        return cls(keys, [value[key] for key in keys])

    def unwrap(self) -> dict[Any, Any]:
        keys = self.keys
        if len(keys) != len(self.values):
            raise DecodeError(f"a {_KEYED} holds {len(keys)} keys and {len(self.values)} values")
        try:
            result = dict(zip(keys, self.values, strict=True))
        except TypeError as err:
            raise DecodeError(f"a key of a {_KEYED} checked out unhashable ({err})") from err
        if len(result) != len(keys):
            raise DecodeError(f"two keys of a {_KEYED} checked out equal")
        order = _natural_order(keys)
        return result if order is None else {key: result[key] for key in order}


_KEYED: Final = "dict stored as enact.wrappers.KeyedDictWrapper"


def _natural_order(keys: list[Any]) -> list[Any] | None:
    """The keys sorted, if all are of one type Python orders; else None (stored order)."""
    key_types = set(map(type, keys))
    if key_types == {int, float}:
        key_types = {float}
    if len(key_types) != 1 or not _is_sorted_key_type(key_types.pop()):
        return None
    try:
        return sorted(keys)
    except (TypeError, ArithmeticError):  # naive and aware datetimes, tuples of mixed items
        return None


def _is_sorted_key_type(key_type: type) -> bool:
    return key_type in _SORTED_KEY_TYPES or registry.is_loaded_type(
        key_type, _SORTED_STDLIB_KEY_TYPES
    )


for _wrapper in (TupleWrapper, SetWrapper, FrozenSetWrapper):
    register_resource_class(_wrapper)
# Not registered as the wrapper of `dict` (str-keyed dicts are stored as they
# are): the codec wraps a dict in it when its keys are not all str.
registry.register_class(KeyedDictWrapper, registry.KIND_WRAPPER)
encoding.declare_keyed_dict(KeyedDictWrapper.wrap)

registry.defer_import("enact.stdlib_wrappers")  # registers them when imported


def __getattr__(name: str) -> Any:
    """`STDLIB_WRAPPERS`, the wrappers of `enact.stdlib_wrappers`, imported on first use."""
    if name == "STDLIB_WRAPPERS":
        from enact.stdlib_wrappers import STDLIB_WRAPPERS

        return STDLIB_WRAPPERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
