"""A store's content is not trusted: tampered rows, hostile names, gc racing writers.

Each test reproduces a defect of issue 10 on a real SQLite file or file store.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import enact


def chain(store: enact.Store, length: int, tag: str = "") -> list[enact.Ref[Any]]:
    """Commits a linked list of `length` nodes; returns their refs, tail first."""
    refs = [store.commit({"end": tag})]
    for i in range(length):
        refs.append(store.commit({"i": i, "next": refs[-1], "tag": tag}))
    return refs


def age(root: pathlib.Path) -> None:
    """Makes every object of the file store at `root` look committed an hour ago."""
    past = time.time() - 3600
    for path in (root / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


# ---- gc ---------------------------------------------------------------------


def test_gc_takes_links_from_the_verified_bytes_not_the_links_column(
    tmp_path: pathlib.Path,
) -> None:
    """A row whose links were emptied must not make gc delete the reachable child."""
    path = tmp_path / "s.db"
    store = enact.SQLiteStore(path)
    child = store.commit({"child": 1})
    parent = store.commit({"parent": child})
    store.set_name("keep", parent)
    with sqlite3.connect(path) as db:
        key = bytes.fromhex(parent.digest)
        db.execute("UPDATE objects SET links = x'' WHERE digest = ?", (key,))
    with pytest.raises(enact.CorruptObjectError, match=parent.digest):
        enact.gc(store, grace_seconds=0)
    assert store.has(child)


@pytest.mark.parametrize("stop_after", range(1, 8))
def test_an_interrupted_gc_leaves_a_store_that_verifies(
    tmp_path: pathlib.Path, stop_after: int
) -> None:
    """gc deletes parents before children: stopped after any batch, no link dangles."""
    store = enact.SQLiteStore(tmp_path / "s.db")
    chain(store, 7)
    batches = 0

    def stop(stage: str, done: int, total: int | None) -> None:
        nonlocal batches
        if stage == "gc: delete":
            batches += 1
            if batches == stop_after:
                raise KeyboardInterrupt  # as if killed here

    with pytest.raises(KeyboardInterrupt):
        enact.gc(store, grace_seconds=0, batch_size=1, progress=stop)
    report = enact.verify(store)
    assert report.ok, str(report)
    assert report.checked == 8 - stop_after


def test_gc_spares_what_is_named_while_it_deletes(tmp_path: pathlib.Path) -> None:
    """A name set between delete batches protects its object and everything it reaches."""
    store = enact.FileStore(tmp_path / "files")
    refs = chain(store, 5)
    age(tmp_path / "files")
    middle = refs[2]

    def name_it(stage: str, done: int, total: int | None) -> None:
        if stage == "gc: delete" and done == 1:
            store.set_name("late", middle)

    enact.gc(store, grace_seconds=0, batch_size=1, progress=name_it)
    assert store.get_name("late") == middle
    assert [store.has(ref) for ref in refs] == [True, True, True, False, False, False]
    assert store.checkout(middle)["next"] == refs[1]
    assert enact.verify(store).ok


def test_sqlite_stamps_a_commit_when_it_lands_not_when_it_queued(tmp_path: pathlib.Path) -> None:
    """A commit waiting for the write lock is stamped with the time it got the lock."""
    path = tmp_path / "s.db"
    store = enact.SQLiteStore(path)
    store.commit("warm up")  # the schema exists
    blocker = sqlite3.connect(path, isolation_level=None, timeout=60)
    blocker.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    refs: list[enact.Ref[Any]] = []

    def write() -> None:
        refs.append(store.commit("queued behind another writer"))
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)  # let the writer reach the lock (if it has not, the test proves less)
    released = time.time()
    blocker.execute("COMMIT")
    blocker.close()
    thread.join()
    assert done.is_set()
    with sqlite3.connect(path) as db:
        (stamp,) = db.execute(
            "SELECT committed_at FROM objects WHERE digest = ?", (bytes.fromhex(refs[0].digest),)
        ).fetchone()
    assert stamp >= released


# ---- exceptions that cannot describe themselves ---------------------------------


class Unprintable(Exception):
    """An exception whose message cannot be computed."""

    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def test_an_exception_whose_str_raises_is_journaled(tmp_path: pathlib.Path) -> None:
    """invoke records it with a placeholder message instead of losing the journal."""

    @enact.register
    def raises_unprintable() -> None:
        raise Unprintable()

    with enact.SQLiteStore(tmp_path / "s.db"):
        invocation = enact.invoke(raises_unprintable)
        raised = invocation.get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name.endswith("Unprintable")
    assert "RuntimeError" in raised.message


# ---- file-store names ---------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"3f2a", b"\n", b"not a digest\nkeep"])
def test_an_empty_or_truncated_name_file_is_reported(
    tmp_path: pathlib.Path, content: bytes
) -> None:
    """The name does not vanish silently: verify reports it, gc refuses to run blind."""
    store = enact.FileStore(tmp_path / "files")
    ref = store.commit({"kept": True})
    store.set_name("keep", ref)
    (tmp_path / "files" / "names" / "keep").write_bytes(content)
    report = enact.verify(store)
    assert not report.ok
    assert any("names/keep" in problem.detail for problem in report.corrupt), str(report)
    with pytest.raises(enact.StorageError, match="damaged"):
        enact.gc(store, grace_seconds=0)
    with pytest.raises(enact.StorageError, match="damaged"):
        store.get_name("keep")
    assert store.has(ref)
    store.set_name("keep", ref)  # setting it again repairs it
    assert store.get_name("keep") == ref and enact.verify(store).ok


def test_a_name_spelled_like_a_hashed_long_name_does_not_alias_it(tmp_path: pathlib.Path) -> None:
    """Long names are stored under "~" + SHA-256; an ordinary name spelled so is another name."""
    store = enact.FileStore(tmp_path / "files")
    long_name = "x" * 500
    first, second = store.commit("first"), store.commit("second")
    store.set_name(long_name, first)
    spelled_like_it = "~" + hashlib.sha256(long_name.encode()).hexdigest()
    store.set_name(spelled_like_it, second)
    assert store.get_name(long_name) == first
    assert store.get_name(spelled_like_it) == second
    assert store.names() == {long_name: first, spelled_like_it: second}


# ---- repair ---------------------------------------------------------------------------


def damage(store: enact.Store, root: pathlib.Path, ref: enact.Ref[Any]) -> None:
    """Overwrites the stored bytes of `ref` in the SQLite file or file store at `root`."""
    if root.is_dir():
        path = root / "objects" / ref.digest[:2] / ref.digest[2:]
        path.write_bytes(b"garbage")
    else:
        with sqlite3.connect(root) as db:
            key = bytes.fromhex(ref.digest)
            db.execute("UPDATE objects SET data = x'00ff' WHERE digest = ?", (key,))


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_copy_replaces_a_damaged_object(tmp_path: pathlib.Path, kind: str) -> None:
    """The corrupt-object error says to restore with copy: copy must overwrite the damage."""
    good = enact.SQLiteStore(tmp_path / "good.db")
    where = tmp_path / ("bad.db" if kind == "sqlite" else "bad")
    bad = enact.SQLiteStore(where) if kind == "sqlite" else enact.FileStore(where)
    child = good.commit({"child": "lost"})
    parent = good.commit({"parent": child})
    enact.copy(parent, good, bad)
    damage(bad, where, child)
    damage(bad, where, parent)
    assert len(enact.verify(bad).corrupt) == 2
    report = enact.copy(parent, good, bad)  # the damaged root, then what it links to
    assert report.sent == 2
    assert enact.verify(bad).ok
    damage(bad, where, child)
    assert enact.copy(child, good, bad).sent == 1  # the digest the corrupt-object error names
    assert enact.verify(bad).ok
    fresh = enact.SQLiteStore(where) if kind == "sqlite" else enact.FileStore(where)
    assert fresh.checkout(parent) == {"parent": child}
    assert fresh.checkout(child) == {"child": "lost"}


@pytest.mark.parametrize(
    ("kind", "how"), [("sqlite", "garbage"), ("sqlite", "text"), ("files", "garbage")]
)
def test_a_commit_replaces_a_damaged_object(tmp_path: pathlib.Path, kind: str, how: str) -> None:
    """Committing an object again repairs stored bytes that do not verify (in SQLite, also
    a data column edited to hold TEXT); intact bytes are never overwritten."""
    where = tmp_path / ("s.db" if kind == "sqlite" else "files")
    store = enact.SQLiteStore(where) if kind == "sqlite" else enact.FileStore(where)
    value = {"repaired": "x" * 200}
    ref = store.commit(value)
    if how == "text":
        tamper(
            where, "UPDATE objects SET data = 'text' WHERE digest = ?", bytes.fromhex(ref.digest)
        )
    else:
        damage(store, where, ref)
    fresh = enact.SQLiteStore(where) if kind == "sqlite" else enact.FileStore(where)
    with pytest.raises(enact.CorruptObjectError, match=ref.digest):
        fresh.checkout(ref)
    assert fresh.commit(value) == ref
    again = enact.SQLiteStore(where) if kind == "sqlite" else enact.FileStore(where)
    assert again.checkout(ref) == value
    assert enact.verify(again).ok


def test_copy_repairs_a_row_of_the_wrong_type(tmp_path: pathlib.Path) -> None:
    """A target row whose data column holds TEXT cannot even be read: copy replaces it."""
    good = enact.SQLiteStore(tmp_path / "good.db")
    ref = good.commit({"good": True})
    path = tmp_path / "bad.db"
    bad = enact.SQLiteStore(path)
    enact.copy(ref, good, bad)
    tamper(path, "UPDATE objects SET data = 'text' WHERE digest = ?", bytes.fromhex(ref.digest))
    assert enact.copy(ref, good, bad).sent == 1
    assert enact.SQLiteStore(path).checkout(ref) == {"good": True}


def hand_built(kind: str, root: pathlib.Path) -> tuple[enact.Store, str]:
    """A store of `kind` holding a hand-built object packed with a packing nobody
    defines (its header lists a real child); returns the store and the object's digest."""
    store = enact.SQLiteStore(root / "s.db") if kind == "sqlite" else enact.FileStore(root / "f")
    child = store.commit("the child its header names")
    header = json.dumps({"links": [child.digest], "packing": "nobody-defines-it"}, sort_keys=True)
    data = b"pack:" + header.encode() + b"\n" + b"\x00 opaque bytes"
    digest = hashlib.sha256(b"whatever it claims to be").hexdigest()
    if kind == "sqlite":
        tamper(
            root / "s.db",
            "INSERT INTO objects VALUES (?, ?, NULL, 0)",
            bytes.fromhex(digest),
            data,
        )
    else:
        path = root / "f" / "objects" / digest[:2] / digest[2:]
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return store, digest


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_copy_refuses_an_object_of_an_unknown_packing(tmp_path: pathlib.Path, kind: str) -> None:
    """Not copied "unverified": an error naming the object, the store and the fix; the
    target is left as it was."""
    source, digest = hand_built(kind, tmp_path)
    target = enact.SQLiteStore(tmp_path / "target.db")
    with pytest.raises(enact.UnknownTypeError) as caught:
        enact.copy(digest, source, target)
    message = str(caught.value)
    assert digest in message and "nobody-defines-it" in message
    assert str(tmp_path / ("s.db" if kind == "sqlite" else "f")) in message
    assert "--import" in message and "Nothing was written" in message
    assert len(target.backend) == 0


# ---- opening things that are not stores, and bad URLs ------------------------------------


def test_a_directory_that_is_not_a_store_is_refused(tmp_path: pathlib.Path) -> None:
    """Opening another program's directory is an error, and adds nothing to it."""
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(enact.StorageError, match="not an enact store"):
        enact.open_store(f"file://{other}")
    assert sorted(path.name for path in other.iterdir()) == ["cat.jpg"]
    with pytest.raises(enact.StorageError, match="is a file"):
        enact.open_store(f"file://{other / 'cat.jpg'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    store = enact.open_store(f"file://{empty}")
    ref = store.commit("fine")
    assert enact.open_store(f"file://{empty}").checkout(ref) == "fine"


def test_a_database_that_is_not_a_store_is_refused(tmp_path: pathlib.Path) -> None:
    """Another program's SQLite file is neither switched to WAL nor given enact's tables."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    with pytest.raises(enact.StorageError, match="customers"):
        enact.open_store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    db.close()
    assert tables == ["customers"] and mode.lower() != "wal"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file://", "names no directory"),
        ("sqlite:///x%00y.db", "NUL"),
        ("file:///tmp/a%00b", "NUL"),
        ("postgresql://[::1", "not a valid PostgreSQL URL"),
        ("sqlite:///" + "a" * 5000, "limit is"),
        ("file:///tmp/" + "b" * 300, "longer than 255"),
        ("sqlite:///x.db?timeout=nan", "finite, non-negative"),
        ("sqlite:///x.db?timeout=-1", "finite, non-negative"),
        ("sqlite:///x.db?timeout=-inf", "finite, non-negative"),
    ],
    ids=lambda value: value[:30],
)
def test_bad_store_urls_give_one_clear_error(
    url: str, fragment: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each is an InvalidStoreURLError saying what is wrong, not a crash or a silent default."""
    monkeypatch.chdir(tmp_path)  # (where a wrongly accepted relative path would land)
    with pytest.raises(enact.InvalidStoreURLError, match="Cannot open store") as caught:
        enact.open_store(url)
    assert fragment in str(caught.value)


# ---- damaged rows and hostile content ------------------------------------------------


def tamper(path: pathlib.Path, sql: str, *params: Any) -> None:
    """Runs one statement on the SQLite file behind enact's back."""
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, params)
    db.close()


@pytest.mark.parametrize("column", ["data", "links"])
@pytest.mark.parametrize("value", ["some text", 12345], ids=["text", "int"])
def test_a_row_of_the_wrong_type_is_a_corrupt_object(
    tmp_path: pathlib.Path, column: str, value: object
) -> None:
    """TEXT or INT where enact keeps BLOBs: CorruptObjectError naming the object; verify goes on."""
    path = tmp_path / "s.db"
    store = enact.SQLiteStore(path)
    first = store.commit({"first": store.commit("child")})
    second = store.commit({"second": 2})
    store.set_name("first", first)
    for ref in (first, second):
        key = bytes.fromhex(ref.digest)
        tamper(path, f"UPDATE objects SET {column} = ? WHERE digest = ?", value, key)
    fresh = enact.SQLiteStore(path)
    with pytest.raises(enact.CorruptObjectError, match=first.digest) as caught:
        fresh.checkout(first)
    assert caught.value.digest == first.digest and str(path) in caught.value.location
    report = enact.verify(fresh)
    assert {problem.digest for problem in report.corrupt} == {first.digest, second.digest}
    assert report.checked == 3
    with pytest.raises(enact.CorruptObjectError, match=first.digest):
        enact.gc(fresh, grace_seconds=0)
    assert fresh.has(first) and fresh.has(second)


def test_rows_whose_key_is_not_a_digest_are_reported(tmp_path: pathlib.Path) -> None:
    """A row keyed by TEXT is neither ignored by verify nor a crash of gc."""
    path = tmp_path / "s.db"
    store = enact.SQLiteStore(path)
    kept = store.commit("kept")
    tamper(path, "INSERT INTO objects VALUES ('../../etc/passwd', x'00', NULL, 0)")
    report = enact.verify(store)
    assert report.checked == 1 and not report.ok
    assert "etc/passwd" in report.corrupt[0].detail
    with pytest.raises(enact.StorageError, match="not a 32-byte BLOB"):
        enact.gc(store, grace_seconds=0)
    assert store.checkout(kept) == "kept"


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_a_name_that_holds_no_digest_is_reported_not_followed(
    tmp_path: pathlib.Path, kind: str
) -> None:
    """A name edited to hold a path or junk is an error naming it, never a key or a path."""
    if kind == "sqlite":
        store: enact.Store = enact.SQLiteStore(tmp_path / "s.db")
    else:
        store = enact.FileStore(tmp_path / "files")
    ref = store.commit("named")
    store.set_name("good", ref)
    store.set_name("bad", ref)
    hostile = "../../../../../../etc/passwd"
    if kind == "sqlite":
        tamper(tmp_path / "s.db", "UPDATE names SET digest = ? WHERE name = 'bad'", hostile)
    else:
        (tmp_path / "files" / "names" / "bad").write_text(f"{hostile}\nbad")
    with pytest.raises(enact.StorageError, match="bad"):
        store.get_name("bad")
    assert store.get_name("good") == ref
    report = enact.verify(store)
    assert not report.ok and "etc/passwd" in str(report)
    with pytest.raises(enact.StorageError):
        enact.gc(store, grace_seconds=0)
    assert store.has(ref)


def test_copy_from_a_hostile_file_store_stays_inside_both_stores(tmp_path: pathlib.Path) -> None:
    """A hand-built object whose packing header links to '../..' paths is refused."""
    source = enact.FileStore(tmp_path / "source")
    target = enact.FileStore(tmp_path / "target")
    outside = "../../../../outside/" + "0" * 44
    header = json.dumps({"links": [outside], "packing": "hostile"}, sort_keys=True)
    data = b"pack:" + header.encode() + b"\n" + b"opaque"
    digest = hashlib.sha256(b"anything").hexdigest()
    source.backend.commit(enact.PackedResource(digest, data))
    with pytest.raises(enact.CorruptObjectError, match=digest):
        enact.copy(digest, source, target)
    assert not (tmp_path / "outside").exists()
    assert list((tmp_path / "target" / "objects").iterdir()) == []
    with pytest.raises(enact.StorageError, match="not a 64-hex-digit digest"):
        source.backend.get(enact.Ref._unchecked(outside))


# ---- limits -----------------------------------------------------------------------------

_DEEP_TUPLE = """
import enact
value = ()
for _ in range(30_000):
    value = (value,)
store = enact.InMemoryStore()
back = store.checkout(store.commit(value))
depth = 0
while back:
    (back,) = back
    depth += 1
print(depth)
"""


def _small_stack() -> None:
    # A 512 KiB C stack: what recursion a 300,000-deep value needs on the usual 8 MiB.
    resource.setrlimit(resource.RLIMIT_STACK, (512 * 1024, 512 * 1024))


def test_a_deeply_nested_tuple_commits_without_recursion() -> None:
    """Committing nested tuples neither hashes them (quadratic, then a C stack overflow)
    nor mistakes a freed wrapper's reused id for a cycle."""
    done = subprocess.run(
        [sys.executable, "-c", _DEEP_TUPLE],
        capture_output=True,
        text=True,
        preexec_fn=_small_stack,
        timeout=300,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "30000"), done.stderr[-2000:]
