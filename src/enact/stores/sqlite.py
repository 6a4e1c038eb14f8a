"""A backend in one SQLite file: the embedded default.

Promises: every commit, batch and name update is one transaction in
write-ahead-log mode, so readers see an object whole or not at all, and a crash
of the process (even ``kill -9``) loses nothing that was reported committed.
A journaled call with per-call durability is recorded by appending it to the
process's call log beside the file (``<file>-calls/``, see
`enact.stores._call_log`): as durable against a crash of the process, at half
the cost of a transaction; it is folded into the tables with the process's
next write, and before any read of the store by this or another process (a
process that is gone has its log folded by the next one to open or read the
store). Copy or move the ``-calls`` directory with the file, as its ``-wal``.
With the default ``durable=False`` (``synchronous=NORMAL``) a power loss or OS
crash may roll back the last few transactions but never corrupts the file;
``durable=True`` (``synchronous=FULL``) makes each reported commit survive a
power loss too, at the cost of an fsync per transaction. Any number of threads
and processes may use one file at once: writers queue on SQLite's write lock
(each waits up to `timeout` seconds), readers never wait for writers. The file
must be on a local disk (SQLite's locks do not work over NFS).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from enact.errors import CorruptObjectError, EnactError, StorageError
from enact.stores import _call_log, base
from enact.stores import ready as _ready
from enact.stores.base import ANY, Expected, NamePairs, NameQuery, PackedResource, StorageBackend
from enact.stores.store import Store
from enact.stores.verified import intact

if TYPE_CHECKING:
    from pathlib import Path

    from enact.refs import Ref

T = TypeVar("T")

SCHEMA_VERSION: Final = 2
"""Stored in ``PRAGMA user_version``; a file with a higher version is refused.

Version 2 (the tables of version 1) may hold objects in the ``z2:`` stored
form, which enact before it cannot read: opening a version-1 file upgrades it
in place (the number only), so an older enact refuses the file instead of
reporting its new objects as corrupt."""

_SCHEMA: Final = (
    # links: the raw 32-byte digests the object refers to, concatenated (NULL:
    # unknown, computed from data on read). committed_at: time.time() of the
    # last commit of the object, refreshed by re-commits, read by gc.
    # WITHOUT ROWID: the digest is the table's key, stored once (a rowid table
    # would keep it in the row and again in its primary-key index).
    "CREATE TABLE IF NOT EXISTS objects ("
    " digest BLOB PRIMARY KEY, data BLOB NOT NULL, links BLOB, committed_at REAL NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS names ("
    " name TEXT PRIMARY KEY, digest TEXT NOT NULL, updated_at REAL NOT NULL) WITHOUT ROWID",
)
# A re-commit refreshes the commit time and keeps the stored bytes, unless they
# differ from the new ones and do not verify (enact_intact, a Python function of
# each connection, runs only then): so committing an object again, or copying it
# from a good store, repairs it, and a re-commit of intact bytes costs a memcmp.
_KEEP: Final = (
    "CASE WHEN objects.data IS excluded.data THEN 1 "
    "ELSE enact_intact(objects.digest, objects.data, objects.links) END"
)
_UPSERT: Final = (
    "INSERT INTO objects (digest, data, links, committed_at) VALUES (?, ?, NULL, ?) "
    "ON CONFLICT (digest) DO UPDATE SET committed_at = excluded.committed_at, "
    f"links = CASE WHEN {_KEEP} THEN coalesce(objects.links, excluded.links) "
    "ELSE excluded.links END, "
    f"data = CASE WHEN {_KEEP} THEN objects.data ELSE excluded.data END"
)
_REPLACE: Final = (
    "INSERT OR REPLACE INTO objects (digest, data, links, committed_at) VALUES (?, ?, NULL, ?)"
)
_SET_NAME: Final = (
    "INSERT INTO names (name, digest, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at"
)
# The ready queue of runs for workers (see enact.stores.ready), made on first use.
_READY_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS ready (run_id TEXT PRIMARY KEY, queue TEXT NOT NULL, "
    "ready_at REAL NOT NULL, token INTEGER NOT NULL, owner TEXT) WITHOUT ROWID"
)
_READY_INDEX: Final = "CREATE INDEX IF NOT EXISTS ready_by_queue ON ready (queue, ready_at)"
_INFINITY: Final = "9e999"  # SQLite reads it as an infinite REAL: the ready_at of limit rows
_CHUNK: Final = 500  # bound parameters per IN (...) query, well below SQLite's limit
_COPY_TO_BIND: Final = 16 * 1024
"""Objects up to this size are copied into a bytearray to be bound (see `_blob`): a copy
of 16 KiB costs about what the adapter lookup does (170 ns against 200-300 here)."""
_PAGE: Final = 10_000  # digests per read transaction when listing objects
_FOLD_AFTER: Final = 4096
"""Calls in the call log that are folded into the tables without waiting for a write."""

# Connections must not cross a fork; the child counts as a new generation.
_fork_generation = 0
_inherited: list[Any] = []
_logging: weakref.WeakSet[SQLiteBackend] = weakref.WeakSet()
"""Backends with a call log (a forked child lets go of their files: `_after_fork`)."""
_backends: weakref.WeakSet[SQLiteBackend] = weakref.WeakSet()
"""Every backend: a forked child makes their connection locks anew (`_after_fork`)."""


def _after_fork() -> None:
    global _fork_generation
    _fork_generation += 1
    for backend in list(_backends):
        # Another thread of the parent may have held it at the fork (see
        # enact.stores.store._after_fork); the child opens connections of its own.
        backend._holders_lock = threading.Lock()
    for backend in list(_logging):
        backend._log_forked()


def _at_exit() -> None:
    """A process that ends without closing its stores folds their call logs first (else
    the next process to open the store does)."""
    for backend in list(_logging):
        with contextlib.suppress(Exception):
            backend._close_log()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_at_exit)


class _Connection:
    """One thread's connection (a holder, because sqlite3 connections cannot be weakly
    referenced; when the thread ends, the holder and its connection are freed)."""

    __slots__ = ("__weakref__", "conn", "generation")

    def __init__(self, conn: sqlite3.Connection, generation: int) -> None:
        self.conn = conn
        self.generation = generation


class SQLiteBackend(StorageBackend):
    """Keeps objects and names in one SQLite database file.

    Args:
        path: The database file; it and its directory are created if missing.
        durable: ``synchronous=FULL`` instead of ``NORMAL`` (see the module
            docstring): survive power loss, not only process crashes.
        timeout: Seconds a writer waits for another process's write transaction
            before raising `StorageError`.
    """

    compresses = True
    names_in_transaction = True
    compressed_form = "z2"

    def __init__(
        self, path: str | os.PathLike[str], *, durable: bool = False, timeout: float = 60.0
    ) -> None:
        self._file = os.path.abspath(os.fspath(path))
        """The database file, absolute (`path` as a str)."""
        self.durable = durable
        self.timeout = timeout
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._holders_lock = threading.Lock()
        _backends.add(self)
        self._closed = False
        self._ready_table = False
        self._log = _call_log.CallLog(self._file)
        """This process's call log (see `enact.stores._call_log`): used unless `durable`."""
        self._log_lock = threading.Lock()
        self._log_rows: list[tuple[list[PackedResource], NamePairs]] = []
        """The calls in the log that are not in the tables yet, oldest first."""
        self._log_size = 0
        """The log's size after its last record."""
        self._absorbed: dict[str, tuple[int, int, int]] = {}
        """The other logs this backend folded, and their `_call_log.signature` then."""
        try:
            os.makedirs(os.path.dirname(self._file), exist_ok=True)
        except OSError as err:
            raise StorageError(f"Cannot create the directory of {self._file}: {err}") from err
        self._create_schema()

    @property
    def path(self) -> Path:
        """The database file, absolute (made on use: a run of calls need not load `pathlib`)."""
        from pathlib import Path

        return Path(self._file)

    def __repr__(self) -> str:
        return f"SQLiteBackend({str(self._file)!r})"

    def locate(self, digest: str) -> str:
        return f"{self._file} (SQLite table objects, digest {digest})"

    # Connections ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        holder: _Connection | None = getattr(self._local, "holder", None)
        if holder is not None:
            if holder.generation == _fork_generation:
                return holder.conn
            # Inherited through fork: never use or close it here (closing could
            # checkpoint a WAL the parent is writing); keep it referenced.
            _inherited.append(holder)
        if self._closed:
            raise StorageError(f"{self!r} is closed; open the store again to use it.")
        try:
            conn = sqlite3.connect(
                self._file,
                timeout=self.timeout,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE
                check_same_thread=False,  # only close() touches another thread's connection
            )
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            conn.create_function("enact_intact", 3, self._intact, deterministic=True)
        except sqlite3.Error as err:
            raise StorageError(f"Cannot open the SQLite store {self._file}: {err}") from err
        holder = _Connection(conn, _fork_generation)
        self._local.holder = holder
        with self._holders_lock:
            self._holders.add(holder)
        return conn

    def _create_schema(self) -> None:
        """Creates the tables unless they exist; safe when many processes race to do it.

        Switching a new file to WAL and creating the tables need SQLite's write
        lock, and switching the journal mode may report "database is locked"
        without waiting, so both are retried until `timeout`.
        """
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                conn = self._connection()
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    self._check_is_store(conn)
                    # Only takes effect on an empty file: lets deleted journal entries
                    # give their pages back (see delete_names).
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if mode.lower() != "wal":
                        raise sqlite3.OperationalError(f"database is locked (journal mode {mode})")
                    with self._transaction() as tx:
                        for statement in _SCHEMA:
                            tx.execute(statement)
                        version = tx.execute("PRAGMA user_version").fetchone()[0]
                        if version == 0:
                            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                            version = SCHEMA_VERSION
                if version < SCHEMA_VERSION:
                    with self._transaction() as tx:
                        if tx.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    version = SCHEMA_VERSION
                break
            except sqlite3.OperationalError as err:
                if not _is_busy(err) or time.monotonic() > deadline:
                    raise StorageError(
                        f"Cannot create the SQLite store {self._file}: {err}"
                    ) from err
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            except sqlite3.Error as err:
                raise StorageError(
                    f"Cannot open {self._file} as an enact SQLite store: {err}. Is it an "
                    "SQLite database (and not, say, a directory store or another file)?"
                ) from err
        if version > SCHEMA_VERSION:
            self.close()
            raise StorageError(
                f"The SQLite store {self._file} has schema version {version}, and this "
                f"version of enact reads up to {SCHEMA_VERSION}: upgrade enact."
            )
        self._absorb_logs()

    def _check_is_store(self, conn: sqlite3.Connection) -> None:
        """Refuses a database of another program (one with tables that are not enact's),
        before switching it to WAL and adding tables to it."""
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        foreign = sorted({str(name) for (name,) in rows} - {"objects", "names", "ready"})
        if foreign:
            self.close()
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise StorageError(
                f"Cannot open {self._file} as an enact SQLite store: it is another "
                f"database (it holds tables {shown}). Name a new file, or an enact store."
            )

    def _transaction(self) -> _Transaction:
        """A write transaction that takes the write lock up front (see `_Transaction`); it
        folds the call log's pending calls into the tables first."""
        return _Transaction(self._connection(), self if self._log_size else None)

    def _run(self, action: str | Callable[[], str], operation: Callable[[], T]) -> T:
        """Runs `operation`; a SQLite error becomes a `StorageError` saying what it could
        not do (`action`, or what it returns: made only then, for the writes of every call)."""
        try:
            return operation()
        except EnactError:
            raise
        except sqlite3.Error as err:
            raise self._failure(action, err) from err

    def _query(
        self, action: str | Callable[[], str], sql: str, params: tuple[Any, ...] = ()
    ) -> list[Any]:
        if self._log_rows:
            self._fold()  # a read sees every call this process recorded
        self._absorb_logs()  # and every call another process recorded
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise self._failure(action, err) from err

    def _failure(self, action: str | Callable[[], str], err: sqlite3.Error) -> StorageError:
        """The error of `_run` and `_query`: what could not be done, and SQLite's reason."""
        what = action if isinstance(action, str) else action()
        hint = ""
        if isinstance(err, sqlite3.OperationalError) and _is_busy(err):
            hint = (
                f". Another connection held a write transaction on the file for longer "
                f"than this store waits ({self.timeout:g} s): end it (a sqlite3 shell or "
                "a program with an open transaction), or give the store a longer "
                "timeout (SQLiteStore(path, timeout=...)). Nothing was written"
            )
        return StorageError(f"SQLite store {self._file}: cannot {what}: {err}{hint}")

    def close(self) -> None:
        """Folds the call log, closes the connections of every thread; the backend cannot be
        used afterwards."""
        self._close_log()
        self._closed = True
        with self._holders_lock:
            holders = list(self._holders)
            self._holders.clear()
        for holder in holders:
            with contextlib.suppress(sqlite3.Error):
                holder.conn.close()
        self._local = threading.local()

    def _close_log(self) -> None:
        """Folds the call log into the tables and removes it (it stays if that fails: the
        next process to open the store folds it)."""
        if not self._closed and self._log_rows:
            with contextlib.suppress(EnactError):
                self._fold()
        with self._log_lock:
            self._log.close(remove=not self._log_rows)

    def release_thread(self) -> None:
        """Closes the calling thread's connection (a thread's last connection ends its WAL use)."""
        holder: _Connection | None = getattr(self._local, "holder", None)
        if holder is None or holder.generation != _fork_generation:
            return
        del self._local.holder
        with self._holders_lock:
            self._holders.discard(holder)
        with contextlib.suppress(sqlite3.Error):
            holder.conn.close()

    # Objects -------------------------------------------------------------------

    def commit(self, packed_resource: PackedResource) -> None:
        self.commit_many((packed_resource,))

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        self._write_objects("commit", _UPSERT, packed_resources)

    def replace_many(self, packed_resources: Iterable[PackedResource]) -> None:
        self._write_objects("replace", _REPLACE, packed_resources)

    def _write_objects(
        self, verb: str, sql: str, packed_resources: Iterable[PackedResource]
    ) -> None:
        """Writes objects with `sql` in one transaction, stamped once the lock is held."""
        packed = list(packed_resources)
        if not packed:
            return

        def write() -> None:
            with self._transaction() as conn:
                conn.executemany(sql, _object_rows(packed, time.time()))

        self._run(lambda: f"{verb} {len(packed)} object(s)", write)

    def _intact(self, key: object, data: object, links: object) -> int:
        """enact_intact(digest, data, links) in SQL: 1 if a stored row verifies (or
        cannot be checked here), 0 if a commit should replace it. Never raises."""
        if not isinstance(key, bytes) or len(key) != 32:
            return 1
        try:
            packed = self._packed(key.hex(), data, links)
        except CorruptObjectError:
            return 0
        return int(intact(packed, self.locate))

    def has(self, ref: Ref[Any]) -> bool:
        sql = "SELECT 1 FROM objects WHERE digest = ?"
        return bool(
            self._query(lambda: f"look up {ref.digest}", sql, (bytearray.fromhex(ref.digest),))
        )

    def get(self, ref: Ref[Any]) -> PackedResource | None:
        digest = ref.digest
        sql = "SELECT data, links FROM objects WHERE digest = ?"
        rows = self._query(lambda: f"read {digest}", sql, (bytearray.fromhex(digest),))
        if not rows:
            return None
        data, links = rows[0]
        return self._packed(digest, data, links)

    def has_many(self, digests: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(digests):
            rows = self._select_in("SELECT digest FROM objects WHERE digest IN ({})", chunk)
            found.update(row[0].hex() for row in rows)
        return found

    def get_many(self, digests: Iterable[str]) -> dict[str, PackedResource]:
        found: dict[str, PackedResource] = {}
        for chunk in _chunks(digests):
            rows = self._select_in(
                "SELECT digest, data, links FROM objects WHERE digest IN ({})", chunk
            )
            for key, data, links in rows:
                digest = key.hex()
                found[digest] = self._packed(digest, data, links)
        return found

    def _packed(self, digest: str, data: object, links: object) -> PackedResource:
        """The row as a `PackedResource`, once its columns are checked to be what enact
        wrote (a row edited to hold TEXT or a number must not reach the decoder)."""
        if links is None and type(data) is bytes:  # most rows: nothing more to check
            return PackedResource(digest, data, None)
        if not isinstance(data, bytes):
            detail = f"its data column holds {type(data).__name__}, not BLOB"
        elif links is not None and (not isinstance(links, bytes) or len(links) % 32):
            detail = "its links column is not a whole number of 32-byte digests"
        else:
            return PackedResource(digest, data, _unpack_links(links))
        location = self.locate(digest)
        raise CorruptObjectError(
            f"Object {digest} at {location} is corrupt: {detail}. Restore it from a copy of "
            "the store (enact copy) or delete it; enact verify lists every damaged object.",
            digest=digest,
            location=location,
            detail=detail,
        )

    def _select_in(self, query: str, keys: list[bytearray], *extra: Any) -> list[Any]:
        sql = query.format(",".join("?" * len(keys)))
        return self._query(f"read {len(keys)} object(s)", sql, (*keys, *extra))

    def iter_digests(self) -> Iterator[str]:
        # Page by key so that no read transaction stays open while the caller
        # works (a long reader would stop SQLite from checkpointing the WAL).
        sql = "SELECT digest FROM objects WHERE digest > ? ORDER BY digest LIMIT ?"
        after = b""
        while True:
            rows = self._query("list objects", sql, (after, _PAGE))
            for (key,) in rows:
                if len(key) == 32:
                    yield key.hex()
            if len(rows) < _PAGE:
                break
            after = rows[-1][0]
        # Keys that are not 32-byte BLOBs (the range above skips TEXT and numbers)
        # were not written by enact: report them rather than ignore them.
        bad = self._query(
            "list damaged rows",
            "SELECT digest FROM objects WHERE typeof(digest) != 'blob' OR length(digest) != 32 "
            "LIMIT 6",
        )
        if bad:
            shown = ", ".join(repr(key) for (key,) in bad[:5]) + (", ..." if len(bad) > 5 else "")
            raise StorageError(
                f"{self._file} holds object rows whose digest is not a 32-byte BLOB ({shown}): "
                "they were not written by enact. Delete those rows (SQLite table objects)."
            )

    def digests_with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        low, high = base.digest_range(prefix)
        sql = "SELECT digest FROM objects WHERE digest BETWEEN ? AND ? ORDER BY digest LIMIT ?"
        rows = self._query(
            f"look up prefix {prefix}", sql, (low, high, -1 if limit is None else limit)
        )
        return [key.hex() for (key,) in rows]

    def committed_before(self, digests: Iterable[str], cutoff: float) -> set[str]:
        old: set[str] = set()
        for chunk in _chunks(digests):
            rows = self._select_in(
                "SELECT digest FROM objects WHERE digest IN ({}) AND committed_at < ?",
                chunk,
                cutoff,
            )
            old.update(row[0].hex() for row in rows)
        return old

    def delete_many(self, digests: Iterable[str], *, committed_before: float | None = None) -> int:
        rows: list[tuple[Any, ...]]
        if committed_before is None:
            sql = "DELETE FROM objects WHERE digest = ?"
            rows = [(bytearray.fromhex(digest),) for digest in digests]
        else:
            sql = "DELETE FROM objects WHERE digest = ? AND committed_at < ?"
            rows = [(bytearray.fromhex(digest), committed_before) for digest in digests]
        if not rows:
            return 0

        def delete() -> int:
            with self._transaction() as conn:
                before = conn.total_changes
                conn.executemany(sql, rows)
                return conn.total_changes - before

        return self._run(f"delete {len(rows)} object(s)", delete)

    def __len__(self) -> int:
        count: int = self._query("count objects", "SELECT count(*) FROM objects")[0][0]
        return count

    # Named refs ----------------------------------------------------------------

    def get_name(self, name: str) -> str | None:
        sql = "SELECT digest FROM names WHERE name = ?"
        rows = self._query(f"read name {name!r}", sql, (name,))
        return str(rows[0][0]) if rows else None

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        def update() -> None:
            with self._transaction() as conn:
                if expected is not ANY:
                    row = conn.execute(
                        "SELECT digest FROM names WHERE name = ?", (name,)
                    ).fetchone()
                    actual = None if row is None else str(row[0])
                    if actual != expected:
                        raise base.name_conflict(name, str(self._file), expected, actual)
                if digest is None:
                    conn.execute("DELETE FROM names WHERE name = ?", (name,))
                else:
                    conn.execute(_SET_NAME, (name, digest, time.time()))

        self._run(f"update name {name!r}", update)

    def iter_names(self) -> Iterator[tuple[str, str]]:
        rows = self._query("list names", "SELECT name, digest FROM names ORDER BY name")
        return iter([(str(name), str(digest)) for name, digest in rows])

    def list_names(self, query: NameQuery) -> list[tuple[str, str]]:
        clauses, params = _name_range(query)
        sql = (
            f"SELECT name, digest FROM names WHERE {clauses} "
            f"ORDER BY name {'DESC' if query.reverse else 'ASC'}"
        )
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        rows = self._query(f"list names under {query.prefix!r}", sql, tuple(params))
        return [(str(name), str(digest)) for name, digest in rows]

    def delete_names(self, prefix: str) -> int:
        clauses, params = _name_range(NameQuery(prefix))

        def delete() -> int:
            with self._transaction() as conn:
                count = conn.execute(f"DELETE FROM names WHERE {clauses}", params).rowcount
            # A finished run's journal entries are deleted at once: return their pages
            # to the file system (a no-op in files made without auto_vacuum).
            conn.executescript("PRAGMA incremental_vacuum;")  # execute() frees one page
            return int(count)

        return self._run(f"delete names under {prefix!r}", delete)

    def commit_with_names(
        self, packed_resources: list[PackedResource], names: NamePairs, *, expected: Expected = None
    ) -> None:
        def write() -> None:
            with self._transaction() as conn:
                for name, wanted in (expected or {}).items():
                    row = conn.execute("SELECT digest FROM names WHERE name = ?", (name,))
                    found = row.fetchone()
                    actual = None if found is None else str(found[0])
                    if actual != wanted:  # raised inside the transaction: nothing is written
                        raise base.name_conflict(name, str(self._file), wanted, actual)
                now = time.time()
                if packed_resources:
                    conn.executemany(_UPSERT, _object_rows(packed_resources, now))
                conn.executemany(_SET_NAME, [(name, digest, now) for name, digest in names])

        self._run(
            lambda: f"commit {len(packed_resources)} object(s) and {len(names)} name(s)", write
        )

    # The call log (see enact.stores._call_log) -------------------------------------

    def commit_call(self, packed_resources: list[PackedResource], names: NamePairs) -> None:
        """Records one journaled call: appended to this process's call log (one ``write``),
        folded into the tables with the next write or before the next read. A `durable`
        store commits it in a transaction of its own (the log is not synced), and so does
        one on a system without ``flock``."""
        if self.durable or not _call_log.AVAILABLE:
            self.commit_with_names(packed_resources, names)
            return
        if self._closed:
            raise StorageError(f"{self!r} is closed; open the store again to use it.")
        record = _call_log.encode_record(packed_resources, names)
        with self._log_lock:
            try:
                self._log_size = self._log.append(record)
            except OSError as err:
                raise StorageError(
                    f"SQLite store {self._file}: cannot record a call in its call log "
                    f"{self._log.path or self._log.directory}: {err}"
                ) from err
            self._log_rows.append((packed_resources, names))
            _logging.add(self)
            full = len(self._log_rows) >= _FOLD_AFTER
        if full:
            self._fold()

    def _fold(self) -> None:
        """Writes the call log's pending calls into the tables (one transaction)."""

        def fold() -> None:
            with self._transaction():
                pass

        self._run("fold its call log into its tables", fold)

    def _folded(self) -> None:
        """After the commit that wrote `_log_rows` (`_Transaction`, holding `_log_lock`
        since before it wrote them, so that no call was appended meanwhile): the log is
        emptied before this process's next write (see `enact.stores._call_log`)."""
        with contextlib.suppress(OSError):  # a log left full is folded again: harmless
            self._log.empty_if(self._log_size)
            self._log_size = 0
        self._log_rows.clear()

    def _absorb_logs(self) -> None:
        """Folds the call logs of other processes (and other store objects) into the tables.

        A log whose process is gone is folded and removed; a live one is folded
        (not emptied: that is its process's) when it changed since this backend
        last folded it. Each is read inside the write transaction that folds it.
        """
        absorbed, listed = self._absorbed, set()
        for path, fd, gone in _call_log.other_logs(self._log.directory, self._log.path):
            listed.add(path)
            try:
                signature = _call_log.signature(fd)
                if gone or absorbed.get(path) != signature:
                    with self._transaction() as conn:
                        signature = _call_log.signature(fd)
                        _write_calls(conn, _call_log.decode_records(_call_log.read_log(fd)))
                    absorbed[path] = signature
                if gone:
                    absorbed.pop(path, None)
                    _call_log.drop(path, fd)
                    continue
            except (OSError, sqlite3.Error) as err:
                # Left for a reader that can write (a read-only copy of a store cannot).
                logging.getLogger("enact").warning(
                    "SQLite store %s: cannot fold the call log %s into its tables (%s)",
                    self._file,
                    path,
                    err,
                )
            os.close(fd)
        for known in absorbed.keys() - listed:  # their processes removed them
            del absorbed[known]

    def _log_forked(self) -> None:
        """In a forked child: the parent's call log and its pending calls stay the parent's."""
        self._log.forget()
        self._log = _call_log.CallLog(self._file)
        self._log_lock = threading.Lock()
        self._log_rows = []
        self._log_size = 0

    # The ready queue (see enact.stores.ready) -------------------------------------

    def _ready_write(self, action: str, work: Callable[[sqlite3.Connection], T]) -> T:
        def write() -> T:
            with self._transaction() as conn:
                if not self._ready_table:
                    conn.execute(_READY_TABLE)
                    conn.execute(_READY_INDEX)
                result = work(conn)
            self._ready_table = True
            return result

        return self._run(action, write)

    def _ready_read(self, action: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
        if not self._ready_table:
            exists = self._query(
                "look for the ready queue",
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ready'",
            )
            if not exists:
                return []
            self._ready_table = True
        return self._query(action, sql, params)

    def ready_put(self, run_id: str, queue: str, delay: float = 0.0) -> None:
        row = (run_id, queue, time.time() + delay, _ready.new_token())
        self._ready_write(
            f"put run {run_id!r} in queue {queue!r}",
            lambda conn: conn.execute(
                "INSERT INTO ready (run_id, queue, ready_at, token, owner) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (run_id) DO UPDATE SET "
                "queue = excluded.queue, ready_at = excluded.ready_at, "
                "token = excluded.token, owner = NULL",
                row,
            ),
        )

    def ready_take(
        self, queues: Sequence[str], owner: str, lease: float
    ) -> _ready.ReadyItem | None:
        if not queues:
            return None
        marks = ",".join("?" * len(queues))
        keys = [_ready.limit_key(queue) for queue in queues]

        def take(conn: sqlite3.Connection) -> _ready.ReadyItem | None:
            # The write transaction holds the file's write lock: counting the claims
            # of a limited queue and taking an item are one step for all processes.
            now = time.time()
            limits = dict(
                conn.execute(
                    f"SELECT queue, token FROM ready WHERE run_id IN ({marks})", keys
                ).fetchall()
            )
            open_queues = list(queues)
            if limits:
                claims = dict(
                    conn.execute(
                        f"SELECT queue, count(*) FROM ready WHERE queue IN "
                        f"({','.join('?' * len(limits))}) AND owner IS NOT NULL "
                        f"AND ready_at > ? AND ready_at < {_INFINITY} GROUP BY queue",
                        (*limits, now),
                    ).fetchall()
                )
                open_queues = [q for q in queues if claims.get(q, 0) < limits.get(q, 1 << 62)]
                if not open_queues:
                    return None
            row = conn.execute(
                f"SELECT run_id, queue, token FROM ready WHERE queue IN "
                f"({','.join('?' * len(open_queues))}) AND ready_at <= ? "
                "ORDER BY ready_at LIMIT 1",
                (*open_queues, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE ready SET ready_at = ?, owner = ? WHERE run_id = ?",
                (now + lease, owner, row[0]),
            )
            return _ready.ReadyItem(str(row[0]), str(row[1]), int(row[2]))

        # Reading first spares idle workers the write lock.
        if not self._ready_read(
            "look at the ready queue",
            f"SELECT 1 FROM ready WHERE queue IN ({marks}) AND ready_at <= ? LIMIT 1",
            (*queues, time.time()),
        ):
            return None
        return self._ready_write("take a run from the ready queue", take)

    def ready_defer(self, item: _ready.ReadyItem, delay: float) -> None:
        self._ready_write(
            f"put run {item.run_id!r} back in the ready queue",
            lambda conn: conn.execute(
                "UPDATE ready SET ready_at = ?, owner = NULL WHERE run_id = ? AND token = ?",
                (time.time() + delay, item.run_id, item.token),
            ),
        )

    def ready_drop(self, item: _ready.ReadyItem) -> None:
        self._ready_write(
            f"remove run {item.run_id!r} from the ready queue",
            lambda conn: conn.execute(
                "DELETE FROM ready WHERE run_id = ? AND token = ?", (item.run_id, item.token)
            ),
        )

    def ready_renew(self, items: Sequence[_ready.ReadyItem], owner: str, lease: float) -> int:
        if not items:
            return 0

        def renew(conn: sqlite3.Connection) -> int:
            now = time.time()
            rows = [(now + lease, item.run_id, item.token, owner, now) for item in items]
            before = conn.total_changes
            conn.executemany(
                "UPDATE ready SET ready_at = ? WHERE run_id = ? AND token = ? AND owner = ? "
                "AND ready_at > ?",
                rows,
            )
            return conn.total_changes - before

        return self._ready_write(f"renew the claims of {len(items)} run(s)", renew)

    def ready_set_limit(self, queue: str, limit: int | None) -> None:
        key = _ready.limit_key(queue)
        if limit is None:
            self._ready_write(
                f"remove the limit of queue {queue!r}",
                lambda conn: conn.execute("DELETE FROM ready WHERE run_id = ?", (key,)),
            )
            return
        self._ready_write(
            f"set the limit of queue {queue!r}",
            lambda conn: conn.execute(
                "INSERT INTO ready (run_id, queue, ready_at, token, owner) "
                f"VALUES (?, ?, {_INFINITY}, ?, NULL) "
                "ON CONFLICT (run_id) DO UPDATE SET token = excluded.token",
                (key, queue, limit),
            ),
        )

    def ready_limits(self) -> dict[str, int]:
        rows = self._ready_read(
            "read the queue limits",
            "SELECT queue, token FROM ready WHERE substr(run_id, 1, ?) = ? ORDER BY queue",
            (len(_ready.LIMIT_PREFIX), _ready.LIMIT_PREFIX),
        )
        return {str(queue): int(limit) for queue, limit in rows}

    def ready_queues_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(run_ids), _CHUNK):
            chunk = list(run_ids[start : start + _CHUNK])
            rows = self._ready_read(
                "read the ready queue",
                f"SELECT run_id, queue FROM ready WHERE run_id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            )
            found.update((str(run_id), str(queue)) for run_id, queue in rows)
        return found

    def ready_next(self, queues: Sequence[str]) -> float | None:
        if not queues:
            return None
        marks = ",".join("?" * len(queues))
        rows = self._ready_read(
            "look at the ready queue",
            f"SELECT min(ready_at) FROM ready WHERE queue IN ({marks}) AND ready_at < {_INFINITY}",
            tuple(queues),
        )
        if not rows or rows[0][0] is None:
            return None
        return float(rows[0][0]) - time.time()

    def ready_count(self, queues: Sequence[str] | None = None) -> int:
        if queues is None:
            rows = self._ready_read(
                "count the ready queue",
                f"SELECT count(*) FROM ready WHERE ready_at < {_INFINITY}",
                (),
            )
        else:
            marks = ",".join("?" * len(queues))
            rows = self._ready_read(
                "count the ready queue",
                f"SELECT count(*) FROM ready WHERE queue IN ({marks}) AND ready_at < {_INFINITY}",
                tuple(queues),
            )
        return int(rows[0][0]) if rows else 0

    def ready_waiter(self) -> _ready.Waiter:
        # SQLite has no notifications across processes: idle workers poll with backoff.
        return _ready.PollingWaiter()


class SQLiteStore(Store):
    """A store in one SQLite file: ``Store(SQLiteBackend(path))``, the embedded default.

    Args:
        path: The database file; created (with its directory) if missing.
        durable: See `SQLiteBackend`.
        timeout: See `SQLiteBackend`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durable: bool = False,
        timeout: float = 60.0,
        durability: str = "call",
    ) -> None:
        super().__init__(
            SQLiteBackend(path, durable=durable, timeout=timeout), durability=durability
        )


def _name_range(query: NameQuery) -> tuple[str, list[Any]]:
    """SQL conditions (and parameters) for the names `query` selects.

    A range on the primary key (SQLite compares TEXT by code point, like
    Python); ``substr`` keeps the prefix test exact where LIKE would treat %
    and _ as wildcards and ignore case.
    """
    # One lower and one upper bound: given two upper bounds (the prefix's end and
    # `before`), SQLite's planner ranges over one of them and filters by the other,
    # so a page deep in a long prefix would scan every name after it.
    lower, lower_op = query.prefix, ">="
    if query.after is not None and query.after >= lower:
        lower, lower_op = query.after, ">"
    upper = query.end
    if query.before is not None and query.before < upper:
        upper = query.before
    clauses = [f"name {lower_op} ?", "name < ?", "substr(name, 1, ?) = ?"]
    params: list[Any] = [lower, upper, len(query.prefix), query.prefix]
    return " AND ".join(clauses), params


class _Transaction:
    """A write transaction that takes the write lock up front: ``BEGIN IMMEDIATE``.

    It waits for the lock (up to the busy timeout); a deferred transaction
    that upgrades to writing later can fail at once with "database is
    locked" instead of waiting. Whatever ends the block (an error, a failed
    ``COMMIT`` such as a full disk, a KeyboardInterrupt that arrives after
    ``BEGIN`` took the lock but before it returned) leaves no transaction
    open on the thread's connection, or its next ``BEGIN`` would fail. A
    class, not a generator: every head move of a run enters one. With a
    backend to fold (`folding`), it first writes the calls in that backend's
    call log, and empties the log after the commit.
    """

    __slots__ = ("conn", "folding")

    def __init__(self, conn: sqlite3.Connection, folding: SQLiteBackend | None) -> None:
        self.conn = conn
        self.folding = folding
        """The backend whose call log this transaction folds first (None: nothing to fold)."""

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            backend = self.folding
            if backend is not None:
                # Held until the commit: no call is appended to the log meanwhile, so
                # the log is emptied only of calls in the tables.
                backend._log_lock.acquire()
                try:
                    _write_calls(self.conn, backend._log_rows)
                except BaseException:
                    backend._log_lock.release()
                    self.folding = None
                    raise
        except BaseException:
            self.rollback()
            raise
        return self.conn

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        backend, self.folding = self.folding, None
        try:
            if error is None:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.rollback()
                    raise
                if backend is not None:
                    backend._folded()
                return
            self.rollback()
        finally:
            if backend is not None:
                backend._log_lock.release()

    def rollback(self) -> None:
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")


def _write_calls(
    conn: sqlite3.Connection, calls: Iterable[tuple[list[PackedResource], NamePairs]]
) -> None:
    """Writes recorded calls (each its objects and names, from a call log) in a write
    transaction."""
    now = time.time()
    objects, names = [], []
    for packed_resources, pairs in calls:
        objects += packed_resources
        names += [(name, digest, now) for name, digest in pairs]
    if objects:
        conn.executemany(_UPSERT, _object_rows(objects, now))
    if names:
        conn.executemany(_SET_NAME, names)


def _object_rows(
    packed_resources: list[PackedResource], now: float
) -> list[tuple[bytearray, bytes | bytearray, float]]:
    """The rows of the objects table for `packed_resources`, committed at `now`.

    Callers read `now` once the write lock is held, so that a commit that queued
    behind another writer is not stamped older than it lands (gc compares these
    times with its cutoff).
    """
    return [
        (bytearray.fromhex(packed.digest), _blob(packed.data), now) for packed in packed_resources
    ]


def _blob(data: bytes) -> bytes | bytearray:
    """`data` as a parameter that `sqlite3` binds at once: a bytearray, unless it is large.

    Python's `sqlite3` (3.11) binds int, float, str and bytearray parameters
    directly, but offers any other (bytes, None) to its adapter protocol
    first, whose failed lookup of ``__adapt__`` makes and clears an
    exception: about 2,000 instructions, which were four times a journaled
    call (the digest and data of its request and response). Copying a small
    object is cheaper; a large one keeps its bytes. The digests are made
    bytearrays by `bytearray.fromhex`, and the statements write a new row's
    links as the literal NULL, for the same reason.
    """
    return bytearray(data) if len(data) <= _COPY_TO_BIND else data


def _is_busy(err: sqlite3.OperationalError) -> bool:
    message = str(err).lower()
    return "locked" in message or "busy" in message


def _unpack_links(blob: bytes | None) -> tuple[str, ...] | None:
    if blob is None:
        return None
    text = blob.hex()
    return tuple(text[i : i + 64] for i in range(0, len(text), 64))


def _chunks(digests: Iterable[str]) -> Iterator[list[bytearray]]:
    return base.batches((bytearray.fromhex(digest) for digest in digests), _CHUNK)
