"""Stores and their backends."""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from enact.stores.base import ANY, PackedResource, StorageBackend, UnsupportedOperationError
from enact.stores.memory import InMemoryBackend, InMemoryStore
from enact.stores.sqlite import SQLiteBackend, SQLiteStore
from enact.stores.store import Store, checkout, commit
from enact.stores.urls import default_store, default_store_url, open_store

if _TYPE_CHECKING:
    from enact.stores.files import FileBackend, FileStore

__all__ = [
    "ANY",
    "FileBackend",
    "FileStore",
    "InMemoryBackend",
    "InMemoryStore",
    "PackedResource",
    "SQLiteBackend",
    "SQLiteStore",
    "StorageBackend",
    "Store",
    "UnsupportedOperationError",
    "checkout",
    "commit",
    "default_store",
    "default_store_url",
    "open_store",
]


def __getattr__(name: str) -> _Any:
    """Imports the file backend on first use (a process on SQLite never needs it)."""
    if name not in ("FileBackend", "FileStore"):
        raise AttributeError(f"module 'enact.stores' has no attribute {name!r}")
    from enact.stores import files

    value = getattr(files, name)
    globals()[name] = value
    return value
