"""What the layers above declare to the codec, and the per-class code built from it.

The codec knows the grammar, not the journal: which class is the plain Ref,
which one-field classes are boxes worth matching inline, and which wrapper
stores dicts whose keys are not all str are declared by the modules that
define them (`enact.refs`, `enact.invocations.records`, `enact.wrappers`)
through `declare_plain_ref`, `declare_inline_box` and `declare_keyed_dict`. Declaring empties the
generated spellers and patterns, which are rebuilt on next use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeAlias, TypeVar

from enact import registry
from enact.errors import RegistrationError
from enact.resources import class_info

from ._grammar import FLAT_PRIMITIVE, REF_FIELD

Speller: TypeAlias = Callable[[Any, list[str], int], "str | None"]


class _NoRef:
    """Stands for the Ref class until one is declared: no value has this type."""


class Declared:
    """The declarations, and the caches that depend on them."""

    def __init__(self) -> None:
        self.ref_class: type = _NoRef
        self.make_ref: Callable[[str], Any] | None = None
        self.ref_head = ""  # the token of a plain ref up to its digest
        self.ref_head_bytes = b"\xff"  # the same as bytes (until declared: matches no token)
        self.boxes: tuple[tuple[bytes, registry.ClassInfo], ...] = ()
        self.flat_value = b"(" + FLAT_PRIMITIVE + b")"
        self.keyed_dict: Callable[[dict[Any, Any]], Any] | None = None
        self.spellers: dict[registry.ClassInfo, Speller] = {}
        self.flat_patterns: dict[registry.ClassInfo, re.Pattern[bytes]] = {}
        self.ref_runs: dict[
            tuple[registry.ClassInfo, bytes], tuple[bytes, tuple[tuple[int, bytes], ...], int]
        ] = {}

    def rebuild(self) -> None:
        """Recomputes the inline alternatives and forgets all generated code."""
        primitive = FLAT_PRIMITIVE
        if self.ref_head:
            primitive += b"|" + re.escape(self.ref_head.encode("utf-8")) + rb"[0-9a-f]{64}'\]"
        boxed = b"".join(
            b"|" + re.escape(prefix) + b"(?:" + primitive + rb")\]" for prefix, _ in self.boxes
        )
        self.flat_value = b"(" + primitive + boxed + b")"
        # Cleared in place: the hot paths hold these dicts in module globals.
        self.spellers.clear()
        self.flat_patterns.clear()
        self.ref_runs.clear()


declared: Final = Declared()
_lock = threading.Lock()

P = TypeVar("P", str, bytes)


def ref_row(info: registry.ClassInfo) -> tuple[str, tuple[str, ...]]:
    """How an item of `info` whose fields all hold plain refs is spelled after its
    ``res[`` and type id: what comes before its first digest (the first key and the
    plain ref's head), and what follows each digest (``']``, then the next key and
    head; ``']]`` after the last). The writer and the reader of runs of such items
    (a response's children) both follow it."""
    ref_head = declared.ref_head
    afters = tuple("']" + qname + ref_head for qname in info.qnames[1:])
    return info.qnames[0] + ref_head, (*afters, "']]")


def fill_rows(head: P, afters: Sequence[P], columns: list[list[P]]) -> list[P]:
    """Per item, `head`, then per field its value from `columns` (one list per field,
    a value per item) and what follows it in `afters`: joined, a run of items spelled
    as `ref_row` says."""
    row = [head]
    for after in afters:
        row += (head[:0], after)  # the slot of the field's value, then what follows it
    parts = row * len(columns[0])
    stride = len(row)
    for field, column in enumerate(columns):
        parts[1 + 2 * field :: stride] = column
    return parts


def declare_plain_ref(cls: type, make: Callable[[str], Any]) -> None:
    """Declares the plain Ref class, whose tokens the codec spells and matches inline.

    Args:
        cls: The registered Ref class (kind ref, one field ``digest``).
        make: Builds an instance from a digest read from a stored object (the
            digest has been checked to be 64 lower-case hex characters).
    """
    info = class_info(cls)
    if info.kind != registry.KIND_REF or info.sorted_attrs != (REF_FIELD,):
        raise RegistrationError(
            f"Cannot declare {info.name} as the plain Ref class: it must be a Ref with the "
            f"single field {REF_FIELD!r}, not a class with fields {list(info.sorted_attrs)}."
        )
    with _lock:
        declared.ref_class = cls
        declared.make_ref = make
        declared.ref_head = info.prefix + info.qnames[0] + "s'"
        declared.ref_head_bytes = declared.ref_head.encode("utf-8")
        declared.rebuild()


def declare_inline_box(cls: type) -> None:
    """Declares a one-field resource class that other resources' fields often hold.

    The decoder then matches ``box(primitive)`` inside a field as it matches a
    primitive (one regex for the whole resource), which is what keeps reading
    journals, whose responses box their outputs, fast.
    """
    info = class_info(cls)
    if info.kind != registry.KIND_RESOURCE or len(info.sorted_attrs) != 1:
        raise RegistrationError(
            f"Cannot declare {info.name} as an inline box: it must be a plain resource "
            f"class with one field, not one with fields {list(info.sorted_attrs)}."
        )
    prefix = (info.prefix + info.qnames[0]).encode("utf-8")
    with _lock:
        if all(known is not info for _, known in declared.boxes):
            declared.boxes = (*declared.boxes, (prefix, info))
        declared.rebuild()


def declare_keyed_dict(wrap: Callable[[dict[Any, Any]], Any]) -> None:
    """Declares how a dict whose keys are not all str is stored.

    Args:
        wrap: Returns the wrapper resource that stands for such a dict (its
            pairs in canonical order); the codec encodes that resource where
            the dict sits. Without a declaration such dicts are refused.
    """
    with _lock:
        declared.keyed_dict = wrap
