"""Answer forms: an HTML form built from the type an input request asks for, and its parsing.

A requested type becomes fields: ``str`` and ``bytes`` a text area, ``int``
and ``float`` number inputs, ``bool`` a yes/no choice, an `enum.Enum` or a
``Literal`` a choice of its values, a dataclass (a resource class) a group of
its fields (nested ones as nested groups, defaults filled in), ``X | None`` an
optional field (empty means None), and anything else JSON. Each submitted
field is parsed and checked against its annotation with the check the engine
applies to answers (`enact.invocations.invokables.check_type`), so errors are
reported per field; the whole value is then checked with
`InputRequest.check_answer`, as every other way of answering does.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Final

from enact.errors import EnactError
from enact.invocations.inputs import InputRequest
from enact.invocations.invokables import check_type

MAX_DEPTH: Final = 6
"""Nested groups deeper than this are asked for as JSON."""

_TRUE: Final = ("yes", "true", "on", "1")
_FALSE: Final = ("no", "false", "off", "0")
_NO_DEFAULT: Final = object()


@dataclasses.dataclass
class Field:
    """One input of an answer form.

    Attributes:
        name: The form field name: ``answer``, or dotted for nested fields
            (``answer.address.city``).
        label: What the field is called (a dataclass field name, or ``answer``).
        kind: ``text``, ``textarea``, ``integer``, ``number``, ``choice``,
            ``json``, ``none`` or ``group``.
        type_label: The annotation, as text.
        default: The text the input starts with.
        choices: For ``choice``: (value, label) pairs.
        optional: Empty means None.
        children: For ``group``: its fields.
    """

    name: str
    label: str
    kind: str
    annotation: Any
    type_label: str
    default: str = ""
    choices: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    optional: bool = False
    children: list[Field] = dataclasses.field(default_factory=list)
    cls: Any = None

    def walk(self) -> list[Field]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


def _label(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def _optional_arm(annotation: Any) -> Any | None:
    """X for ``X | None`` (``Optional[X]``); None otherwise."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        arms = [arm for arm in typing.get_args(annotation) if arm is not type(None)]
        if len(arms) == 1 and len(typing.get_args(annotation)) == 2:
            return arms[0]
    return None


def _default_text(value: Any) -> str:
    if value is _NO_DEFAULT or value is None:
        return ""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return ""


def build_field(
    annotation: Any,
    name: str = "answer",
    label: str = "answer",
    default: Any = _NO_DEFAULT,
    depth: int = 0,
) -> Field:
    """The field (or group of fields) for a value of `annotation`."""
    arm = _optional_arm(annotation)
    if arm is not None:
        field = build_field(arm, name, label, default, depth)
        field.optional, field.annotation = True, annotation
        field.type_label = _label(annotation)
        return field
    shown = _label(annotation)
    text = _default_text(default)
    if annotation is None or annotation is type(None):
        return Field(name, label, "none", annotation, "None")
    if annotation is str or annotation is bytes:
        return Field(name, label, "textarea", annotation, shown, text)
    if annotation is bool:
        choices = [("yes", "yes"), ("no", "no")]
        return Field(name, label, "choice", annotation, shown, text, choices)
    if annotation is int:
        return Field(name, label, "integer", annotation, shown, text)
    if annotation is float:
        return Field(name, label, "number", annotation, shown, text)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        choices = [(member.name, f"{member.name} ({member.value!r})") for member in annotation]
        return Field(name, label, "choice", annotation, shown, text, choices)
    if typing.get_origin(annotation) is typing.Literal:
        choices = [(json.dumps(v), repr(v)) for v in typing.get_args(annotation)]
        text = json.dumps(default) if default is not _NO_DEFAULT else ""
        return Field(name, label, "choice", annotation, shown, text, choices)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation) and depth < MAX_DEPTH:
        try:
            hints = typing.get_type_hints(annotation)
        except Exception:
            hints = {}
        children = []
        for item in dataclasses.fields(annotation):
            if not item.init:
                continue
            if item.default is not dataclasses.MISSING:
                value: Any = item.default
            elif item.default_factory is not dataclasses.MISSING:
                value = item.default_factory()
            else:
                value = _NO_DEFAULT
            children.append(
                build_field(
                    hints.get(item.name, Any), f"{name}.{item.name}", item.name, value, depth + 1
                )
            )
        return Field(name, label, "group", annotation, shown, children=children, cls=annotation)
    return Field(name, label, "json", annotation, shown, text)


def form_for(request: InputRequest) -> Field:
    """The form for answering `request`."""
    return build_field(request.requested_type)


class _FieldError(ValueError):
    pass


def _parse_one(field: Field, text: str) -> Any:
    annotation = field.annotation
    base = _optional_arm(annotation) if field.optional else annotation
    if field.optional and not text.strip() and base is not str:
        return None
    if field.kind == "none":
        return None
    if base is str:
        if field.optional and text == "":
            return None
        return text.replace("\r\n", "\n")
    if base is bytes:
        return text.replace("\r\n", "\n").encode("utf-8")
    if base is bool:
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _FieldError(f"{text!r} is not yes or no")
    if base is int:
        try:
            return int(text.strip())
        except ValueError:
            raise _FieldError(f"{text!r} is not a whole number") from None
    if base is float:
        try:
            return float(text.strip())
        except ValueError:
            raise _FieldError(f"{text!r} is not a number") from None
    if isinstance(base, type) and issubclass(base, enum.Enum):
        try:
            return base[text]
        except KeyError:
            names = ", ".join(member.name for member in base)
            raise _FieldError(f"{text!r} is not one of {names}") from None
    if text.strip() == "" and field.kind != "choice":
        raise _FieldError("a value is required")
    try:
        value = json.loads(text)
    except ValueError as err:
        raise _FieldError(f"{shorten(text)!r} is not JSON ({err})") from None
    if typing.get_origin(base) is typing.Literal:
        if value not in typing.get_args(base):
            raise _FieldError(f"{value!r} is not one of the choices")
        return value
    origin = typing.get_origin(base) or base
    if origin in (tuple, set, frozenset) and isinstance(value, list):
        value = origin(value)
    return value


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(err: Exception) -> str:
    return str(err).rstrip(".")


def _parse(field: Field, data: Mapping[str, str], errors: dict[str, str]) -> Any:
    if field.kind == "group":
        if field.optional and data.get(field.name + ".__present__", "yes") == "no":
            return None
        values: dict[str, Any] = {}
        for child in field.children:
            values[child.label] = _parse(child, data, errors)
        if any(name.startswith(field.name + ".") for name in errors):
            return None
        try:
            return field.cls(**values)
        except (EnactError, TypeError, ValueError) as err:
            errors[field.name] = f"does not make a {field.type_label}: {_message(err)}"
            return None
    text = data.get(field.name, "")
    try:
        value = _parse_one(field, text)
    except _FieldError as err:
        errors[field.name] = str(err)
        return None
    base = _optional_arm(field.annotation) if field.optional else field.annotation
    # A Literal's values were checked above (the engine's check knows classes, not values).
    if field.name != "answer" and typing.get_origin(base) is not typing.Literal:
        try:
            check_type(value, field.annotation, f"field {field.label!r}", field.type_label)
        except EnactError as err:
            errors[field.name] = _message(err)
    return value


def parse_form(
    request: InputRequest, field: Field, data: Mapping[str, str]
) -> tuple[Any, dict[str, str]]:
    """The answer the submitted form `data` spells, and errors by field name (empty: valid)."""
    errors: dict[str, str] = {}
    value = _parse(field, data, errors)
    if errors:
        return None, errors
    try:
        request.check_answer(value)
    except EnactError as err:
        errors[field.name] = _message(err)
    return value, errors
