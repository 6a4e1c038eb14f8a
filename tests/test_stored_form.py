"""The compressed stored form (z1:) on real SQLite files: written, read, verified, refused."""

from __future__ import annotations

import hashlib
import random
import re
import sqlite3
import zlib
from pathlib import Path

import pytest

import enact
from enact.stores.stored_form import COMPRESSED_PREFIX, DICTIONARY, compress, decompress

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


def test_sqlite_stores_long_objects_compressed_and_short_ones_plain(tmp_path: Path) -> None:
    """A long token stream is stored as z1: in SQLite, a short one as itself; both check out."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        long_ref = enact.commit(["journal"] * 50)
        short_ref = enact.commit(1)
    rows = _rows(path)
    assert rows[long_ref.digest].startswith(COMPRESSED_PREFIX)
    assert not rows[short_ref.digest].startswith(COMPRESSED_PREFIX)
    tokens = decompress(rows[long_ref.digest])
    assert hashlib.sha256(tokens).hexdigest() == long_ref.digest
    assert len(rows[long_ref.digest]) < len(tokens) / 3
    with enact.SQLiteStore(path) as store:
        assert long_ref() == ["journal"] * 50
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
