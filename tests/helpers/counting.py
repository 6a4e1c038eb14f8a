"""A real SQLite backend that counts how it is read (for tests of read patterns)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import enact
from enact.stores.base import NameQuery


class CountingSQLiteBackend(enact.SQLiteBackend):
    """Counts its reads of one object at a time, and the name listings asked of it."""

    def __init__(self, path: pathlib.Path) -> None:
        super().__init__(path)
        self.single_reads = 0
        self.listed: list[tuple[str, str | None]] = []

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        self.single_reads += 1
        return super().get(ref)

    def list_names(self, query: NameQuery) -> list[tuple[str, str]]:
        self.listed.append((query.prefix, query.after))
        return super().list_names(query)


def recorded(path: pathlib.Path, invokable: Any, args: tuple[Any, ...], run_id: str) -> str:
    """Runs `invokable` as run `run_id` in the SQLite store at `path` (closed after);
    returns the digest of its invocation."""
    with enact.SQLiteStore(path) as store:
        digest = enact.commit(enact.invoke(invokable, args, run_id=run_id)).digest
    store.close()
    return digest


def counted_reads(
    path: pathlib.Path, action: Callable[[enact.Store], Any]
) -> tuple[CountingSQLiteBackend, Any]:
    """`action(store)` through a new store object on `path` (nothing cached, closed
    after); returns the counting backend and what `action` returned."""
    backend = CountingSQLiteBackend(path)
    store = enact.Store(backend)
    try:
        with store:
            result = action(store)
    finally:
        store.close()
    return backend, result
