"""Refs, commit and checkout, modify, stores and their contexts, custom backends and packing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading
import typing
import zlib
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import enact

T = TypeVar("T")
HELPERS = Path(__file__).parent / "helpers"


@enact.register
@dataclasses.dataclass
class Note(enact.Resource):
    title: str
    body: str
    tags: list[str] = dataclasses.field(default_factory=list)


@enact.register
@dataclasses.dataclass
class Chain(enact.Resource):
    value: int
    next: enact.Ref[Chain] | None = None


class DictBackend(enact.StorageBackend):
    """The smallest complete backend: three methods over a dict, counting reads."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.gets = 0
        self.hases = 0

    def commit(self, packed_resource: enact.PackedResource) -> None:
        self.objects.setdefault(packed_resource.digest, packed_resource.data)

    def has(self, ref: enact.Ref[Any]) -> bool:
        self.hases += 1
        return ref.digest in self.objects

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        self.gets += 1
        data = self.objects.get(ref.digest)
        return None if data is None else enact.PackedResource(ref.digest, data)


class CountingMemoryBackend(enact.InMemoryBackend):
    """The in-memory backend, counting reads."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        self.gets += 1
        return super().get(ref)


# An encrypting Ref: objects committed through it are stored AES-GCM encrypted.


@dataclasses.dataclass(eq=False, repr=False)
class EncryptedRef(enact.Ref[T]):
    """Stores objects encrypted with AES-256-GCM under `key`; the digest stays the plain one."""

    packing: ClassVar[str | None] = "test-aes-256-gcm"
    key: ClassVar[bytes] = AESGCM.generate_key(bit_length=256)

    @classmethod
    def pack(cls, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(cls.key).encrypt(nonce, data, None)

    @classmethod
    def unpack(cls, data: bytes) -> bytes:
        return AESGCM(cls.key).decrypt(data[:12], data[12:], None)


SECRET = "attack at dawn, bring the secret sauce"


# Commit and checkout -------------------------------------------------------------


def test_commit_and_checkout_round_trip() -> None:
    """commit returns a Ref; checkout() and ref() return an equal resource."""
    note = Note("t", "b", ["x"])
    with enact.InMemoryStore():
        ref = enact.commit(note)
        assert isinstance(ref, enact.Ref)
        assert ref.checkout() == note
        assert ref() == note
        assert enact.checkout(ref) == note


@pytest.mark.parametrize("value", [3, -1.5, "s", b"b", None, True, [1, [2]], {"k": [None]}])
def test_bare_values_commit(value: Any) -> None:
    """Bare primitives, lists and dicts can be committed and checked out."""
    with enact.InMemoryStore():
        result = enact.commit(value)()
    assert result == value
    assert type(result) is type(value)


def test_resource_classes_commit() -> None:
    """A resource class is a field value and can be committed on its own."""
    with enact.InMemoryStore():
        assert enact.commit(Note)() is Note
        assert enact.commit([Note, {"c": Chain}])() == [Note, {"c": Chain}]


def test_refs_compare_and_hash_by_digest() -> None:
    """Equal content gives equal refs with equal hashes; refs are usable as dict keys."""
    with enact.InMemoryStore():
        first = enact.commit(Note("a", "b"))
        second = enact.commit(Note("a", "b"))
        other = enact.commit(Note("a", "c"))
    assert first == second
    assert first is not second
    assert hash(first) == hash(second)
    assert first != other
    assert first != first.digest
    assert first != None  # noqa: E711 - the spec compares refs with None this way
    assert {first: 1}[second] == 1
    assert enact.Ref.from_digest(first.digest) == first


def test_ref_repr_and_digest() -> None:
    """repr(ref) is <Ref: hex> and ref.digest is the lower-case hex SHA-256."""
    with enact.InMemoryStore():
        ref = enact.commit(7)
    assert ref.digest == "fbf3c2c989df549221996d31e0b1095cfb2c631cb74423891f6eeba8849b9877"
    assert repr(ref) == f"<Ref: {ref.digest}>"
    assert str(ref) == repr(ref)


@pytest.mark.parametrize(
    "bad",
    [
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        " " + "a" * 63,
        "a" * 63 + "\n",
        "٣" * 64,
        b"a" * 64,
        None,
        0,
        "",
    ],
    ids=[
        "upper",
        "short",
        "long",
        "non-hex",
        "space",
        "newline",
        "arabic-digits",
        "bytes",
        "None",
        "int",
        "empty",
    ],
)
def test_from_digest_rejects_malformed_digests_before_touching_storage(bad: Any) -> None:
    """Ref.from_digest raises InvalidDigestError (a ValueError) without any backend call."""
    backend = DictBackend()
    with enact.Store(backend):
        with pytest.raises(enact.InvalidDigestError, match="64 lower-case hexadecimal"):
            enact.Ref.from_digest(bad)
        with pytest.raises(ValueError):
            enact.Ref(bad)
    assert (backend.gets, backend.hases, backend.objects) == (0, 0, {})


def test_from_digest_needs_no_store() -> None:
    """Ref.from_digest works outside any store; checking the ref out then needs one."""
    ref = enact.Ref.from_digest("0" * 64)
    with pytest.raises(enact.NoActiveStoreError):
        ref()


def test_ref_subscription_in_annotations() -> None:
    """Ref[T] and Ref['T'] work in annotations and resolve with get_type_hints."""
    hints = typing.get_type_hints(Chain)
    assert typing.get_origin(hints["next"]) in (typing.Union, type(int | None))
    assert enact.Ref["Chain"] is not None
    assert typing.get_args(enact.Ref[Note]) == (Note,)


def test_refs_inside_values_round_trip() -> None:
    """Refs held in fields, lists and dicts check out as refs to the same objects."""
    with enact.InMemoryStore():
        tail = enact.commit(Chain(1))
        head = enact.commit(Chain(2, tail))
        holder = enact.commit(
            {"refs": [head, tail], "compressed": enact.commit(3, enact.CompressedRef)}
        )
        result = holder()
        assert result["refs"] == [head, tail]
        assert result["refs"][0]().next() == Chain(1)
        assert type(result["compressed"]) is enact.CompressedRef
        assert result["compressed"]() == 3


def test_checkout_returns_fresh_objects() -> None:
    """Mutating a checked-out value or the committed original never changes what a ref holds."""
    note = Note("t", "b", ["x"])
    with enact.InMemoryStore():
        ref = enact.commit(note)
        note.tags.append("changed after commit")
        first = ref()
        first.tags.append("changed after checkout")
        second = ref()
    assert second == Note("t", "b", ["x"])
    assert first is not second
    assert first.tags is not second.tags


# modify and deepcopy_resource ----------------------------------------------------


def test_modify_points_the_ref_at_a_new_snapshot() -> None:
    """modify commits on exit; the ref moves, other refs and the caller's object stay."""
    original = Note("hello", "42", ["a"])
    with enact.InMemoryStore():
        ref = enact.commit(original)
        old = ref.deepcopy_resource()
        alias = ref
        with ref.modify() as note:
            assert note == original
            assert note is not original
            note.body = "69"
            note.tags.append("b")
        assert ref() == Note("hello", "69", ["a", "b"])
        assert alias is ref
        assert old() == Note("hello", "42", ["a"])
        assert enact.commit(Note("hello", "69", ["a", "b"])) == ref
    assert original == Note("hello", "42", ["a"])


def test_modify_twice_from_the_same_original() -> None:
    """Two refs to one snapshot can be modified separately; the original object never changes."""
    original = Note("n", "0", [])
    with enact.InMemoryStore():
        first = enact.commit(original)
        second = first.deepcopy_resource()
        for ref, body in ((first, "1"), (second, "2")):
            with ref.modify() as note:
                note.body = body
                note.tags.append(body)
        assert first().body == "1"
        assert second().body == "2"
        assert first().tags == ["1"]
        assert enact.commit(original)() == Note("n", "0", [])
    assert original == Note("n", "0", [])


def test_modify_that_raises_changes_nothing() -> None:
    """If the modify block raises, the ref is unchanged and nothing new is committed."""
    backend = DictBackend()
    with enact.Store(backend):
        ref = enact.commit(Note("a", "b"))
        stored = dict(backend.objects)
        with pytest.raises(KeyError), ref.modify() as note:
            note.body = "never committed"
            raise KeyError("boom")
        assert ref() == Note("a", "b")
    assert backend.objects == stored


def test_modify_a_bare_value_and_a_compressed_ref() -> None:
    """modify works on refs to bare values and keeps the Ref subclass's packing."""
    with enact.InMemoryStore():
        numbers = enact.commit([1, 2])
        with numbers.modify() as items:
            items.append(3)
        assert numbers() == [1, 2, 3]
        packed = enact.commit(Note("c", "d"), enact.CompressedRef)
        with packed.modify() as note:
            note.title = "e"
        assert type(packed) is enact.CompressedRef
        assert packed() == Note("e", "d")


def test_deepcopy_resource_is_an_independent_ref() -> None:
    """deepcopy_resource returns an equal ref of the same class that modify does not affect."""
    with enact.InMemoryStore():
        ref = enact.commit(Note("a", "b"), enact.CompressedRef)
        copy = ref.deepcopy_resource()
        assert copy == ref
        assert copy is not ref
        assert type(copy) is enact.CompressedRef
        with copy.modify() as note:
            note.title = "z"
        assert ref() == Note("a", "b")
        assert copy() == Note("z", "b")


# Stores and their contexts -------------------------------------------------------


def test_store_constructors_are_equivalent(tmp_path: Path) -> None:
    """InMemoryStore() is Store(InMemoryBackend()); FileStore(root) is Store(FileBackend(root))."""
    stores = [
        enact.InMemoryStore(),
        enact.Store(enact.InMemoryBackend()),
        enact.FileStore(tmp_path / "a"),
        enact.Store(enact.FileBackend(tmp_path / "b")),
    ]
    refs = set()
    for store in stores:
        with store:
            ref = enact.commit(Note("same", "content"))
            assert ref() == Note("same", "content")
            refs.add(ref)
    assert len(refs) == 1
    assert isinstance(stores[0].backend, enact.InMemoryBackend)
    assert isinstance(stores[2].backend, enact.FileBackend)


def test_nested_stores_use_the_innermost() -> None:
    """Inside nested blocks the innermost store is active; leaving it restores the outer one."""
    outer, inner = enact.InMemoryStore(), enact.InMemoryStore()
    with outer:
        with inner:
            in_inner = enact.commit("inner")
        in_outer = enact.commit("outer")
        assert in_outer() == "outer"
        with pytest.raises(enact.NotFoundError):
            in_inner()
    with inner:
        assert in_inner() == "inner"
        with pytest.raises(enact.NotFoundError):
            in_outer()


def test_store_can_be_reentered() -> None:
    """The same store may be entered while active and again after it was left."""
    store = enact.InMemoryStore()
    with store as entered:
        assert entered is store
        with store:
            ref = enact.commit(1)
        assert ref() == 1
    with store:
        assert ref() == 1
    with pytest.raises(enact.NoActiveStoreError):
        ref()


def test_store_is_active_per_thread() -> None:
    """Threads each enter the shared store; a thread that did not enter it has no store."""
    store = enact.InMemoryStore()
    refs: list[list[enact.Ref[Any]]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with store:
                for i in range(50):
                    refs[index].append(enact.commit(Note(str(i % 10), str(index))))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def outside() -> None:
        try:
            enact.commit(1)
        except enact.NoActiveStoreError as err:
            errors.append(err)

    with store:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        threads.append(threading.Thread(target=outside))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], enact.NoActiveStoreError)
    with store:
        for index, thread_refs in enumerate(refs):
            assert [ref() for ref in thread_refs] == [
                Note(str(i % 10), str(index)) for i in range(50)
            ]


def test_store_is_active_per_asyncio_task() -> None:
    """Tasks enter and leave stores in interleaved order; each sees its own blocks."""
    first, second = enact.InMemoryStore(), enact.InMemoryStore()

    async def use(store: enact.Store, value: str, gate: asyncio.Event, other: asyncio.Event) -> Any:
        with store:
            gate.set()
            await other.wait()
            ref = enact.commit(value)
            await asyncio.sleep(0)
            assert ref() == value
        return ref

    async def inherit() -> Any:
        return enact.commit("inherited")

    async def main() -> list[Any]:
        a_ready, b_ready = asyncio.Event(), asyncio.Event()
        results = list(
            await asyncio.gather(
                use(first, "a", a_ready, b_ready),
                use(second, "b", b_ready, a_ready),
                use(first, "c", asyncio.Event(), a_ready),
            )
        )
        with second:
            results.append(await asyncio.create_task(inherit()))
        return results

    a, b, c, inherited = asyncio.run(main())
    with first:
        assert (a(), c()) == ("a", "c")
    with second:
        assert (b(), inherited()) == ("b", "inherited")


def test_commit_without_a_store() -> None:
    """commit and checkout outside any store raise NoActiveStoreError (a RuntimeError)."""
    with pytest.raises(enact.NoActiveStoreError, match="with store") as info:
        enact.commit(Note("a", "b"))
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(enact.NoActiveStoreError):
        enact.checkout(enact.Ref.from_digest("1" * 64))


# Custom backends, caching and verification -----------------------------------------


def test_a_three_method_backend_is_a_complete_store() -> None:
    """A user's backend that implements commit, has and get supports commit and checkout."""
    backend = DictBackend()
    store = enact.Store(backend)
    with store:
        tail = enact.commit(Chain(1))
        head = enact.commit(Chain(2, tail))
        assert head().next() == Chain(1)
        assert store.has(head)
        assert not store.has(enact.Ref.from_digest("e" * 64))
        with pytest.raises(enact.NotFoundError):
            enact.Ref.from_digest("e" * 64)()
    assert set(backend.objects) == {head.digest, tail.digest}


def test_cached_checkout_neither_reads_nor_rehashes() -> None:
    """A repeated checkout is served from the verified cache; a fresh store verifies again."""
    backend = DictBackend()
    store = enact.Store(backend)
    with store:
        ref = enact.commit(list(range(1000)))
        assert ref() == list(range(1000))
        reads = backend.gets
        for _ in range(5):
            assert ref() == list(range(1000))
        assert backend.gets == reads
    # Damage the stored bytes: the warm store still answers from its verified
    # cache (it does not re-hash); a new store over the same backend detects it.
    backend.objects[ref.digest] = backend.objects[ref.digest].replace(b"i999", b"i998")
    with store:
        assert ref() == list(range(1000))
    with enact.Store(backend), pytest.raises(enact.CorruptObjectError, match=ref.digest):
        ref()


def test_in_memory_checkout_is_cached() -> None:
    """The built-in in-memory backend is read once for repeated checkouts."""
    backend = CountingMemoryBackend()
    with enact.Store(backend):
        ref = enact.commit(Note("a", "b"))
        for _ in range(3):
            assert ref() == Note("a", "b")
    assert backend.gets <= 1


def test_checkout_verifies_what_the_backend_returns() -> None:
    """Bytes that do not hash to the ref raise CorruptObjectError naming the full digest."""
    backend = DictBackend()
    with enact.Store(backend):
        good = enact.commit(Note("good", "x"))
        bad = enact.commit(Note("bad", "x"))
    backend.objects[bad.digest] = backend.objects[good.digest]
    with enact.Store(backend):
        with pytest.raises(enact.CorruptObjectError) as info:
            bad()
        assert good() == Note("good", "x")
    assert info.value.digest == bad.digest
    assert bad.digest in str(info.value)
    assert isinstance(info.value, ValueError)


def test_backend_driver_errors_are_wrapped() -> None:
    """A backend that raises a raw OSError surfaces as StorageError with the cause attached."""

    class FailingBackend(DictBackend):
        def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
            raise OSError("disk on fire")

        def commit(self, packed_resource: enact.PackedResource) -> None:
            raise OSError("disk full")

    with enact.Store(FailingBackend()):
        with pytest.raises(enact.StorageError, match="disk full") as committed:
            enact.commit(1)
        with pytest.raises(enact.StorageError, match="disk on fire") as read:
            enact.Ref.from_digest("a" * 64)()
    assert isinstance(committed.value.__cause__, OSError)
    assert isinstance(read.value.__cause__, OSError)


# Packing: compression and encryption -------------------------------------------------


def test_compressed_ref_stores_compressed_bytes(tmp_path: Path) -> None:
    """CompressedRef stores zlib-compressed objects under the plain digest."""
    note = Note("long", "all work and no play " * 500)
    with enact.InMemoryStore():
        plain_digest = enact.commit(note).digest
    with enact.FileStore(tmp_path):
        ref = enact.commit(note, enact.CompressedRef)
        assert ref.digest == plain_digest
        assert repr(ref) == f"<CompressedRef: {plain_digest}>"
    stored = (tmp_path / "objects" / ref.digest[:2] / ref.digest[2:]).read_bytes()
    assert b"all work and no play" not in stored
    assert len(stored) < 1000
    with enact.FileStore(tmp_path):
        assert enact.Ref.from_digest(ref.digest)() == note
    header, payload = stored.split(b"\n", 1)
    assert b"zlib" in header
    assert b"all work and no play" in zlib.decompress(payload)


def test_encrypted_ref_round_trips_without_storing_plaintext(tmp_path: Path) -> None:
    """An AES-GCM Ref subclass stores ciphertext only, and checks out with the key."""
    note = Note("diary", SECRET, ["private"])
    with enact.FileStore(tmp_path):
        ref = enact.commit(note, EncryptedRef)
        holder = enact.commit(Chain(0, ref), EncryptedRef)
        assert ref() == note
    files = [path for path in (tmp_path / "objects").rglob("*") if path.is_file()]
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        for plaintext in (SECRET.encode(), b"diary", b"private", b"Note"):
            assert plaintext not in data
    with enact.FileStore(tmp_path):
        checked_out = holder()
        assert type(checked_out.next) is EncryptedRef
        assert checked_out.next() == note
        # A plain Ref to the same digest checks it out too: the digest names content.
        assert enact.Ref.from_digest(ref.digest)() == note


def test_encrypted_object_with_the_wrong_key_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With another key, checkout raises CorruptObjectError naming the object and its file."""
    with enact.FileStore(tmp_path):
        ref = enact.commit(Note("k", SECRET), EncryptedRef)
    monkeypatch.setattr(EncryptedRef, "key", AESGCM.generate_key(bit_length=256))
    with enact.FileStore(tmp_path), pytest.raises(enact.CorruptObjectError) as info:
        ref()
    assert ref.digest in str(info.value)
    assert str(tmp_path) in info.value.location
    assert "test-aes-256-gcm" in str(info.value)


def test_encrypted_object_without_the_ref_class_fails_clearly(tmp_path: Path) -> None:
    """A process without the encrypting Ref class gets UnknownTypeError naming the packing."""
    with enact.FileStore(tmp_path):
        ref = enact.commit(Note("k", SECRET), EncryptedRef)
        plain = enact.commit("visible")
    result = subprocess.run(
        [
            sys.executable,
            str(HELPERS / "checkout_worker.py"),
            str(tmp_path),
            ref.digest,
            plain.digest,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    encrypted, visible = json.loads(result.stdout)
    assert visible == {"repr": "'visible'"}
    assert encrypted["error"] == "UnknownTypeError"
    assert encrypted["is_enact_error"]
    assert "test-aes-256-gcm" in encrypted["message"]
    assert ref.digest in encrypted["message"]
