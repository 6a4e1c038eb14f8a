"""Human-readable views of resources and of the graphs of refs between them.

`pformat` renders a value as indented lines, following refs into the active
store, the way the spec's "Storage model" section shows::

    -> LinkedList#0b182f:
      value: 1
      next:
        -> LinkedList#0f9059:
          value: 2
          next: -> LinkedList(value=1, next=None)#dd2ab0

The rule, which applies the same way to every value:

- A value that holds no refs (looking through resources, lists, tuples, dicts
  and wrapped values, but not into other objects) is printed inline as its
  ``repr``.
- A ref is ``->`` followed by what it points to, and ``#`` with the first six
  hex digits of its digest. If the target holds refs itself, the line ends in
  ``:`` and the target's fields follow, indented by two spaces.
- A resource that holds refs is a ``TypeName:`` line followed by its fields.
- A list, tuple or dict that holds refs is printed as its items, labelled
  ``[0]``, ``[1]``, ... or ``['key']``.
- Each field or item is ``label: value`` when the value is inline; otherwise
  ``label:`` and the value's lines below it, two spaces further in.

A ref that already appeared expanded is printed once more as ``(shown
above)`` instead of again, so shared sub-graphs print once. A ref that cannot
be followed (no active store, not in the store, unregistered type) is printed
with the reason; a corrupt object still raises `CorruptObjectError`.

Both walks are iterative: deep chains print without hitting Python's
recursion limit.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from typing import IO, Any, Final

from enact import context
from enact.encoding import RawResource
from enact.errors import NotFoundError, UnknownTypeError
from enact.refs import Ref
from enact.registry import wrapper_for
from enact.resources import Resource, wrap_if_foreign

__all__ = ["deep_repr", "pformat", "pprint", "safe_repr", "shorten"]

_INDENT: Final = "  "
_ABBREV: Final = 6

_Children = list[tuple[str, Any]]


class _Block:
    """A value printed on several lines: an optional header, then labelled children."""

    __slots__ = ("children", "header", "key")

    def __init__(self, header: str | None, children: _Children, key: int) -> None:
        self.header = header
        self.children = children
        self.key = key


def pformat(value: Any) -> str:
    """Returns a readable, indented rendering of `value`, following refs.

    Refs are checked out of the active store, if one is active. See the module
    documentation for the layout.

    Args:
        value: A resource, ref, field value, or anything else (printed as its
            ``repr`` if enact does not know it).

    Raises:
        CorruptObjectError: A ref points at an object whose bytes are damaged.
    """
    return "\n".join(_Formatter().lines(value))


def pprint(value: Any, *, file: IO[str] | None = None) -> None:
    """Prints `pformat(value)` to `file` (standard output by default)."""
    print(pformat(value), file=sys.stdout if file is None else file)


class _Literal(str):
    """Text that `deep_repr` writes as it is (not a value to show)."""

    __slots__ = ()


class _Leave:
    """Marks the end of a container in `deep_repr` (for the cycle check)."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key


_BIG_INT_BITS = 13_000
"""Ints of more bits (about 3,900 digits) are shown shortened (`int_text`): converting
an int to decimal takes time quadratic in its length (minutes for millions of digits)."""


def int_text(value: int) -> str:
    """``repr(value)`` for an int, or for a huge one its digit count and ends.

    ``<int of 3,000,000 digits: 123456789012…890123456789>``, computed without
    converting the whole int to decimal (a few seconds for millions of digits).
    """
    if value.bit_length() <= _BIG_INT_BITS:
        return repr(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    count = int(value.bit_length() * 0.30102999566398120) + 1  # digits, or one more
    if value < 10 ** (count - 1):
        count -= 1
    last = str(value % 10**12).zfill(12)
    first = str(value // 10 ** (count - 12))
    return f"<int of {count:,} digits: {sign}{first}…{last}>"


def _holds_big_int(value: Any) -> bool:
    """Whether `value` is or holds (not through refs) an int that `int_text` shortens."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if type(item) is int:
            if item.bit_length() > _BIG_INT_BITS:
                return True
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
        stack.extend(_children(item))
    return False


def _repr(value: Any) -> str:
    """``repr(value)``; a value nested too deeply for it is shown by `deep_repr`, and
    huge ints inside it as `int_text` (linear time, where repr is quadratic)."""
    if type(value) is int:
        return int_text(value)
    if _children(value) and _holds_big_int(value):
        return deep_repr(value)
    try:
        return repr(value)
    except RecursionError:
        return deep_repr(value)


def _generated_repr(cls: type) -> bool:
    method = getattr(cls, "__repr__", None)
    return dataclasses.is_dataclass(cls) and "__create_fn__" in getattr(method, "__qualname__", "")


def deep_repr(value: Any) -> str:
    """What ``repr(value)`` shows, without recursion: lists, tuples, dicts, dataclass
    resources and raw resources nested to any depth (100,000 levels) still print.

    Other values are shown by their own ``repr`` (or, if even that recurses too
    deeply, by their type).
    """
    parts: list[str] = []
    stack: list[Any] = [value]
    path: set[int] = set()
    while stack:
        item = stack.pop()
        if type(item) is _Literal:
            parts.append(item)
            continue
        if type(item) is _Leave:
            path.discard(item.key)
            continue
        if type(item) is int:
            parts.append(int_text(item))
            continue
        opened = _open(item)
        if opened is None:
            try:
                parts.append(repr(item))
            except RecursionError:
                parts.append(f"<{type(item).__qualname__}: nested too deeply to show>")
            continue
        if id(item) in path:
            parts.append("[...]" if isinstance(item, list) else "{...}")
            continue
        start, items, end = opened
        path.add(id(item))
        parts.append(start)
        pushed: list[Any] = []
        for index, (label, child) in enumerate(items):
            if index:
                pushed.append(_Literal(", "))
            if label:
                pushed.append(_Literal(label))
            pushed.append(child)
        pushed.append(_Literal(end))
        pushed.append(_Leave(id(item)))
        stack.extend(reversed(pushed))
    return "".join(parts)


def _open(item: Any) -> tuple[str, list[tuple[str, Any]], str] | None:
    """The opening text, labelled items and closing text of a container (None: not one)."""
    if type(item) is list:
        return "[", [("", child) for child in item], "]"
    if type(item) is tuple:
        return "(", [("", child) for child in item], ",)" if len(item) == 1 else ")"
    if type(item) is dict:
        return "{", [(f"{_repr(key)}: ", child) for key, child in item.items()], "}"
    if isinstance(item, RawResource):
        fields = [(f"{name}=", child) for name, child in item.fields.items()]
        return f"{item.short_name}(", fields, ")"
    if _generated_repr(type(item)):
        fields = [
            (f"{field.name}=", getattr(item, field.name))
            for field in dataclasses.fields(item)
            if field.repr
        ]
        return f"{type(item).__qualname__}(", fields, ")"
    return None


class _Formatter:
    """One rendering: keeps what was already checked out and expanded."""

    def __init__(self) -> None:
        self._store = context.active_store()
        self._has_refs: dict[int, bool] = {}
        self._expanded: set[str] = set()
        # Keeps every object whose id() is memoized alive for the whole rendering.
        self._keep: list[Any] = []

    def lines(self, value: Any) -> Iterator[str]:
        node = self._describe(value)
        if isinstance(node, str):
            yield node
            return
        indent = 0
        if node.header is not None:
            yield node.header
            indent = 1
        stack: list[tuple[Iterator[tuple[str, Any]], int, int]] = [
            (iter(node.children), indent, node.key)
        ]
        on_path = {node.key}
        while stack:
            children, indent, _ = stack[-1]
            pad = _INDENT * indent
            for label, child in children:
                node = self._describe(child)
                if isinstance(node, str):
                    yield f"{pad}{label}: {node}"
                    continue
                if node.key in on_path:
                    yield f"{pad}{label}: <cycle>"
                    continue
                yield f"{pad}{label}:"
                inner = indent + 1
                if node.header is not None:
                    yield f"{pad}{_INDENT}{node.header}"
                    inner += 1
                on_path.add(node.key)
                stack.append((iter(node.children), inner, node.key))
                break
            else:
                _, _, key = stack.pop()
                on_path.discard(key)

    def _describe(self, value: Any) -> str | _Block:
        """Returns the inline text of `value`, or the block it prints as."""
        if isinstance(value, Ref):
            return self._describe_ref(value)
        if not self._holds_refs(value):
            return _repr(value)
        key = id(value)
        if isinstance(value, dict):
            return _Block(None, [(f"[{k!r}]", item) for k, item in value.items()], key)
        if isinstance(value, list | tuple):
            return _Block(None, [(f"[{i}]", item) for i, item in enumerate(value)], key)
        resource = value if isinstance(value, Resource) else wrap_if_foreign(value)
        fields = [(name, getattr(resource, name)) for name in resource.field_names()]
        return _Block(f"{type(resource).__qualname__}:", fields, key)

    def _describe_ref(self, ref: Ref[Any]) -> str | _Block:
        tag = "#" + ref.digest[:_ABBREV]
        if self._store is None:
            return f"-> ?{tag} (no active store)"
        try:
            target = self._store.checkout(ref)
        except NotFoundError:
            return f"-> ?{tag} (not in the active store)"
        except UnknownTypeError as err:
            return f"-> ?{tag} (type {err.type_name} is not registered)"
        self._keep.append(target)
        if not self._holds_refs(target):
            return f"-> {_repr(target)}{tag}"
        name = type(target).__qualname__
        if ref.digest in self._expanded:
            return f"-> {name}{tag} (shown above)"
        self._expanded.add(ref.digest)
        if isinstance(target, Ref):  # a ref to a ref: its one field is the inner ref
            return _Block(f"-> {name}{tag}:", [("digest", target)], id(target))
        inner = self._describe(target)
        assert isinstance(inner, _Block)
        return _Block(f"-> {name}{tag}:", inner.children, id(target))

    def _holds_refs(self, root: Any) -> bool:
        """Returns whether `root` holds a ref, without following refs (memoized)."""
        memo = self._has_refs
        known = memo.get(id(root))
        if known is not None:
            return known
        # Iterative post-order walk; a container is marked False while it is
        # being visited, so that cyclic values terminate. The children are
        # computed once (wrapping a foreign value makes new objects each time)
        # and kept alive, so that memoized ids cannot be reused.
        stack: list[tuple[Any, list[Any] | None]] = [(root, None)]
        while stack:
            value, entered = stack.pop()
            key = id(value)
            if entered is not None:
                memo[key] = any(memo.get(id(child), False) for child in entered)
                continue
            if key in memo:
                continue
            if isinstance(value, Ref):
                memo[key] = True
                self._keep.append(value)
                continue
            children = _children(value)
            if not children:
                continue
            memo[key] = False
            self._keep.append((value, children))
            stack.append((value, children))
            stack.extend((child, None) for child in children)
        return memo.get(id(root), False)


def _children(value: Any) -> list[Any]:
    """Returns the values directly inside `value` that could hold refs."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, Resource):
        if isinstance(value, Ref):
            return []
        return [getattr(value, name) for name in value.field_names()]
    if isinstance(value, int | float | str | bytes | type) or value is None:
        return []
    if wrapper_for(type(value)) is not None:
        return _children(wrap_if_foreign(value))
    return []


def shorten(text: str, limit: int | None) -> str:
    """Returns `text`, cut to `limit` characters with an ellipsis (None: no limit)."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def safe_repr(value: Any, limit: int | None = None) -> str:
    """``repr(value)``, shortened; a failing ``__repr__`` is shown, not raised."""
    try:
        if isinstance(value, Resource) and type(value).__repr__ is object.__repr__:
            # Not a dataclass: show its type and fields, not a memory address.
            fields = ", ".join(f"{name}={field!r}" for name, field in value.field_items())
            text = f"{type(value).__qualname__}({fields})"
        elif type(value) is int or (_children(value) and _holds_big_int(value)):
            text = deep_repr(value)  # huge ints shortened (their repr is quadratic)
        else:
            text = repr(value)
    except RecursionError:
        text = deep_repr(value)  # nested deeper than repr() can go
    except Exception as err:
        text = f"<{type(value).__qualname__}: repr() failed: {type(err).__name__}: {err}>"
    return shorten(text, limit)
