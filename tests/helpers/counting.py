"""A real SQLite backend that counts how it is read (for tests of read patterns)."""

from __future__ import annotations

import pathlib
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
