"""Field-level differences between two stored values, for replay errors.

Both sides are read from their token streams with `decode_raw`, so they are
rendered the same way whatever their classes: a resource as its type name and
fields, a dict with its keys in stored (sorted) order on both sides, a ref as
its digest (followed into the store when both sides' targets are there).
Nothing is imported and no user code runs.

A long string is diffed with `difflib`: a one-line string as its changed
stretches, each with `CONTEXT` characters around it (``[-old-]`` and
``{+new+}`` mark the change, as ``git diff --word-diff`` does); a string of
several lines as a unified diff of its lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from enact.encoding import RawRef, RawResource, RawType

MAX_DIFFERENCES: Final = 8
"""Differing fields shown in full; more are counted."""

_MAX_NODES: Final = 100_000
_MAX_REF_HOPS: Final = 3


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Final = _Absent()
"""The side of a difference where a dict key, list item or field does not exist."""


@dataclasses.dataclass(frozen=True, slots=True)
class Difference:
    """One differing field: its path, and both sides as read by `decode_raw` (or `ABSENT`)."""

    path: str
    recorded: Any
    new: Any


def differences(
    recorded: Any, new: Any, read: Callable[[str], Any], path: str = ""
) -> tuple[list[Difference], bool]:
    """The fields in which two raw-decoded values differ, outermost first, in stored order.

    Args:
        recorded: The recorded value (from `decode_raw`).
        new: The new value (from `decode_raw`).
        read: Returns the raw-decoded object of a digest, or None if it cannot
            be read; refs that differ are followed through it.
        path: The path of the values themselves.

    Returns:
        The differences, and whether the walk stopped before the end (values too large).
    """
    found: list[Difference] = []
    stack: list[tuple[Any, Any, str, int]] = [(recorded, new, path, 0)]
    nodes = 0
    while stack:
        nodes += 1
        if nodes > _MAX_NODES:
            return found, True
        a, b, where, hops = stack.pop()
        if isinstance(a, RawResource) and isinstance(b, RawResource):
            if a.type_name != b.type_name:
                found.append(Difference(where, a, b))
                continue
            names = sorted(set(a.fields) | set(b.fields))
            stack.extend(
                (
                    a.fields.get(name, ABSENT),
                    b.fields.get(name, ABSENT),
                    f"{where}.{name}" if where and not where.endswith("->") else where + name,
                    hops,
                )
                for name in reversed(names)
            )
        elif isinstance(a, dict) and isinstance(b, dict):
            keys = sorted(set(a) | set(b))
            stack.extend(
                (a.get(key, ABSENT), b.get(key, ABSENT), f"{where}[{key!r}]", hops)
                for key in reversed(keys)
            )
        elif isinstance(a, list) and isinstance(b, list):
            size = max(len(a), len(b))
            stack.extend(
                (
                    a[i] if i < len(a) else ABSENT,
                    b[i] if i < len(b) else ABSENT,
                    f"{where}[{i}]",
                    hops,
                )
                for i in reversed(range(size))
            )
        elif isinstance(a, RawRef) and isinstance(b, RawRef):
            if a.digest == b.digest:
                continue
            targets = (read(a.digest), read(b.digest)) if hops < _MAX_REF_HOPS else (None, None)
            if targets[0] is None or targets[1] is None:
                found.append(Difference(where, a, b))
            else:
                stack.append((targets[0], targets[1], f"{where}->", hops + 1))
        elif type(a) is not type(b) or not _same_leaf(a, b):
            found.append(Difference(where, a, b))
    return found, False


def _same_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, float):
        return repr(a) == repr(b)  # nan, -0.0: as the digest format tells them apart
    return bool(a == b)


VALUE_LIMIT: Final = 200
"""Characters of a differing value (not a string) that are shown."""


def show(value: Any, limit: int | None = VALUE_LIMIT) -> str:
    """A raw-decoded value as a difference shows it (a registered function by its name)."""
    if isinstance(value, RawResource) and not value.fields:
        text = value.type_name
    elif isinstance(value, RawType):
        text = f"<class {value.type_name}>"
    else:
        text = repr(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


SHORT_STRING: Final = 40
"""Strings longer than this are cut in `show_compact`."""


class _Cut:
    """A long string as `show_compact` shows it: its start, and its length."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"{self.text[:SHORT_STRING]!r}… ({len(self.text):,} characters)"


def show_compact(value: Any, limit: int = VALUE_LIMIT) -> str:
    """Like `show`, with each long string cut to its start, so that every field shows."""
    return show(_compact(value, 0), limit)


def _compact(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _Cut(value) if len(value) > SHORT_STRING else value
    if depth > 20:
        return value
    if isinstance(value, list):
        return [_compact(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _compact(item, depth + 1) for key, item in value.items()}
    if isinstance(value, RawResource) and value.fields:
        fields = {name: _compact(item, depth + 1) for name, item in value.fields.items()}
        return RawResource(value.type_name, fields)
    return value


def render(difference: Difference, indent: str = "") -> list[str]:
    """The lines that show one difference: its path, then both sides."""
    a, b = difference.recorded, difference.new
    label = difference.path or "(the value)"
    if isinstance(a, str) and isinstance(b, str) and _is_long(a, b):
        if "\n" in a or "\n" in b:
            return [f"{indent}{label}: text of {_lines(a)} recorded, {_lines(b)} new:"] + [
                f"{indent}  {line}" for line in _line_diff(a, b)
            ]
        header = f"{indent}{label}: string of {len(a):,} characters recorded, {len(b):,} new:"
        return [header] + [f"{indent}  {line}" for line in _char_diff(a, b)]
    return [
        f"{indent}{label}:",
        f"{indent}  recorded: {show(a)}",
        f"{indent}  new:      {show(b)}",
    ]


LONG: Final = 60
"""Strings longer than this (or of several lines) are diffed rather than shown whole."""


def _is_long(a: str, b: str) -> bool:
    return len(a) > LONG or len(b) > LONG or "\n" in a or "\n" in b


def _lines(text: str) -> str:
    count = len(text.splitlines())
    return f"{count} line{'s' if count != 1 else ''}"


MAX_DIFF_LINES: Final = 30
"""Lines of a unified diff of a multi-line string that are shown."""


def _line_diff(a: str, b: str) -> list[str]:
    import difflib  # only when a replay is refused: not with enact

    lines = list(
        difflib.unified_diff(a.splitlines(), b.splitlines(), "recorded", "new", n=2, lineterm="")
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"… {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return lines


CONTEXT: Final = 30
"""Characters shown on each side of a change in a long string."""

MAX_CHANGES: Final = 4
"""Changed stretches of one string that are shown; more are counted."""


def _char_diff(a: str, b: str) -> list[str]:
    """The changed stretches of two one-line strings, each whole words, with context."""
    import difflib

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    stretches: list[list[int]] = []  # [a1, a2, b1, b2]
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = _whole_words(a, b, i1, i2, j1, j2)
        if stretches and i1 - stretches[-1][1] <= 2 * CONTEXT:
            stretches[-1][1], stretches[-1][3] = i2, j2  # close to the previous one: join
        else:
            stretches.append([i1, i2, j1, j2])
    lines: list[str] = []
    for a1, a2, b1, b2 in stretches[:MAX_CHANGES]:
        before = _escape(a[max(0, a1 - CONTEXT) : a1])
        start = "…" if a1 > CONTEXT else ""
        after_a = _escape(a[a2 : a2 + CONTEXT]) + ("…" if a2 + CONTEXT < len(a) else "")
        after_b = _escape(b[b2 : b2 + CONTEXT]) + ("…" if b2 + CONTEXT < len(b) else "")
        old = "[-" + _escape(a[a1:a2]) + "-]" if a2 > a1 else ""
        new = "{+" + _escape(b[b1:b2]) + "+}" if b2 > b1 else ""
        lines.append(f"at character {a1:,}:")
        lines.append(f"  recorded: {start}{before}{old}{after_a}")
        lines.append(f"  new:      {start}{before}{new}{after_b}")
    if len(stretches) > MAX_CHANGES:
        lines.append(f"… {len(stretches) - MAX_CHANGES} more changed stretches")
    return lines


def _whole_words(a: str, b: str, i1: int, i2: int, j1: int, j2: int) -> tuple[int, int, int, int]:
    """Widens a change that starts or ends inside a word to the whole word (on both sides).

    The characters around a change are equal on both sides, so both widen together.
    """

    def inside(text: str, start: int, end: int, at: int) -> bool:
        return start < end and text[at].isalnum()

    while (
        i1 > 0
        and j1 > 0
        and a[i1 - 1].isalnum()
        and (inside(a, i1, i2, i1) or inside(b, j1, j2, j1))
    ):
        i1, j1 = i1 - 1, j1 - 1
    while (
        i2 < len(a)
        and j2 < len(b)
        and a[i2].isalnum()
        and (inside(a, i1, i2, i2 - 1) or inside(b, j1, j2, j2 - 1))
    ):
        i2, j2 = i2 + 1, j2 + 1
    return i1, i2, j1, j2


def _escape(text: str) -> str:
    """`text` as it appears inside a repr, without the quotes (newlines, tabs visible)."""
    return repr(text)[1:-1] if text else ""
