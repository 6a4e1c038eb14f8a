"""Reading stored objects without their classes, for the CLI.

The reader itself is `enact.encoding.decode_raw` (the codec owns every reader
of the format); this module adds what the commands need on top: the labels of
the built-in wrappers and the refs inside parsed resources.
"""

from __future__ import annotations

from typing import Any, Final

from enact.encoding import DecodeError, RawRef, RawResource, RawType
from enact.encoding import decode_raw as parse
from enact.encoding import stored_type_name as type_name
from enact.refs import Ref

__all__ = ["RawRef", "RawResource", "RawType", "builtin_label", "parse", "ref_field", "type_name"]

WRAPPER_PREFIX: Final = "enact.resource_registry."
"""Type names of the built-in wrappers of top-level primitives (``commit(7)``)."""


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
