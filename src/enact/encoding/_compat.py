"""Tolerant reading: objects of older versions of a class, read with the current one.

A type id's digest covers the type name and the sorted field names, so an
object written before a field was added or removed carries another type id
than the class has now (`enact.registry.stale_info` finds the class by name
or alias). Its fields are read by name and adapted here:

- a field the class has and the object lacks takes the field's default;
- a field the object has and the class lacks, or a field without a default
  that the object lacks, is an `IncompatibleTypeError` (migrate, see
  `enact.migrate`);
- the order of fields never matters (stored fields are sorted by name).

Every resource of a user class is also checked against the field
annotations that can be checked cheaply (`int`, `str`, `list[...]`, a
resource class, unions of these...): a field whose type changed under the
same name keeps the type id, so this is how such a change is noticed
instead of handing the program a value of the wrong type. Types of enact's
own modules are not checked (their shape is part of the format).
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final, TypeAlias

from enact import registry
from enact.digests import type_id_for
from enact.errors import DecodeError, IncompatibleTypeError, UnknownTypeError
from enact.resources import Resource

_Check = tuple[str, tuple[type, ...], str]
"""A field name, the types its values may have, and the annotation as written."""

_verified: Final[set[tuple[bytes, tuple[str, ...]]]] = set()
_NO_DEFAULT: Final = object()

MIGRATE_HINT: Final = (
    "Make the change compatible (give a new field a default; keep a removed field, with "
    "a default; or keep the old type name as an alias: @enact.register(name=..., "
    "aliases=(...))), or convert the stored objects to the new shape with enact.migrate "
    "or `enact migrate` (README: Code changes and migration)."
)


Upgrade: TypeAlias = Callable[[str, dict[str, Any]], Any]
"""``upgrade(type_name, fields)``: the new value for a stored resource of an old shape, or None."""

_upgrade: Final[ContextVar[Upgrade | None]] = ContextVar("enact_upgrade", default=None)


@contextlib.contextmanager
def upgrading(upgrade: Upgrade) -> Iterator[None]:
    """Within the block, `decode` hands every resource of an old shape to `upgrade`.

    Old shapes are types whose stored type id is not the current one of a
    registered class: an older version of a class (by name or alias), or a
    type not registered at all. `upgrade` gets the stored type name and the
    stored fields (decoded, nested values already upgraded) and returns the
    value to use instead, or None for the default reading (`adapt`). For
    `enact.migrate`.
    """
    token = _upgrade.set(upgrade)
    try:
        yield
    finally:
        _upgrade.reset(token)


def orphan_info(type_id: bytes, err: UnknownTypeError) -> registry.ClassInfo:
    """A stale info for a type that is not registered at all, while `upgrading`; else raises."""
    if _upgrade.get() is None:
        raise err
    orphan = _orphans.get(type_id)
    if orphan is None:
        name = registry.describe_type_id(type_id)
        text = type_id.decode("utf-8", "replace")
        orphan = registry.ClassInfo(Resource, name, text, (), registry.KIND_STALE, None)
        _orphans[type_id] = orphan
    return orphan


_orphans: Final[dict[bytes, registry.ClassInfo]] = {}


def finish_stale(
    stale: registry.ClassInfo,
    values: dict[str, Any],
    finish: Callable[[registry.ClassInfo, dict[str, Any]], Any],
) -> Any:
    """The value a resource of an old shape stands for: upgraded, or adapted to its class."""
    upgrade = _upgrade.get()
    if upgrade is not None:
        upgraded = upgrade(stale.name, dict(values))
        if upgraded is not None:
            return upgraded
    if stale.obj is None:
        raise UnknownTypeError(
            f"Type {stale.name} is not registered in this process, and the upgrade function "
            "returned None for it. Return the new value for objects of this type, or import "
            "the module that defines it.",
            type_name=stale.name,
        )
    current, values = adapt(stale, values)
    return finish(current, values)


def adapt(stale: registry.ClassInfo, values: dict[str, Any]) -> tuple[registry.ClassInfo, Any]:
    """Maps the fields of an object of an older version of a class onto the current class.

    Returns the current class's info and the field values to build it with.

    Raises:
        DecodeError: The stored fields do not match the digest of the stored type id.
        IncompatibleTypeError: The current class cannot hold the stored fields.
    """
    current: registry.ClassInfo = stale.obj
    stored = tuple(values)
    key = (stale.type_id_bytes, stored)
    if key not in _verified:
        if type_id_for(stale.name, stored).encode("utf-8") != stale.type_id_bytes:
            raise DecodeError(
                f"the type id of a stored {stale.name} does not match the fields it holds "
                f"{list(stored)}"
            )
        _verified.add(key)
    names = current.field_names
    extra = [name for name in stored if name not in names]
    missing = [name for name in names if name not in values]
    defaults = field_defaults(current.cls) if missing else {}
    required = [name for name in missing if name not in defaults]
    if extra or required:
        problems = []
        if extra:
            problems.append(f"the stored field(s) {extra} are not fields of the class any more")
        if required:
            problems.append(
                f"the class's field(s) {required} have no default and the stored object "
                "has no value for them"
            )
        raise incompatible(stale.name, current, stored, "; ".join(problems))
    for name in missing:
        values[name] = defaults[name]()
    return current, {name: values[name] for name in current.sorted_attrs}


def incompatible(
    stored_name: str, current: registry.ClassInfo, stored: tuple[str, ...], problem: str
) -> IncompatibleTypeError:
    """The error for a stored object that the current class cannot read."""
    renamed = "" if stored_name == current.name else f" (now {current.name})"
    return IncompatibleTypeError(
        f"A stored {stored_name}{renamed} does not fit the class defined here (it was "
        f"written by another version of it): {problem}. Stored fields: {list(stored)}; "
        f"fields of the class here: {list(current.field_names)}. {MIGRATE_HINT}",
        type_name=stored_name,
        current_name=current.name,
        stored_fields=stored,
        current_fields=current.field_names,
        problem=problem,
    )


def check_fields(info: registry.ClassInfo, values: dict[str, Any]) -> None:
    """Raises `IncompatibleTypeError` if a field value does not fit its annotation.

    Callers on hot paths skip the call when ``info.checks == ()`` (nothing to check).
    """
    checks = info.checks
    if checks is None:
        checks = info.checks = _make_checks(info)
    for name, allowed, shown in checks:
        value = values[name]
        if not isinstance(value, allowed):
            problem = (
                f"field {name!r} holds a {type(value).__qualname__} ({_short(value)}), which "
                f"does not fit its annotation {shown}"
            )
            raise incompatible(info.name, info, info.sorted_attrs, problem)


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return "?"
    return text if len(text) <= 60 else text[:59] + "…"


def _make_checks(info: registry.ClassInfo) -> tuple[_Check, ...]:
    cls = info.cls
    if info.kind != registry.KIND_RESOURCE or cls.__module__.partition(".")[0] == "enact":
        return ()
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # forward references that do not resolve here: nothing to check
        return ()
    checks = []
    for name in info.sorted_attrs:
        hint = hints.get(name)
        if hint is None:
            continue
        allowed = _allowed(hint)
        if allowed is not None:
            checks.append((name, allowed, _spell(hint)))
    return tuple(checks)


def _spell(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return str(hint).replace("typing.", "")


_SEQUENCES: Final = (list, tuple)
_SETS: Final = (set, frozenset)


def _allowed(hint: Any) -> tuple[type, ...] | None:
    """The types a field annotated `hint` may hold, or None if that is not checked cheaply."""
    if hint is None or hint is type(None):
        return (type(None),)
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _allowed(typing.get_args(hint)[0])
    if origin is typing.Union or origin is types.UnionType:
        allowed: list[type] = []
        for arm in typing.get_args(hint):
            part = _allowed(arm)
            if part is None:
                return None
            allowed.extend(part)
        return tuple(allowed)
    if origin is type:
        return (type,)
    if origin is not None:
        hint = origin
    if not isinstance(hint, type) or hint is object:
        return None
    if hint is float:
        return (float, int)
    if hint is complex:
        return None
    if hint in _SEQUENCES or hint is collections.abc.Sequence:
        return _SEQUENCES
    if hint in _SETS or hint is collections.abc.Set:
        return _SETS
    try:
        isinstance(None, hint)  # a Protocol that is not runtime-checkable refuses this
    except TypeError:
        return None
    return (hint,)


def field_defaults(cls: type) -> dict[str, Callable[[], Any]]:
    """The fields of a resource class that have a default, and how to make it.

    Dataclass fields (``default`` or ``default_factory``), attrs attributes
    and pydantic fields.
    """
    made: dict[str, Callable[[], Any]] = {}
    if dataclasses.is_dataclass(cls):
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING:
                made[field.name] = _constant(field.default)
            elif field.default_factory is not dataclasses.MISSING:
                made[field.name] = field.default_factory
        return made
    attributes = cls.__dict__.get("__attrs_attrs__")
    if attributes is not None:
        for attribute in attributes:
            default = attribute.default
            factory = getattr(default, "factory", None)
            if callable(factory) and not getattr(default, "takes_self", False):
                made[attribute.name] = factory
            elif type(default).__name__ != "_Nothing" and factory is None:
                made[attribute.name] = _constant(default)
        return made
    model_fields = cls.__dict__.get("__pydantic_fields__")
    if isinstance(model_fields, dict):
        for name, info in model_fields.items():
            if not info.is_required():
                made[name] = _pydantic_default(info)
    return made


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _pydantic_default(info: Any) -> Callable[[], Any]:
    return lambda: info.get_default(call_default_factory=True)
