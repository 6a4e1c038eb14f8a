"""The link scanner: the digests a stored token stream refers to, without its classes."""

from __future__ import annotations

import re
from typing import Final

from enact import registry
from enact.errors import DecodeError

from ._grammar import BYTES_LEN_RE, QUOTED, REF_FIELD

_REF_BODY_RE: Final = re.compile(b"'" + REF_FIELD.encode("ascii") + rb"'s'([0-9a-f]{64})'")


def scan_links(data: bytes) -> list[str]:
    """Returns the digests of the refs held by a stored token stream, in order.

    Needs no registered classes: refs are recognised by their type id alone
    (`enact.registry.is_ref_type_id`). Every digest is checked to be 64
    lower-case hex characters, so callers can use it as a key or a path.

    Raises:
        DecodeError: The bytes are not a well-formed token stream, or a ref in
            it holds no well-formed digest.
    """
    try:
        return _scan(data)
    except DecodeError:
        raise
    except (IndexError, KeyError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise DecodeError(f"malformed token stream ({err!r})") from err


def _scan(data: bytes) -> list[str]:
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
                # One match reads the field and checks the digest (64 lower-case hex).
                m = _REF_BODY_RE.match(data, pos)
                if m is None:
                    raise DecodeError(
                        f"the ref at byte {pos} does not hold a well-formed digest field"
                    )
                links.append(m.group(1).decode("ascii"))
                pos = m.end()
        elif c == 0x73 and data[pos + 1] != 0x65:  # s' or s" (not seq[)
            m = QUOTED[data[pos + 1]].match(data, pos + 1)
            if m is None:
                raise DecodeError(f"unterminated string at byte {pos}")
            pos = m.end()
        elif c == 0x27 or c == 0x22:
            m = QUOTED[c].match(data, pos)
            if m is None:
                raise DecodeError(f"unterminated key at byte {pos}")
            pos = m.end()
        elif c == 0x62:  # b
            m = BYTES_LEN_RE.match(data, pos + 1)
            if m is None:
                raise DecodeError(f"malformed bytes at byte {pos}")
            pos = m.end() + int(m.group(1))
        elif c == 0x74:  # type[
            pos = data.index(b"}", pos) + 2
        else:
            pos += 1
    return links
