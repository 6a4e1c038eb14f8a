"""An in-process backend: a dict from digest to bytes.

Promises: nothing survives the process. Commits from several threads are
safe (each takes a short lock); a reader sees an object whole or not at all.
Each object's last commit time is kept so that gc's grace period works as it
does for the persistent backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from enact.stores.base import ANY, NameQuery, NameTable, PackedResource, StorageBackend
from enact.stores.store import Store
from enact.stores.verified import intact

if TYPE_CHECKING:
    from enact.refs import Ref


class InMemoryBackend(StorageBackend):
    """Keeps objects in a dict; keys are the 32 raw digest bytes to save memory."""

    def __init__(self) -> None:
        self._objects: dict[bytes, bytes] = {}
        self._committed_at: dict[bytes, float] = {}
        # Orders commits against gc's deletions (a re-commit must win); reads take no lock.
        self._lock = threading.Lock()
        self._names = NameTable()

    def commit(self, packed_resource: PackedResource) -> None:
        self.commit_many((packed_resource,))

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        rows = [(bytes.fromhex(packed.digest), packed.data) for packed in packed_resources]
        setdefault = self._objects.setdefault
        committed_at = self._committed_at
        with self._lock:
            now = time.time()
            for key, data in rows:
                stored = setdefault(key, data)
                # Already stored, differently: keep it if it verifies, else repair it.
                if stored is not data and stored != data and not self._intact(key, stored):
                    self._objects[key] = data
                committed_at[key] = now

    def _intact(self, key: bytes, stored: bytes) -> bool:
        return intact(PackedResource(key.hex(), stored), self.locate)

    def replace_many(self, packed_resources: Iterable[PackedResource]) -> None:
        rows = [(bytes.fromhex(packed.digest), packed.data) for packed in packed_resources]
        with self._lock:
            now = time.time()
            for key, data in rows:
                self._objects[key] = data
                self._committed_at[key] = now

    def has(self, ref: Ref[Any]) -> bool:
        return bytes.fromhex(ref.digest) in self._objects

    def get(self, ref: Ref[Any]) -> PackedResource | None:
        data = self._objects.get(bytes.fromhex(ref.digest))
        if data is None:
            return None
        return PackedResource(ref.digest, data)

    def has_many(self, digests: Iterable[str]) -> set[str]:
        objects = self._objects
        return {digest for digest in digests if bytes.fromhex(digest) in objects}

    def get_many(self, digests: Iterable[str]) -> dict[str, PackedResource]:
        found: dict[str, PackedResource] = {}
        for digest in digests:
            data = self._objects.get(bytes.fromhex(digest))
            if data is not None:
                found[digest] = PackedResource(digest, data)
        return found

    def iter_digests(self) -> Iterator[str]:
        for key in list(self._objects):
            yield key.hex()

    def committed_before(self, digests: Iterable[str], cutoff: float) -> set[str]:
        committed_at = self._committed_at
        old: set[str] = set()
        for digest in digests:
            at = committed_at.get(bytes.fromhex(digest))
            if at is not None and at < cutoff:
                old.add(digest)
        return old

    def delete_many(self, digests: Iterable[str], *, committed_before: float | None = None) -> int:
        keys = [bytes.fromhex(digest) for digest in digests]
        deleted = 0
        objects = self._objects
        committed_at = self._committed_at
        with self._lock:
            for key in keys:
                at = committed_at.get(key)
                if at is None or (committed_before is not None and at >= committed_before):
                    continue
                del objects[key], committed_at[key]
                deleted += 1
        return deleted

    def get_name(self, name: str) -> str | None:
        return self._names.get(name)

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        self._names.set(name, digest, expected)

    def iter_names(self) -> Iterator[tuple[str, str]]:
        return self._names.items()

    def list_names(self, query: NameQuery) -> list[tuple[str, str]]:
        return self._names.select(query)

    def locate(self, digest: str) -> str:
        return f"in-memory store object {digest}"

    def __len__(self) -> int:
        return len(self._objects)


class InMemoryStore(Store):
    """A store whose objects live in this process only: ``Store(InMemoryBackend())``."""

    def __init__(self, *, durability: str = "call") -> None:
        super().__init__(InMemoryBackend(), durability=durability)
