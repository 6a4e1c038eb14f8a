"""Stores and their backends."""

from enact.stores.base import ANY, PackedResource, StorageBackend, UnsupportedOperationError
from enact.stores.files import FileBackend, FileStore
from enact.stores.memory import InMemoryBackend, InMemoryStore
from enact.stores.sqlite import SQLiteBackend, SQLiteStore
from enact.stores.store import Store, checkout, commit
from enact.stores.urls import default_store, default_store_url, open_store

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
