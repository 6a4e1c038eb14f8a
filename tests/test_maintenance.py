"""copy, gc and verify beyond the conformance suite: across backends, interrupted, at depth."""

from __future__ import annotations

import hashlib
import json
import pathlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import enact


def chain(store: enact.Store, length: int, tag: str = "") -> enact.Ref[Any]:
    """Commits a linked list of `length` nodes; returns its head."""
    ref = store.commit({"end": tag})
    for i in range(length):
        ref = store.commit({"i": i, "next": ref, "tag": tag})
    return ref


def diamond_dag(store: enact.Store, width: int) -> enact.Ref[Any]:
    """Commits layers where every node links to every node of the layer below."""
    layer = [store.commit({"leaf": i}) for i in range(width)]
    for depth in range(4):
        layer = [store.commit({"d": depth, "n": n, "below": layer}) for n in range(width)]
    return store.commit(layer)


class RecordingBackend(enact.InMemoryBackend):
    """An in-memory backend that remembers the order objects arrived in."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[str] = []

    def commit_many(self, packed_resources: Iterable[enact.PackedResource]) -> None:
        batch = list(packed_resources)
        self.arrivals.extend(packed.digest for packed in batch)
        super().commit_many(batch)


class FailingBackend(enact.InMemoryBackend):
    """An in-memory backend whose disk 'fills up' after a number of batches."""

    def __init__(self, batches_before_failure: int) -> None:
        super().__init__()
        self.left = batches_before_failure

    def commit_many(self, packed_resources: Iterable[enact.PackedResource]) -> None:
        if self.left == 0:
            raise enact.StorageError("disk full")
        self.left -= 1
        super().commit_many(packed_resources)


def test_copy_between_this_backend_and_sqlite(
    make_backend: Callable[[], enact.StorageBackend], tmp_path: pathlib.Path
) -> None:
    """A closure goes from each backend into an SQLite file and back into a new one."""
    source = enact.Store(make_backend())
    root = diamond_dag(source, 12)
    sqlite = enact.SQLiteStore(tmp_path / "middle.db")
    there = enact.copy(root, source, sqlite)
    back = enact.Store(make_backend())
    again = enact.copy(root, sqlite, back)
    assert there.sent == again.sent == 12 * 5 + 1
    assert back.checkout(root) == source.checkout(root)
    assert enact.verify(sqlite).ok
    sqlite.close()


def test_copy_writes_children_before_parents() -> None:
    """Every object reaches the target after everything it links to."""
    source = enact.InMemoryStore()
    root = diamond_dag(source, 7)
    target_backend = RecordingBackend()
    enact.copy(root, source, enact.Store(target_backend), batch_size=5)
    position = {digest: i for i, digest in enumerate(target_backend.arrivals)}
    assert len(position) == 7 * 5 + 1
    for digest in position:
        packed = source.backend.get(enact.Ref.from_digest(digest))
        assert packed is not None
        assert all(position[link] < position[digest] for link in source.links(packed))


def test_interrupted_copy_leaves_whole_closures_and_resumes() -> None:
    """A copy that fails midway leaves no dangling link, and running it again finishes."""
    source = enact.InMemoryStore()
    root = diamond_dag(source, 6)
    target = enact.Store(FailingBackend(batches_before_failure=3))
    with pytest.raises(enact.StorageError, match="disk full"):
        enact.copy(root, source, target, batch_size=4)
    partial = enact.verify(target)
    assert partial.ok and partial.checked == 12
    target.backend.left = 1000  # type: ignore[attr-defined]
    report = enact.copy(root, source, target, batch_size=4)
    assert report.sent == 6 * 5 + 1 - 12
    assert enact.verify(target).checked == 6 * 5 + 1
    assert target.checkout(root) == source.checkout(root)


def test_copy_of_ten_thousand_objects_between_sqlite_files(tmp_path: pathlib.Path) -> None:
    """A 10,000-object closure copies between two SQLite files in batches, once."""
    source = enact.SQLiteStore(tmp_path / "source.db")
    with source.batch():
        leaves = [source.commit({"leaf": i, "text": "x" * 50}) for i in range(9_900)]
        groups = [source.commit(leaves[i : i + 100]) for i in range(0, 9_900, 100)]
        root = source.commit(groups)
    target = enact.SQLiteStore(tmp_path / "target.db")
    stages: list[tuple[str, int, int | None]] = []
    report = enact.copy(root, source, target, progress=lambda *args: stages.append(args))
    assert report.sent == 10_000 and report.skipped == 0
    assert stages[-1] == ("copy: send", 10_000, 10_000)
    assert {stage for stage, _, _ in stages} == {"copy: scan", "copy: send"}
    assert enact.copy(root, source, target).sent == 0
    assert len(list(target.backend.iter_digests())) == 10_000
    source.close()
    target.close()


def test_deep_chains_need_no_recursion(tmp_path: pathlib.Path) -> None:
    """copy, gc and verify handle a 20,000-long chain of refs."""
    source = enact.InMemoryStore()
    head = chain(source, 20_000)
    target = enact.SQLiteStore(tmp_path / "deep.db")
    assert enact.copy(head, source, target).sent == 20_001
    target.set_name("head", head)
    assert enact.gc(target, grace_seconds=0).deleted == 0
    assert enact.verify(target).checked == 20_001
    target.close()


def test_copy_refuses_unknown_packings() -> None:
    """An object packed with a packing unknown here (encryption without its key) cannot be
    hash-checked, so copy refuses it (naming it) instead of trusting its header's links."""
    source = enact.InMemoryStore()
    child = source.commit("child of the sealed object")
    header = json.dumps({"links": [child.digest], "packing": "sealed-here"}, sort_keys=True)
    data = b"pack:" + header.encode() + b"\n" + b"\x8f opaque"
    sealed = enact.PackedResource(hashlib.sha256(b"whatever it was").hexdigest(), data)
    source.backend.commit(sealed)
    target = enact.InMemoryStore()
    with pytest.raises(enact.UnknownTypeError, match=sealed.digest) as caught:
        enact.copy(sealed.digest, source, target)
    assert caught.value.type_name == "sealed-here"
    assert len(target.backend) == 0


def test_copy_roots_are_refs_or_digests() -> None:
    """copy takes a ref, a digest, or a mix of them; malformed digests are refused up front."""
    source = enact.InMemoryStore()
    a, b = source.commit("a"), source.commit("b")
    target = enact.InMemoryStore()
    assert enact.copy([a, b.digest], source, target).sent == 2
    with pytest.raises(enact.InvalidDigestError):
        enact.copy("not-a-digest", source, target)


def test_gc_of_compressed_objects_keeps_their_children() -> None:
    """Objects stored compressed keep what they link to alive (links come from the header)."""
    store = enact.InMemoryStore()
    child = store.commit("child")
    parent = store.commit(["compressed parent " * 100, child], enact.CompressedRef)
    store.set_name("root", parent)
    store.commit("garbage")
    report = enact.gc(store, grace_seconds=0)
    assert (report.reachable, report.deleted) == (2, 1)
    assert store.checkout(parent)[1] == child


def test_gc_needs_listing_and_deletion() -> None:
    """gc on a backend that cannot list objects raises UnsupportedOperationError."""

    class Bare(enact.StorageBackend):
        def commit(self, packed_resource: enact.PackedResource) -> None:
            pass

        def has(self, ref: enact.Ref[Any]) -> bool:
            return False

        def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
            return None

    with pytest.raises(enact.stores.UnsupportedOperationError):
        enact.gc(enact.Store(Bare()))
    with pytest.raises(ValueError, match="negative"):
        enact.gc(enact.InMemoryStore(), grace_seconds=-1)


class Nameless(enact.InMemoryBackend):
    """An in-memory backend that does not support names."""

    def iter_names(self) -> Iterator[tuple[str, str]]:
        return enact.StorageBackend.iter_names(self)


def test_gc_and_verify_of_a_backend_without_names() -> None:
    """Without names gc needs explicit roots (or refuses); verify simply has no names to check."""
    store = enact.Store(Nameless())
    kept = store.commit(["kept", store.commit("child")])
    store.commit("garbage")
    with pytest.raises(enact.stores.UnsupportedOperationError, match="roots="):
        enact.gc(store, grace_seconds=0)
    assert enact.gc(store, grace_seconds=0, roots=kept).deleted == 1
    assert enact.verify(store).ok


def test_gc_reports_missing_objects_and_carries_on() -> None:
    """A name pointing at a missing object is counted, and gc still collects the rest."""
    store = enact.InMemoryStore()
    store.backend.set_name("lost", "ab" * 32)
    store.commit("garbage")
    report = enact.gc(store, grace_seconds=0)
    assert (report.missing, report.deleted) == (1, 1)


def test_gc_stops_on_unreadable_links() -> None:
    """A reachable object whose refs cannot be read stops gc before it deletes anything."""
    store = enact.InMemoryStore()
    broken = b"res[{broken"
    digest = hashlib.sha256(broken).hexdigest()
    store.backend.commit(enact.PackedResource(digest, broken))
    store.backend.set_name("broken", digest)
    garbage = store.commit("garbage")
    with pytest.raises(enact.CorruptObjectError, match="before deleting anything") as caught:
        enact.gc(store, grace_seconds=0)
    assert caught.value.digest == digest
    assert store.has(garbage)


def test_gc_progress_stages() -> None:
    """gc reports mark, scan and delete progress, with the delete total."""
    store = enact.InMemoryStore()
    store.set_name("root", chain(store, 30))
    for i in range(25):
        store.commit(f"garbage {i}")
    stages: list[tuple[str, int, int | None]] = []
    enact.gc(store, grace_seconds=0, batch_size=10, progress=lambda *args: stages.append(args))
    assert {stage for stage, _, _ in stages} == {"gc: mark", "gc: scan", "gc: delete"}
    assert stages[-1] == ("gc: delete", 25, 25)


def test_verify_finds_a_lying_link_index(tmp_path: pathlib.Path) -> None:
    """An SQLite link index that disagrees with the object's content is reported as corrupt,
    because gc and copy trust it."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path)
    child = store.commit("child")
    parent = store.commit([child])
    raw = sqlite3.connect(path)
    raw.execute(
        "UPDATE objects SET links = ? WHERE digest = ?",
        (b"", bytes.fromhex(parent.digest)),
    )
    raw.commit()
    raw.close()
    report = enact.verify(store)
    assert [problem.digest for problem in report.corrupt] == [parent.digest]
    assert "link index" in report.corrupt[0].detail
    store.close()


def test_verify_report_reads_well() -> None:
    """str(report) summarises the counts and lists each problem with digest and location."""
    store = enact.InMemoryStore()
    holder = store.commit([enact.Ref.from_digest("cd" * 32)])
    report = enact.verify(store)
    text = str(report)
    assert text.startswith("1 objects checked: 0 corrupt, 1 dangling references")
    assert "cd" * 32 in text and holder.digest in text
    assert not report.ok
