"""Custom storage backends and ref types.

A `enact.Store` does the hashing, verification and decoding; where the bytes
live is up to its backend. ``enact.InMemoryStore()`` is
``enact.Store(enact.InMemoryBackend())``, ``enact.FileStore(path)`` is
``enact.Store(enact.FileBackend(path))``, and there are SQLite and
PostgreSQL backends. A backend of your own needs three methods: ``commit``,
``has`` and ``get``.

How an object is stored can also depend on the ref type used to commit it:
a `Ref` subclass may *pack* the bytes (compress or encrypt them). The digest
is always that of the plain content, so any ref can check the object out.

Run: python 08_custom_backends_and_refs.py
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile
from typing import Any, ClassVar

import enact


@enact.register
@dataclasses.dataclass
class Message(enact.Resource):
    """A message with a sender and a body."""

    sender: str
    body: str


class NotebookBackend(enact.StorageBackend):
    """A backend that keeps objects in a dict and reports what the store asks of it."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}

    def commit(self, packed_resource: enact.PackedResource) -> None:
        print(f"  backend.commit({packed_resource.digest[:8]}, {len(packed_resource.data)} bytes)")
        self.pages[packed_resource.digest] = packed_resource.data

    def has(self, ref: enact.Ref[Any]) -> bool:
        print(f"  backend.has({ref.digest[:8]})")
        return ref.digest in self.pages

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        print(f"  backend.get({ref.digest[:8]})")
        data = self.pages.get(ref.digest)
        return None if data is None else enact.PackedResource(ref.digest, data)


def built_in_backends() -> None:
    print("== The built-in backends ==")
    message = Message("ada", "hello")
    with enact.Store(enact.InMemoryBackend()):
        in_memory = enact.commit(message)
    with tempfile.TemporaryDirectory() as directory:
        with enact.FileStore(directory):
            on_disk = enact.commit(message)
            print("read back from files:", on_disk())
        files = [path for path in pathlib.Path(directory).rglob("*") if path.is_file()]
        print("objects on disk:", len(files))
    print("same content, same ref in every store:", in_memory == on_disk)


def custom_backend() -> None:
    print()
    print("== A backend of our own ==")
    backend = NotebookBackend()
    with enact.Store(backend):
        ref = enact.commit(Message("ben", "hi there"))
        print("committed:", ref.digest[:8])
        print("checked out:", ref())
        print("checked out again (from the store's cache):", ref())
    with enact.Store(backend):
        print("a new store on the same backend reads it:", ref().body)


@enact.register
@dataclasses.dataclass(eq=False, repr=False)
class ShuffledRef(enact.Ref[Any]):
    """A toy packing that reverses the stored bytes (a real one would encrypt them)."""

    packing: ClassVar[str | None] = "example-reversed"

    @classmethod
    def pack(cls, data: bytes) -> bytes:
        return data[::-1]

    @classmethod
    def unpack(cls, data: bytes) -> bytes:
        return data[::-1]


def custom_refs() -> None:
    print()
    print("== Ref types that pack what they store ==")
    long_text = Message("cyd", "la " * 500)
    digests = set()
    for ref_type in (enact.Ref, ShuffledRef, enact.CompressedRef):
        backend = enact.InMemoryBackend()
        with enact.Store(backend):
            ref = enact.commit(long_text, ref_type)
            stored = backend.get(ref)
            assert stored is not None
            name = ref_type.__name__
            print(f"{name:>13}: {len(stored.data):>5} bytes stored, starting {stored.data[:5]!r}")
            print(f"{'':>13}  a plain Ref reads it: {enact.Ref.from_digest(ref.digest)().sender}")
            digests.add(ref.digest)
    print("one digest for all three:", len(digests) == 1)


if __name__ == "__main__":
    built_in_backends()
    custom_backend()
    custom_refs()
