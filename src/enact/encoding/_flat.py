"""The per-class regex: one C-level match reads a whole resource of primitives.

Most stored resources hold only primitives, empty containers, plain refs and
declared boxes of primitives (`enact.encoding.declare_inline_box`); for them a
regex generated per class replaces the token-by-token loop of
`enact.encoding._reader`, which reads the same bytes to the same values.
"""

from __future__ import annotations

import re
from typing import Any, Final

from enact import registry
from enact.resources import build

from ._compat import check_fields
from ._declared import declared
from ._grammar import parse_int

_KIND_RESOURCE: Final = registry.KIND_RESOURCE
_flat_patterns: Final = declared.flat_patterns


def flat_pattern(info: registry.ClassInfo) -> re.Pattern[bytes]:
    """The regex matching the fields of `info` (after its type id) when each is flat."""
    pattern = _flat_patterns.get(info)
    if pattern is None:
        value = declared.flat_value
        body = b"".join(re.escape(qname.encode("utf-8")) + value for qname in info.qnames)
        pattern = _flat_patterns[info] = re.compile(body + rb"\]")
    return pattern


def finish_flat(info: registry.ClassInfo, tokens: tuple[bytes, ...], finish: Any) -> Any:
    """Builds the resource whose field tokens `flat_pattern` matched.

    `finish` completes resources of other kinds than plain (wrappers, refs,
    functions) from their field values, as the general decoder does.
    """
    values: dict[str, Any] = {}
    ref_head = declared.ref_head_bytes
    for attr, token in zip(info.sorted_attrs, tokens, strict=True):
        c = token[0]
        if c == 0x73 and token[1] != 0x65:  # s' or s" (not seq[])
            values[attr] = token[2:-1].decode("utf-8")
        elif c == 0x69:  # i
            values[attr] = parse_int(token[1:])
        elif c == 0x72 and token.startswith(ref_head):  # a plain ref (a box has another head)
            make_ref: Any = declared.make_ref
            values[attr] = make_ref(token[-66:-2].decode("ascii"))
        else:
            values[attr] = _flat_value(token)
    if info.kind == _KIND_RESOURCE:
        if info.checks != ():
            check_fields(info, values)
        return build(info.cls, values)
    return finish(info, values)


def _flat_value(token: bytes) -> Any:
    c = token[0]
    if c == 0x73:  # s
        return [] if token[1] == 0x65 else token[2:-1].decode("utf-8")
    if c == 0x6D:  # map[]
        return {}
    if c == 0x69:  # i
        return parse_int(token[1:])
    if c == 0x6E:  # n
        return None
    if c == 0x54:  # T
        return True
    if c == 0x46:  # F
        return False
    if c == 0x66:  # f
        return float(token[1:])
    for prefix, box in declared.boxes:
        if token.startswith(prefix):
            inner = _flat_value(token[len(prefix) : -1])
            return build(box.cls, {box.sorted_attrs[0]: inner})
    # The pattern admits a plain ref only once one is declared.
    make_ref: Any = declared.make_ref
    return make_ref(token[-66:-2].decode("ascii"))
