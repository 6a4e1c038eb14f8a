"""Built-in resource wrappers.

The primitive wrappers let a bare value (``commit(7)``, ``commit([1, 2])``) be
committed as a resource; their type names are format constants (see
``docs/FORMAT.md``), independent of where the classes live. `TupleWrapper` and
`SetWrapper` let tuples, sets and frozensets be used as field values.

The standard library's value types (`enum.Enum` members, `datetime`, `date`,
`time`, `timedelta`, `uuid.UUID`, `decimal.Decimal`, `pathlib` paths) have
wrappers too, with canonical fields: equal values of these types commit to the
same digest in every process, whatever its decimal context or local time zone.
Each takes exactly its own type (a subclass, such as a third-party datetime
class, may carry more state: register a wrapper for it).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import operator
import pathlib
import uuid
import zoneinfo
from enum import Enum, Flag
from typing import Any, Final

from enact import encoding, registry
from enact.errors import UnknownTypeError, UnsupportedValueError
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


def _require_exact(value: Any, expected: type) -> None:
    if type(value) is not expected:
        raise UnsupportedValueError(
            f"Cannot store a {type(value).__module__}.{type(value).__qualname__} with enact's "
            f"built-in {expected.__module__}.{expected.__qualname__} wrapper: a subclass may "
            "hold more state than the wrapper stores. Convert the value to "
            f"{expected.__qualname__}, or register a ResourceWrapper for the subclass.",
            value_type=type(value),
        )


def _zone(value: datetime.datetime | datetime.time) -> str | None:
    """The IANA key of a value's ZoneInfo; None if naive or a fixed unnamed offset.

    A fixed offset is in the ISO text already; a zone key is stored besides it,
    so that ``Europe/Paris`` and ``+01:00`` are different values.
    """
    tz = value.tzinfo
    if tz is None:
        return None
    if type(tz) is datetime.timezone:
        plain = datetime.timezone(tz.utcoffset(None))
        if tz.tzname(None) == plain.tzname(None):
            return None
    elif type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
        return tz.key
    raise UnsupportedValueError(
        f"Cannot store {value!r}: its tzinfo {tz!r} is neither a datetime.timezone without "
        "a custom name nor a zoneinfo.ZoneInfo with a key, so enact cannot restore it. "
        "Convert the value (value.astimezone(zoneinfo.ZoneInfo('Europe/Paris')), or "
        "datetime.timezone(offset)), or register a ResourceWrapper for it.",
        value_type=type(value),
    )


@dataclasses.dataclass
class DateTimeWrapper(ResourceWrapper[datetime.datetime]):
    """Stores a datetime as its ISO text (offset included when aware) and its zone key.

    Naive and aware datetimes, and datetimes in different zones, are different
    values with different digests. ``fold`` is not stored: for a zone-aware
    datetime the stored offset selects it again on checkout.
    """

    __enact_type_name__ = "enact.wrappers.DateTimeWrapper"

    iso: str
    zone: str | None

    @classmethod
    def wrapped_type(cls) -> type[datetime.datetime]:
        return datetime.datetime

    @classmethod
    def wrap(cls, value: datetime.datetime) -> DateTimeWrapper:
        _require_exact(value, datetime.datetime)
        return cls(value.isoformat(), _zone(value))

    def unwrap(self) -> datetime.datetime:
        parsed = datetime.datetime.fromisoformat(self.iso)
        if self.zone is None:
            return parsed
        tz = zoneinfo.ZoneInfo(self.zone)
        for fold in (0, 1):
            candidate = parsed.replace(tzinfo=tz, fold=fold)
            if candidate.isoformat() == self.iso:
                return candidate
        return parsed.astimezone(tz)  # the zone's rules changed since: keep the instant


@dataclasses.dataclass
class DateWrapper(ResourceWrapper[datetime.date]):
    """Stores a date as its ISO text (``YYYY-MM-DD``)."""

    __enact_type_name__ = "enact.wrappers.DateWrapper"

    iso: str

    @classmethod
    def wrapped_type(cls) -> type[datetime.date]:
        return datetime.date

    @classmethod
    def wrap(cls, value: datetime.date) -> DateWrapper:
        _require_exact(value, datetime.date)
        return cls(value.isoformat())

    def unwrap(self) -> datetime.date:
        return datetime.date.fromisoformat(self.iso)


@dataclasses.dataclass
class TimeWrapper(ResourceWrapper[datetime.time]):
    """Stores a time of day as its ISO text (offset included when fixed) and its zone key."""

    __enact_type_name__ = "enact.wrappers.TimeWrapper"

    iso: str
    zone: str | None

    @classmethod
    def wrapped_type(cls) -> type[datetime.time]:
        return datetime.time

    @classmethod
    def wrap(cls, value: datetime.time) -> TimeWrapper:
        _require_exact(value, datetime.time)
        return cls(value.isoformat(), _zone(value))

    def unwrap(self) -> datetime.time:
        parsed = datetime.time.fromisoformat(self.iso)
        if self.zone is None:
            return parsed
        return parsed.replace(tzinfo=zoneinfo.ZoneInfo(self.zone))


@dataclasses.dataclass
class TimeDeltaWrapper(ResourceWrapper[datetime.timedelta]):
    """Stores a timedelta as its normalized days, seconds and microseconds."""

    __enact_type_name__ = "enact.wrappers.TimeDeltaWrapper"

    days: int
    seconds: int
    microseconds: int

    @classmethod
    def wrapped_type(cls) -> type[datetime.timedelta]:
        return datetime.timedelta

    @classmethod
    def wrap(cls, value: datetime.timedelta) -> TimeDeltaWrapper:
        _require_exact(value, datetime.timedelta)
        return cls(value.days, value.seconds, value.microseconds)

    def unwrap(self) -> datetime.timedelta:
        return datetime.timedelta(self.days, self.seconds, self.microseconds)


@dataclasses.dataclass
class UUIDWrapper(ResourceWrapper[uuid.UUID]):
    """Stores a UUID as its canonical lower-case hyphenated text."""

    __enact_type_name__ = "enact.wrappers.UUIDWrapper"

    text: str

    @classmethod
    def wrapped_type(cls) -> type[uuid.UUID]:
        return uuid.UUID

    @classmethod
    def wrap(cls, value: uuid.UUID) -> UUIDWrapper:
        _require_exact(value, uuid.UUID)
        return cls(str(value))

    def unwrap(self) -> uuid.UUID:
        return uuid.UUID(self.text)


_DECIMAL_TEXT_CONTEXT: Final = decimal.Context(capitals=1)


@dataclasses.dataclass
class DecimalWrapper(ResourceWrapper[decimal.Decimal]):
    """Stores a Decimal as its exact text: sign, digits and exponent are all kept.

    ``Decimal('1.0')`` and ``Decimal('1.00')`` are equal but different values,
    with different digests. The text is written under a fixed context (``str``
    follows the active context's ``capitals``) and read back exactly, so
    neither digest nor checkout depends on the decimal context.
    """

    __enact_type_name__ = "enact.wrappers.DecimalWrapper"

    text: str

    @classmethod
    def wrapped_type(cls) -> type[decimal.Decimal]:
        return decimal.Decimal

    @classmethod
    def wrap(cls, value: decimal.Decimal) -> DecimalWrapper:
        _require_exact(value, decimal.Decimal)
        with decimal.localcontext(_DECIMAL_TEXT_CONTEXT):
            return cls(str(value))

    def unwrap(self) -> decimal.Decimal:
        return decimal.Decimal(self.text)  # exact: construction does not round


_PATH_KINDS: Final[dict[str, type[pathlib.PurePath]]] = {
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "PosixPath": pathlib.PosixPath,
    "WindowsPath": pathlib.WindowsPath,
}


@dataclasses.dataclass
class PathWrapper(ResourceWrapper[pathlib.PurePath]):
    """Stores a pathlib path as its class (``kind``) and its text.

    A `pathlib.Path` comes back as a concrete path of the same class (checking
    out a ``WindowsPath`` works only on Windows, as constructing one does).
    """

    __enact_type_name__ = "enact.wrappers.PathWrapper"

    kind: str
    path: str

    @classmethod
    def wrapped_type(cls) -> type[pathlib.PurePath]:
        return pathlib.PurePath

    @classmethod
    def wrap(cls, value: pathlib.PurePath) -> PathWrapper:
        kind = type(value).__name__
        if _PATH_KINDS.get(kind) is not type(value):
            _require_exact(value, pathlib.PurePath)
        return cls(kind, str(value))

    def unwrap(self) -> pathlib.PurePath:
        path_class = _PATH_KINDS.get(self.kind)
        if path_class is None:
            raise UnknownTypeError(
                f"Stored path kind {self.kind!r} is not a pathlib class this version of "
                f"enact knows ({sorted(_PATH_KINDS)}).",
                type_name=f"pathlib.{self.kind}",
            )
        return path_class(self.path)


@dataclasses.dataclass
class EnumWrapper(ResourceWrapper[Enum]):
    """Stores an enum member as its enum's type name and its member name.

    Members are found by name on checkout, so reordering members or changing
    their values does not change digests; renaming them does. A `Flag`
    combination is stored as its members' names joined by ``|`` (``''`` for
    no flag). Checkout needs the enum class: decorate it with
    ``@enact.register`` (an enum defined in this process is also found by
    its name).
    """

    __enact_type_name__ = "enact.wrappers.EnumWrapper"

    enum: str
    name: str

    @classmethod
    def wrapped_type(cls) -> type[Enum]:
        return Enum

    @classmethod
    def wrap(cls, value: Enum) -> EnumWrapper:
        enum_class = type(value)
        name = registry.type_name(enum_class)
        if registry.enum_named(name) is not enum_class:
            registry.register_enum(enum_class)  # the class is in hand: checkout here works
        if isinstance(value, Flag):
            return cls(name, "|".join(member.name or "" for member in value))
        return cls(name, value.name)

    def unwrap(self) -> Enum:
        enum_class = _enum_class(self.enum)
        try:
            if issubclass(enum_class, Flag):
                members = [enum_class[part] for part in self.name.split("|") if part]
                flag: Enum = functools.reduce(operator.or_, members, enum_class(0))
                return flag
            member: Enum = enum_class[self.name]
            return member
        except KeyError as err:
            raise UnknownTypeError(
                f"Enum {self.enum} has no member {self.name!r} (it has "
                f"{list(enum_class.__members__)}). Check out with the version of the enum "
                "that wrote the value.",
                type_name=self.enum,
            ) from err


def _enum_class(name: str) -> type[enum.Enum]:
    found = registry.enum_named(name)
    if found is None:
        pending = list(enum.Enum.__subclasses__())
        while pending:
            candidate = pending.pop()
            if registry.type_name(candidate) == name:
                registry.register_enum(candidate)
                found = candidate
                break
            pending.extend(candidate.__subclasses__())
    if found is None:
        raise UnknownTypeError(
            f"Enum {name} is not registered in this process. Import the module that "
            "defines it (enact never imports modules by itself) and decorate the enum with "
            "@enact.register.",
            type_name=name,
        )
    enum_class: type[enum.Enum] = found
    return enum_class


for _wrapper in (
    TupleWrapper,
    SetWrapper,
    FrozenSetWrapper,
    DateTimeWrapper,
    DateWrapper,
    TimeWrapper,
    TimeDeltaWrapper,
    UUIDWrapper,
    DecimalWrapper,
    PathWrapper,
    EnumWrapper,
):
    register_resource_class(_wrapper)
