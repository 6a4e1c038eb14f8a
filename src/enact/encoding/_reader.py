"""The decoder: token stream back to fresh objects, in one iterative loop.

Resources whose fields are all flat are read by the per-class regex of
`enact.encoding._flat`; everything else token by token, with an explicit
stack, so nesting depth is limited by memory.
"""

from __future__ import annotations

from typing import Any, Final

from enact import registry
from enact.digests import is_digest, unquote_body
from enact.errors import DecodeError, UnknownTypeError
from enact.resources import build, resolve_type_id

from ._compat import check_fields, finish_stale, orphan_info
from ._declared import declared
from ._flat import finish_flat, flat_pattern, flat_ref_run
from ._grammar import (
    DQ_RE,
    FLOAT_RE,
    INT_LIST_RE,
    INT_RE,
    REF_FIELD,
    SQ_RE,
    parse_int,
    read_bytes,
)

_KIND_FUNCTION: Final = registry.KIND_FUNCTION
_KIND_REF: Final = registry.KIND_REF
_KIND_WRAPPER: Final = registry.KIND_WRAPPER
_KIND_RESOURCE: Final = registry.KIND_RESOURCE
_KIND_STALE: Final = registry.KIND_STALE
_flat_patterns: Final = declared.flat_patterns
_LIST: Final = object()
_MAP: Final = object()


def decode(data: bytes) -> Any:
    """Parses a token stream into fresh objects.

    Resources are rebuilt without calling ``__init__``; wrapper resources are
    unwrapped; refs come back as instances of their own Ref class.

    Raises:
        DecodeError: The bytes are not a well-formed token stream.
        UnknownTypeError: A type id names a class not defined in this process.
    """
    try:
        if data.startswith(b"res["):
            close = data.index(b"}", 4) + 1
            try:
                info = resolve_type_id(data[4:close])
            except UnknownTypeError as err:
                info = orphan_info(data[4:close], err)
            flat = _flat_patterns.get(info)
            if flat is None:
                flat = flat_pattern(info)
            m = flat.fullmatch(data, close)
            if m is not None:
                return finish_flat(info, m.groups(), finish_resource)
        return _decode(data)
    except DecodeError:
        raise
    except (IndexError, AttributeError, UnicodeDecodeError, ValueError, TypeError) as err:
        # Stored bytes are untrusted: any parse failure is a malformed stream.
        raise DecodeError(f"malformed token stream ({err})") from err


def _decode(data: bytes) -> Any:
    pos = 0
    end = len(data)
    stack: list[tuple[Any, Any, Any]] = []
    cont: Any = None
    frame: Any = None
    key: str = ""
    while True:
        c = data[pos]
        if c == 0x69:  # i
            m = INT_RE.match(data, pos + 1)
            val: Any = parse_int(m.group())  # type: ignore[union-attr]
            pos = m.end()  # type: ignore[union-attr]
        elif c == 0x73:  # s' s" or seq[
            q = data[pos + 1]
            if q == 0x65:
                if data[pos : pos + 4] != b"seq[":
                    raise DecodeError(f"unknown token at byte {pos}")
                pos += 4
                m = INT_LIST_RE.match(data, pos) if data[pos] == 0x69 else None
                if m is None:
                    stack.append((cont, frame, key))
                    cont = []
                    frame = _LIST
                    continue
                # A list of ints only, read in C loops.
                digits = data[pos + 1 : m.end() - 1].split(b"i")
                try:
                    val = [int(x) for x in digits]
                except ValueError:  # a lowered sys.set_int_max_str_digits limit
                    val = [parse_int(x) for x in digits]
                pos = m.end()
            else:
                m = (SQ_RE if q == 0x27 else DQ_RE).match(data, pos + 1)
                if m is None:
                    raise DecodeError(f"unterminated string at byte {pos}")
                val = unquote_body(m.group(1).decode("utf-8"))
                pos = m.end()
        elif c == 0x27 or c == 0x22:  # a key inside map[ or res[
            m = (SQ_RE if c == 0x27 else DQ_RE).match(data, pos)
            if m is None or frame is _LIST or frame is None:
                raise DecodeError(f"unexpected key at byte {pos}")
            key = unquote_body(m.group(1).decode("utf-8"))
            pos = m.end()
            continue
        elif c == 0x5D:  # ]
            pos += 1
            val = cont if frame is _LIST or frame is _MAP else finish_resource(frame, cont)
            cont, frame, key = stack.pop()
        elif c == 0x72:  # res[
            close = data.index(b"}", pos) + 1
            if data[pos : pos + 4] != b"res[":
                raise DecodeError(f"unknown token at byte {pos}")
            try:
                info = resolve_type_id(data[pos + 4 : close])
            except UnknownTypeError as err:
                info = orphan_info(data[pos + 4 : close], err)
            flat = _flat_patterns.get(info)
            if flat is None:
                flat = flat_pattern(info)
            m = flat.match(data, close)
            if m is None:
                pos = close
                stack.append((cont, frame, key))
                cont = {}
                frame = info
                continue
            val = finish_flat(info, m.groups(), finish_resource)
            if frame is _LIST:
                # A list of flat resources of one type (a response's children): while
                # the same type id follows, the next is matched at once.
                head = data[pos:close]
                after = m.end()
                if data.startswith(head, after):
                    run, run_end = flat_ref_run(info, head, data, after)
                    if run:  # items of refs only: read without a regex each
                        cont.append(val)
                        cont += run
                        val = cont.pop()
                        after = run_end
                while data.startswith(head, after):
                    m = flat.match(data, after + len(head))
                    if m is None:
                        break
                    cont.append(val)
                    val = finish_flat(info, m.groups(), finish_resource)
                    after = m.end()
                pos = after
            else:
                pos = m.end()
        elif c == 0x6D:  # map[
            if data[pos : pos + 4] != b"map[":
                raise DecodeError(f"unknown token at byte {pos}")
            pos += 4
            stack.append((cont, frame, key))
            cont = {}
            frame = _MAP
            continue
        elif c == 0x66:  # f
            m = FLOAT_RE.match(data, pos + 1)
            val = float(m.group())  # type: ignore[union-attr]
            pos = m.end()  # type: ignore[union-attr]
        elif c == 0x62:  # b
            val, pos = read_bytes(data, pos, end)
        elif c == 0x6E:  # n
            val = None
            pos += 1
        elif c == 0x54:  # T
            val = True
            pos += 1
        elif c == 0x46:  # F
            val = False
            pos += 1
        elif c == 0x74:  # type[
            close = data.index(b"}", pos) + 1
            if data[pos : pos + 5] != b"type[" or data[close : close + 1] != b"]":
                raise DecodeError(f"malformed type token at byte {pos}")
            val = resolve_type_id(data[pos + 5 : close]).cls
            pos = close + 1
        else:
            raise DecodeError(f"unknown token {bytes([c])!r} at byte {pos}")
        if frame is None:
            break
        if frame is _LIST:
            cont.append(val)
        else:
            cont[key] = val
    if pos != end:
        raise DecodeError(f"unexpected data after the value at byte {pos}")
    return val


def finish_resource(info: registry.ClassInfo, values: dict[str, Any]) -> Any:
    """The object a stored resource stands for, from its decoded field values.

    An object of an older version of its class is adapted to the current
    class first (`enact.encoding._compat`).
    """
    kind = info.kind
    if kind == _KIND_STALE:
        return finish_stale(info, values, finish_resource)
    if tuple(values) != info.sorted_attrs:
        raise DecodeError(
            f"stored fields {sorted(values)} do not match the fields of {info.name} "
            f"{list(info.sorted_attrs)}"
        )
    if kind == _KIND_FUNCTION:
        return info.obj
    if kind == _KIND_RESOURCE and info.checks != ():
        check_fields(info, values)
    obj = build(info.cls, values)
    if kind == _KIND_WRAPPER:
        return obj.unwrap()
    if kind == _KIND_REF and not is_digest(values.get(REF_FIELD)):
        raise DecodeError(f"{info.name} holds a malformed digest")
    return obj
