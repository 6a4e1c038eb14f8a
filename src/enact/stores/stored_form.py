"""The compressed stored forms: ``z1:`` and ``z2:``, raw DEFLATE with a fixed dictionary.

A digest is always the SHA-256 of an object's token stream (docs/FORMAT.md);
what a backend stores may be a shorter form of it. Journals are made of many
small objects whose bytes repeat the same type ids and field names (a
journaled call's request and response are about 800 bytes of tokens, most of
them structure), so plain DEFLATE gains little on each, while DEFLATE primed
with a dictionary of that structure stores them in a fifth of the space.

Each form's dictionary is part of the format and never changes. ``z2:`` (its
own dictionary, `Z2_DICTIONARY`; SQLite writes it, PostgreSQL ``z1:``) adds a
reversible rewrite before DEFLATE (`rewrite`): a type id whose digest is the
SHA-256 of its name alone (a registered function, a resource without fields)
keeps only its name, and a Ref's 64 hex digits become their 32 raw bytes. It
takes a journaled call's request from about 100 stored bytes to about 35 (the
function's type id is the one part no fixed dictionary can know). Readers
accept every form everywhere; writers use a compressed form only for backends
that ask for it (`StorageBackend.compresses`, `StorageBackend.compressed_form`),
and only when it is shorter. Reading never trusts the compressed bytes: they
are inflated with a bound on the output and the result is hashed like any
other object.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import zlib
from typing import Any, Final

COMPRESSED_PREFIX: Final = b"z1:"
Z2_PREFIX: Final = b"z2:"
COMPRESSED_PREFIXES: Final = (COMPRESSED_PREFIX, Z2_PREFIX)
"""Every compressed form's prefix (a tuple, for ``bytes.startswith``)."""
COMPRESSED_FORMS: Final = ("z1", "z2")
"""The names a backend's `compressed_form` may take."""

MIN_SIZE: Final = 64
"""Token streams shorter than this are stored as they are."""

PLAIN_MIN_SIZE: Final = 256
"""`enact.Store` stores token streams shorter than this as they are, unless they
hold a Ref or their resource is of an enact type (see `ENACT_TYPE_AT`).

A user's small resource without Refs (``res[{"digest": ..., "name": "app.Note"}
'text's'...']``) holds nothing the dictionaries know but its own type id, so
DEFLATE saves about a quarter of its bytes for more than twice the time of
committing it (bench/README, "Every backend"). Journal records, of enact's own
types, shrink to a fifth; a Ref's digest halves in ``z2``; longer values (model
outputs, documents) compress like any text.
"""

_NAME_START: Final = len(b'res[{"digest": "') + 64 + len(b'", "name": "')
ENACT_TYPE_AT: Final = slice(_NAME_START, _NAME_START + len(b"enact."))
"""Where a resource with fields names its type (after ``res[{"digest": "``, 64 hex
digits and ``", "name": "``): ``tokens[ENACT_TYPE_AT] == b"enact."`` holds for
every journal record (wrappers of primitives and Refs name their type without a
digest, but are fields inside records). One slice is ten times cheaper than a search."""

MAX_TOKENS: Final = 1 << 31
"""The most bytes an object may inflate to (a bound against hostile data)."""

DICTIONARY: Final = (
    b'res[{"name": "enact.resource_registry.IntWrapper"}\'wrapped\'i0]res[{"dige'
    b'st": "d39d9fad9c8c029ef335f6f18dbff9866a8bf96098e27ebcc9b8f3a141ee5d88",'
    b" \"name\": \"enact.invocations.InputRequest\"}'context's'value 0?''for_value"
    b"'res[{\"name\": \"enact.references.Ref\"}'digest's'']'requested'type[{\"name\""
    b': "enact.resource_registry.IntWrapper"}]]res[{"digest": "df8d6317a4021d7'
    b'd49ba03e27e73dd13282ff7506da84afcf0c60086e2ba36f6", "name": "enact.invoc'
    b'ations.Request"}\'input\'res[{"digest": "b9bdbb4e3ee3727fa0c229e1a5ff019df'
    b'd3bdf09bddd5598ae6023b9819560b7", "name": "enact.invocations.CallArgs"}\''
    b"args'seq[i200]'kwargs'map[]]'invokable'res[{\"digest\": \"300f3f8f92a2f6ca9"
    b'301ced398a9b30b552fc65ebef76c67fe3b5f5c6ce20db7", "name": "__main__.ask"'
    b'}]]res[{"digest": "018ca4289f61d0b1639a9efc6d974d2406f0c04022ac3d6036ad7'
    b'0b0bb7074ae", "name": "enact.invocations.Invocation"}\'request\'res[{"name'
    b"\": \"enact.references.Ref\"}'digest's'']'response'res[{\"name\": \"enact.refe"
    b"rences.Ref\"}'digest's'']]res[{\"digest\": \"a927a2a1ca4b6f2060b00c496337c32"
    b'c899abf425ce5da18c30d0be6b0b7d1d6", "name": "enact.runs.RunState"}\'answe'
    b"r'n'answer_path'n'answer_request'n'created'f1796163444.7317107'event's's"
    b"tarted''forked_from'n'function's'__main__.ask''journal_from'i0'journal_t"
    b"o'i0'lease_until'f1796163474.7317107'owner's'vm:13839:1eb90e65''previous"
    b"'n'queue'n'raised'n'raised_here'F'request'res[{\"name\": \"enact.references"
    b".Ref\"}'digest's'']'run_id's'r20261201T221724-3ae6fd0cc7''status's'runnin"
    b"g''tree'n'updated'f1796163444.7317107]res[{\"digest\": \"c0dd13e7650760a8a5"
    b'73ec501b50f3687ef867aadf16d9d09aa74f6ae232f634", "name": "enact.invocati'
    b"ons.Response\"}'children'seq[]'output'n'raised'res[{\"name\": \"enact.refere"
    b"nces.Ref\"}'digest's'']'raised_here'T]"
)
"""The ``z1`` dictionary: token streams of typical journal records (SHA-256
0d446e497ce1473e390ac58296b254b40b6268b5888b4b15b8465cd7d9dc469c)."""


def compress(tokens: bytes, form: str = "z1") -> bytes | None:
    """The `form` (``z1`` or ``z2``) of `tokens`, or None when it would not be shorter."""
    if len(tokens) < MIN_SIZE:
        return None
    if form == "z2":
        rewritten = rewrite(tokens)
        if rewritten is not None:
            # Small objects (a call's request and response, a run's state): level 3
            # stores them within a byte or two of level 6 (and a tenth smaller than
            # level 1) for a sixth less work; a 4 KiB window (enough for the
            # dictionary) and small hash tables (memory level 3) spare setting up
            # and copying large ones. Large ones (a run's tree): level 6 would gain
            # 1% for half again the time. Readers inflate any window size.
            if len(rewritten) < 4096:
                packer = _small_z2_packer().copy()  # cheaper than priming a new one
            else:
                packer = zlib.compressobj(
                    1, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, Z2_DICTIONARY
                )
            packed = Z2_PREFIX + packer.compress(rewritten) + packer.flush()
            return packed if len(packed) < len(tokens) else None
    elif form != "z1":
        raise ValueError(f"Unknown compressed form {form!r}: use 'z1' or 'z2'.")
    packer = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    packed = COMPRESSED_PREFIX + packer.compress(tokens) + packer.flush()
    return packed if len(packed) < len(tokens) else None


_small_packers: list[Any] = []


def _small_z2_packer() -> Any:
    """A compressor for small objects primed with the z2 dictionary, made once (its
    ``copy()`` is thread-safe: zlib objects hold a lock)."""
    if not _small_packers:
        _small_packers.append(
            zlib.compressobj(3, zlib.DEFLATED, -12, 3, zlib.Z_DEFAULT_STRATEGY, Z2_DICTIONARY)
        )
    return _small_packers[0]


def decompress(data: bytes) -> bytes:
    """The token stream of a ``z1:`` or ``z2:`` object.

    Raises:
        ValueError: The bytes are not a complete DEFLATE stream, inflate to
            more than `MAX_TOKENS` bytes, or (``z2:``) hold a rewritten Ref cut short.
    """
    z2 = data.startswith(Z2_PREFIX)
    unpacker = zlib.decompressobj(-15, Z2_DICTIONARY if z2 else DICTIONARY)
    try:
        tokens = unpacker.decompress(data[len(COMPRESSED_PREFIX) :], MAX_TOKENS)
    except zlib.error as err:
        raise ValueError(f"its compressed bytes cannot be inflated ({err})") from err
    if not unpacker.eof or unpacker.unconsumed_tail:
        raise ValueError("its compressed bytes are truncated or inflate to more than 2 GiB")
    if unpacker.unused_data:
        raise ValueError(f"{len(unpacker.unused_data)} bytes follow its compressed stream")
    return restore(tokens) if z2 else tokens


def stored_tokens(data: bytes) -> bytes:
    """The token stream of stored bytes that are not a ``pack:`` object (no hash check)."""
    return decompress(data) if data.startswith(COMPRESSED_PREFIXES) else data


# The z2 rewrite ------------------------------------------------------------------
#
# Two markers: ``{"=": "`` (a type id reduced to its name) and ``'digest's`` +
# NUL (a Ref's raw digest follows). Token streams made of text never hold
# either (type ids start ``{"digest"`` or ``{"name"``, and strings escape NUL);
# a bytes value may, so `rewrite` declines a stream holding either marker,
# and `restore` then meets only the markers `rewrite` wrote.

_TYPE_MARK: Final = b'{"=": "'
_REF_MARK: Final = b"'digest's\x00"
_REF: Final = re.compile(rb"'digest's'([0-9a-f]{64})'")
_SHORT_TYPE_ID: Final = re.compile(rb'\{"=": "([A-Za-z0-9_.<>]+)"\}')
_SHORT_REF: Final = re.compile(rb"'digest's\x00(.{32})", re.DOTALL)
_name_digests: dict[bytes, bytes] = {}
_short_rests: dict[bytes, bytes] = {}
"""Per type id after its head, seen by `_shortened`: its rewrite, or empty if kept."""


def _name_digest(name: bytes) -> bytes:
    """The hex SHA-256 of `name` (the type-id digest of a type without fields), cached."""
    digest = _name_digests.get(name)
    if digest is None:
        digest = hashlib.sha256(name).hexdigest().encode()
        if len(_name_digests) < 10_000:
            _name_digests[name] = digest
    return digest


def _lengthen_type_id(match: re.Match[bytes]) -> bytes:
    name = match.group(1)
    return b'{"digest": "' + _name_digest(name) + b'", "name": "' + name + b'"}'


def rewrite(tokens: bytes) -> bytes | None:
    """The ``z2`` rewrite of `tokens` (see the module docstring), or None if it holds a marker.

    Type ids first, then Refs; `restore` undoes them in the opposite order.
    Neither pattern can overlap the other's matches or markers (a type id
    holds no ``'``, a Ref no ``{``), so each pass sees exactly what it wrote.
    """
    # Each marker's rare byte (``=``, NUL) is looked for first, with memchr: a
    # stream of text holds neither, and a search for a whole marker, which starts
    # with a common byte, costs a fifth of rewriting a run's tree. find(), not
    # `in`: `marker in tokens` first tries the marker as an int (a byte value),
    # and makes and clears a TypeError: three times the search.
    if (tokens.find(b"=") >= 0 and tokens.find(_TYPE_MARK) >= 0) or (
        tokens.find(b"\x00") >= 0 and tokens.find(_REF_MARK) >= 0
    ):
        return None
    return _shorten_refs(_split_type_ids(tokens))


# Type ids are found by splitting the stream at their fixed head (a C search, where a
# regex tries every ``{`` and calls back into Python per match) and looking at what
# follows each head: a type id cannot hold another type id's head, so these are the
# matches a regex over the whole stream would find. The Refs of a large stream are
# found the same way (a Ref's digest cannot hold another Ref's head); a head of a Ref
# not followed by a digest and its quote, and any small stream, take the regex.

_SPLIT_MIN: Final = 4096
"""Streams of at least this many bytes have their Refs found by splitting (see above)."""
_DIGEST_HEAD: Final = b'{"digest": "'
_TYPE_ID_REST: Final = re.compile(rb'[0-9a-f]{64}", "name": "([A-Za-z0-9_.<>]+)"\}')
_REF_HEAD: Final = b"'digest's'"


def _split_type_ids(tokens: bytes) -> bytes:
    """`tokens` with each type id whose digest is its name's reduced to ``{"=": name}``."""
    pieces = tokens.split(_DIGEST_HEAD)
    if len(pieces) == 1:
        return tokens
    parts = [pieces[0]]
    changed = False
    rests = _short_rests
    last = b"\xff"  # the last type id's rest (no rest starts so), and its rewrite
    short = b""
    for piece in pieces[1:]:
        if piece.startswith(last):  # in a long stream, most repeat the one before
            rest = last
        else:
            # A type id's rest ends at its first ``"}`` (its name holds no quote):
            # one seen before is known by its bytes; anything else is matched.
            rest = piece[: piece.find(b'"}') + 2]
            found = rests.get(rest)
            if found is None:
                m = _TYPE_ID_REST.match(piece)
                if m is None:
                    parts.append(_DIGEST_HEAD + piece)  # not a type id: as it was
                    continue
                rest = m.group(0)
                found = _shortened(rest, m.group(1))
            last, short = rest, found
        if short:
            parts.append(short + piece[len(rest) :])
            changed = True
        else:
            parts.append(_DIGEST_HEAD + piece)
    return b"".join(parts) if changed else tokens


def _shortened(rest: bytes, name: bytes) -> bytes:
    """``{"=": name}`` for a type id (`rest`: what follows its head, not in
    `_short_rests` yet) whose digest is the SHA-256 of its name; else empty (it is
    kept as it is). Kept in `_short_rests`."""
    short = _TYPE_MARK + name + b'"}' if rest[:64] == _name_digest(name) else b""
    if len(_short_rests) < 10_000:
        _short_rests[rest] = short
    return short


def _shorten_refs(tokens: bytes) -> bytes:
    """`tokens` with each Ref's 64 hex digits turned into its marker and 32 raw bytes."""
    if tokens.find(_REF_HEAD) < 0:  # most small streams hold no Ref
        return tokens
    if len(tokens) >= _SPLIT_MIN:
        split = _split_refs(tokens)
        if split is not None:
            return split
    # split() alternates text and captured digests: cheaper than a callback per Ref.
    parts = _REF.split(tokens)
    parts[1::2] = [_REF_MARK + binascii.unhexlify(digest) for digest in parts[1::2]]
    return b"".join(parts)


def _split_refs(tokens: bytes) -> bytes | None:
    """`_shorten_refs` of a large stream by splitting it at the Refs' heads; None if a
    head is not followed by 64 lower-case hex digits and a quote (the regex's then)."""
    pieces = tokens.split(_REF_HEAD)
    count = len(pieces) - 1
    tails = pieces[1:]
    heads = b"".join([tail[:65] for tail in tails])  # each a digest and its quote
    digits = heads.replace(b"'", b"")
    if (
        len(heads) != 65 * count
        or heads[64::65] != b"'" * count
        or len(digits) != 64 * count
        or digits.translate(None, _HEX_DIGITS)
    ):
        return None
    raw = binascii.unhexlify(digits)
    parts = [_REF_MARK] * (3 * count + 1)
    parts[0] = pieces[0]
    parts[2::3] = [raw[at : at + 32] for at in range(0, 32 * count, 32)]
    parts[3::3] = [tail[65:] for tail in tails]
    return b"".join(parts)


_HEX_DIGITS: Final = b"0123456789abcdef"


def restore(rewritten: bytes) -> bytes:
    """The token stream that `rewrite` turned into `rewritten`.

    Raises:
        ValueError: A rewritten Ref is cut short (fewer than 32 bytes after its marker).
    """
    tokens = rewritten
    if tokens.find(b"\x00") >= 0 and tokens.find(_REF_MARK) >= 0:  # see `rewrite`
        parts = _SHORT_REF.split(tokens)
        parts[1::2] = [_REF_HEAD + binascii.hexlify(raw) + b"'" for raw in parts[1::2]]
        tokens = b"".join(parts)
        if tokens.find(b"\x00") >= 0 and tokens.find(_REF_MARK) >= 0:
            raise ValueError("it holds a rewritten Ref cut short")
    if tokens.find(b"=") >= 0 and tokens.find(_TYPE_MARK) >= 0:
        tokens = _SHORT_TYPE_ID.sub(_lengthen_type_id, tokens)
    return tokens


Z2_DICTIONARY: Final = _split_type_ids(DICTIONARY) + (
    b'res[{"digest": "018ca4289f61d0b1639a9efc6d974d2406f0c04022ac3d6036ad70b0bb7074ae", '
    b'"name": "enact.invocations.Invocation"}\'request\'res[{"name": '
    b"\"enact.references.Ref\"}'digest's\x00]'response'res[{\"name\": "
    b"\"enact.references.Ref\"}'digest's\x00]]"
    b'res[{"digest": "df8d6317a4021d7d49ba03e27e73dd13282ff7506da84afcf0c60086e2ba36f6", '
    b'"name": "enact.invocations.Request"}\'input\'res[{"digest": '
    b'"b9bdbb4e3ee3727fa0c229e1a5ff019dfd3bdf09bddd5598ae6023b9819560b7", '
    b"\"name\": \"enact.invocations.CallArgs\"}'args'seq[]'kwargs'map[]]'invokable'"
    b'res[{"=": "__main__.'
    b'res[{"digest": "c0dd13e7650760a8a573ec501b50f3687ef867aadf16d9d09aa74f6ae232f634", '
    b'"name": "enact.invocations.Response"}\'children\'seq[]\'output\'res[{"name": '
    b"\"enact.invocations.Output\"}'value's''value'i'value'n']'raised'n'raised_here'F]"
)
"""The ``z2`` dictionary: the ``z1`` dictionary rewritten, then a journaled call's
invocation, request and response (SHA-256
9714d82687cfb9ff3f7e9db2c4aa081f6c65cfaeeb86f37eef173820df7f132e)."""
