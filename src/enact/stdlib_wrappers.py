"""Built-in wrappers for the standard library's value types.

`enum.Enum` members, `datetime.datetime`, `date`, `time`, `timedelta`,
`uuid.UUID`, `decimal.Decimal` and `pathlib` paths can be field values, and
committed on their own. Their fields are canonical, so equal values commit to
the same digest in every process, whatever its decimal context or local time
zone; the type names are format constants (``docs/FORMAT.md``, which pins the
digests with vectors), independent of where the classes live.

Each wrapper takes exactly its own type: a subclass (a third-party datetime
class, say) may carry more state than the wrapper stores, so it needs a
wrapper of its own. Importing this module registers them; `enact.wrappers` defers
that (`enact.registry.defer_registrations`) to the first lookup that misses, so that
importing enact imports neither this module nor ``uuid`` and ``decimal``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import operator
import pathlib
import sys
import uuid
from enum import Enum, Flag
from typing import Any, ClassVar, Final

from enact import registry
from enact.errors import UnknownTypeError, UnsupportedValueError
from enact.resources import ResourceWrapper, register_resource_class


class _ExactWrapper(ResourceWrapper[Any]):
    """Base of the wrappers of one standard-library type each (no subclasses of it)."""

    value_type: ClassVar[type]

    @classmethod
    def wrapped_type(cls) -> type:
        return cls.value_type

    @classmethod
    def wrap(cls, value: Any) -> Any:
        if type(value) is not cls.value_type:
            expected = cls.value_type
            raise UnsupportedValueError(
                f"Cannot store a {type(value).__module__}.{type(value).__qualname__} with "
                f"enact's built-in {expected.__module__}.{expected.__qualname__} wrapper: a "
                "subclass may hold more state than the wrapper stores. Convert the value to "
                f"{expected.__qualname__}, or register a ResourceWrapper for the subclass.",
                value_type=type(value),
            )
        return cls(*cls.fields_of(value))

    @classmethod
    def fields_of(cls, value: Any) -> tuple[Any, ...]:
        """Returns the wrapper's field values for `value`, in declaration order."""
        raise NotImplementedError


def _is_zone_info(tz: datetime.tzinfo) -> bool:
    # zoneinfo is imported on first use (it reads the platform's configuration):
    # a value cannot hold a ZoneInfo before someone imported the module.
    module = sys.modules.get("zoneinfo")
    return module is not None and type(tz) is module.ZoneInfo


def _zone_info(key: str) -> datetime.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(key)


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
    elif _is_zone_info(tz) and tz.key is not None:  # type: ignore[attr-defined]
        return str(tz.key)  # type: ignore[attr-defined]
    raise UnsupportedValueError(
        f"Cannot store {value!r}: its tzinfo {tz!r} is neither a datetime.timezone without "
        "a custom name nor a zoneinfo.ZoneInfo with a key, so enact cannot restore it. "
        "Convert the value (value.astimezone(zoneinfo.ZoneInfo('Europe/Paris')), or "
        "datetime.timezone(offset)), or register a ResourceWrapper for it.",
        value_type=type(value),
    )


@dataclasses.dataclass
class _IsoWrapper(_ExactWrapper):
    """Base of the date, datetime and time wrappers: the value's ISO text (``iso``)."""

    value_type: ClassVar[type[datetime.date] | type[datetime.time]]

    iso: str

    @classmethod
    def fields_of(cls, value: Any) -> tuple[Any, ...]:
        return (value.isoformat(),)

    def unwrap(self) -> Any:
        return self.value_type.fromisoformat(self.iso)


@dataclasses.dataclass
class _ZonedWrapper(_IsoWrapper):
    """Base of the datetime and time wrappers: the ISO text and the zone key (see `_zone`)."""

    zone: str | None

    @classmethod
    def fields_of(cls, value: datetime.datetime | datetime.time) -> tuple[Any, ...]:
        return value.isoformat(), _zone(value)

    def unwrap(self) -> Any:
        parsed = super().unwrap()
        if self.zone is None:
            return parsed
        return self.in_zone(parsed, _zone_info(self.zone))

    def in_zone(self, parsed: Any, tz: datetime.tzinfo) -> Any:
        """`parsed` (read from the ISO text) placed in its stored zone `tz`."""
        raise NotImplementedError


@dataclasses.dataclass
class DateTimeWrapper(_ZonedWrapper):
    """Stores a datetime as its ISO text (offset included when aware) and its zone key.

    Naive and aware datetimes, and datetimes in different zones, are different
    values with different digests. ``fold`` is not stored: for a zone-aware
    datetime the stored offset selects it again on checkout.
    """

    __enact_type_name__ = "enact.wrappers.DateTimeWrapper"
    value_type = datetime.datetime

    def in_zone(self, parsed: datetime.datetime, tz: datetime.tzinfo) -> datetime.datetime:
        for fold in (0, 1):
            candidate = parsed.replace(tzinfo=tz, fold=fold)
            if candidate.isoformat() == self.iso:
                return candidate
        return parsed.astimezone(tz)  # the zone's rules changed since: keep the instant


@dataclasses.dataclass
class DateWrapper(_IsoWrapper):
    """Stores a date as its ISO text (``YYYY-MM-DD``)."""

    __enact_type_name__ = "enact.wrappers.DateWrapper"
    value_type = datetime.date


@dataclasses.dataclass
class TimeWrapper(_ZonedWrapper):
    """Stores a time of day as its ISO text (offset included when fixed) and its zone key."""

    __enact_type_name__ = "enact.wrappers.TimeWrapper"
    value_type = datetime.time

    def in_zone(self, parsed: datetime.time, tz: datetime.tzinfo) -> datetime.time:
        return parsed.replace(tzinfo=tz)


@dataclasses.dataclass
class TimeDeltaWrapper(_ExactWrapper):
    """Stores a timedelta as its normalized days, seconds and microseconds."""

    __enact_type_name__ = "enact.wrappers.TimeDeltaWrapper"
    value_type: ClassVar[type] = datetime.timedelta

    days: int
    seconds: int
    microseconds: int

    @classmethod
    def fields_of(cls, value: datetime.timedelta) -> tuple[Any, ...]:
        return value.days, value.seconds, value.microseconds

    def unwrap(self) -> datetime.timedelta:
        return datetime.timedelta(self.days, self.seconds, self.microseconds)


@dataclasses.dataclass
class _TextWrapper(_ExactWrapper):
    """Base of the wrappers that store a value as its ``str`` (``text``), read back by its type."""

    text: str

    @classmethod
    def fields_of(cls, value: Any) -> tuple[Any, ...]:
        return (str(value),)

    def unwrap(self) -> Any:
        return self.value_type(self.text)


@dataclasses.dataclass
class UUIDWrapper(_TextWrapper):
    """Stores a UUID as its canonical lower-case hyphenated text."""

    __enact_type_name__ = "enact.wrappers.UUIDWrapper"
    value_type = uuid.UUID


_DECIMAL_TEXT_CONTEXT: Final = decimal.Context(capitals=1)


@dataclasses.dataclass
class DecimalWrapper(_TextWrapper):
    """Stores a Decimal as its exact text: sign, digits and exponent are all kept.

    ``Decimal('1.0')`` and ``Decimal('1.00')`` are equal but different values,
    with different digests. The text is written under a fixed context (``str``
    follows the active context's ``capitals``) and read back exactly, so
    neither digest nor checkout depends on the decimal context.
    """

    __enact_type_name__ = "enact.wrappers.DecimalWrapper"
    value_type = decimal.Decimal  # reads the text exactly: construction does not round

    @classmethod
    def fields_of(cls, value: decimal.Decimal) -> tuple[Any, ...]:
        with decimal.localcontext(_DECIMAL_TEXT_CONTEXT):
            return (str(value),)


_PATH_KINDS: Final[dict[str, type[pathlib.PurePath]]] = {
    cls.__name__: cls
    for cls in (
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.PosixPath,
        pathlib.WindowsPath,
    )
}


@dataclasses.dataclass
class PathWrapper(_ExactWrapper):
    """Stores a pathlib path as its class (``kind``) and its text.

    A `pathlib.Path` comes back as a concrete path of the same class (checking
    out a ``WindowsPath`` works only on Windows, as constructing one does).
    """

    __enact_type_name__ = "enact.wrappers.PathWrapper"
    value_type: ClassVar[type] = pathlib.PurePath

    kind: str
    path: str

    @classmethod
    def wrap(cls, value: Any) -> Any:
        if _PATH_KINDS.get(type(value).__name__) is not type(value):
            return super().wrap(value)  # refuses it: a subclass of a pathlib class
        return cls(type(value).__name__, str(value))

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
        enum_class = enum_class_named(self.enum)
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


def enum_class_named(name: str) -> type[enum.Enum]:
    """The registered enum of this name, else one defined in this process (never imported)."""
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


STDLIB_WRAPPERS: Final[tuple[type[ResourceWrapper[Any]], ...]] = (
    DateTimeWrapper,
    DateWrapper,
    TimeWrapper,
    TimeDeltaWrapper,
    UUIDWrapper,
    DecimalWrapper,
    PathWrapper,
    EnumWrapper,
)
"""The wrapper classes of this module, all registered on import."""

for _wrapper in STDLIB_WRAPPERS:
    register_resource_class(_wrapper)
