"""The compressed stored forms (z1:, z2:) on real SQLite files: written, read, verified, refused."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

import enact
from enact.stores import InMemoryBackend
from enact.stores.stored_form import (
    COMPRESSED_PREFIX,
    DICTIONARY,
    PLAIN_MIN_SIZE,
    Z2_DICTIONARY,
    Z2_PREFIX,
    compress,
    decompress,
    restore,
    rewrite,
)

FORMAT_DOC = Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md"


def _rows(path: Path) -> dict[str, bytes]:
    with sqlite3.connect(path) as conn:
        return {
            bytes(d).hex(): bytes(data)
            for d, data in conn.execute("SELECT digest, data FROM objects")
        }


def test_the_documented_dictionary_is_the_one_in_the_code() -> None:
    """docs/FORMAT.md names the dictionary by size and SHA-256; they match the code."""
    text = FORMAT_DOC.read_text()
    match = re.search(r"\((\d+) bytes of typical journal records; SHA-256\s+`([0-9a-f]{64})`", text)
    assert match is not None
    assert int(match.group(1)) == len(DICTIONARY)
    assert match.group(2) == hashlib.sha256(DICTIONARY).hexdigest()
    match = re.search(r"``z2`` dictionary \((\d+) bytes; SHA-256\s+`([0-9a-f]{64})`", text)
    assert match is not None
    assert int(match.group(1)) == len(Z2_DICTIONARY)
    assert match.group(2) == hashlib.sha256(Z2_DICTIONARY).hexdigest()


def test_sqlite_stores_long_objects_compressed_and_short_ones_plain(tmp_path: Path) -> None:
    """A long token stream is stored as z2: in SQLite, a short one as itself; both check out."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        long_ref = enact.commit(["journal"] * 50)
        short_ref = enact.commit(1)
    rows = _rows(path)
    assert rows[long_ref.digest].startswith(Z2_PREFIX)
    assert not rows[short_ref.digest].startswith((COMPRESSED_PREFIX, Z2_PREFIX))
    tokens = decompress(rows[long_ref.digest])
    assert hashlib.sha256(tokens).hexdigest() == long_ref.digest
    assert len(rows[long_ref.digest]) < len(tokens) / 3
    with enact.SQLiteStore(path) as store:
        assert long_ref() == ["journal"] * 50
        assert enact.verify(store).problems == ()


@enact.register
@dataclasses.dataclass
class _Note(enact.Resource):
    text: str
    parent: enact.Ref[Any] | None = None


def test_small_user_resources_are_stored_plain_unless_they_name_an_enact_type(
    tmp_path: Path,
) -> None:
    """Under PLAIN_MIN_SIZE bytes, a resource of the user's own types is stored as its
    tokens (compressing it would cost more than it saves); one that holds a Ref (an
    enact type the dictionary knows) and a long one are compressed; all check out."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        small = enact.commit(_Note("buy milk"))
        linked = enact.commit(_Note("and bread", parent=small))
        long = enact.commit(_Note("a long note " * 30))
    rows = _rows(path)
    assert len(rows[small.digest]) < PLAIN_MIN_SIZE
    assert rows[small.digest].startswith(b"res[")
    assert len(decompress(rows[linked.digest])) < PLAIN_MIN_SIZE
    assert rows[linked.digest].startswith(Z2_PREFIX)
    assert rows[long.digest].startswith(Z2_PREFIX)
    with enact.SQLiteStore(path) as store:
        assert linked().parent() == _Note("buy milk")
        assert long().text == "a long note " * 30
        assert enact.verify(store).problems == ()


def test_file_stores_keep_plain_token_streams(tmp_path: Path) -> None:
    """The file backend does not ask for compression: its files stay readable with cat."""
    with enact.FileStore(tmp_path / "files"):
        ref = enact.commit(["journal"] * 50)
    stored = [
        p.read_bytes()
        for p in (tmp_path / "files").rglob("*")
        if p.is_file() and ref.digest[4:] in p.name
    ]
    assert stored and all(data.startswith(b"res[") for data in stored)


def test_any_deflate_encoder_is_read(tmp_path: Path) -> None:
    """Bytes from another DEFLATE encoder (other level) check out: only the tokens are hashed."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        ref = enact.commit(["journal"] * 50)
    tokens = decompress(_rows(path)[ref.digest])
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    other = COMPRESSED_PREFIX + packer.compress(tokens) + packer.flush()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE objects SET data = ? WHERE digest = ?", (other, bytes.fromhex(ref.digest))
        )
    with enact.SQLiteStore(path):
        assert ref() == ["journal"] * 50


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-3],  # truncated stream
        lambda data: data + b" ",  # bytes after the end of the stream
        lambda data: COMPRESSED_PREFIX + b"\xff\xfe garbage",  # not DEFLATE
        lambda data: compress(b"res[" + b"x" * 10_000 + b"]") or b"",  # inflates to other tokens
    ],
)
def test_damaged_compressed_objects_are_corrupt_errors(tmp_path: Path, damage: object) -> None:
    """Truncated, garbled or substituted z1: bytes are CorruptObjectErrors that verify reports."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        ref = enact.commit(["journal"] * 50)
    data = _rows(path)[ref.digest]
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE objects SET data = ? WHERE digest = ?",
            (damage(data), bytes.fromhex(ref.digest)),  # type: ignore[operator]
        )
    with enact.SQLiteStore(path) as store:
        with pytest.raises(enact.CorruptObjectError) as caught:
            store.checkout(ref)
        assert ref.digest in str(caught.value)
        assert [problem.digest for problem in enact.verify(store).problems] == [ref.digest]


def test_compress_declines_when_it_would_not_be_shorter() -> None:
    """Short or incompressible token streams are stored as they are."""
    assert compress(b"res[i1]") is None
    assert compress(b"res[b" + random.Random(0).randbytes(300) + b"]") is None


@enact.register
def _shout(text: str) -> str:
    return text.upper() + "!" * 40


@enact.register
def _shouting(n: int) -> list[str]:
    return [_shout(f"call {i}") for i in range(n)]


def test_z2_stores_a_call_without_its_function_digest_or_hex_refs(tmp_path: Path) -> None:
    """A journaled call's request keeps its function's name but not the digest derived
    from it, and a run's tree keeps Refs as raw bytes; everything reads back and verifies."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        inv = enact.invoke(_shouting, (3,))
    function_digest = hashlib.sha256(f"{__name__}._shout".encode()).hexdigest()
    rows = _rows(path)
    inflated = {
        digest: zlib.decompressobj(-15, Z2_DICTIONARY).decompress(data[3:])
        for digest, data in rows.items()
        if data.startswith(Z2_PREFIX)
    }
    requests = [raw for raw in inflated.values() if b"enact.invocations.Request" in raw]
    assert any(f'{{"=": "{__name__}._shout"}}'.encode() in raw for raw in requests)
    assert not any(function_digest.encode() in raw for raw in inflated.values())
    tree = inflated[inv.response.digest]
    assert tree.count(b"'digest's\x00") == 6  # three children: a request and a response each
    for digest, data in rows.items():
        assert (
            hashlib.sha256(decompress(data) if data[:3] in (b"z1:", b"z2:") else data).hexdigest()
            == digest
        )
    with enact.SQLiteStore(path) as store:
        assert [child.get_output() for child in inv.get_children()] == [
            f"CALL {i}" + "!" * 40 for i in range(3)
        ]
        assert enact.verify(store).problems == ()


@pytest.mark.parametrize("marker", [b'{"=": "a.b"}', b"'digest's\x00" + b"\x01" * 40])
def test_z2_declines_values_that_hold_its_markers(tmp_path: Path, marker: bytes) -> None:
    """A bytes value holding a z2 marker is stored in another form and reads back unchanged."""
    value = [marker * 3, "padding " * 20]
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        ref = enact.commit(value)
    assert rewrite(decompress(_rows(path)[ref.digest])) is None
    assert not _rows(path)[ref.digest].startswith(Z2_PREFIX)
    with enact.SQLiteStore(path) as store:
        assert ref() == value
        assert enact.verify(store).problems == ()


@pytest.mark.parametrize(
    "near_miss", [b'{"=" "a.b"}', b"x = 1", b"'digest's\x01", b"'digest'b1:\x00", b"\x00" * 9]
)
def test_z2_rewrites_values_that_hold_a_markers_rare_byte_alone(
    tmp_path: Path, near_miss: bytes
) -> None:
    """A value holding ``=`` or NUL, the bytes the marker search looks for first, but no
    whole marker is still rewritten, and reads back unchanged."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        value = [near_miss * 3, enact.commit("a ref to rewrite"), "padding " * 20]
        ref = enact.commit(value)
    stored = _rows(path)[ref.digest]
    assert stored.startswith(Z2_PREFIX)
    tokens = decompress(stored)
    assert hashlib.sha256(tokens).hexdigest() == ref.digest
    assert rewrite(tokens) is not None
    with enact.SQLiteStore(path) as store:
        assert ref() == value
        assert enact.verify(store).problems == ()


def test_z2_rewrite_round_trips_type_ids_it_must_keep() -> None:
    """Type ids whose digest is not their name's (classes with fields), upper-case hex and
    names with other characters are left as they are; the rest come back exactly."""
    keep = (
        b'res[{"digest": "' + b"0" * 64 + b'", "name": "a.B"}\'x\'i1]'
        b'res[{"name": "enact.references.Ref"}\'digest\'s\'' + b"AB" * 32 + b"']"
        b'res[{"digest": "' + hashlib.sha256(b"a-b").hexdigest().encode() + b'", "name": "a-b"}]'
    )
    assert rewrite(keep) == keep
    name = b"pkg.mod.<locals>.f"
    short = (
        b'res[{"digest": "'
        + hashlib.sha256(name).hexdigest().encode()
        + b'", "name": "'
        + name
        + b'"}]'
    )
    assert rewrite(short) == b'res[{"=": "' + name + b'"}]'
    assert restore(rewrite(keep + short) or b"") == keep + short


def _rewrite_by_regex(tokens: bytes) -> bytes | None:
    """The z2 rewrite as docs/FORMAT.md states it, by two regexes over the whole stream:
    the oracle for `rewrite`, which takes other paths for long streams."""
    if b'{"=": "' in tokens or b"'digest's\x00" in tokens:
        return None

    def shorten(m: re.Match[bytes]) -> bytes:
        name = m.group(2)
        named = hashlib.sha256(name).hexdigest().encode() == m.group(1)
        return b'{"=": "' + name + b'"}' if named else m.group(0)

    type_id = rb'\{"digest": "([0-9a-f]{64})", "name": "([A-Za-z0-9_.<>]+)"\}'
    out = re.sub(type_id, shorten, tokens)
    return re.sub(
        rb"'digest's'([0-9a-f]{64})'",
        lambda m: b"'digest's\x00" + bytes.fromhex(m[1].decode()),
        out,
    )


def _tricky_stream(rng: random.Random, pieces: int, near_miss: int | None) -> bytes:
    """A stream of the pieces the rewrite must tell apart: near misses of type ids, and
    now and then the near miss of a Ref numbered `near_miss` (None: none)."""
    names = [b"app.step", b"pkg.mod.<locals>.f", b"enact.invocations.Invocation", b"a-b"]
    out = []
    for _ in range(pieces):
        name = rng.choice(names)
        digest = hashlib.sha256(rng.choice([name, b"fields " + name])).hexdigest().encode()
        ref = hashlib.sha256(bytes([rng.randrange(256)])).hexdigest().encode()
        choices = [
            b'res[{"digest": "' + digest + b'", "name": "' + name + b'"}',
            b"'request'res[{\"name\": \"enact.references.Ref\"}'digest's'" + ref + b"']",
            b'{"digest": "' + digest + b'", "name": "' + name + b'"',  # no brace
            b'{"digest": "' + digest[:50] + b'", "name": "' + name + b'"}',  # cut short
            b"s'text " + bytes(rng.choices(b'{}"digest: name', k=12)) + b"'",
        ]
        misses = [
            b"'digest's'" + ref.upper() + b"'",  # upper-case: not a digest
            b"'digest's'" + ref[:40] + b"'" + ref[:24] + b"]",  # cut short, hex follows
            b"'digest's'" + ref,  # no closing quote: the next head may follow
            b"'digest's''digest's'" + ref + b"'",  # a head right after a head
            b"s'=" + bytes(rng.choices(b"{}'\"digest: name=", k=12)) + b"'",
        ]
        if near_miss is not None and rng.random() < 0.05:
            choices = [misses[near_miss]]
        out.append(rng.choice(choices))
    return b"".join(out)


@pytest.mark.parametrize("near_miss", [None, 0, 1, 2, 3, 4])
@pytest.mark.parametrize("pieces", [3, 40, 400])
def test_z2_rewrite_finds_what_the_regexes_over_the_whole_stream_find(
    pieces: int, near_miss: int | None
) -> None:
    """Short and long streams (long ones are split at the heads instead of searched by
    regex), with near misses of type ids and Refs, rewrite as the format's two regexes
    do, and restore to themselves."""
    rng = random.Random(pieces)
    rewritten_refs = 0
    for _ in range(60):
        tokens = _tricky_stream(rng, pieces, near_miss)
        rewritten = rewrite(tokens)
        assert rewritten == _rewrite_by_regex(tokens)
        if rewritten is not None:
            assert restore(rewritten) == tokens
            rewritten_refs += rewritten.count(b"'digest's\x00")
    assert rewritten_refs > 0


def test_a_cut_short_z2_ref_is_a_corrupt_object(tmp_path: Path) -> None:
    """z2 bytes whose Ref marker is followed by fewer than 32 bytes are refused on read."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        ref = enact.commit(["journal"] * 50)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, Z2_DICTIONARY)
    bad = Z2_PREFIX + packer.compress(b"res[" + b"x" * 80 + b"'digest's\x00abc]") + packer.flush()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE objects SET data = ? WHERE digest = ?", (bad, bytes.fromhex(ref.digest))
        )
    with (
        enact.SQLiteStore(path) as store,
        pytest.raises(enact.CorruptObjectError, match="rewritten Ref cut short"),
    ):
        store.checkout(ref)


def test_a_version_1_file_is_upgraded_and_its_z1_objects_still_read(tmp_path: Path) -> None:
    """A file of schema version 1 (z1 objects only) opens, reads, and is marked version 2,
    so that an enact that cannot read z2 refuses it instead of calling new objects corrupt."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        ref = enact.commit(["journal"] * 50)
    tokens = decompress(_rows(path)[ref.digest])
    old = compress(tokens, "z1")
    assert old is not None and old.startswith(COMPRESSED_PREFIX)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE objects SET data = ? WHERE digest = ?", (old, bytes.fromhex(ref.digest))
        )
        conn.execute("PRAGMA user_version = 1")
    with enact.SQLiteStore(path) as store:
        assert ref() == ["journal"] * 50
        assert enact.verify(store).problems == ()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_compress_names_an_unknown_form() -> None:
    with pytest.raises(ValueError, match="'z9'"):
        compress(b"res[" + b"x" * 100 + b"]", "z9")


def test_a_backend_asking_for_an_unknown_form_is_refused_when_opened() -> None:
    """The form is checked once, when a Store is made, not per commit."""

    class Misconfigured(InMemoryBackend):
        compresses = True
        compressed_form = "z9"

    with pytest.raises(ValueError, match=r"Misconfigured.compressed_form is 'z9'.*z1, z2"):
        enact.Store(Misconfigured())
