"""The per-class regex: one C-level match reads a whole resource of primitives.

Most stored resources hold only primitives, empty containers, plain refs and
declared boxes of primitives (`enact.encoding.declare_inline_box`); for them a
regex generated per class replaces the token-by-token loop of
`enact.encoding._reader`, which reads the same bytes to the same values.
A list's run of resources whose fields are all plain refs (a response's
children) is read without even that regex per item (`flat_ref_run`).
"""

from __future__ import annotations

import re
from typing import Any, Final

from enact import registry
from enact.digests import DIGEST_HEX_LENGTH, HEX_DIGITS
from enact.resources import build, fills_dict

from ._compat import check_fields
from ._declared import declared, fill_rows, ref_row
from ._grammar import parse_int

_KIND_RESOURCE: Final = registry.KIND_RESOURCE
_flat_patterns: Final = declared.flat_patterns
_ref_runs: Final = declared.ref_runs
_HEX: Final = HEX_DIGITS.encode("ascii")


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
    # Dispatched on the first byte, the most common kinds first (a response's fields:
    # an empty list, a box, None, False); what the pattern admits has no escapes.
    for attr, token in zip(info.sorted_attrs, tokens, strict=True):
        c = token[0]
        if c == 0x73:  # s' or s" (no escapes), or seq[] (the only list that is flat)
            values[attr] = [] if token[1] == 0x65 else token[2:-1].decode("utf-8")
        elif c == 0x72:  # res[: a plain ref, or a declared box of one
            if token.startswith(ref_head):
                make_ref: Any = declared.make_ref
                values[attr] = make_ref(token[-66:-2].decode("ascii"))
            else:
                values[attr] = _boxed(token)
        elif c == 0x6E:  # n
            values[attr] = None
        elif c == 0x46:  # F
            values[attr] = False
        elif c == 0x54:  # T
            values[attr] = True
        elif c == 0x69:  # i
            values[attr] = parse_int(token[1:])
        else:
            values[attr] = _flat_value(token)
    if info.kind == _KIND_RESOURCE:
        if info.checks != ():
            check_fields(info, values)
        return build(info.cls, values)
    return finish(info, values)


def _boxed(token: bytes) -> Any:
    """The declared box of a primitive, or the plain ref, that a flat ``res[`` token spells."""
    for prefix, box in declared.boxes:
        if token.startswith(prefix):
            inner = token[len(prefix) : -1]
            if inner[0] == 0x73 and inner[1] != 0x65:  # the most common: a string
                value: Any = inner[2:-1].decode("utf-8")
            else:
                value = _flat_value(inner)
            return build(box.cls, {box.sorted_attrs[0]: value})
    # The pattern admits a plain ref only once one is declared.
    make_ref: Any = declared.make_ref
    return make_ref(token[-66:-2].decode("ascii"))


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
    return _boxed(token)


def flat_ref_run(
    info: registry.ClassInfo, head: bytes, data: bytes, start: int
) -> tuple[list[Any], int]:
    """Reads on through the resources of `info` from `start` whose fields are all plain refs.

    A response's children are such a run: each child an ``Invocation`` of a
    request ref and a response ref, every one spelled alike but for its two
    digests. The items are checked against that spelling (`head`, the items'
    ``res[`` and type id as the stream spells it, then per field its key,
    the plain ref's head, 64 lower-case hex digits and ``']``, and ``]``):
    the whole run at once, by joining its digests into the spelling and
    comparing (`_whole_items`), else item by item with ``startswith`` at
    fixed offsets. Returns the items built as `finish_flat` builds them
    and the position after the last; the first item that is spelled
    otherwise (or a class that is not a plain resource) ends the run, for
    the general reader.
    """
    layout = _ref_runs.get((info, head))
    if layout is None:
        if info.kind != _KIND_RESOURCE or declared.make_ref is None or not info.qnames:
            return [], start
        before, afters = ref_row(info)
        first = head + before.encode("utf-8")
        fields = []  # (offset of the digest, what follows it) per field, from the item's start
        at = len(first)
        for after in [text.encode("utf-8") for text in afters]:
            fields.append((at, after))
            at += DIGEST_HEX_LENGTH + len(after)
        layout = (first, tuple(fields), at)
        if len(_ref_runs) < 1000:
            _ref_runs[(info, head)] = layout
    first, spelled, size = layout
    count = len(spelled)
    digests, whole = _whole_items(data, start, first, spelled, size)
    if digests is None:
        digests, whole = _items_one_by_one(data, start, first, spelled, size)
    if whole == start:
        return [], start
    joined = b"".join(digests)
    if joined.translate(None, _HEX) or len(joined) != DIGEST_HEX_LENGTH * len(digests):
        return [], start  # a digest that is not 64 lower-case hex digits: the general reader's
    text = joined.decode("ascii")
    make_ref: Any = declared.make_ref
    length = DIGEST_HEX_LENGTH
    refs = [make_ref(text[at : at + length]) for at in range(0, len(text), length)]
    attrs = info.sorted_attrs
    cls: Any = info.cls
    if count == 2:  # an Invocation: a request and a response
        first_attr, second_attr = attrs
        if info.checks == () and fills_dict(cls):
            # Made as `build` makes them, without a dict and a call per item.
            new = cls.__new__
            items: list[Any] = []
            for k in range(0, len(refs), 2):
                item = new(cls)
                fields = item.__dict__
                fields[first_attr] = refs[k]
                fields[second_attr] = refs[k + 1]
                items.append(item)
            return items, whole
        rows = [{first_attr: refs[k], second_attr: refs[k + 1]} for k in range(0, len(refs), 2)]
    else:
        rows = [
            dict(zip(attrs, refs[k : k + count], strict=True)) for k in range(0, len(refs), count)
        ]
    if info.checks != ():
        for values in rows:
            check_fields(info, values)
    return [build(cls, values) for values in rows], whole


def _whole_items(
    data: bytes, start: int, first: bytes, spelled: tuple[tuple[int, bytes], ...], size: int
) -> tuple[list[bytes] | None, int]:
    """The digests of the items from `start` that begin as items do, if every one of
    them is spelled whole (one comparison of the run with its spelling, made by a
    join); else None (`_items_one_by_one` finds where the run ends)."""
    end = start
    while data.startswith(first, end):
        end += size
    items = (end - start) // size
    if not items or end > len(data):
        return None, start
    digests = [
        data[pos + at : pos + at + DIGEST_HEX_LENGTH]
        for pos in range(start, end, size)
        for at, _ in spelled
    ]
    count = len(spelled)
    columns = [digests[field::count] for field in range(count)]
    afters = [after for _, after in spelled]
    if b"".join(fill_rows(first, afters, columns)) != data[start:end]:
        return None, start
    return digests, end


def _items_one_by_one(
    data: bytes, start: int, first: bytes, spelled: tuple[tuple[int, bytes], ...], size: int
) -> tuple[list[bytes], int]:
    """The digests of the items from `start` spelled whole, checked item by item, and
    the position after the last of them."""
    digests: list[bytes] = []
    pos = start
    whole = pos  # the end of the last item read whole
    while data.startswith(first, pos):
        for at, after in spelled:
            end = pos + at + DIGEST_HEX_LENGTH
            if not data.startswith(after, end):
                break
            digests.append(data[pos + at : end])
        else:
            pos += size
            whole = pos
            continue
        break
    del digests[(whole - start) // size * len(spelled) :]  # the fields of an item cut short
    return digests, whole
