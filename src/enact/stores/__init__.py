"""Stores and their backends."""

from enact.stores.base import ANY, PackedResource, StorageBackend, UnsupportedOperationError
from enact.stores.files import FileBackend
from enact.stores.memory import InMemoryBackend
from enact.stores.store import FileStore, InMemoryStore, Store, checkout, commit

__all__ = [
    "ANY",
    "FileBackend",
    "FileStore",
    "InMemoryBackend",
    "InMemoryStore",
    "PackedResource",
    "StorageBackend",
    "Store",
    "UnsupportedOperationError",
    "checkout",
    "commit",
]
