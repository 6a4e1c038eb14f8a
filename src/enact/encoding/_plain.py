"""What plain data (JSON-like values) reads back as, without encoding and decoding it.

A journaled call's caller gets its output as a replay will read it from the
journal: dicts with their keys in stored order, a fresh copy. For the values
most calls return (dicts with str keys, lists, str, int, float, bool, None)
that is a sorted copy, made here several times faster than a decode of the
tokens; anything else takes the decoder (`PLAIN_ONLY` says it must).
"""

from __future__ import annotations

from typing import Any, Final

PLAIN_ONLY: Final = object()
"""Returned by `read_back_plain` for a value that is not plain data."""

_DEPTH: Final = 16
_LEAVES: Final = frozenset({str, int, float, bool, type(None)})


def read_back_plain(value: Any) -> Any:
    """A copy of `value` as decoding its tokens would give it, or `PLAIN_ONLY`.

    Only for dicts with str keys, lists and the primitives (nested up to a
    small depth); equal to ``decode(encode(value))`` for those.
    """
    try:
        return _copy(value, 0)
    except _NotPlain:
        return PLAIN_ONLY


class _NotPlain(Exception):
    """Internal: the value holds something other than plain data."""


_NOT_PLAIN: Final = _NotPlain()


def _copy(value: Any, depth: int) -> Any:
    t = type(value)
    if t in _LEAVES:
        return value
    if depth > _DEPTH:
        raise _NOT_PLAIN
    if t is list:
        return [x if type(x) in _LEAVES else _copy(x, depth + 1) for x in value]
    if t is dict:
        for key in value:
            if type(key) is not str:
                raise _NOT_PLAIN
        return {
            key: x if type(x) in _LEAVES else _copy(x, depth + 1)
            for key, x in sorted(value.items())
        }
    raise _NOT_PLAIN
