"""Reading stored objects without their classes, for the CLI.

The reader itself is `enact.encoding.decode_raw` (the codec owns every reader
of the format); this module adds what the commands need on top: the labels of
the built-in wrappers and the refs inside parsed resources.
"""

from __future__ import annotations

from typing import Any, Final

from enact.encoding import DecodeError, RawInt, RawRef, RawResource, RawType, decode_raw
from enact.encoding import stored_type_name as type_name
from enact.refs import Ref

__all__ = [
    "RawInt",
    "RawRef",
    "RawResource",
    "RawType",
    "builtin_label",
    "parse",
    "ref_field",
    "type_name",
]

WRAPPER_PREFIX: Final = "enact.resource_registry."
"""Type names of the built-in wrappers of top-level primitives (``commit(7)``)."""


INT_DIGITS: Final = 4300
"""Stored ints of more digits are shown by their length and ends (`RawInt`), not converted."""


def parse(data: bytes) -> Any:
    """The value a token stream encodes, read without classes (`decode_raw`); ints of
    more than `INT_DIGITS` digits stay text, so that a huge int is read in linear time.

    Raises:
        DecodeError: The bytes are not a well-formed token stream.
    """
    return decode_raw(data, int_digits=INT_DIGITS)


def builtin_label(type_name: str) -> str | None:
    """``str`` for the wrapper of top-level strs (and so on); None for other types."""
    if not type_name.startswith(WRAPPER_PREFIX):
        return None
    label = type_name[len(WRAPPER_PREFIX) :].removesuffix("Wrapper")
    return label if label == "None" else label.lower()


def ref_field(value: Any, field: str) -> Ref[Any]:
    """The ref in field `field` of a parsed resource.

    Raises:
        DecodeError: `value` is not a resource with a ref in that field.
    """
    target = value.fields.get(field) if isinstance(value, RawResource) else None
    if not isinstance(target, RawRef):
        raise DecodeError(f"the object holds no ref in field {field!r}")
    return Ref._unchecked(target.digest)
