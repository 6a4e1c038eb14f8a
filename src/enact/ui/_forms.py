"""Answer forms: an HTML form built from the type an input request asks for, and its parsing.

A requested type becomes fields: ``str`` and ``bytes`` a text area, ``int``
and ``float`` number inputs, ``bool`` a yes/no choice, an `enum.Enum` or a
``Literal`` a choice of its values, a dataclass (a resource class) a group of
its fields (nested ones as nested groups, defaults filled in), ``X | None`` an
optional field (empty means None), and anything else JSON. Each submitted
field is parsed with `enact.invocations.answers.parse_answer` (what ``enact
answer`` applies to typed text; text fields are taken as they are) and the
whole answer, a dict of fields for a group, is then converted and validated
with `InputRequest.convert_answer`, as every other way of answering does. Each
problem `enact.AnswerError` names by path (``$.address.zip_code``) is shown at
the field with that path (the deepest one that contains it), so the form and
the command line report the same problems in the same words.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Final

from enact.errors import AnswerError, EnactError
from enact.invocations.answers import convert_answer, parse_answer
from enact.invocations.inputs import InputRequest
from enact.invocations.requested_types import type_label

MAX_DEPTH: Final = 6
"""Nested groups deeper than this are asked for as JSON."""

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
    return type_label(annotation)


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
        choices = [(_literal_text(v), repr(v)) for v in typing.get_args(annotation)]
        text = _literal_text(default) if default is not _NO_DEFAULT else ""
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


def _literal_text(value: Any) -> str:
    """A Literal value as JSON (an enum member by its name, which answers also take)."""
    return json.dumps(value.name if isinstance(value, enum.Enum) else value)


def form_for(request: InputRequest) -> Field:
    """The form for answering `request` (one JSON field if its type cannot be restored here)."""
    try:
        requested = request.requested_type
    except EnactError:  # an enum this process does not define: the answer says why
        return Field("answer", "answer", "json", Any, request.requested_label)
    return build_field(requested)


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_path(name: str) -> str:
    """The answer path (``$.address.city``) of the form field `name` (``answer.address.city``)."""
    return "$" + name[len("answer") :]


_Problems = list[tuple[str, str]]


def _parse_text(field: Field, text: str, problems: _Problems) -> Any:
    """The value one input spells (JSON-like data or a value); problems go to `problems`."""
    base = _optional_arm(field.annotation) if field.optional else field.annotation
    if field.kind == "none":
        return None
    if base is str or base is bytes:  # a text area: the text as it is
        if field.optional and text == "":
            return None
        return text.replace("\r\n", "\n")
    if field.optional and not text.strip():
        return None
    if not text.strip():
        problems.append((field_path(field.name), "missing: a value is required"))
        return None
    try:
        if isinstance(base, type) and issubclass(base, enum.Enum):
            return convert_answer(text, base)  # a choice submits the member's name
        return parse_answer(text, base)
    except AnswerError as err:
        where = field_path(field.name)
        problems.extend((where + path[1:], problem) for path, problem in err.problems)
    except EnactError as err:
        problems.append((field_path(field.name), str(err).rstrip(".")))
    return None


def _data(field: Field, data: Mapping[str, str], problems: _Problems) -> Any:
    """The answer the submitted inputs spell: a dict of fields for a group."""
    if field.kind == "group":
        if field.optional and data.get(field.name + ".__present__", "yes") == "no":
            return None
        return {child.label: _data(child, data, problems) for child in field.children}
    return _parse_text(field, data.get(field.name, ""), problems)


def _errors_by_field(field: Field, problems: _Problems) -> dict[str, str]:
    """Each problem at the deepest field whose path holds its path (the whole answer: ``answer``).

    The problem text is the one `enact.AnswerError` gives (and ``enact answer``
    prints); a problem inside a field (an item of a JSON list) keeps its path.
    """
    paths = {field_path(each.name): each.name for each in field.walk()}
    found: dict[str, list[str]] = {}
    for path, problem in problems:
        where = path
        while where not in paths:
            cut = max(where.rfind("."), where.rfind("["))
            where = where[:cut] if cut > 0 else "$"
        found.setdefault(paths[where], []).append(
            problem if where == path else f"{path}: {problem}"
        )
    return {name: "; ".join(listed) for name, listed in found.items()}


def parse_form(
    request: InputRequest, field: Field, data: Mapping[str, str]
) -> tuple[Any, dict[str, str]]:
    """The answer the submitted form `data` spells, and errors by field name (empty: valid).

    Each input is parsed as ``enact answer`` parses typed text, then the whole
    answer is converted and validated by `InputRequest.convert_answer`; the
    problems of either step are reported at the fields their paths name.
    """
    problems: _Problems = []
    value = _data(field, data, problems)
    if not problems:
        try:
            return request.convert_answer(value), {}
        except AnswerError as err:
            problems.extend(err.problems)
        except EnactError as err:
            problems.append(("$", str(err).rstrip(".")))
    return None, _errors_by_field(field, problems)
