"""The compressed stored form: ``z1:`` + raw DEFLATE with a fixed dictionary.

A digest is always the SHA-256 of an object's token stream (docs/FORMAT.md);
what a backend stores may be a shorter form of it. Journals are made of many
small objects whose bytes repeat the same type ids and field names (a
journaled call's request and response are about 800 bytes of tokens, most of
them structure), so plain DEFLATE gains little on each, while DEFLATE primed
with a dictionary of that structure stores them in a fifth of the space.

The dictionary is part of the format and never changes: a new one would be
``z2:``. Readers accept both forms everywhere; writers use this one only for
backends that ask for it (`StorageBackend.compresses`), and only when it is
shorter. Reading never trusts the compressed bytes: they are inflated with a
bound on the output and the result is hashed like any other object.
"""

from __future__ import annotations

import zlib
from typing import Final

COMPRESSED_PREFIX: Final = b"z1:"

MIN_SIZE: Final = 64
"""Token streams shorter than this are stored as they are."""

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


def compress(tokens: bytes) -> bytes | None:
    """The ``z1:`` form of `tokens`, or None when it would not be shorter."""
    if len(tokens) < MIN_SIZE:
        return None
    packer = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    packed = COMPRESSED_PREFIX + packer.compress(tokens) + packer.flush()
    return packed if len(packed) < len(tokens) else None


def decompress(data: bytes) -> bytes:
    """The token stream of a ``z1:`` object.

    Raises:
        ValueError: The bytes are not a complete DEFLATE stream, or inflate to
            more than `MAX_TOKENS` bytes.
    """
    unpacker = zlib.decompressobj(-15, DICTIONARY)
    try:
        tokens = unpacker.decompress(data[len(COMPRESSED_PREFIX) :], MAX_TOKENS)
    except zlib.error as err:
        raise ValueError(f"its compressed bytes cannot be inflated ({err})") from err
    if not unpacker.eof or unpacker.unconsumed_tail:
        raise ValueError("its compressed bytes are truncated or inflate to more than 2 GiB")
    if unpacker.unused_data:
        raise ValueError(f"{len(unpacker.unused_data)} bytes follow its compressed stream")
    return tokens


def stored_tokens(data: bytes) -> bytes:
    """The token stream of stored bytes that are not a ``pack:`` object (no hash check)."""
    return decompress(data) if data.startswith(COMPRESSED_PREFIX) else data
