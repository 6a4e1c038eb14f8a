"""One conformance suite for every storage backend: subclass it, give it a factory.

enact runs these tests against its memory, directory, SQLite and PostgreSQL
backends; run them against yours the same way::

    # test_my_backend.py
    import uuid

    import pytest
    from enact.testing.conformance import BackendConformance

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def make_backend(self, tmp_path):
            # Each call must return a new, empty backend.
            return lambda: MyBackend(tmp_path / uuid.uuid4().hex)

The suite covers round trips, batches, enumeration and deletion, names
(including compare-and-set from several threads), copy, gc, verify, and the
integrity errors raised on checkout. A test of an optional feature
(enumeration, deletion, names) skips when the backend raises
`enact.stores.UnsupportedOperationError` for it, so a backend with only
``commit``, ``has`` and ``get`` passes with skips. Backends are closed after
each test. Only the suite's own process is used; crash and multi-process
tests need a way to reach the same store from another process and live in
enact's own test suite.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from enact.errors import (
    CorruptObjectError,
    InvalidNameError,
    NameConflictError,
    NotFoundError,
    StorageError,
)
from enact.maintenance import copy, gc, verify
from enact.refs import CompressedRef, Ref
from enact.stores.base import NameQuery, PackedResource, StorageBackend, UnsupportedOperationError
from enact.stores.memory import InMemoryBackend
from enact.stores.store import Store

T = TypeVar("T")
BackendFactory = Callable[[], StorageBackend]
"""Returns a new, empty backend each time it is called."""


def raw(text: str) -> PackedResource:
    """Returns a packed object whose bytes are the token stream of the string `text`."""
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    data = f"s'{quoted}'".encode()
    return PackedResource(hashlib.sha256(data).hexdigest(), data)


def supported(operation: Callable[[], T]) -> T:
    """Runs `operation`, skipping the test if the backend does not support it."""
    try:
        return operation()
    except UnsupportedOperationError as err:
        pytest.skip(f"optional operation not supported: {err}")


def require_commit_times(backend: StorageBackend) -> None:
    """Skips the test if the backend does not record when objects were committed."""
    probe = raw("probe for commit times")
    backend.commit(probe)
    if backend.committed_before([probe.digest], time.time() - 3600):
        pytest.skip("the backend does not keep commit times (every object counts as old)")


def commits_around_a_cutoff(
    backend: StorageBackend,
) -> tuple[PackedResource, PackedResource, PackedResource, float]:
    """Commits "old" and "renewed", takes a cutoff, then commits "new" and "renewed"
    again; returns the three objects and the cutoff (skips without commit times)."""
    require_commit_times(backend)
    old, renewed, new = raw("old"), raw("renewed"), raw("new")
    backend.commit_many([old, renewed])
    time.sleep(0.05)
    cutoff = time.time()
    time.sleep(0.05)
    backend.commit(new)
    backend.commit_many([renewed])
    return old, renewed, new, cutoff


def tree(store: Store, width: int, depth: int, tag: str = "") -> Ref[Any]:
    """Commits a tree of lists of refs with shared leaves; returns its root."""
    leaves = [store.commit({"leaf": i, "tag": tag}) for i in range(width)]
    level: list[Ref[Any]] = leaves
    for d in range(depth):
        level = [store.commit([*level[i:], *level[:i], f"{tag}{d}"]) for i in range(width)]
    return store.commit({"root": level, "tag": tag})


class BackendConformance:
    """The conformance tests. Subclass as ``TestSomething`` and define the
    `make_backend` fixture (a zero-argument callable returning a new, empty
    `StorageBackend` each time)."""

    @pytest.fixture
    def backends(self, make_backend: BackendFactory) -> Iterator[BackendFactory]:
        """Like `make_backend`, but closes what it made after the test."""
        made: list[StorageBackend] = []

        def make() -> StorageBackend:
            backend = make_backend()
            made.append(backend)
            return backend

        yield make
        for backend in made:
            backend.close()

    @pytest.fixture
    def backend(self, backends: BackendFactory) -> StorageBackend:
        """A new, empty backend."""
        return backends()

    @pytest.fixture
    def store(self, backend: StorageBackend) -> Store:
        """A `Store` on a new, empty backend."""
        return Store(backend)

    # Objects ---------------------------------------------------------------

    def test_commit_then_get(self, backend: StorageBackend) -> None:
        """A committed object is there, and get returns its bytes unchanged."""
        packed = raw("hello")
        backend.commit(packed)
        ref: Ref[Any] = Ref.from_digest(packed.digest)
        assert backend.has(ref)
        got = backend.get(ref)
        assert got is not None
        assert (got.digest, got.data) == (packed.digest, packed.data)

    def test_missing_object(self, backend: StorageBackend) -> None:
        """An absent digest: has is False, get is None, no error."""
        ref: Ref[Any] = Ref.from_digest("0f" * 32)
        assert not backend.has(ref)
        assert backend.get(ref) is None

    def test_commit_is_idempotent(self, backend: StorageBackend) -> None:
        """Committing the same object again changes nothing."""
        packed = raw("twice")
        backend.commit(packed)
        backend.commit(packed)
        backend.commit_many([packed, packed])
        got = backend.get(Ref.from_digest(packed.digest))
        assert got is not None and got.data == packed.data
        digests = supported(lambda: list(backend.iter_digests()))
        assert digests == [packed.digest]

    def test_binary_and_large_objects(self, store: Store) -> None:
        """Every byte value and multi-megabyte objects round-trip exactly."""
        every_byte = bytes(range(256)) * 4
        large = bytes(range(251)) * 20_000
        refs = [store.commit(every_byte), store.commit(large), store.commit(b"")]
        assert [store.checkout(Ref.from_digest(ref.digest)) for ref in refs] == [
            every_byte,
            large,
            b"",
        ]

    def test_nested_values_round_trip(self, store: Store) -> None:
        """Values holding refs to other committed values check out equal."""
        inner = store.commit({"text": "ünïcode ✓", "n": 10**30, "x": 1.5, "flag": True})
        outer = store.commit([inner, inner, None, {"k": [inner]}])
        fresh = Store(store.backend)
        value = fresh.checkout(Ref.from_digest(outer.digest))
        assert value == [inner, inner, None, {"k": [inner]}]
        assert fresh.checkout(value[0])["text"] == "ünïcode ✓"

    def test_packed_objects_round_trip(self, store: Store) -> None:
        """Objects committed through a packing Ref subclass check out through any ref."""
        text = "compress me " * 1000
        ref = store.commit(text, CompressedRef)
        stored = store.backend.get(ref)
        assert stored is not None and len(stored.data) < len(text)
        assert Store(store.backend).checkout(Ref.from_digest(ref.digest)) == text

    def test_links_are_kept_or_left_unknown(self, store: Store) -> None:
        """get returns either no links or exactly the digests the object refers to."""
        a, b = store.commit("a"), store.commit("b")
        parent = store.commit([a, b, a])
        got = store.backend.get(parent)
        assert got is not None
        assert got.links is None or tuple(got.links) == (a.digest, b.digest, a.digest)
        assert store.links(got) == (a.digest, b.digest, a.digest)

    # Batches ---------------------------------------------------------------

    def test_commit_many_has_many_get_many(self, backend: StorageBackend) -> None:
        """Batches of thousands of objects store, find and return exactly those objects."""
        objects = [raw(f"object {i}") for i in range(2500)]
        backend.commit_many(objects[:2000])
        backend.commit_many(objects[1000:])
        missing = [raw(f"missing {i}").digest for i in range(10)]
        digests = [packed.digest for packed in objects]
        assert backend.has_many(digests + missing) == set(digests)
        got = backend.get_many(missing + digests)
        assert set(got) == set(digests)
        assert all(got[packed.digest].data == packed.data for packed in objects)
        assert all(got[packed.digest].digest == packed.digest for packed in objects)

    def test_empty_batches(self, backend: StorageBackend) -> None:
        """Empty batch calls return empty results."""
        backend.commit_many([])
        assert backend.has_many([]) == set()
        assert backend.get_many([]) == {}

    def test_store_batch_writes_at_the_end(self, store: Store) -> None:
        """Inside Store.batch nothing reaches the backend; at its end everything does."""
        with store.batch():
            refs = [store.commit({"i": i}) for i in range(50)]
            assert store.backend.has_many([ref.digest for ref in refs]) == set()
            assert store.checkout(refs[3]) == {"i": 3}
        assert store.backend.has_many([ref.digest for ref in refs]) == {r.digest for r in refs}

    def test_failed_batch_writes_nothing(self, store: Store) -> None:
        """A batch whose block raises leaves the backend untouched."""
        with pytest.raises(RuntimeError), store.batch():
            ref = store.commit("lost")
            raise RuntimeError("boom")
        assert not store.backend.has(ref)

    def test_threads_commit_at_once(self, store: Store) -> None:
        """Eight threads committing overlapping values all succeed and all is readable."""
        errors: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                for i in range(offset, offset + 100):
                    store.commit({"value": i})
                with store.batch():
                    for i in range(offset, offset + 100):
                        store.commit([i, "batched"])
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n * 50,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        fresh = Store(store.backend)
        for i in range(0, 450):
            assert fresh.checkout(store.commit({"value": i})) == {"value": i}

    # Enumeration and deletion ----------------------------------------------

    def test_iter_digests_lists_each_object_once(self, backend: StorageBackend) -> None:
        """iter_digests yields every stored digest exactly once."""
        objects = [raw(f"listed {i}") for i in range(300)]
        backend.commit_many(objects)
        listed = supported(lambda: list(backend.iter_digests()))
        assert sorted(listed) == sorted(packed.digest for packed in objects)

    def test_committed_before(self, backend: StorageBackend) -> None:
        """Objects committed (or committed again) after a cutoff are not reported as old."""
        old, renewed, new, cutoff = commits_around_a_cutoff(backend)
        digests = [old.digest, renewed.digest, new.digest, raw("absent").digest]
        assert backend.committed_before(digests, cutoff) == {old.digest}

    def test_delete_many(self, backend: StorageBackend) -> None:
        """delete_many removes the given objects, ignores absent ones, and counts."""
        objects = [raw(f"doomed {i}") for i in range(20)]
        backend.commit_many(objects)
        doomed = [packed.digest for packed in objects[:15]] + [raw("absent").digest]
        assert supported(lambda: backend.delete_many(doomed)) == 15
        remaining = {packed.digest for packed in objects[15:]}
        assert backend.has_many([packed.digest for packed in objects]) == remaining

    def test_delete_many_spares_recent_commits(self, backend: StorageBackend) -> None:
        """With committed_before, objects (re-)committed after the cutoff survive."""
        old, renewed, new, cutoff = commits_around_a_cutoff(backend)
        digests = [old.digest, renewed.digest, new.digest]
        assert supported(lambda: backend.delete_many(digests, committed_before=cutoff)) == 1
        assert backend.has_many(digests) == {renewed.digest, new.digest}

    # Names -------------------------------------------------------------------

    def test_names(self, backend: StorageBackend) -> None:
        """Names can be created, read, moved, listed in order and deleted."""
        a, b = raw("a"), raw("b")
        backend.commit_many([a, b])
        assert supported(lambda: backend.get_name("main")) is None
        backend.set_name("main", a.digest)
        backend.set_name("dev", b.digest)
        assert backend.get_name("main") == a.digest
        backend.set_name("main", b.digest)
        assert list(backend.iter_names()) == [("dev", b.digest), ("main", b.digest)]
        backend.set_name("dev", None)
        backend.set_name("never-existed", None)
        assert list(backend.iter_names()) == [("main", b.digest)]

    def test_name_compare_and_set(self, backend: StorageBackend) -> None:
        """A conditional update applies only if the name holds the expected digest."""
        a, b = raw("a"), raw("b")
        backend.commit_many([a, b])
        supported(lambda: backend.set_name("n", a.digest, expected=None))
        with pytest.raises(NameConflictError) as caught:
            backend.set_name("n", b.digest, expected=None)
        assert (caught.value.name, caught.value.expected, caught.value.actual) == (
            "n",
            None,
            a.digest,
        )
        with pytest.raises(NameConflictError):
            backend.set_name("n", b.digest, expected=b.digest)
        assert backend.get_name("n") == a.digest
        backend.set_name("n", b.digest, expected=a.digest)
        with pytest.raises(NameConflictError):
            backend.set_name("n", None, expected=a.digest)
        backend.set_name("n", None, expected=b.digest)
        assert backend.get_name("n") is None
        with pytest.raises(NameConflictError) as caught:
            backend.set_name("other", a.digest, expected=b.digest)
        assert caught.value.actual is None

    def test_list_names_by_prefix_and_range(self, backend: StorageBackend) -> None:
        """list_names returns a prefix's names in code point order, bounded and paged."""
        packed = raw("target")
        backend.commit(packed)
        names = ["jobs/a", "jobs/b", "jobs/b/1", "jobs/B", "jobs/é", "jobs0", "job", "other"]
        for name in names:
            supported(functools.partial(backend.set_name, name, packed.digest))
        listed = [name for name, _ in backend.list_names(NameQuery("jobs/"))]
        assert listed == ["jobs/B", "jobs/a", "jobs/b", "jobs/b/1", "jobs/é"]
        assert [n for n, _ in backend.list_names(NameQuery("jobs/", reverse=True, limit=2))] == [
            "jobs/é",
            "jobs/b/1",
        ]
        after = [
            n for n, _ in backend.list_names(NameQuery("jobs/", after="jobs/a", before="jobs/é"))
        ]
        assert after == ["jobs/b", "jobs/b/1"]
        assert all(digest == packed.digest for _, digest in backend.list_names(NameQuery("jobs/")))

    def test_delete_names_by_prefix(self, backend: StorageBackend) -> None:
        """delete_names removes exactly the names under a prefix."""
        packed = raw("target")
        backend.commit(packed)
        for name in ["tmp/1", "tmp/2", "tmp", "tmq/1"]:
            supported(functools.partial(backend.set_name, name, packed.digest))
        assert backend.delete_names("tmp/") == 2
        assert [name for name, _ in backend.iter_names()] == ["tmp", "tmq/1"]

    def test_commit_with_names(self, backend: StorageBackend) -> None:
        """commit_with_names stores the objects and points the names at them."""
        a, b = raw("with names a"), raw("with names b")
        supported(lambda: backend.get_name("probe"))
        backend.commit_with_names([a, b], [("x/a", a.digest), ("x/b", b.digest)])
        assert backend.has_many([a.digest, b.digest]) == {a.digest, b.digest}
        assert backend.list_names(NameQuery("x/")) == [("x/a", a.digest), ("x/b", b.digest)]

    def test_commit_call_is_read_back_at_once(self, backend: StorageBackend) -> None:
        """A call recorded with commit_call (a journaled call's write) is seen by the next
        read, whole: its objects and its names (the SQLite backend keeps it in a log
        until then)."""
        request, response = raw("call request"), raw("call response")
        supported(lambda: backend.get_name("probe"))
        backend.commit_call([request, response], [("calls/1", response.digest)])
        assert backend.get_name("calls/1") == response.digest
        found = backend.get_many([request.digest, response.digest])
        assert {digest: packed.data for digest, packed in found.items()} == {
            request.digest: request.data,
            response.digest: response.data,
        }
        backend.commit_call([], [("calls/2", request.digest)])
        assert backend.list_names(NameQuery("calls/")) == [
            ("calls/1", response.digest),
            ("calls/2", request.digest),
        ]

    def test_commit_with_names_compare_and_set(self, backend: StorageBackend) -> None:
        """Expected values make names move by compare-and-set; a miss changes no name."""
        a, b = raw("cas names a"), raw("cas names b")
        supported(lambda: backend.get_name("probe"))
        backend.commit_with_names([a], [("cas/head", a.digest)], expected={"cas/head": None})
        assert backend.get_name("cas/head") == a.digest
        with pytest.raises(NameConflictError):
            backend.commit_with_names(
                [b],
                [("cas/head", b.digest), ("cas/log", b.digest)],
                expected={"cas/head": b.digest},
            )
        assert backend.get_name("cas/head") == a.digest
        assert backend.get_name("cas/log") is None
        backend.commit_with_names(
            [b], [("cas/head", b.digest), ("cas/log", b.digest)], expected={"cas/head": a.digest}
        )
        assert (backend.get_name("cas/head"), backend.get_name("cas/log")) == (b.digest, b.digest)

    def test_names_in_transaction_means_all_or_nothing(self, backend: StorageBackend) -> None:
        """A backend that declares `names_in_transaction` writes no object of a
        `commit_with_names` whose compare-and-set misses (runs rely on it)."""
        if not backend.names_in_transaction:
            pytest.skip(f"{type(backend).__name__} does not declare names_in_transaction")
        a, b = raw("all or nothing a"), raw("all or nothing b")
        backend.commit_with_names([a], [("aon/head", a.digest)], expected={"aon/head": None})
        with pytest.raises(NameConflictError):
            backend.commit_with_names(
                [b], [("aon/index", b.digest), ("aon/head", b.digest)], expected={"aon/head": None}
            )
        assert not backend.has(b.ref)
        assert backend.get_name("aon/index") is None
        assert backend.get_name("aon/head") == a.digest

    def test_unusual_names(self, backend: StorageBackend) -> None:
        """Names with slashes, spaces, percent signs, dots and non-ASCII letters work."""
        packed = raw("target")
        backend.commit(packed)
        names = ["runs/2024-05-01/a b", "100%", "..", ".hidden", "ünïcödé ✓", "a" * 300]
        for name in names:
            supported(functools.partial(backend.set_name, name, packed.digest))
        assert dict(backend.iter_names()) == dict.fromkeys(names, packed.digest)
        assert [backend.get_name(name) for name in names] == [packed.digest] * len(names)

    def test_names_of_1000_characters_in_any_script(self, backend: StorageBackend) -> None:
        """Names of the documented 1,000 characters work whatever their UTF-8 size (3 bytes a
        CJK character, 4 an emoji): set, get, listed by prefix and range, compared-and-set,
        deleted, also when they share their first 600 characters."""
        a, b = raw("long a"), raw("long b")
        backend.commit_many([a, b])
        # Varied characters: a repeated one would compress below a database's index limit.
        cjk = "".join(chr(0x4E00 + i * 7919 % 20000) for i in range(1000))
        emoji = "".join(chr(0x1F300 + i * 31 % 700) for i in range(1000))
        shared = "".join(chr(0x4E00 + i * 104729 % 20000) for i in range(600))
        close = [shared + "x" * 400, shared + "y" * 400, shared + "y" * 399 + "z", shared]
        names = [cjk, emoji, *close]
        for name in names:
            supported(functools.partial(backend.set_name, name, a.digest))
        assert [backend.get_name(name) for name in names] == [a.digest] * len(names)
        assert [name for name, _ in backend.iter_names()] == sorted(names)
        listed = [name for name, _ in backend.list_names(NameQuery(shared))]
        assert listed == sorted(close)
        longest_prefix = shared + "y" * 300
        assert [n for n, _ in backend.list_names(NameQuery(longest_prefix))] == sorted(close[1:3])
        assert [n for n, _ in backend.list_names(NameQuery(shared, reverse=True, limit=2))] == [
            close[2],
            close[1],
        ]
        bounded = backend.list_names(NameQuery(shared, after=close[0], before=close[2]))
        assert [n for n, _ in bounded] == [close[1]]
        assert [n for n, _ in backend.list_names(NameQuery(cjk[:999]))] == [cjk]
        backend.set_name(cjk, b.digest, expected=a.digest)
        with pytest.raises(NameConflictError):
            backend.set_name(cjk, a.digest, expected=a.digest)
        with pytest.raises(NameConflictError):
            backend.set_name(emoji, b.digest, expected=None)
        assert (backend.get_name(cjk), backend.get_name(emoji)) == (b.digest, a.digest)
        backend.commit_with_names([], [(emoji, b.digest)], expected={emoji: a.digest})
        assert backend.get_name(emoji) == b.digest
        backend.set_name(emoji, None, expected=b.digest)
        backend.set_name(cjk, None)
        assert backend.get_name(cjk) is None and backend.get_name(emoji) is None
        assert backend.delete_names(shared + "y") == 2
        assert [name for name, _ in backend.iter_names()] == sorted([close[0], close[3]])
        store = Store(backend)
        store.set_name(cjk, Ref.from_digest(a.digest))
        assert store.get_name(cjk) == Ref.from_digest(a.digest)

    def test_compare_and_set_from_threads(self, backend: StorageBackend) -> None:
        """Four threads incrementing a counter by compare-and-set lose no increment."""
        values = [raw(f"count {i}") for i in range(101)]
        backend.commit_many(values)
        index = {packed.digest: i for i, packed in enumerate(values)}
        supported(lambda: backend.set_name("counter", values[0].digest))
        errors: list[BaseException] = []

        def increment_25_times() -> None:
            try:
                for _ in range(25):
                    while True:
                        current = backend.get_name("counter")
                        assert current is not None
                        following = values[index[current] + 1].digest
                        try:
                            backend.set_name("counter", following, expected=current)
                            break
                        except NameConflictError:
                            continue
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=increment_25_times) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert backend.get_name("counter") == values[100].digest

    def test_store_names(self, store: Store) -> None:
        """Store.set_name takes refs, refuses missing objects and bad names."""
        ref = store.commit("named")
        supported(lambda: store.set_name("latest", ref))
        assert store.get_name("latest") == ref
        assert store.names() == {"latest": ref}
        with pytest.raises(NameConflictError):
            store.set_name("latest", ref, expected=None)
        with pytest.raises(NotFoundError):
            store.set_name("ghost", Ref.from_digest("1e" * 32))
        for bad in ["", "tab\there", "x" * 1001]:
            with pytest.raises(InvalidNameError):
                store.set_name(bad, ref)
        store.set_name("latest", None, expected=ref)
        assert store.names() == {}

    def test_store_name_inside_batch(self, store: Store) -> None:
        """Naming a ref committed inside a batch writes the batch first."""
        with store.batch():
            ref = store.commit("pending")
            supported(lambda: store.set_name("pending", ref))
            assert store.backend.has(ref)
        assert store.get_name("pending") == ref

    # Copy ------------------------------------------------------------------

    def test_copy_to_memory_and_back(self, store: Store, backends: BackendFactory) -> None:
        """A closure copied out to memory and into a new backend of this kind arrives whole."""
        root = tree(store, width=6, depth=3)
        memory = Store(InMemoryBackend())
        out = copy(root, store, memory)
        assert (out.sent, out.skipped) == (6 * 4 + 1, 0)
        back = Store(backends())
        report = copy([root], memory, back)
        assert report.sent == out.sent and report.bytes_sent == out.bytes_sent
        assert back.checkout(root) == store.checkout(root)
        assert supported(lambda: verify(back)).ok
        assert sorted(back.backend.iter_digests()) == sorted(memory.backend.iter_digests())

    def test_copy_sends_only_what_is_missing(self, store: Store, backends: BackendFactory) -> None:
        """A second copy sends nothing; shared subgraphs already present are skipped."""
        target = Store(backends())
        first = tree(store, width=4, depth=2, tag="first")
        assert copy(first, store, target).sent == 13
        again = copy(first.digest, store, target)
        assert (again.sent, again.skipped) == (0, 1)
        second = store.commit({"both": [first, store.commit("new leaf")]})
        report = copy(second, store, target)
        assert (report.sent, report.skipped) == (2, 1)

    def test_copy_refuses_damaged_sources(self, store: Store) -> None:
        """Copy raises on missing or corrupt source objects and writes nothing."""
        target = Store(InMemoryBackend())
        dangling = store.commit([Ref.from_digest("2d" * 32)])
        with pytest.raises(NotFoundError) as missing:
            copy(dangling, store, target)
        assert missing.value.digest == "2d" * 32
        fake = raw("the real content")
        store.backend.commit(PackedResource(fake.digest, b"s'forged content'"))
        parent = store.commit([Ref.from_digest(fake.digest)])
        with pytest.raises(CorruptObjectError) as corrupt:
            copy(parent, store, target)
        assert corrupt.value.digest == fake.digest
        assert fake.digest in str(corrupt.value)
        assert target.backend.has_many([dangling.digest, parent.digest]) == set()

    # Garbage collection ----------------------------------------------------

    def test_gc_deletes_what_no_name_reaches(self, store: Store) -> None:
        """gc keeps the closures of names and extra roots and deletes everything else."""
        named = tree(store, width=3, depth=2, tag="named")
        rooted = store.commit(["extra root", store.commit("under extra root")])
        garbage = tree(store, width=3, depth=2, tag="garbage")
        supported(lambda: store.set_name("keep", named))
        before = supported(lambda: sorted(store.backend.iter_digests()))
        time.sleep(0.05)  # backends may count the last few milliseconds as "now" (file times)
        dry = supported(lambda: gc(store, grace_seconds=0, roots=rooted, dry_run=True))
        assert dry.deleted == 10 and dry.dry_run
        assert sorted(store.backend.iter_digests()) == before
        report = gc(store, grace_seconds=0, roots=[rooted])
        assert (report.reachable, report.deleted, report.missing) == (12, 10, 0)
        assert not store.backend.has(garbage)
        assert verify(store).ok
        assert store.checkout(named)["tag"] == "named"

    def test_gc_grace_period(self, store: Store) -> None:
        """Unreachable objects younger than the grace period, and what they link to, stay."""
        require_commit_times(store.backend)
        old = store.commit("old garbage")
        linked = store.commit("old, but linked from a young object")
        time.sleep(0.6)
        young = store.commit(["young garbage", linked])
        report = supported(lambda: gc(store, grace_seconds=0.3))
        assert report.deleted == 2 and report.recent == 2  # old garbage and the probe
        assert store.backend.has_many([old.digest, linked.digest, young.digest]) == {
            linked.digest,
            young.digest,
        }

    def test_gc_spares_what_changes_while_it_runs(self, store: Store) -> None:
        """Objects committed or re-committed, and names moved, during gc all survive."""
        require_commit_times(store.backend)
        recommitted = store.commit("re-committed during gc")
        renamed = store.commit("named during gc")
        doomed = store.commit("really garbage")
        for i in range(30):
            store.commit(f"filler {i}")
        time.sleep(0.3)
        stages: list[str] = []
        made: list[Ref[Any]] = []

        def meddle(stage: str, done: int, total: int | None) -> None:
            # Act after gc has listed the objects and decided which are old.
            stages.append(stage)
            if stage == "gc: mark" and "gc: scan" in stages and not made:
                made.append(store.commit(["new during gc", store.commit("its child")]))
                store.commit("re-committed during gc")
                store.set_name("moved", renamed)

        supported(lambda: gc(store, grace_seconds=0.1, batch_size=8, progress=meddle))
        assert made, f"gc never marked after its scan: {stages}"
        kept = store.backend.has_many([recommitted.digest, renamed.digest, doomed.digest])
        assert kept == {recommitted.digest, renamed.digest}
        assert store.checkout(made[0])[0] == "new during gc"
        assert verify(store).ok

    # Verify ----------------------------------------------------------------

    def test_verify_clean_store(self, store: Store) -> None:
        """A store written only through commit verifies clean."""
        root = tree(store, width=3, depth=2)
        store.commit("x" * 10_000, CompressedRef)
        supported(lambda: store.set_name("root", root))
        calls: list[tuple[str, int, int | None]] = []
        report = supported(lambda: verify(store, batch_size=4, progress=lambda *a: calls.append(a)))
        assert report.ok and report.checked == 11 and not report.problems
        assert calls and calls[-1] == ("verify", 11, None)

    def test_verify_reports_damage(self, store: Store) -> None:
        """Corrupt objects, dangling links and names, unknown packings are each reported."""
        good = store.commit("good")
        fake = raw("genuine")
        store.backend.commit(PackedResource(fake.digest, b"s'forged'"))
        holder = store.commit([good, Ref.from_digest("3c" * 32)])
        strange = b'pack:{"links": [], "packing": "no-such-packing"}\n\x00\x01'
        unknown = PackedResource(hashlib.sha256(b"s'sealed'").hexdigest(), strange)
        store.backend.commit(unknown)
        # Damage is detected on checkout whatever the backend supports ...
        with pytest.raises(CorruptObjectError) as caught:
            Store(store.backend).checkout(Ref.from_digest(fake.digest))
        assert caught.value.digest == fake.digest
        # ... and verify, where the backend can list its objects, reports all of it.
        supported(lambda: store.backend.set_name("lost", "4b" * 32))
        report = supported(lambda: verify(store))
        assert not report.ok and report.checked == 4
        assert [p.digest for p in report.corrupt] == [fake.digest]
        assert store.backend.locate(fake.digest) == report.corrupt[0].location
        assert {(p.digest, p.referrer) for p in report.dangling} == {
            ("3c" * 32, holder.digest),
            ("4b" * 32, "name:lost"),
        }
        assert [p.digest for p in report.unverifiable] == [unknown.digest]
        assert fake.digest in str(report)

    # Integrity errors on checkout ------------------------------------------

    def test_checkout_of_corrupt_object(self, store: Store) -> None:
        """Checking out bytes that do not hash to the ref raises CorruptObjectError."""
        fake = raw("expected")
        store.backend.commit(PackedResource(fake.digest, b"s'tampered'"))
        with pytest.raises(CorruptObjectError) as caught:
            store.checkout(Ref.from_digest(fake.digest))
        assert caught.value.digest == fake.digest
        assert caught.value.location == store.backend.locate(fake.digest)
        assert fake.digest in str(caught.value)

    def test_checkout_of_missing_object(self, store: Store) -> None:
        """Checking out an absent ref raises NotFoundError naming digest and store."""
        with pytest.raises(NotFoundError) as caught:
            store.checkout(Ref.from_digest("5a" * 32))
        assert caught.value.digest == "5a" * 32
        assert "5a" * 32 in str(caught.value)

    def test_errors_are_enact_errors(self, backend: StorageBackend) -> None:
        """A closed backend fails with StorageError (or keeps working), never a driver error."""
        packed = raw("after close")
        backend.close()
        for operation in (
            lambda: backend.commit(packed),
            lambda: backend.has(Ref.from_digest(packed.digest)),
            lambda: backend.get(Ref.from_digest(packed.digest)),
        ):
            try:
                operation()
            except Exception as err:
                assert isinstance(err, StorageError), f"{type(err).__name__} escaped: {err}"

    # Hostile store: what was read from storage is not trusted --------------------

    def test_hostile_a_damaged_object_is_repaired_by_copy(
        self, store: Store, backends: BackendFactory
    ) -> None:
        """copy onto an object whose stored bytes do not verify replaces them."""
        good = Store(InMemoryBackend())
        ref = good.commit({"repaired": True})
        store.backend.commit(PackedResource(ref.digest, b"s'tampered'"))
        assert [problem.digest for problem in supported(lambda: verify(store)).corrupt] == [
            ref.digest
        ]
        assert supported(lambda: copy(ref, good, store)).sent == 1
        assert store.checkout(ref) == {"repaired": True}
        assert verify(store).ok

    def test_hostile_a_recommit_repairs_a_damaged_object(self, store: Store) -> None:
        """Committing an object whose stored bytes do not verify replaces them; committing
        other bytes onto an intact object keeps what is stored."""
        one, two = {"repaired": 1}, {"repaired": 2, "pad": "x" * 300}  # (two compresses)
        refs: list[Ref[Any]] = [store.commit(one), store.commit(two), store.commit("single")]
        tampered = [PackedResource(ref.digest, b"s'tampered'") for ref in refs]
        supported(lambda: store.backend.replace_many(tampered))
        for ref in refs:
            with pytest.raises(CorruptObjectError):
                Store(store.backend).checkout(ref)
        with store.batch():  # commit_many
            assert [store.commit(one), store.commit(two)] == refs[:2]
        assert store.commit("single") == refs[2]  # commit
        fresh = Store(store.backend)
        assert [fresh.checkout(ref) for ref in refs] == [one, two, "single"]
        store.backend.commit(tampered[0])  # a forgery never replaces intact bytes
        store.backend.commit_many(tampered[1:])
        fresh = Store(store.backend)
        assert [fresh.checkout(ref) for ref in refs] == [one, two, "single"]

    def test_hostile_gc_ignores_a_lying_link_index(self, store: Store) -> None:
        """A parent recorded with no links must not let gc delete the child it holds."""
        supported(lambda: list(store.backend.iter_names()))
        child = store.commit({"child": 1})
        parent = store.commit({"parent": child})
        honest = store.backend.get(parent)
        assert honest is not None
        lying = PackedResource(parent.digest, honest.data, ())  # says it links to nothing
        supported(lambda: store.backend.replace_many([lying]))
        store.set_name("parent", parent)
        time.sleep(0.1)  # both objects are older than the cutoff below
        with contextlib.suppress(CorruptObjectError):  # refusing is fine, deleting is not
            supported(lambda: gc(store, grace_seconds=0.05))
        assert store.has(child)
        assert store.checkout(parent) == {"parent": child}

    @pytest.mark.parametrize("stop_after", [1, 2, 3])
    def test_hostile_an_interrupted_gc_leaves_a_verifiable_store(
        self, store: Store, stop_after: int
    ) -> None:
        """gc deletes parents before children: stopped after any batch, nothing dangles."""
        ref: Ref[Any] = store.commit({"end": True})
        for i in range(4):
            ref = store.commit({"i": i, "next": ref})
        time.sleep(0.1)  # older than the cutoff below
        batches = 0

        def stop(stage: str, done: int, total: int | None) -> None:
            nonlocal batches
            if stage == "gc: delete":
                batches += 1
                if batches == stop_after:
                    raise KeyboardInterrupt  # as if killed here

        with pytest.raises(KeyboardInterrupt):
            supported(lambda: gc(store, grace_seconds=0.05, roots=(), batch_size=1, progress=stop))
        report = verify(store)
        assert report.ok, str(report)
        assert report.checked == 5 - stop_after

    def test_hostile_a_name_holding_no_digest_is_never_followed(self, store: Store) -> None:
        """A name whose stored digest is junk (or a path) is refused, reported, not used."""
        ref = store.commit("named")
        supported(lambda: store.set_name("good", ref))
        try:
            supported(lambda: store.backend.set_name("bad", "../../../../etc/passwd"))
        except (StorageError, ValueError):
            return  # the backend refuses to store it at all: fine
        with pytest.raises(StorageError, match="bad"):
            store.get_name("bad")
        assert store.get_name("good") == ref
        report = verify(store)
        assert not report.ok and "etc/passwd" in str(report)
        with pytest.raises(StorageError):
            gc(store, grace_seconds=0)
        assert store.has(ref)
