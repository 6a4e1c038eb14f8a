"""An in-process backend: a dict from digest to bytes.

Promises: nothing survives the process. Commits from several threads are
safe (each is one dict assignment under the GIL); a reader sees an object
whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from enact.stores.base import ANY, NameTable, PackedResource, StorageBackend

if TYPE_CHECKING:
    from enact.refs import Ref


class InMemoryBackend(StorageBackend):
    """Keeps objects in a dict; keys are the 32 raw digest bytes to save memory."""

    def __init__(self) -> None:
        self._objects: dict[bytes, bytes] = {}
        self._names = NameTable()

    def commit(self, packed_resource: PackedResource) -> None:
        self._objects.setdefault(bytes.fromhex(packed_resource.digest), packed_resource.data)

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        setdefault = self._objects.setdefault
        for packed in packed_resources:
            setdefault(bytes.fromhex(packed.digest), packed.data)

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

    def delete_many(self, digests: Iterable[str]) -> int:
        deleted = 0
        for digest in digests:
            if self._objects.pop(bytes.fromhex(digest), None) is not None:
                deleted += 1
        return deleted

    def get_name(self, name: str) -> str | None:
        return self._names.get(name)

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        self._names.set(name, digest, expected)

    def iter_names(self) -> Iterator[tuple[str, str]]:
        return self._names.items()

    def locate(self, digest: str) -> str:
        return f"in-memory store object {digest}"

    def __len__(self) -> int:
        return len(self._objects)
