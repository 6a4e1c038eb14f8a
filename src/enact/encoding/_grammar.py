"""The token patterns every reader of the format shares (docs/FORMAT.md).

Writers spell tokens inline for speed; readers match them with these patterns,
so that the decoder, the link scanner and the raw reader read one grammar.
"""

from __future__ import annotations

import re
from typing import Final

from enact.digests import decimal_to_int
from enact.errors import DecodeError

INT_RE: Final = re.compile(rb"-?[0-9]+")
FLOAT_RE: Final = re.compile(rb"-?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)")
SQ_RE: Final = re.compile(rb"'([^'\\]*(?:\\.[^'\\]*)*)'", re.S)
DQ_RE: Final = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
QUOTED: Final = {0x27: SQ_RE, 0x22: DQ_RE}
BYTES_LEN_RE: Final = re.compile(rb"([0-9]+):")
INT_LIST_RE: Final = re.compile(rb"(?:i-?[0-9]{1,4000})+\]")

BIG_INT: Final = 10**4000
"""Ints strictly between -BIG_INT and BIG_INT are below Python's default int-to-str limit."""

REF_FIELD: Final = "digest"
"""The one field of every Ref class: ``res[<type id>'digest's'<64 hex>']``."""

FLAT_PRIMITIVE: Final = (
    rb"s'[^'\\]*'|s\"[^\"\\]*\"|i-?[0-9]{1,4000}|n|T|F|seq\[\]|map\[\]"
    rb"|f-?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)"
)
"""A primitive token without escapes, or an empty list or dict."""


def read_bytes(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """The value of the ``b<length>:`` token at `pos` and the position after it.

    Raises:
        DecodeError: The length is malformed, or the value runs past `end`.
    """
    match = BYTES_LEN_RE.match(data, pos + 1)
    if match is None:
        raise DecodeError(f"malformed bytes at byte {pos}")
    start = match.end()
    stop = start + int(match.group(1))
    if stop > end:
        raise DecodeError(f"bytes value at byte {pos} runs past the end")
    return data[start:stop], stop


def parse_int(digits: bytes) -> int:
    """The int of an ``i`` token's digits, also beyond the int-to-str digit limit."""
    if len(digits) <= 4000:
        try:
            return int(digits)
        except ValueError:  # beyond a lowered int-to-str limit
            pass
    # Longer: int() is quadratic (and refused beyond Python's int-to-str limit).
    return decimal_to_int(digits.decode("ascii"))
