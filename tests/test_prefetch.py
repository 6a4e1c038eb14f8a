"""Store.prefetch on a real SQLite file: one read for many objects, never hiding damage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import enact


def _delete_rows(path: Path, digests: list[str]) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "DELETE FROM objects WHERE digest = ?", [(bytes.fromhex(d),) for d in digests]
        )


def test_prefetched_objects_check_out_without_the_backend(tmp_path: Path) -> None:
    """After prefetch, the objects come from the store's cache (their rows are gone)."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        refs = [enact.commit(f"value {i} " * 20) for i in range(5)]
    with enact.SQLiteStore(path) as store:
        store.prefetch(refs[:4])
        _delete_rows(path, [ref.digest for ref in refs])
        assert [store.checkout(ref) for ref in refs[:4]] == [f"value {i} " * 20 for i in range(4)]
        with pytest.raises(enact.NotFoundError):
            store.checkout(refs[4])  # not prefetched: read from the file, where it is gone


def test_prefetch_leaves_out_damaged_and_missing_objects(tmp_path: Path) -> None:
    """A corrupt object is not cached by prefetch: checking it out still raises."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        good = enact.commit("good " * 20)
        bad = enact.commit("bad " * 20)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE objects SET data = ? WHERE digest = ?",
            (b"res[i1]", bytes.fromhex(bad.digest)),
        )
    missing = enact.Ref.from_digest("ab" * 32)
    with enact.SQLiteStore(path) as store:
        store.prefetch([good, bad, missing])
        assert store.checkout(good) == "good " * 20
        with pytest.raises(enact.CorruptObjectError):
            store.checkout(bad)
        with pytest.raises(enact.NotFoundError):
            store.checkout(missing)
