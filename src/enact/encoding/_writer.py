"""The general walk: one iterative pass turns any storable value into its tokens.

`encode` first tries the fast writers of `enact.encoding._spell`, which cover
what journals are made of; everything else (deep nesting, cycles, bytes,
wrapped values, huge ints, errors to report) takes the general walk, whose
nesting depth is limited by memory, not by Python's recursion limit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Final

from enact import registry
from enact.digests import int_to_decimal, quote
from enact.errors import CycleError, UnsupportedValueError
from enact.resources import Resource, class_info

from ._declared import declared
from ._grammar import REF_FIELD
from ._problems import find_problem, raise_problem
from ._spell import _FLAT_MIN, ascii_literal, choose_speller, flat_dict, flat_list, spell

_lookup_class: Final = registry.lookup_class
_EMPTY_PREFIXES: Final = itertools.repeat("")
_KIND_REF: Final = registry.KIND_REF
_REF_BODY: Final = "'" + REF_FIELD + "'s'"
_spellers: Final = declared.spellers


def encode(value: Any) -> tuple[bytes, list[str]]:
    """Returns the token stream of `value` and the digests of the refs inside it.

    Raises:
        UnsupportedValueError: A value, or a dict key, of a type enact cannot store.
        CycleError: The value contains itself.
    """
    links: list[str] = []
    try:
        info = _lookup_class(type(value))
        if info is not None and info.kind != _KIND_REF:
            # Most commits are of a resource: go straight to its class's speller.
            speller = _spellers.get(info)
            if speller is None:
                speller = choose_speller(info)
            spelled = speller(value, links, 1)
        else:
            spelled = spell(value, links, 0)
    except ValueError:  # an int above a lowered sys.set_int_max_str_digits limit
        spelled = None
    if spelled is not None:
        return spelled.encode("utf-8"), links
    return walk(value)


def walk(value: Any) -> tuple[bytes, list[str]]:
    """`encode` without the fast writers: the reference the fast paths are tested against."""
    links: list[str] = []
    parts: list[str] = []
    app = parts.append
    chunks: list[bytes] | None = None
    stack: list[tuple[Iterator[tuple[str, Any]], int]] = []
    # The containers being walked, kept alive: a wrapper made on the way (a tuple's
    # TupleWrapper) would otherwise be freed and its id, still in `on_path`, reused
    # by the next wrapper, which would then look like a cycle.
    open_values: list[Any] = []
    on_path: set[int] = set()
    alive: list[Any] = []
    it: Iterator[tuple[str, Any]] = iter((("", value),))
    oid = 0
    while True:
        for prefix, v in it:
            if prefix:
                app(prefix)
            t = type(v)
            if t is str:
                app("s" + (ascii_literal(v) if v.isascii() else quote(v)))
                continue
            if t is int:
                try:
                    app("i" + str(v))
                except ValueError:
                    app("i" + int_to_decimal(v))
                continue
            if t is float:
                app("f" + repr(v))
                continue
            if t is bool:
                app("T" if v else "F")
                continue
            if v is None:
                app("n")
                continue
            # A container: spell it flat, or open it and walk its items.
            opener: str
            items: Iterator[tuple[str, Any]]
            if t is list:
                if len(v) > _FLAT_MIN:
                    flat = flat_list(v)
                    if flat is not None:
                        app(flat)
                        continue
                opener = "seq["
                items = zip(_EMPTY_PREFIXES, v, strict=False)
            elif t is dict and v and set(map(type, v)) != {str}:
                # Keys that are not all str: the dict is stored as its wrapper
                # resource, but it is the dict that is on the path (a value
                # holding the dict again is a cycle, not a new wrapper).
                if id(v) in on_path:
                    raise_problem(value)
                wrapped = _wrap_keyed(v, value)
                alive.append(wrapped)
                info = _lookup_class(type(wrapped))
                assert info is not None
                opener = info.prefix
                items = zip(info.qnames, info.getter(wrapped), strict=True)
            elif t is dict:
                keys = sorted(v) if v else []
                if len(keys) > _FLAT_MIN:
                    flat = flat_dict(v, keys)
                    if flat is not None:
                        app(flat)
                        continue
                opener = "map["
                items = zip(
                    [repr(k) if k.isascii() else quote(k) for k in keys],
                    map(v.get, keys),
                    strict=True,
                )
            elif t is bytes:
                if chunks is None:
                    chunks = []
                chunks.append("".join(parts).encode("utf-8"))
                parts.clear()
                chunks.append(b"b%d:" % len(v))
                chunks.append(v)
                continue
            else:
                info = _lookup_class(t)
                if info is None:
                    resolved = _resolve_other(v, value)
                    if isinstance(resolved, str):
                        app(resolved)
                        continue
                    info, v = resolved
                    # A wrapper made here must live until the walk ends: its id()
                    # is on the path, and a freed wrapper's id can come back as a
                    # later wrapper's, which would look like a cycle.
                    alive.append(v)
                if info.kind == _KIND_REF:
                    digest = v.digest
                    app(info.prefix + _REF_BODY + digest + "']")
                    links.append(digest)
                    continue
                opener = info.prefix
                items = zip(info.qnames, info.getter(v), strict=True)
            child = id(v)
            if child in on_path:
                raise_problem(value)
            on_path.add(child)
            open_values.append(v)
            app(opener)
            stack.append((it, oid))
            oid = child
            it = items
            break
        else:
            if not stack:
                break
            app("]")
            on_path.discard(oid)
            open_values.pop()
            it, oid = stack.pop()
    if chunks is None:
        return "".join(parts).encode("utf-8"), links
    chunks.append("".join(parts).encode("utf-8"))
    return b"".join(chunks), links


def _wrap_keyed(mapping: dict[Any, Any], root: Any) -> Any:
    """The wrapper resource of a dict whose keys are not all str."""
    wrap = declared.keyed_dict
    if wrap is None:  # pragma: no cover - enact.wrappers declares it on import
        return raise_problem(root)
    try:
        return wrap(mapping)
    except (UnsupportedValueError, CycleError):
        if find_problem(root) is not None:
            raise_problem(root)  # the same error, with the path of the bad key
        raise


def _resolve_other(v: Any, root: Any) -> str | tuple[registry.ClassInfo, Any]:
    """Handles a value that is not a primitive, list, dict or known resource class.

    Returns either a finished token (resource classes, registered functions) or
    the class info and resource (possibly a wrapper) to walk.
    """
    if isinstance(v, Resource):
        return class_info(type(v)), v
    if isinstance(v, type):
        registered = registry.lookup_class(v)  # also pydantic models and attrs classes
        if issubclass(v, Resource) or (
            registered is not None and registered.kind == registry.KIND_RESOURCE
        ):
            return "type[" + class_info(v).type_id + "]"
        raise_problem(root)
    function = registry.function_info(v)
    if function is not None:
        return function.prefix + "]"
    wrapper: Any = registry.wrapper_for(type(v))
    if wrapper is None:
        raise_problem(root)
    wrapped = wrapper.wrap(v)
    return class_info(type(wrapped)), wrapped
