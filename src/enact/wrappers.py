"""Built-in resource wrappers.

The primitive wrappers let a bare value (``commit(7)``, ``commit([1, 2])``) be
committed as a resource; their type names are format constants (see
``docs/FORMAT.md``), independent of where the classes live. `TupleWrapper` and
`SetWrapper` let tuples, sets and frozensets be used as field values.

The standard library's value types have wrappers in `enact.stdlib_wrappers`,
registered when this module is imported.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from enact import encoding
from enact.resources import ResourceWrapper, register_resource_class
from enact.stdlib_wrappers import STDLIB_WRAPPERS as STDLIB_WRAPPERS  # registers them


@dataclasses.dataclass
class _PrimitiveWrapper(ResourceWrapper[Any]):
    wrapped: Any

    @classmethod
    def wrap(cls, value: Any) -> _PrimitiveWrapper:
        return cls(value)

    def unwrap(self) -> Any:
        return self.wrapped


def _primitive(name: str, value_type: type) -> type[_PrimitiveWrapper]:
    cls = type(
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
    wrapper: type[_PrimitiveWrapper] = dataclasses.dataclass(cls)
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


@dataclasses.dataclass
class SetWrapper(ResourceWrapper[set[Any]]):
    """Stores a set as a list in canonical order (sorted by token stream).

    Sorting by the encoded items makes the digest independent of hash seeds and
    insertion order.
    """

    __enact_type_name__ = "enact.wrappers.SetWrapper"

    items: list[Any]

    @classmethod
    def wrapped_type(cls) -> type[set[Any]]:
        return set

    @classmethod
    def wrap(cls, value: set[Any]) -> SetWrapper:
        return cls(_canonical_order(value))

    def unwrap(self) -> set[Any]:
        return set(self.items)


@dataclasses.dataclass
class FrozenSetWrapper(ResourceWrapper[frozenset[Any]]):
    """Stores a frozenset as a list in canonical order."""

    __enact_type_name__ = "enact.wrappers.FrozenSetWrapper"

    items: list[Any]

    @classmethod
    def wrapped_type(cls) -> type[frozenset[Any]]:
        return frozenset

    @classmethod
    def wrap(cls, value: frozenset[Any]) -> FrozenSetWrapper:
        return cls(_canonical_order(value))

    def unwrap(self) -> frozenset[Any]:
        return frozenset(self.items)


def _canonical_order(items: set[Any] | frozenset[Any]) -> list[Any]:
    return sorted(items, key=lambda item: encoding.encode(item)[0])


for _wrapper in (TupleWrapper, SetWrapper, FrozenSetWrapper):
    register_resource_class(_wrapper)
