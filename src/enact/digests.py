"""The pieces of the digest format (v1) that do not depend on any class.

The format itself (type ids, tokens, quoting) is specified in the project's
``docs/FORMAT.md``. This module holds the primitive spellings: quoted strings,
integers of any size, type ids, and the SHA-256 helpers. The walk that turns a
whole value into a token stream lives in `enact.encoding`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Final

from enact.errors import InvalidDigestError

FORMAT_VERSION: Final = 1

DIGEST_HEX_LENGTH: Final = 64
HEX_DIGITS: Final = "0123456789abcdef"
"""The digits of a digest (lower-case only)."""


@functools.cache
def _escape_table(quote: str) -> dict[int, str]:
    """The `str.translate` table of text quoted with `quote` (built when first needed:
    its 2,100 entries cost more than importing this module otherwise does)."""
    table: dict[int, str] = {cp: f"\\x{cp:02x}" for cp in range(0x20)}
    table[0x7F] = "\\x7f"
    table[ord("\n")] = "\\n"
    table[ord("\r")] = "\\r"
    table[ord("\t")] = "\\t"
    table[ord("\\")] = "\\\\"
    table[ord(quote)] = "\\" + quote
    for cp in range(0xD800, 0xE000):
        table[cp] = f"\\u{cp:04x}"
    return table


def quote(text: str) -> str:
    """Returns `text` quoted as the format specifies.

    For ASCII text this is exactly ``repr(text)``; for other text it does not
    depend on the Unicode database of the running Python: only control
    characters, the backslash, the quote and lone surrogates are escaped.
    """
    if text.isascii():
        return repr(text)
    if "'" in text and '"' not in text:
        return '"' + text.translate(_escape_table('"')) + '"'
    return "'" + text.translate(_escape_table("'")) + "'"


_UNESCAPE_RE: Final = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt\\'\"])")
_SIMPLE_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(1)
    simple = _SIMPLE_ESCAPES.get(code)
    if simple is not None:
        return simple
    return chr(int(code[1:], 16))


def unquote_body(body: str) -> str:
    """Returns the text inside a quoted string (quotes already removed)."""
    if "\\" not in body:
        return body
    return _UNESCAPE_RE.sub(_unescape_one, body)


def int_to_decimal(value: int) -> str:
    """Returns the decimal digits of `value`, for ints of any size.

    `str(int)` refuses ints above ``sys.get_int_max_str_digits()`` digits; the
    format needs every int, so large ones are split into chunks that each stay
    below the limit.
    """
    try:
        return str(value)
    except ValueError:
        pass
    if value < 0:
        return "-" + int_to_decimal(-value)
    chunk_digits = 1000
    base = 10**chunk_digits
    chunks: list[int] = []
    while value:
        value, low = divmod(value, base)
        chunks.append(low)
    head = str(chunks[-1])
    return head + "".join(str(chunk).zfill(chunk_digits) for chunk in reversed(chunks[:-1]))


_DECIMAL_CHUNK = 600  # digits int() converts at once (below the lowest int-to-str limit, 640)


def decimal_to_int(digits: str) -> int:
    """Parses decimal digits of any length (the inverse of `int_to_decimal`).

    Long inputs are split in halves and joined by multiplication (Karatsuba in
    CPython): a 3,000,000-digit int takes seconds, where ``int()`` of the text
    is quadratic and takes minutes.
    """
    if len(digits) <= _DECIMAL_CHUNK:
        return int(digits)
    negative = digits.startswith("-")
    if negative:
        digits = digits[1:]
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"not a decimal integer: {digits[:40]!r}")
    powers: dict[int, int] = {}
    # (lo, hi, False): convert digits[lo:hi]; (0, shift, True): join the last two values.
    stack: list[tuple[int, int, bool]] = [(0, len(digits), False)]
    values: list[int] = []
    while stack:
        lo, hi, combine = stack.pop()
        if combine:
            low_value = values.pop()
            high_value = values.pop()
            power = powers.get(hi)
            if power is None:
                power = powers[hi] = 10**hi
            values.append(high_value * power + low_value)
            continue
        size = hi - lo
        if size <= _DECIMAL_CHUNK:
            values.append(int(digits[lo:hi]))
            continue
        low = _DECIMAL_CHUNK  # the low part: a power-of-two multiple, so powers repeat
        while low * 2 < size:
            low *= 2
        middle = hi - low
        stack.append((0, low, True))
        stack.append((middle, hi, False))
        stack.append((lo, middle, False))
    (value,) = values
    return -value if negative else value


def type_id_for(name: str, field_names: list[str] | tuple[str, ...]) -> str:
    """Returns the type id of a resource class called `name` with these fields."""
    hasher = hashlib.sha256(name.encode("utf-8"))
    for field_name in sorted(field_names):
        hasher.update(quote(field_name).encode("utf-8"))
    return json.dumps({"digest": hasher.hexdigest(), "name": name}, sort_keys=True)


def builtin_type_id(name: str) -> str:
    """Returns the type id of a format constant (Ref and the primitive wrappers)."""
    return json.dumps({"name": name}, sort_keys=True)


def sha256_hex(data: bytes) -> str:
    """Returns the lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def is_digest(text: object) -> bool:
    """Returns whether `text` is 64 lower-case hexadecimal characters."""
    return (
        isinstance(text, str)
        and len(text) == DIGEST_HEX_LENGTH
        and text.isascii()
        and not text.strip(HEX_DIGITS)
    )


def check_digest(text: object) -> str:
    """Returns `text` if it is a well-formed digest; raises `InvalidDigestError` otherwise."""
    if is_digest(text):
        assert isinstance(text, str)
        return text
    shown = repr(text) if not isinstance(text, str) or len(text) < 80 else repr(text[:80]) + "..."
    raise InvalidDigestError(
        f"Invalid digest {shown}: a digest is exactly 64 lower-case hexadecimal characters "
        "(the SHA-256 printed by `print(ref)` or `ref.digest`)."
    )
