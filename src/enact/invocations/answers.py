"""Answers to input requests: text or JSON-like data in, a checked value out.

One place for every front end (the Python API, ``enact answer``, a web
form): `parse_answer` reads what someone typed, `convert_answer` turns a
value or JSON-like data (dicts, lists, strings, numbers) into a value of the
requested type and validates it in full. A wrong answer raises
`enact.AnswerError` listing each problem with its path
(``$.approved: expected bool, got 'no'``) and changes nothing.

What each type takes:

- ``str``, ``int``, ``float`` (an int too), ``bool``, ``bytes`` (a str is
  taken as UTF-8), ``None``: values of exactly that type (``True`` is no int).
- A resource class (a dataclass), an attrs class: an instance, whose fields
  are checked against their annotations, or a dict of its fields: unknown
  fields are refused, fields with a default may be left out.
- A pydantic model: validated by pydantic itself (``TypeAdapter``, strict
  mode, so ``"no"`` is no bool), unknown fields refused.
- ``list[X]``, ``set[X]``, ``frozenset[X]``, ``tuple[X, ...]``,
  ``tuple[A, B]``: a list or tuple (or set) whose items fit; ``dict[K, V]``
  (a str key is also taken as the JSON it spells, so ``{"1": "a"}`` answers
  ``dict[int, str]``: JSON objects have str keys only).
- ``Literal[...]``: one of the values; unions and ``Optional``: the first
  arm that the value fits exactly, else the first arm it converts to.
- An enum: a member, a member's value or a member's name.
- ``datetime``, ``date``, ``time``: an instance or an ISO 8601 string;
  ``timedelta``: an instance or seconds; ``UUID``, ``Decimal``, paths: an
  instance or a string.

Why not pydantic for everything: pydantic is optional for enact, answers
hold enact's own values (resources with refs, wrapped types) that pydantic
does not know, and the checks here are a small recursive walk. A pydantic
model is validated with pydantic, so its validators and constraints apply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Final

from enact.errors import AnswerError
from enact.invocations.requested_types import type_label
from enact.model_classes import is_pydantic_model
from enact.refs import Ref
from enact.resources import Resource

_TRUE: Final = frozenset({"y", "yes", "true", "1", "on"})
_FALSE: Final = frozenset({"n", "no", "false", "0", "off"})

# The standard library's value types are imported on first use here, not with enact.


@functools.cache
def _numbers() -> tuple[type, ...]:
    """The types an answer that is a JSON number can stand for."""
    import datetime
    import decimal

    return (int, float, decimal.Decimal, datetime.timedelta)


@functools.cache
def _from_text() -> tuple[type, ...]:
    """The types an answer that is not JSON can stand for, as a string."""
    import datetime
    import decimal
    import pathlib
    import uuid

    return (
        str,
        datetime.datetime,
        datetime.date,
        datetime.time,
        uuid.UUID,
        decimal.Decimal,
        pathlib.PurePath,
    )


class _Problems:
    """The problems found so far, each with its path."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, path: str, problem: str) -> None:
        self.found.append((path, problem))


class _Invalid(Exception):
    """Internal: a value did not fit (the problems are recorded already)."""


_INVALID: Final = _Invalid()


def convert_answer(value: Any, requested: Any) -> Any:
    """Returns `value` as a value of the `requested` type, checked in full.

    `value` may be a value of the type or JSON-like data that spells one
    (see the module docstring). `requested` is a class or a typing form.

    Raises:
        AnswerError: The value does not fit; each problem is named with its path.
    """
    problems = _Problems()
    try:
        return _convert(value, requested, "$", problems)
    except _Invalid:
        pass
    raise answer_error(problems.found, requested)


def check_answer(value: Any, requested: Any) -> None:
    """Raises `AnswerError` unless `value` converts to the `requested` type."""
    convert_answer(value, requested)


def answer_error(problems: list[tuple[str, str]], requested: Any) -> AnswerError:
    """The `AnswerError` for these problems with an answer to `requested`."""
    label = type_label(requested)
    listed = "; ".join(f"{path}: {problem}" for path, problem in problems)
    return AnswerError(
        f"The answer is not a valid {label}: {listed}. Answer with {answer_hint(requested)}.",
        problems=problems,
        expected=label,
    )


def answer_hint(requested: Any) -> str:
    """What an answer to `requested` looks like: ``Point as a JSON object {"x": int}``."""
    fields = _class_fields(requested) if isinstance(requested, type) else None
    if fields:
        shown = ", ".join(
            f'"{name}"{"?" if has_default else ""}: {type_label(annotation)}'
            for name, (annotation, has_default) in fields.items()
        )
        return f"{type_label(requested)} as a JSON object {{{shown}}} (? marks optional fields)"
    return f"a value of type {type_label(requested)}"


def parse_answer(text: str, requested: Any) -> Any:
    """Turns what someone typed into a value of the `requested` type.

    A ``str`` request takes the text as it is (or the string a JSON string
    literal spells); ``bool`` takes yes/no/true/false (also y/n, on/off,
    1/0); ``bytes`` the UTF-8 of the text; ``None`` an empty answer or
    ``null``. Other types take JSON (a JSON object for a class); where the
    type takes a string (a ``Literal`` of strings, an enum of strings, a
    datetime, a union with ``str``), text that is not JSON is taken as a string.

    Raises:
        AnswerError: The text does not make a value of the requested type.
    """
    if requested is str:
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    if requested is bytes:
        return text.encode("utf-8")
    if requested is type(None) or requested is None:
        if text.strip() in ("", "null", "None"):
            return None
        raise answer_error([("$", f"expected nothing (an empty answer), got {text!r}")], requested)
    word = text.strip().lower()
    takes_bool = _takes(requested, lambda t: t is bool)
    if takes_bool and word in _TRUE | _FALSE and (requested is bool or not word.isdigit()):
        return word in _TRUE
    try:
        data = json.loads(text)
    except ValueError as err:
        if requested in (int, float, bool):  # a word where a number or yes/no is wanted
            hint = " (yes or no)" if requested is bool else ""
            problem = f"expected {type_label(requested)}{hint}, got {text!r}"
            raise answer_error([("$", problem)], requested) from err
        if not _takes(requested, _takes_text):
            problem = f"expected JSON for {type_label(requested)}, got {text!r} ({err})"
            raise answer_error([("$", problem)], requested) from err
        data = text
    if (
        isinstance(data, int | float)
        and not isinstance(data, bool)
        and not _takes(requested, lambda t: t in _numbers())
        and _takes(requested, _takes_text)
    ):
        data = text.strip()  # "1" for Literal["1", "2"]
    return convert_answer(data, requested)


def _takes_text(arm: Any) -> bool:
    if isinstance(arm, type):
        if issubclass(arm, enum.Enum):
            return any(isinstance(member.value, str) for member in arm)
        return issubclass(arm, _from_text())
    if typing.get_origin(arm) is typing.Literal:
        return any(isinstance(value, str) for value in typing.get_args(arm))
    return arm is Any


def _takes(requested: Any, test: Callable[[Any], bool]) -> bool:
    """Whether `requested`, or an arm of it if it is a union, passes `test`."""
    origin = typing.get_origin(requested)
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes(arm, test) for arm in typing.get_args(requested))
    if origin is typing.Annotated:
        return _takes(typing.get_args(requested)[0], test)
    return test(requested)


# Converting ---------------------------------------------------------------------


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if isinstance(value, (str, int, float, bool, type(None))):
        return shown
    return f"{type(value).__qualname__} {shown}"


def _fail(problems: _Problems, path: str, expected: Any, value: Any) -> _Invalid:
    problems.add(path, f"expected {type_label(expected)}, got {_got(value)}")
    return _INVALID


def _field_path(path: str, name: str) -> str:
    return f"{path}.{name}" if name.isidentifier() else f"{path}[{name!r}]"


def _convert(value: Any, expected: Any, path: str, problems: _Problems) -> Any:
    if expected is Any or expected is object:
        return value
    if expected is None or expected is type(None):
        if value is None:
            return None
        raise _fail(problems, path, None, value)
    origin = typing.get_origin(expected)
    if origin is not None:
        return _convert_form(value, expected, origin, path, problems)
    if isinstance(expected, typing.TypeVar):
        return value
    if not isinstance(expected, type):
        return value  # a form this checker does not know (a NewType, a string annotation)
    converter = _scalars().get(expected)
    if converter is not None:
        converted = converter(value)
        if converted is _NO:
            raise _fail(problems, path, expected, value)
        return converted
    if issubclass(expected, enum.Enum):
        return _convert_enum(value, expected, path, problems)
    if expected in (list, set, frozenset, tuple, dict):
        return _convert_form(value, expected[Any] if expected is not dict else dict[str, Any],
                             expected, path, problems)  # fmt: skip
    if is_pydantic_model(expected):
        return _convert_pydantic(value, expected, path, problems)
    fields = _class_fields(expected)
    if fields is not None:
        return _convert_class(value, expected, fields, path, problems)
    import pathlib

    if issubclass(expected, pathlib.PurePath):
        if isinstance(value, pathlib.PurePath):
            return value if isinstance(value, expected) else expected(value)
        if isinstance(value, str):
            return expected(value)
        raise _fail(problems, path, expected, value)
    if isinstance(value, expected):
        return value
    raise _fail(problems, path, expected, value)


_NO: Final = object()


def _exact(cls: type) -> Callable[[Any], Any]:
    return lambda value: value if type(value) is cls else _NO


def _to_float(value: Any) -> Any:
    if type(value) is float:
        return value
    return float(value) if type(value) is int else _NO


def _to_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8") if isinstance(value, str) else _NO


def _from_iso(cls: Any) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) is cls:
            return value
        if isinstance(value, str):
            try:
                return cls.fromisoformat(value)
            except ValueError:
                return _NO
        return _NO

    return convert


def _to_timedelta(value: Any) -> Any:
    import datetime

    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.timedelta(seconds=value)
    return _NO


def _to_uuid(value: Any) -> Any:
    import uuid

    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value) if isinstance(value, str) else _NO
    except ValueError:
        return _NO


def _to_decimal(value: Any) -> Any:
    import decimal

    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return decimal.Decimal(value)
        except decimal.InvalidOperation:
            return _NO
    return decimal.Decimal(str(value)) if type(value) is float else _NO


@functools.cache
def _scalars() -> dict[Any, Callable[[Any], Any]]:
    """The converter of each scalar type."""
    import datetime
    import decimal
    import uuid

    return {
        str: _exact(str),
        int: lambda value: value if isinstance(value, int) and not isinstance(value, bool) else _NO,
        bool: _exact(bool),
        float: _to_float,
        bytes: _to_bytes,
        datetime.datetime: _from_iso(datetime.datetime),
        datetime.date: _from_iso(datetime.date),
        datetime.time: _from_iso(datetime.time),
        datetime.timedelta: _to_timedelta,
        uuid.UUID: _to_uuid,
        decimal.Decimal: _to_decimal,
    }  # fmt: skip


def _convert_enum(value: Any, expected: type[enum.Enum], path: str, problems: _Problems) -> Any:
    if isinstance(value, expected):
        return value
    if not isinstance(value, enum.Enum):
        for member in expected:
            if type(member.value) is type(value) and member.value == value:
                return member
        if isinstance(value, str) and value in expected.__members__:
            return expected.__members__[value]
    choices = ", ".join(repr(member.value) for member in expected)
    problems.add(path, f"expected {type_label(expected)} (one of {choices}), got {_got(value)}")
    raise _INVALID


def _convert_form(value: Any, expected: Any, origin: Any, path: str, problems: _Problems) -> Any:
    args = typing.get_args(expected)
    if origin is typing.Annotated:
        return _convert(value, args[0], path, problems)
    if origin is typing.Union or origin is types.UnionType:
        return _convert_union(value, expected, args, path, problems)
    if origin is typing.Literal:
        for allowed in args:
            if type(allowed) is type(value) and allowed == value:
                return allowed
            if (
                isinstance(allowed, enum.Enum)
                and not isinstance(value, enum.Enum)
                and (value == allowed.value or value == allowed.name)
            ):
                return allowed
        choices = ", ".join(repr(allowed) for allowed in args)
        problems.add(path, f"expected one of {choices}, got {_got(value)}")
        raise _INVALID
    if origin is type:
        wanted = args[0] if args else object
        if isinstance(value, type) and (wanted is Any or issubclass(value, wanted)):
            return value
        raise _fail(problems, path, expected, value)
    if origin is Ref or (isinstance(origin, type) and issubclass(origin, Ref)):
        if isinstance(value, origin):
            return value
        raise _fail(problems, path, expected, value)
    if origin is dict:
        return _convert_dict(value, expected, args, path, problems)
    if origin in (list, set, frozenset, tuple):
        return _convert_items(value, expected, origin, args, path, problems)
    if isinstance(origin, type) and isinstance(value, origin):
        return value  # another generic: checked by its origin only
    raise _fail(problems, path, expected, value)


def _convert_union(
    value: Any, expected: Any, arms: tuple[Any, ...], path: str, problems: _Problems
) -> Any:
    for arm in arms:  # a value that fits an arm as it is keeps its type
        trial = _Problems()
        try:
            converted = _convert(value, arm, path, trial)
        except _Invalid:
            continue
        if converted is value or type(converted) is type(value):
            return converted
    reasons: list[tuple[str, str]] = []
    for arm in arms:
        trial = _Problems()
        try:
            return _convert(value, arm, path, trial)
        except _Invalid:
            reasons.extend(trial.found)
    deeper = [(where, why) for where, why in reasons if where != path]
    if deeper and len({where for where, _ in deeper}) == len(deeper):
        problems.found.extend(deeper)  # the arms that could hold it, and what is wrong inside
    else:
        problems.add(path, f"expected {type_label(expected)}, got {_got(value)}")
    raise _INVALID


def _convert_items(
    value: Any, expected: Any, origin: Any, args: tuple[Any, ...], path: str, problems: _Problems
) -> Any:
    if not isinstance(value, (list, tuple, set, frozenset)) or (
        origin in (list, tuple) and isinstance(value, (set, frozenset))
    ):
        raise _fail(problems, path, expected, value)
    items = list(value)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        wanted = list(args) if args != ((),) else []
        if not args:
            wanted = [Any] * len(items)
        if len(items) != len(wanted):
            problems.add(
                path,
                f"expected {type_label(expected)} ({len(wanted)} items), got {len(items)} items",
            )
            raise _INVALID
    else:
        wanted = [args[0] if args else Any] * len(items)
    converted: list[Any] = []
    failed = False
    for index, (item, item_type) in enumerate(zip(items, wanted, strict=True)):
        try:
            converted.append(_convert(item, item_type, f"{path}[{index}]", problems))
        except _Invalid:
            failed = True
    if failed:
        raise _INVALID
    if origin is list:
        return converted
    result: Any = origin(converted)
    return result


def _convert_dict(
    value: Any, expected: Any, args: tuple[Any, ...], path: str, problems: _Problems
) -> Any:
    if not isinstance(value, dict):
        raise _fail(problems, path, expected, value)
    key_type, value_type = args if len(args) == 2 else (Any, Any)
    converted: dict[Any, Any] = {}
    failed = False
    for key, item in value.items():
        where = f"{path}[{key!r}]"
        try:
            new_key = _convert_key(key, key_type, where + " (key)", problems)
            converted[new_key] = _convert(item, value_type, where, problems)
        except _Invalid:
            failed = True
        except TypeError:  # the key converted to an unhashable value (dict[list[int], ...])
            problems.add(where + " (key)", f"expected a hashable key, got {_got(key)}")
            failed = True
    if failed:
        raise _INVALID
    return converted


def _convert_key(key: Any, key_type: Any, path: str, problems: _Problems) -> Any:
    """A dict key; a str key also as the JSON it spells (JSON objects have str keys only)."""
    trial = _Problems()
    try:
        return _convert(key, key_type, path, trial)
    except _Invalid:
        if isinstance(key, str):
            with contextlib.suppress(ValueError, _Invalid):
                return _convert(json.loads(key), key_type, path, _Problems())
        problems.found.extend(trial.found)
        raise


# Classes -------------------------------------------------------------------------

_FieldSpec = dict[str, tuple[Any, bool]]
_fields_cache: dict[type, _FieldSpec | None] = {}


def _class_fields(cls: type) -> _FieldSpec | None:
    """Each field's annotation and whether it has a default; None for a class without fields.

    For dataclasses (resources), attrs classes and pydantic models; a
    resource class that is no dataclass has no fields (``{}``).
    """
    if cls in _fields_cache:
        return _fields_cache[cls]
    found: _FieldSpec | None = None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference this process cannot resolve: unchecked
        hints = {}
    if dataclasses.is_dataclass(cls):
        found = {
            field.name: (
                hints.get(field.name, Any),
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING,
            )
            for field in dataclasses.fields(cls)
            if field.init
        }
    elif "__attrs_attrs__" in cls.__dict__ or hasattr(cls, "__attrs_attrs__"):
        nothing = sys.modules["attr"].NOTHING
        found = {
            attribute.name: (hints.get(attribute.name, attribute.type or Any),
                             attribute.default is not nothing)
            for attribute in cls.__attrs_attrs__  # type: ignore[attr-defined]
            if attribute.init
        }  # fmt: skip
    elif is_pydantic_model(cls):
        found = {
            name: (field.annotation, not field.is_required())
            for name, field in cls.model_fields.items()  # type: ignore[attr-defined]
        }
    elif issubclass(cls, Resource):
        found = {}
    _fields_cache[cls] = found
    return found


def _convert_class(
    value: Any, cls: type, fields: _FieldSpec, path: str, problems: _Problems
) -> Any:
    if isinstance(value, cls):
        failed = False
        for name, (annotation, _) in fields.items():
            if not hasattr(value, name):
                continue
            item = getattr(value, name)
            try:
                converted = _convert(item, annotation, _field_path(path, name), problems)
            except _Invalid:
                failed = True
                continue
            if converted is not item and converted != item:
                problems.add(
                    _field_path(path, name),
                    f"expected {type_label(annotation)}, got {_got(item)} (build the "
                    f"{cls.__qualname__} with a {type_label(annotation)} here)",
                )
                failed = True
        if failed:
            raise _INVALID
        return value
    if not isinstance(value, dict):
        raise _fail(problems, path, cls, value)
    failed = False
    for key in value:
        if key not in fields:
            known = ", ".join(fields) or "none"
            problems.add(
                _field_path(path, str(key)),
                f"unknown field of {cls.__qualname__} (its fields: {known})",
            )
            failed = True
    arguments: dict[str, Any] = {}
    for name, (annotation, has_default) in fields.items():
        where = _field_path(path, name)
        if name not in value:
            if not has_default:
                problems.add(where, f"missing: a required field of {cls.__qualname__}")
                failed = True
            continue
        try:
            arguments[name] = _convert(value[name], annotation, where, problems)
        except _Invalid:
            failed = True
    if failed:
        raise _INVALID
    try:
        return cls(**arguments)
    except Exception as err:  # the class's own checks (__post_init__, validators)
        problems.add(path, f"{cls.__qualname__}(...) refused the fields: {err}")
        raise _INVALID from err


_adapters: dict[type, Any] = {}


def _convert_pydantic(value: Any, cls: type, path: str, problems: _Problems) -> Any:
    pydantic = sys.modules["pydantic"]
    adapter = _adapters.get(cls)
    if adapter is None:
        adapter = _adapters[cls] = pydantic.TypeAdapter(cls)
    if isinstance(value, cls):
        data: Any = value.model_dump(warnings=False)  # type: ignore[attr-defined]
        strict_python = True
    elif isinstance(value, dict):
        data = value
        allowed = _pydantic_keys(cls)
        unknown = [key for key in value if key not in allowed]
        for key in unknown:
            problems.add(
                _field_path(path, str(key)),
                f"unknown field of {cls.__qualname__} (its fields: {', '.join(sorted(allowed))})",
            )
        if unknown:
            raise _INVALID
        strict_python = False
    else:
        raise _fail(problems, path, cls, value)
    try:
        if strict_python:
            adapter.validate_python(data, strict=True)
            return value
        try:
            text = json.dumps(data)
        except (TypeError, ValueError):  # not JSON: Python values (bytes, datetimes...)
            return adapter.validate_python(data, strict=True)
        return adapter.validate_json(text, strict=True)
    except pydantic.ValidationError as err:
        for error in err.errors():
            where = path
            for part in error.get("loc", ()):
                where = (
                    f"{where}[{part}]" if isinstance(part, int) else _field_path(where, str(part))
                )
            problems.add(where, f"{error['msg'][:1].lower()}{error['msg'][1:]}, got "
                         f"{_got(error.get('input'))}")  # fmt: skip
        raise _INVALID from err


def _pydantic_keys(cls: Any) -> set[str]:
    keys: set[str] = set()
    for name, field in cls.model_fields.items():
        keys.add(name)
        for alias in (field.alias, field.validation_alias):
            if isinstance(alias, str):
                keys.add(alias)
    return keys
