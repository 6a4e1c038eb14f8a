"""The token stream: one walk turns a value into the bytes that are hashed and stored.

`encode` walks a value once and returns its canonical token stream (the digest
input of ``docs/FORMAT.md``) together with the digests of the refs it holds.
The same bytes are what backends store, so verifying a stored object is one
SHA-256 over what was read, and `decode` parses them back into fresh objects.

Both walks are iterative: nesting depth is limited by memory, not by Python's
recursion limit.
"""

from __future__ import annotations

import functools
import itertools
import keyword
import re
import types
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeAlias

from enact import registry
from enact.digests import decimal_to_int, int_to_decimal, is_digest, quote, unquote_body
from enact.errors import CycleError, UnsupportedValueError
from enact.resources import Resource, build, class_info, resolve_type_id

_by_class: Final = registry._by_class
_EMPTY_PREFIXES: Final = itertools.repeat("")
_KIND_REF: Final = registry.KIND_REF
_KIND_RESOURCE: Final = registry.KIND_RESOURCE
_BIG_INT: Final = 10**4000  # below Python's default int-to-str digit limit
_KIND_FUNCTION: Final = registry.KIND_FUNCTION
_SUPPORTED: Final = (
    "int, float, bool, str, bytes, None, resources, resource classes, refs, lists, "
    "str-keyed dicts, and values of types with a registered ResourceWrapper"
)


class DecodeError(ValueError):
    """Raised by `decode` for bytes that are not a well-formed token stream."""


def encode(value: Any) -> tuple[bytes, list[str]]:
    """Returns the token stream of `value` and the digests of the refs inside it.

    Raises:
        UnsupportedValueError: A value, or a dict key, of a type enact cannot store.
        CycleError: The value contains itself.
    """
    links: list[str] = []
    try:
        info = _by_class.get(type(value))
        if info is not None and info.kind != _KIND_REF:
            # Most commits are of a resource: go straight to its class's speller.
            speller = _spellers.get(info)
            if speller is None:
                speller = _spellers[info] = _make_speller(info)
            spelled = speller(value, links, 1)
        else:
            spelled = _spell(value, links, 0)
    except ValueError:  # an int above a lowered sys.set_int_max_str_digits limit
        spelled = None
    if spelled is not None:
        return spelled.encode("utf-8"), links
    links = []
    parts: list[str] = []
    app = parts.append
    chunks: list[bytes] | None = None
    stack: list[tuple[Iterator[tuple[str, Any]], int]] = []
    on_path: set[int] = set()
    it: Iterator[tuple[str, Any]] = iter((("", value),))
    oid = 0
    while True:
        for prefix, v in it:
            if prefix:
                app(prefix)
            t = type(v)
            if t is str:
                app("s" + (repr(v) if v.isascii() else quote(v)))
            elif t is int:
                try:
                    app("i" + str(v))
                except ValueError:
                    app("i" + int_to_decimal(v))
            elif t is float:
                app("f" + repr(v))
            elif t is bool:
                app("T" if v else "F")
            elif v is None:
                app("n")
            elif t is list:
                if len(v) > 8:
                    flat = _flat_list(v)
                    if flat is not None:
                        app(flat)
                        continue
                child = id(v)
                if child in on_path:
                    _raise_problem(value)
                on_path.add(child)
                app("seq[")
                stack.append((it, oid))
                oid = child
                it = zip(_EMPTY_PREFIXES, v, strict=False)
                break
            elif t is dict:
                if v and set(map(type, v)) != {str}:
                    _raise_problem(value)  # before sorting: mixed key types do not sort
                keys = sorted(v) if v else []
                if len(keys) > 8:
                    flat = _flat_dict(v, keys)
                    if flat is not None:
                        app(flat)
                        continue
                child = id(v)
                if child in on_path:
                    _raise_problem(value)
                on_path.add(child)
                app("map[")
                stack.append((it, oid))
                oid = child
                it = zip(
                    [repr(k) if k.isascii() else quote(k) for k in keys],
                    map(v.get, keys),
                    strict=True,
                )
                break
            elif t is bytes:
                if chunks is None:
                    chunks = []
                chunks.append("".join(parts).encode("utf-8"))
                parts.clear()
                chunks.append(b"b%d:" % len(v))
                chunks.append(v)
            else:
                info = _by_class.get(t)
                if info is None:
                    resolved = _resolve_other(v, value)
                    if isinstance(resolved, str):
                        app(resolved)
                        continue
                    info, v = resolved
                kind = info.kind
                if kind == _KIND_REF:
                    digest = v.digest
                    app(info.prefix + "'digest's'" + digest + "']")
                    links.append(digest)
                    continue
                child = id(v)
                if child in on_path:
                    _raise_problem(value)
                on_path.add(child)
                app(info.prefix)
                stack.append((it, oid))
                oid = child
                it = zip(info.qnames, info.getter(v), strict=True)
                break
        else:
            if not stack:
                break
            app("]")
            on_path.discard(oid)
            it, oid = stack.pop()
    if chunks is None:
        return "".join(parts).encode("utf-8"), links
    chunks.append("".join(parts).encode("utf-8"))
    return b"".join(chunks), links


def _spell(v: Any, links: list[str], depth: int) -> str | None:
    """Token stream of a small value, or None if it needs the general walk.

    Journals are made of small resources holding primitives, refs, registered
    functions and short lists and dicts; spelling those out recursively (to a
    bounded depth, so neither deep nesting nor cycles can recurse far) is
    several times faster than the general walk's bookkeeping.
    """
    t = type(v)
    if t is str:
        return "s" + (repr(v) if v.isascii() else quote(v))
    if t is int:
        return "i" + str(v) if -_BIG_INT < v < _BIG_INT else None
    if v is None:
        return "n"
    if t is bool:
        return "T" if v else "F"
    if t is float:
        return "f" + repr(v)
    if depth > _SPELL_DEPTH:
        return None
    depth += 1
    if t is list:
        if not v:
            return "seq[]"
        if len(v) > 8:
            flat = _flat_list(v)
            if flat is not None:
                return flat
        parts = ["seq["]
        for item in v:
            spelled = _spell(item, links, depth)
            if spelled is None:
                return None
            parts.append(spelled)
        parts.append("]")
        return "".join(parts)
    if t is dict:
        if not v:
            return "map[]"
        parts = ["map["]
        try:
            keys = sorted(v) if len(v) > 1 else list(v)
        except TypeError:  # keys of mixed types: the general walk reports them
            return None
        if len(keys) > 8 and set(map(type, keys)) == {str}:
            flat = _flat_dict(v, keys)
            if flat is not None:
                return flat
        for key in keys:
            if type(key) is not str:
                return None
            spelled = _spell(v[key], links, depth)
            if spelled is None:
                return None
            parts.append((repr(key) if key.isascii() else quote(key)) + spelled)
        parts.append("]")
        return "".join(parts)
    info = _by_class.get(t)
    if info is None:
        function = registry.function_info(v)
        return None if function is None else function.prefix + "]"
    kind = info.kind
    if kind == _KIND_REF:
        digest: str = v.digest
        links.append(digest)
        return info.prefix + "'digest's'" + digest + "']"
    speller = _spellers.get(info)
    if speller is None:
        speller = _spellers[info] = _make_speller(info)
    return speller(v, links, depth)


_SPELL_DEPTH: Final = 8
_Speller: TypeAlias = Callable[[Any, list[str], int], "str | None"]
_spellers: dict[registry.ClassInfo, _Speller] = {}


def _make_speller(info: registry.ClassInfo) -> _Speller:
    """Generates the `_spell` step for one resource class, with its fields unrolled.

    Fields holding ASCII str, int, None, a plain Ref or a registered function
    are spelled inline; anything else goes through `_spell`. Generated once per
    class, like dataclasses' ``__init__``; only identifiers (field names) and
    ``repr`` literals go into the source.
    """
    attrs = info.sorted_attrs
    if not all(attr.isidentifier() and not keyword.iskeyword(attr) for attr in attrs):
        return functools.partial(_spell_fields, info)
    lines = ["def speller(v, links, depth):", "    append = links.append"]
    for index, (attr, qname) in enumerate(zip(attrs, info.qnames, strict=True)):
        lines += [
            f"    x = v.{attr}",
            "    t = type(x)",
            "    if t is str and x.isascii():",
            f"        s{index} = {qname + 's'!r} + repr(x)",
            "    elif t is int and -big < x < big:",
            f"        s{index} = {qname + 'i'!r} + str(x)",
            "    elif x is None:",
            f"        s{index} = {qname + 'n'!r}",
            "    elif (t is list or t is dict) and not x:",
            f"        s{index} = {qname!r} + ('seq[]' if t is list else 'map[]')",
            "    elif t is ref:",
            "        append(x.digest)",
            f"        s{index} = {qname + _REF_TOKEN_HEAD!r} + x.digest + {_REF_TOKEN_TAIL!r}",
            "    elif t is function and (f := function_info(x)) is not None:",
            f"        s{index} = {qname!r} + f.prefix + ']'",
            "    else:",
            "        x = spell(x, links, depth)",
            "        if x is None:",
            "            return None",
            f"        s{index} = {qname!r} + x",
        ]
    pieces = " + ".join([repr(info.prefix), *(f"s{i}" for i in range(len(attrs))), "']'"])
    lines.append(f"    return {pieces}")
    ref_class = registry._by_type_id[_REF_TYPE_ID].cls
    namespace: dict[str, Any] = {
        "spell": _spell,
        "big": _BIG_INT,
        "ref": ref_class,
        "function": types.FunctionType,
        "function_info": registry.function_info,
    }
    exec("\n".join(lines), namespace)  # the source holds identifiers and repr literals only
    speller: _Speller = namespace["speller"]
    return speller


def _spell_fields(info: registry.ClassInfo, v: Any, links: list[str], depth: int) -> str | None:
    parts = [info.prefix]
    for qname, item in zip(info.qnames, info.getter(v), strict=True):
        spelled = _spell(item, links, depth)
        if spelled is None:
            return None
        parts.append(qname + spelled)
    parts.append("]")
    return "".join(parts)


def _flat_list(items: list[Any]) -> str | None:
    """Token stream of a long list of one primitive type, built in C loops."""
    types = set(map(type, items))
    if len(types) != 1:
        return None
    item_type = types.pop()
    try:
        if item_type is int:
            return "seq[i" + "i".join(map(str, items)) + "]"
        if item_type is float:
            return "seq[f" + "f".join(map(repr, items)) + "]"
        if item_type is str and "".join(items).isascii():
            return "seq[s" + "s".join(map(repr, items)) + "]"
    except ValueError:  # an int above the int-to-str digit limit
        return None
    return None


def _flat_dict(mapping: dict[str, Any], keys: list[str]) -> str | None:
    """Token stream of a long str-keyed dict whose values are all ASCII str or all int."""
    if not "".join(keys).isascii():
        return None
    values = list(map(mapping.__getitem__, keys))
    types = set(map(type, values))
    if types == {str}:
        if not "".join(values).isascii():
            return None
        return "map[" + "".join([f"{k!r}s{x!r}" for k, x in zip(keys, values, strict=True)]) + "]"
    if types == {int}:
        try:
            return "map[" + "".join([f"{k!r}i{x}" for k, x in zip(keys, values, strict=True)]) + "]"
        except ValueError:
            return None
    return None


def _resolve_other(v: Any, root: Any) -> str | tuple[registry.ClassInfo, Any]:
    """Handles a value that is not a primitive, list, dict or known resource class.

    Returns either a finished token (resource classes, registered functions) or
    the class info and resource (possibly a wrapper) to walk.
    """
    if isinstance(v, Resource):
        return class_info(type(v)), v
    if isinstance(v, type):
        if issubclass(v, Resource):
            return "type[" + class_info(v).type_id + "]"
        _raise_problem(root)
    function = registry.function_info(v)
    if function is not None:
        return function.prefix + "]"
    wrapper: Any = registry.wrapper_for(type(v))
    if wrapper is None:
        _raise_problem(root)
    wrapped = wrapper.wrap(v)
    return class_info(type(wrapped)), wrapped


def _raise_problem(root: Any) -> Any:
    """Finds the first problem in `root` and raises the error that names its path."""
    problem = find_problem(root)
    if problem is None:  # pragma: no cover - the encoder only calls this on a problem
        raise UnsupportedValueError("Value cannot be committed.")
    kind, path, bad = problem
    if type(root).__dict__.get("__enact_builtin__") and path.startswith("$.wrapped"):
        path = "$" + path[len("$.wrapped") :]  # a bare value committed in its wrapper
    shown = _shorten(path)
    if kind == "cycle":
        raise CycleError(
            f"Cannot commit a value that contains itself: the {type(bad).__name__} at "
            f"{shown} is also one of its own containers. Commit the inner value first and "
            "store its Ref instead.",
            path=path,
        )
    if kind == "key":
        raise UnsupportedValueError(
            f"Dict at {shown} has a key of type {_type_name(type(bad))} ({bad!r}); dict "
            "keys must be str. Convert the keys to str, or store a list of pairs.",
            path=path,
            value_type=type(bad),
        )
    raise UnsupportedValueError(
        f"Cannot commit value of type {_type_name(type(bad))} at {shown}: enact stores "
        f"{_SUPPORTED}. Register a ResourceWrapper for {_type_name(type(bad))} (subclass "
        "enact.ResourceWrapper, return the type from wrapped_type(), decorate it with "
        "@enact.register) or convert the value.",
        path=path,
        value_type=type(bad),
    )


def _type_name(t: type) -> str:
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


_LEAF_TYPES: Final = (int, float, bool, str, bytes, type(None))


def find_problem(root: Any) -> tuple[str, str, Any] | None:
    """Returns ``(kind, path, value)`` of the first value in `root` that cannot be
    stored (kind ``"type"``, ``"key"`` or ``"cycle"``), or None."""
    # Each visited node records its parent and the step from it; the path string
    # is built only for the problem found, so deep values stay linear.
    steps: list[tuple[int, str]] = [(-1, "$")]
    pending: list[tuple[Any, int, bool]] = [(root, 0, False)]
    on_path: set[int] = set()
    while pending:
        v, node, leaving = pending.pop()
        if leaving:
            on_path.discard(id(v))
            continue
        t = type(v)
        if t in _LEAF_TYPES:
            continue
        children: list[tuple[Any, str]]
        if t is list:
            children = [(item, f"[{i}]") for i, item in enumerate(v)]
        elif t is dict:
            for key in v:
                if type(key) is not str:
                    return "key", _path(steps, node), key
            children = [(item, f"[{key!r}]") for key, item in v.items()]
        elif isinstance(v, type):
            if issubclass(v, Resource):
                continue
            return "type", _path(steps, node), v
        elif registry.function_info(v) is not None:
            continue
        else:
            if not isinstance(v, Resource):
                wrapper = registry.wrapper_for(t)
                if wrapper is None:
                    return "type", _path(steps, node), v
                v = wrapper.wrap(v)  # type: ignore[attr-defined]
            info = class_info(type(v))
            if info.kind == _KIND_REF:
                continue
            children = [(getattr(v, name), f".{name}") for name in info.field_names]
        if id(v) in on_path:
            return "cycle", _path(steps, node), v
        on_path.add(id(v))
        pending.append((v, node, True))
        for child, step in reversed(children):
            steps.append((node, step))
            pending.append((child, len(steps) - 1, False))
    return None


def _path(steps: list[tuple[int, str]], node: int) -> str:
    parts: list[str] = []
    while node >= 0:
        node, step = steps[node]
        parts.append(step)
    return "".join(reversed(parts))


def _shorten(path: str) -> str:
    """The path as shown in messages: very deep paths keep their two ends."""
    if len(path) <= 300:
        return path
    return f"{path[:150]}...({len(path) - 270} characters)...{path[-120:]}"


# Decoding ------------------------------------------------------------------

_INT_RE: Final = re.compile(rb"-?[0-9]+")
_FLOAT_RE: Final = re.compile(rb"-?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)")
_SQ_RE: Final = re.compile(rb"'([^'\\]*(?:\\.[^'\\]*)*)'", re.S)
_DQ_RE: Final = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_BYTES_LEN_RE: Final = re.compile(rb"([0-9]+):")
_INT_LIST_RE: Final = re.compile(rb"(?:i-?[0-9]{1,4000})+\]")
_LIST: Final = object()
_MAP: Final = object()


def _parse_int(digits: bytes) -> int:
    try:
        return int(digits)
    except ValueError:
        return decimal_to_int(digits.decode("ascii"))


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
            info = resolve_type_id(data[4:close])
            flat = _flat_patterns.get(info)
            if flat is None:
                flat = _flat_patterns[info] = _flat_pattern(info)
            m = flat.fullmatch(data, close)
            if m is not None:
                return _finish_flat(info, m.groups())
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
            m = _INT_RE.match(data, pos + 1)
            val: Any = _parse_int(m.group())  # type: ignore[union-attr]
            pos = m.end()  # type: ignore[union-attr]
        elif c == 0x73:  # s' s" or seq[
            q = data[pos + 1]
            if q == 0x65:
                if data[pos : pos + 4] != b"seq[":
                    raise DecodeError(f"unknown token at byte {pos}")
                pos += 4
                if data[pos] == 0x69:
                    m = _INT_LIST_RE.match(data, pos)
                    if m is not None:
                        digits = data[pos + 1 : m.end() - 1].split(b"i")
                        try:
                            val = [int(x) for x in digits]
                        except ValueError:  # a lowered sys.set_int_max_str_digits limit
                            val = [_parse_int(x) for x in digits]
                        pos = m.end()
                        if frame is None:
                            break
                        if frame is _LIST:
                            cont.append(val)
                        else:
                            cont[key] = val
                        continue
                stack.append((cont, frame, key))
                cont = []
                frame = _LIST
                continue
            m = (_SQ_RE if q == 0x27 else _DQ_RE).match(data, pos + 1)
            if m is None:
                raise DecodeError(f"unterminated string at byte {pos}")
            val = unquote_body(m.group(1).decode("utf-8"))
            pos = m.end()
        elif c == 0x27 or c == 0x22:  # a key inside map[ or res[
            m = (_SQ_RE if c == 0x27 else _DQ_RE).match(data, pos)
            if m is None or frame is _LIST or frame is None:
                raise DecodeError(f"unexpected key at byte {pos}")
            key = unquote_body(m.group(1).decode("utf-8"))
            pos = m.end()
            continue
        elif c == 0x5D:  # ]
            pos += 1
            val = cont if frame is _LIST or frame is _MAP else _finish_resource(frame, cont)
            cont, frame, key = stack.pop()
        elif c == 0x72:  # res[
            close = data.index(b"}", pos) + 1
            if data[pos : pos + 4] != b"res[":
                raise DecodeError(f"unknown token at byte {pos}")
            info = resolve_type_id(data[pos + 4 : close])
            flat = _flat_patterns.get(info)
            if flat is None:
                flat = _flat_patterns[info] = _flat_pattern(info)
            m = flat.match(data, close)
            if m is None:
                pos = close
                stack.append((cont, frame, key))
                cont = {}
                frame = info
                continue
            val = _finish_flat(info, m.groups())
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
            m = _FLOAT_RE.match(data, pos + 1)
            val = float(m.group())  # type: ignore[union-attr]
            pos = m.end()  # type: ignore[union-attr]
        elif c == 0x62:  # b
            m = _BYTES_LEN_RE.match(data, pos + 1)
            if m is None:
                raise DecodeError(f"malformed bytes at byte {pos}")
            start = m.end()
            stop = start + int(m.group(1))
            if stop > end:
                raise DecodeError(f"bytes value at byte {pos} runs past the end")
            val = data[start:stop]
            pos = stop
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


_FLAT_PRIMITIVE: Final = (
    rb"s'[^'\\]*'|s\"[^\"\\]*\"|i-?[0-9]{1,4000}|n|T|F|seq\[\]|map\[\]"
    rb"|f-?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)"
    rb"|res\[\{\"name\": \"enact\.references\.Ref\"\}'digest's'[0-9a-f]{64}'\]"
)
_OUTPUT_PREFIX: Final = b'res[{"name": "enact.invocations.Output"}\'value\''
_FLAT_VALUE: Final = (
    b"(" + _FLAT_PRIMITIVE + b"|" + re.escape(_OUTPUT_PREFIX) + b"(?:" + _FLAT_PRIMITIVE + rb")\])"
)
_flat_patterns: dict[registry.ClassInfo, re.Pattern[bytes]] = {}


def _flat_pattern(info: registry.ClassInfo) -> re.Pattern[bytes]:
    """A regex matching the fields of `info` when each holds a primitive or a plain Ref.

    Most stored resources have this shape; one C-level match replaces the
    token-by-token loop for them.
    """
    body = b"".join(re.escape(qname.encode("utf-8")) + _FLAT_VALUE for qname in info.qnames)
    return re.compile(body + rb"\]")


def _finish_flat(info: registry.ClassInfo, tokens: tuple[bytes, ...]) -> Any:
    values: dict[str, Any] = {}
    for attr, token in zip(info.sorted_attrs, tokens, strict=True):
        c = token[0]
        if c == 0x73 and token[1] != 0x65:  # s' or s" (not seq[])
            values[attr] = token[2:-1].decode("utf-8")
        elif c == 0x69:  # i
            values[attr] = _parse_int(token[1:])
        else:
            values[attr] = _flat_value(token)
    kind = info.kind
    if kind == _KIND_RESOURCE:
        return build(info.cls, values)
    return _finish_resource(info, values)


def _flat_value(token: bytes) -> Any:
    c = token[0]
    if c == 0x73:  # s
        return [] if token[1] == 0x65 else token[2:-1].decode("utf-8")
    if c == 0x6D:  # map[]
        return {}
    if c == 0x69:  # i
        return _parse_int(token[1:])
    if c == 0x6E:  # n
        return None
    if c == 0x54:  # T
        return True
    if c == 0x46:  # F
        return False
    if c == 0x66:  # f
        return float(token[1:])
    if token.startswith(_OUTPUT_PREFIX):
        info = registry._by_type_id[_OUTPUT_TYPE_ID]
        return build(info.cls, {"value": _flat_value(token[len(_OUTPUT_PREFIX) : -1])})
    return _plain_ref(token[-66:-2].decode("ascii"))


def _plain_ref(digest: str) -> Any:
    ref_class: Any = registry._by_type_id[_REF_TYPE_ID].cls
    return ref_class._unchecked(digest)


_REF_TYPE_ID: Final = b'{"name": "enact.references.Ref"}'
_REF_TOKEN_HEAD: Final = "res[" + _REF_TYPE_ID.decode("ascii") + "'digest's'"
_REF_TOKEN_TAIL: Final = "']"
_OUTPUT_TYPE_ID: Final = b'{"name": "enact.invocations.Output"}'


def _finish_resource(info: registry.ClassInfo, values: dict[str, Any]) -> Any:
    if tuple(values) != info.sorted_attrs:
        raise DecodeError(
            f"stored fields {sorted(values)} do not match the fields of {info.name} "
            f"{list(info.sorted_attrs)}"
        )
    kind = info.kind
    if kind == _KIND_FUNCTION:
        return info.obj
    obj = build(info.cls, values)
    if kind == registry.KIND_WRAPPER:
        return obj.unwrap()
    if kind == _KIND_REF and not is_digest(values.get("digest")):
        raise DecodeError(f"{info.name} holds a malformed digest")
    return obj


def scan_links(data: bytes) -> list[str]:
    """Returns the digests of the refs held by a stored token stream, in order.

    Needs no registered classes: refs are recognised by their type id alone.
    """
    links: list[str] = []
    pos = 0
    end = len(data)
    while pos < end:
        c = data[pos]
        if c == 0x72:  # res[
            close = data.index(b"}", pos) + 1
            type_id = data[pos + 4 : close]
            pos = close
            if registry.is_ref_type_id(type_id):
                m = _SQ_RE.match(data, pos)
                if m is None or m.group(1) != b"digest" or data[m.end()] != 0x73:
                    raise DecodeError(f"malformed ref at byte {pos}")
                value = _SQ_RE.match(data, m.end() + 1)
                if value is None:
                    raise DecodeError(f"malformed ref at byte {pos}")
                links.append(value.group(1).decode("ascii"))
                pos = value.end()
        elif c == 0x73 and data[pos + 1] != 0x65:
            m = (_SQ_RE if data[pos + 1] == 0x27 else _DQ_RE).match(data, pos + 1)
            if m is None:
                raise DecodeError(f"unterminated string at byte {pos}")
            pos = m.end()
        elif c == 0x27 or c == 0x22:
            m = (_SQ_RE if c == 0x27 else _DQ_RE).match(data, pos)
            if m is None:
                raise DecodeError(f"unterminated key at byte {pos}")
            pos = m.end()
        elif c == 0x62:  # b
            m = _BYTES_LEN_RE.match(data, pos + 1)
            if m is None:
                raise DecodeError(f"malformed bytes at byte {pos}")
            pos = m.end() + int(m.group(1))
        elif c == 0x74:  # type[
            pos = data.index(b"}", pos) + 2
        else:
            pos += 1
    return links
