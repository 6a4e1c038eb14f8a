"""What only the SQLite backend promises: its file, its settings, locking, fork, errors.

The behaviour every backend shares is in tests/conformance/. A few tests here
look at the backend's private connection to read its settings (white box).
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import threading
import time

import pytest

import enact
from enact.stores.sqlite import SCHEMA_VERSION


def test_creates_file_and_directory_in_wal_mode(tmp_path: pathlib.Path) -> None:
    """A new store creates missing directories, and the file is in WAL mode."""
    path = tmp_path / "a" / "b" / "store.db"
    store = enact.SQLiteStore(path)
    store.commit("x")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    store.close()


def test_synchronous_setting(tmp_path: pathlib.Path) -> None:
    """synchronous is NORMAL by default and FULL with durable=True (white box)."""
    normal = enact.SQLiteBackend(tmp_path / "normal.db")
    durable = enact.SQLiteBackend(tmp_path / "durable.db", durable=True)
    assert normal._connection().execute("PRAGMA synchronous").fetchone()[0] == 1
    assert durable._connection().execute("PRAGMA synchronous").fetchone()[0] == 2
    normal.close()
    durable.close()


def test_reopened_store_keeps_objects_and_names(tmp_path: pathlib.Path) -> None:
    """Objects and names survive closing and reopening the file."""
    path = tmp_path / "store.db"
    with enact.SQLiteStore(path) as store:
        ref = enact.commit({"kept": [1, 2, 3]})
        store.set_name("main", ref)
    store.close()
    again = enact.SQLiteStore(path)
    assert again.checkout(ref) == {"kept": [1, 2, 3]}
    assert again.names() == {"main": ref}
    again.close()


def test_writer_waits_for_the_lock_then_gives_up(tmp_path: pathlib.Path) -> None:
    """A commit waits while another connection holds the write lock, up to the timeout."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path, timeout=0.3)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(enact.StorageError) as caught:
        store.commit("blocked")
    assert time.monotonic() - started >= 0.25
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert str(path) in str(caught.value)
    assert str(caught.value).endswith(
        "database is locked. Another connection held a write transaction on the file for "
        "longer than this store waits (0.3 s): end it (a sqlite3 shell or a program with an "
        "open transaction), or give the store a longer timeout (SQLiteStore(path, "
        "timeout=...)). Nothing was written"
    )
    timer = threading.Timer(0.1, lambda: holder.execute("COMMIT"))
    timer.start()
    patient = enact.SQLiteStore(path, timeout=5)
    ref = patient.commit("waited")
    timer.join()
    assert patient.checkout(ref) == "waited"
    holder.close()
    store.close()
    patient.close()


@enact.register
def _echo(value: int) -> int:
    return value


def test_a_run_that_cannot_start_for_the_lock_leaves_nothing(tmp_path: pathlib.Path) -> None:
    """A run whose first write times out on the lock raises before the program runs, and
    leaves no run; once the lock is gone the same run id starts."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path, timeout=0.3)
    with store:
        enact.commit("made")  # the file and its tables exist
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with store, pytest.raises(enact.StorageError, match="longer than this store waits"):
        enact.invoke(_echo, (1,), run_id="blocked")
    holder.execute("COMMIT")
    holder.close()
    with store:
        assert enact.list_runs() == []
        assert enact.invoke(_echo, (2,), run_id="blocked").get_output() == 2
    store.close()


def test_readers_do_not_wait_for_writers(tmp_path: pathlib.Path) -> None:
    """A checkout succeeds while another connection holds the write lock (WAL)."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path, timeout=0.1)
    ref = store.commit("readable")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    assert enact.SQLiteStore(path, timeout=0.1).checkout(enact.Ref.from_digest(ref.digest)) == (
        "readable"
    )
    holder.execute("ROLLBACK")
    holder.close()
    store.close()


def test_forked_child_gets_its_own_connection(tmp_path: pathlib.Path) -> None:
    """After fork, the child commits through a new connection and the parent keeps working."""
    store = enact.SQLiteStore(tmp_path / "store.db")
    before = store.commit("before fork")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            store.commit("from the child")
            code = 0 if store.checkout(before) == "before fork" else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.checkout(store.commit("from the child")) == "from the child"
    assert enact.verify(store).ok
    store.close()


def test_refuses_newer_schema(tmp_path: pathlib.Path) -> None:
    """A file written by a newer schema is refused with advice to upgrade."""
    path = tmp_path / "store.db"
    enact.SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(enact.StorageError, match="upgrade enact"):
        enact.SQLiteStore(path)


def test_refuses_a_file_that_is_not_sqlite(tmp_path: pathlib.Path) -> None:
    """Opening a file that is not a database raises StorageError naming the file."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text " * 100)
    with pytest.raises(enact.StorageError) as caught:
        enact.SQLiteStore(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_closed_store_raises_storage_error(tmp_path: pathlib.Path) -> None:
    """Using a closed store raises StorageError that says to reopen it."""
    store = enact.SQLiteStore(tmp_path / "store.db")
    ref = store.commit("x")
    store.close()
    with pytest.raises(enact.StorageError, match="closed"):
        store.commit("y")
    with pytest.raises(enact.StorageError, match="closed"):
        enact.Store(store.backend).checkout(ref)


def test_corrupt_row_is_found_by_checkout_and_verify(tmp_path: pathlib.Path) -> None:
    """A row damaged behind enact's back is reported with its digest and file."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path)
    ref = store.commit({"precious": True})
    raw = sqlite3.connect(path)
    raw.execute(
        "UPDATE objects SET data = ? WHERE digest = ?", (b"s'x'", bytes.fromhex(ref.digest))
    )
    raw.commit()
    raw.close()
    fresh = enact.SQLiteStore(path)
    with pytest.raises(enact.CorruptObjectError) as caught:
        fresh.checkout(ref)
    assert caught.value.digest == ref.digest and str(path) in caught.value.location
    report = enact.verify(fresh)
    assert [problem.digest for problem in report.corrupt] == [ref.digest]
    store.close()
    fresh.close()


def test_recommit_refreshes_time_but_keeps_data(tmp_path: pathlib.Path) -> None:
    """Committing an object again refreshes committed_at and leaves the row's data alone."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path)
    ref = store.commit("again")
    raw = sqlite3.connect(path)
    query = "SELECT committed_at, data FROM objects WHERE digest = ?"
    first, data = raw.execute(query, (bytes.fromhex(ref.digest),)).fetchone()
    time.sleep(0.01)
    store.commit("again")
    second, data_again = raw.execute(query, (bytes.fromhex(ref.digest),)).fetchone()
    assert second > first and data_again == data
    raw.close()
    store.close()


def test_recommit_of_a_large_object_read_back_keeps_its_stored_form(
    tmp_path: pathlib.Path,
) -> None:
    """A large object checked out and committed again by another store object (what a
    replay does with a response equal to the recorded one) is written in the form it
    was read in: the row's bytes stay, its time is refreshed (gc's grace counts from
    it), and the object still checks out and verifies clean."""
    path = tmp_path / "store.db"
    value = [f"item {i}: " + "x" * (i % 17) for i in range(2000)]
    with enact.SQLiteStore(path) as writer:
        ref = enact.commit(value)
    writer.close()
    raw = sqlite3.connect(path)
    query = "SELECT committed_at, data FROM objects WHERE digest = ?"
    first, data = raw.execute(query, (bytes.fromhex(ref.digest),)).fetchone()
    assert data.startswith(b"z2:")  # compressed, so there is a stored form to keep
    time.sleep(0.01)
    reader = enact.SQLiteStore(path)
    with reader:
        assert ref() == value
        assert enact.commit(value) == ref
    second, data_again = raw.execute(query, (bytes.fromhex(ref.digest),)).fetchone()
    assert second > first and data_again == data
    raw.close()
    reader.close()
    with enact.SQLiteStore(path) as fresh:
        assert ref() == value
        assert enact.verify(fresh).ok
    fresh.close()


def test_connections_of_finished_threads_are_released(tmp_path: pathlib.Path) -> None:
    """Each thread gets its own connection, freed when the thread ends (white box)."""
    backend = enact.SQLiteBackend(tmp_path / "store.db")
    store = enact.Store(backend)

    def work() -> None:
        store.commit(threading.get_ident())

    for _ in range(20):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(backend._holders) <= 2
    backend.close()


@enact.register
def _echo(text: str) -> str:
    return text


def test_journaled_calls_bind_no_parameter_through_sqlite_adapters(
    tmp_path: pathlib.Path,
) -> None:
    """Digests and small objects are bound as bytearrays, links as a literal NULL: none
    goes through sqlite3's adapter protocol (a failed lookup per parameter, which cost a
    journaled call about 8,000 instructions). A large object keeps its bytes, and every
    object reads back the same from a fresh store."""
    offered: list[bytes] = []

    def spy(value: bytes) -> bytes:
        offered.append(value)
        return value

    key = (bytes, sqlite3.PrepareProtocol)
    sqlite3.register_adapter(bytes, spy)
    path = tmp_path / "store.db"
    big = os.urandom(100_000).hex()  # about 100 KB even compressed
    try:
        with enact.SQLiteStore(path) as store:
            for i in range(5):
                enact.invoke(_echo, (f"call {i}",), run_id=f"echo-{i}")
            assert offered == []  # small objects: nothing offered to the adapters
            big_ref = enact.commit(big)
            assert len(offered) == 1 and len(offered[0]) > 16 * 1024
        store.close()
    finally:
        del sqlite3.adapters[key]
    with enact.SQLiteStore(path) as fresh:
        assert fresh.checkout(big_ref) == big
        for i in range(5):
            invocation = enact.get_run(f"echo-{i}").invocation()
            assert invocation is not None and invocation.get_output() == f"call {i}"
        assert enact.verify(fresh).ok
    fresh.close()
