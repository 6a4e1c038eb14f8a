"""What a value reads back as, for the values journaled calls return, without the codec.

A journaled call's caller gets its output as a replay will read it from the
journal: a fresh copy, dicts with their keys in stored order. For what most
calls return (str-keyed dicts, lists, primitives, resources of the current
classes, refs, tuples, enum members, UUIDs, Decimals, paths) that copy is
made here, several times faster than decoding the tokens; anything else
(sets, dicts with other keys, values of user wrappers, deep nesting) makes
`read_back` return `DECODE`, and the caller decodes.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from enact import registry
from enact.resources import build

DECODE: Final = object()
"""Returned by `read_back` for a value only the decoder reads back faithfully."""

_DEPTH: Final = 16
_LEAVES: Final = frozenset({str, int, float, bool, type(None), bytes})
_IMMUTABLE_MODULES: Final = {
    "UUID": "uuid",
    "Decimal": "decimal",
    **dict.fromkeys(("PurePosixPath", "PureWindowsPath", "PosixPath", "WindowsPath"), "pathlib"),
}
"""Wrapped standard-library types whose values read back equal and immutable: each
class's module, by class name. Importing enact does not import these modules (a value of
such a type means its module was)."""
_immutable: Final[set[type]] = set()
"""The types of `_IMMUTABLE_MODULES` met so far."""
_KIND_RESOURCE: Final = registry.KIND_RESOURCE
_KIND_REF: Final = registry.KIND_REF
_KIND_FUNCTION: Final = registry.KIND_FUNCTION


def read_back(value: Any) -> Any:
    """What ``decode(encode(value))`` gives, without the codec, or `DECODE`.

    Equal to the decoded value, of the same types, dicts in the same order
    (field annotations are not checked, as the decoder checks them).
    """
    try:
        return _copy(value, 0)
    except _Decode:
        return DECODE


class _Decode(Exception):
    """Internal: the value needs the decoder."""


_NEEDS_DECODE: Final = _Decode()


def _copy(value: Any, depth: int) -> Any:
    t = type(value)
    if t in _LEAVES:
        return value
    if depth > _DEPTH:
        raise _NEEDS_DECODE
    depth += 1
    if t is list:
        return [x if type(x) in _LEAVES else _copy(x, depth) for x in value]
    if t is dict:
        for key in value:
            if type(key) is not str:
                raise _NEEDS_DECODE
        return {
            key: x if type(x) in _LEAVES else _copy(x, depth) for key, x in sorted(value.items())
        }
    if t is tuple:
        return tuple([x if type(x) in _LEAVES else _copy(x, depth) for x in value])
    if t in _immutable or isinstance(value, enum.Enum):
        return value
    info = registry.lookup_class(t)
    if info is None:
        if isinstance(value, type) or registry.function_info(value) is not None:
            return value  # a resource class or a registered function: itself
        if _is_immutable(t):
            return value
        raise _NEEDS_DECODE
    kind = info.kind
    if kind != _KIND_RESOURCE and kind != _KIND_REF:
        raise _NEEDS_DECODE
    values = {
        name: x if type(x) in _LEAVES else _copy(x, depth)
        for name, x in zip(info.sorted_attrs, info.getter(value), strict=True)
    }
    # Field annotations are not checked here (the decoder checks them): a value
    # that does not fit is a problem of its replay, not of this run.
    return build(info.cls, values)


def _is_immutable(t: type) -> bool:
    """Whether `t` is one of the types of `_IMMUTABLE_MODULES` (then kept in `_immutable`)."""
    if not registry.is_loaded_type(t, _IMMUTABLE_MODULES):
        return False
    _immutable.add(t)
    return True
