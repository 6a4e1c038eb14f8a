"""Opening a stored object: the one place that unpacks, hashes, compares and reads links.

Every reader of stored bytes -- checkout (`enact.Store`), `enact.copy` and
`enact.verify` -- goes through `open_verified`, as every reader of a git object
goes through dulwich's ``ShaFile.from_raw_string(..., verify_sha=...)``: so a
change to the stored form, or a new check, is made once and no reader can skip
it. Bytes that fail a check raise `CorruptObjectError` with the digest, the
location and (as ``detail``) what was wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

from enact.digests import check_digest
from enact.encoding import DecodeError, scan_links
from enact.errors import CorruptObjectError, UnknownTypeError
from enact.refs import PACKED_PREFIX, open_object, parse_packed_header
from enact.stores.base import PackedResource
from enact.stores.stored_form import COMPRESSED_PREFIXES, decompress


@dataclasses.dataclass(frozen=True, slots=True)
class OpenedObject:
    """A stored object that passed `open_verified`.

    Attributes:
        tokens: The token stream, which hashes to the object's digest.
        links: The digests the object refers to, read from the verified
            `tokens` (and found equal to what the packing header and the
            backend recorded); None unless links were asked for.
    """

    tokens: bytes
    links: tuple[str, ...] | None


def open_verified(
    packed: PackedResource,
    locate: Callable[[str], str],
    *,
    links: bool = False,
) -> OpenedObject:
    """Unpacks `packed`, checks that it hashes to its digest, and reads its links.

    Args:
        packed: What the backend returned.
        locate: The backend's `locate`, for messages (called only when needed).
        links: Also read the links from the verified bytes and check them
            against the packing header and the backend's link index (which gc
            and copy trust).

    Raises:
        CorruptObjectError: The bytes do not hash to the digest, the packing
            header or the refs inside cannot be read, or the recorded links
            disagree with the content.
        UnknownTypeError: The packing's Ref class is not defined in this process
            (e.g. encryption without its key); `packed_links` still reads the
            links from the packing header.
    """
    tokens = verified_tokens(packed, locate)
    if not links:
        return OpenedObject(tokens, None)
    header_links = None
    if packed.data.startswith(PACKED_PREFIX):
        header_links = packed_links(packed, locate)
    try:
        found = tuple(scan_links(tokens))
    except (DecodeError, ValueError, IndexError) as err:
        raise corrupt_error(
            packed, locate, f"it hashes correctly but its refs cannot be read ({err})"
        ) from err
    if header_links is not None and header_links != found:
        raise corrupt_error(packed, locate, "its packing header lists other links than its content")
    if packed.links is not None and tuple(packed.links) != found:
        raise corrupt_error(packed, locate, "the backend's link index disagrees with its content")
    return OpenedObject(tokens, found)


def verified_tokens(packed: PackedResource, locate: Callable[[str], str]) -> bytes:
    """The token stream of `packed`, unpacked and checked to hash to its digest: what
    `open_verified` opens, without its links (the store's checkout reads only this).

    Raises:
        CorruptObjectError: As `open_verified`.
        UnknownTypeError: As `open_verified`.
    """
    digest = packed.digest
    data = packed.data
    if data.startswith(PACKED_PREFIX):
        tokens = open_object(data, digest, locate(digest))
    elif data.startswith(COMPRESSED_PREFIXES):
        try:
            tokens = decompress(data)
        except ValueError as err:
            raise corrupt_error(packed, locate, str(err)) from err
    else:
        tokens = data
    actual = hashlib.sha256(tokens).hexdigest()
    if actual != digest:
        raise corrupt_error(packed, locate, f"its {len(tokens)} bytes hash to {actual}")
    return tokens


def intact(packed: PackedResource, locate: Callable[[str], str]) -> bool:
    """Whether stored bytes pass `open_verified` (links included): what a re-commit checks.

    A backend asked to commit a digest it already holds, with other bytes than
    it stores, calls this on the stored bytes: if they do not verify, the
    commit replaces them (a re-commit, or `enact copy` from a good store,
    repairs a damaged object). Bytes that cannot be checked in this process
    (packed with a packing whose Ref class is not defined here) count as
    intact: they are kept, never overwritten on a guess. Never raises.
    """
    if not isinstance(packed.data, bytes):  # a damaged row (TEXT, a number)
        return False
    try:
        open_verified(packed, locate, links=True)
    except UnknownTypeError:
        return True
    except (CorruptObjectError, ValueError, TypeError):
        return False
    return True


def packed_links(packed: PackedResource, locate: Callable[[str], str]) -> tuple[str, ...]:
    """Returns the links a packed object's header lists, each checked to be a digest.

    Raises:
        CorruptObjectError: The header cannot be read or lists something else.
    """
    try:
        header, _ = parse_packed_header(packed.data)
        listed = header.get("links", ())
        if not isinstance(listed, list):
            raise ValueError(f"'links' is {type(listed).__name__}, not a list")
        return tuple(check_digest(link) for link in listed)
    except ValueError as err:  # InvalidDigestError included
        raise corrupt_error(packed, locate, f"its packing header is unreadable ({err})") from err


def corrupt_error(
    packed: PackedResource, locate: Callable[[str], str], detail: str
) -> CorruptObjectError:
    """The error for a stored object that fails a check (`detail` says which)."""
    location = locate(packed.digest)
    return CorruptObjectError(
        f"Object {packed.digest} at {location} is corrupt: {detail}. Restore it from a "
        "copy of the store (enact copy) or delete it; enact verify lists every damaged object.",
        digest=packed.digest,
        location=location,
        detail=detail,
    )
