"""The raw reader: a token stream as plain values, without its classes.

`decode_raw` turns a token stream into plain values in which each resource is
a `RawResource` (its type name and field values), each ref a `RawRef` and
each resource class a `RawType`. Nothing is imported and no class is looked
up, so tools (``enact log``, ``enact show --raw``) can read any store,
whoever wrote it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from enact import registry
from enact.digests import decimal_to_int, unquote_body
from enact.errors import DecodeError

from ._grammar import FLOAT_RE, INT_RE, QUOTED, REF_FIELD, read_bytes


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class RawResource:
    """A stored resource: its type name and its fields, in stored (sorted) order."""

    type_name: str
    fields: dict[str, Any]

    @property
    def short_name(self) -> str:
        """The last part of the type name (``RollDie`` for ``mymodule.RollDie``)."""
        return self.type_name.rpartition(".")[2]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.fields.items())
        return f"{self.short_name}({inner})"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class RawRef:
    """A stored ref."""

    digest: str

    def __repr__(self) -> str:
        return f"<Ref: {self.digest}>"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class RawType:
    """A resource class stored as a value."""

    type_name: str

    def __repr__(self) -> str:
        return f"<class {self.type_name}>"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class RawInt:
    """A stored int of more digits than `decode_raw` was asked to convert: its decimal text.

    Converting decimal text to an int (and back) takes time quadratic in its
    length; tools that only show or pass on an int keep the text.
    """

    decimal: str

    def __repr__(self) -> str:
        digits = self.decimal.lstrip("-")
        sign = "-" if self.decimal.startswith("-") else ""
        return f"<int of {len(digits):,} digits: {sign}{digits[:12]}…{digits[-12:]}>"


class _Open:
    """A container whose closing ``]`` has not been read yet."""

    __slots__ = ("items", "key", "type_id", "type_name")

    def __init__(self, items: Any, type_id: bytes = b"", type_name: str = "") -> None:
        self.items = items
        self.type_id = type_id
        self.type_name = type_name
        self.key: str | None = None


def decode_raw(data: bytes, *, int_digits: int | None = None) -> Any:
    """Returns the value a token stream encodes, with resources as `RawResource`.

    Args:
        data: The token stream.
        int_digits: Ints of more decimal digits than this are returned as
            `RawInt` (their text), not converted (None: every int is converted).

    Raises:
        DecodeError: The bytes are not a well-formed token stream.
    """
    try:
        return _parse(data, int_digits)
    except DecodeError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise DecodeError(f"malformed token stream ({err})") from err


def stored_type_name(data: bytes) -> str | None:
    """Returns the type name of a stored resource from its first token (None: not a resource)."""
    if not data.startswith(b"res["):
        return None
    try:
        return _type_name(data[4 : data.index(b"}", 4) + 1])
    except (ValueError, KeyError, TypeError) as err:
        raise DecodeError(f"malformed type id ({err})") from err


def _type_name(type_id: bytes) -> str:
    name = json.loads(type_id)["name"]
    if not isinstance(name, str):
        raise TypeError("the type name is not a string")
    return name


def _parse(data: bytes, int_digits: int | None) -> Any:
    pos = 0
    end = len(data)
    stack: list[_Open] = []
    while True:
        top = stack[-1] if stack else None
        if top is not None and data[pos] == 0x5D:  # ]
            pos += 1
            stack.pop()
            value = _close(top)
        elif top is not None and not isinstance(top.items, list) and top.key is None:
            match = QUOTED[data[pos]].match(data, pos)
            if match is None:
                raise DecodeError(f"unterminated key at byte {pos}")
            top.key = unquote_body(match.group(1).decode("utf-8"))
            pos = match.end()
            continue
        else:
            value, pos, opened = _token(data, pos, int_digits)
            if opened is not None:
                stack.append(opened)
                continue
        if not stack:
            if pos != end:
                raise DecodeError(f"{end - pos} bytes after the end of the value")
            return value
        parent = stack[-1]
        if isinstance(parent.items, list):
            parent.items.append(value)
        else:
            parent.items[parent.key] = value
            parent.key = None


def _token(data: bytes, pos: int, int_digits: int | None) -> tuple[Any, int, _Open | None]:
    """Reads the value token at `pos`: a scalar, or the start of a container."""
    c = data[pos]
    if c == 0x69:  # i
        match = INT_RE.match(data, pos + 1)
        if match is None:
            raise DecodeError(f"malformed int at byte {pos}")
        digits = match.group()
        if int_digits is not None and len(digits) - digits.startswith(b"-") > int_digits:
            return RawInt(digits.decode("ascii")), match.end(), None
        try:
            return int(digits), match.end(), None
        except ValueError:  # beyond Python's int-to-str digit limit
            return decimal_to_int(digits.decode("ascii")), match.end(), None
    if c == 0x66:  # f
        match = FLOAT_RE.match(data, pos + 1)
        if match is None:
            raise DecodeError(f"malformed float at byte {pos}")
        return float(match.group()), match.end(), None
    if c == 0x54:  # T
        return True, pos + 1, None
    if c == 0x46:  # F
        return False, pos + 1, None
    if c == 0x6E:  # n
        return None, pos + 1, None
    if data.startswith(b"seq[", pos):
        return None, pos + 4, _Open([])
    if data.startswith(b"map[", pos):
        return None, pos + 4, _Open({})
    if data.startswith(b"res[", pos):
        close = data.index(b"}", pos) + 1
        type_id = data[pos + 4 : close]
        return None, close, _Open({}, type_id, _type_name(type_id))
    if data.startswith(b"type[", pos):
        close = data.index(b"}", pos) + 1
        if data[close] != 0x5D:
            raise DecodeError(f"malformed type at byte {pos}")
        return RawType(_type_name(data[pos + 5 : close])), close + 1, None
    if c == 0x73:  # s
        match = QUOTED[data[pos + 1]].match(data, pos + 1)
        if match is None:
            raise DecodeError(f"unterminated string at byte {pos}")
        return unquote_body(match.group(1).decode("utf-8")), match.end(), None
    if c == 0x62:  # b
        value, stop = read_bytes(data, pos, len(data))
        return value, stop, None
    raise DecodeError(f"unknown token {chr(c)!r} at byte {pos}")


def _close(container: _Open) -> Any:
    if container.type_id:
        if container.key is not None:
            raise DecodeError(f"field {container.key!r} of {container.type_name} has no value")
        fields = container.items
        if registry.is_ref_type_id(container.type_id):
            digest = fields.get(REF_FIELD)
            if not isinstance(digest, str):
                raise DecodeError(f"{container.type_name} holds no digest")
            return RawRef(digest)
        return RawResource(container.type_name, fields)
    if isinstance(container.items, dict) and container.key is not None:
        raise DecodeError(f"key {container.key!r} has no value")
    return container.items
