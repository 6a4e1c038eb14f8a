"""A backend in a PostgreSQL database, shared by many processes and machines.

Promises: a commit is reported only after PostgreSQL has committed it, so a
crash of the client (even ``kill -9``), or of the server with its default
``fsync``/``synchronous_commit``, loses no reported object; readers see an
object whole or not at all. Any number of processes may commit at once,
overlapping content included: the new objects of a batch appear together in
one transaction, commits lock rows in digest order so writers cannot deadlock,
and a re-commit refreshes the commit time that gc re-checks atomically as it
deletes. Names change by atomic
compare-and-set, and processes opening a fresh database at once create the
tables exactly once, under an advisory lock.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import operator
import os
import random
import select
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar, Unpack

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from enact.errors import StorageError
from enact.stores import base
from enact.stores import ready as _ready
from enact.stores.base import ANY, Expected, NamePairs, NameQuery, PackedResource, StorageBackend
from enact.stores.store import Store, check_name
from enact.stores.verified import intact

if TYPE_CHECKING:
    from enact.refs import Ref

T = TypeVar("T")
_Connection = psycopg.Connection[TupleRow]

SCHEMA_VERSION: Final = 4
"""The version of the tables this module creates and expects."""

_NAME_HEAD: Final = 512
"""Characters of a name in the index that orders names (at most 2 KB of UTF-8, within
the size of a btree entry, which a whole 1,000-character name can exceed)."""

_OBJECTS: Final = "enact_objects"
_NAMES: Final = "enact_names"
_VERSION: Final = "enact_schema_version"
_READY: Final = "enact_ready"

# Migrations from version N-1 to N, applied in order under the advisory lock.
# Digests are stored as their 32 raw bytes (half the size of hex, and a
# smaller primary-key index).
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE {objects} (digest bytea PRIMARY KEY, data bytea NOT NULL, "
        "committed_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE {names} (name text PRIMARY KEY, digest bytea NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())",
    ),
    # Version 2: names in code point order whatever the database's collation, for
    # the range scans that list runs and read a run's journal.
    ('CREATE INDEX enact_names_by_code_point ON {names} (name COLLATE "C")',),
    # Version 3: the ready queue of runs for workers (see enact.stores.ready).
    (
        "CREATE TABLE {ready} (run_id text PRIMARY KEY, queue text NOT NULL, "
        "ready_at timestamptz NOT NULL, token bigint NOT NULL, owner text)",
        "CREATE INDEX enact_ready_by_queue ON {ready} (queue, ready_at)",
    ),
    # Version 4: names of any script up to the documented 1,000 characters. A btree
    # entry holds at most about 2.7 KB, which 900 CJK characters of UTF-8 exceed:
    # names are keyed by the SHA-256 of their UTF-8 (computed by the client), and
    # ordered for range scans by an index on their first characters (queries
    # bound that prefix, then compare whole names). Each step may run again.
    (
        "ALTER TABLE {names} ADD COLUMN IF NOT EXISTS key bytea",
        "UPDATE {names} SET key = sha256(convert_to(name, 'UTF8')) WHERE key IS NULL",
        "ALTER TABLE {names} ALTER COLUMN key SET NOT NULL, ALTER COLUMN name SET NOT NULL",
        "ALTER TABLE {names} DROP CONSTRAINT IF EXISTS enact_names_pkey",
        "ALTER TABLE {names} ADD CONSTRAINT enact_names_pkey PRIMARY KEY (key)",
        "DROP INDEX IF EXISTS {names_by_code_point}",
        "CREATE INDEX IF NOT EXISTS enact_names_by_head ON {names} "
        f'((left(name, {_NAME_HEAD})) COLLATE "C")',
    ),
)

# Batches of at least this many objects (or bytes) are written with COPY: about
# 1.5x faster per row than a multi-row INSERT, but one more round trip, and two
# more when some of the objects are stored already.
_COPY_MIN_OBJECTS: Final = 64
_COPY_MIN_BYTES: Final = 1 << 20
# The most one multi-row INSERT carries (a parameter must stay below 1 GB).
_CHUNK_OBJECTS: Final = 10_000
_CHUNK_BYTES: Final = 64 << 20
_PAGE_SIZE: Final = 10_000
_APPLICATION: Final = "enact"  # what pg_stat_activity shows for our connections
_RETRIES: Final = 8
# SQLSTATEs after which the whole transaction can simply be run again.
_RETRYABLE: Final = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


class _NameRaced(Exception):
    """A name of `commit_with_names` did not point where it was expected to (rolled back)."""

    def __init__(self, name: str, wanted: str | None) -> None:
        super().__init__(name)
        self.name = name
        self.wanted = wanted


class PostgresBackend(StorageBackend):
    """Stores objects in tables of a PostgreSQL database (psycopg 3, pooled).

    The tables ``enact_objects``, ``enact_names`` and ``enact_schema_version``
    are created on first use in `schema` (by default the DSN's current schema,
    usually ``public``). Open one backend per process: the pool is not
    fork-safe.

    Args:
        dsn: A libpq connection string or URL, e.g.
            ``postgresql://user@host:5432/dbname``.
        schema: The PostgreSQL schema that holds the tables; created if missing.
        pool_size: The most connections this backend opens at once.
        timeout: Seconds to wait for a connection before failing.

    Raises:
        StorageError: The server is unreachable, or the tables cannot be
            created, or they were created by a newer enact.
    """

    compresses = True
    names_in_transaction = True

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        pool_size: int = 4,
        timeout: float = 30.0,
    ) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._pool_size = pool_size
        self._address = _address(dsn)
        self._server = self._address.split("/")[2]
        self._schema = schema
        self._expect_new = True  # a hint for commit_many; races on it are harmless
        try:
            with psycopg.connect(
                dsn, connect_timeout=max(1, round(timeout)), application_name=_APPLICATION
            ) as conn:
                self._schema = self._create_tables(conn, schema)
                self._prepare_queries(conn)
        except psycopg.Error as err:
            raise self._error("Opening the store", err) from err
        self._pool: psycopg_pool.ConnectionPool[_Connection] = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "application_name": _APPLICATION},
            timeout=timeout,
            open=False,
            name=f"enact {self._address}",
        )
        self._pool.open()

    def __repr__(self) -> str:
        return f"PostgresBackend({self._address!r}, schema={self._schema!r})"

    @property
    def schema(self) -> str:
        """The PostgreSQL schema that holds the tables."""
        assert self._schema is not None
        return self._schema

    # Setup ---------------------------------------------------------------------

    def _create_tables(self, conn: _Connection, schema: str | None) -> str:
        """Creates or migrates the tables; returns the schema name."""
        if schema is None:
            row = conn.execute("SELECT current_schema()").fetchone()
            if row is None or row[0] is None:
                raise StorageError(
                    f"The connection to {self._address} has no current schema (its "
                    "search_path names no existing schema): pass schema=... or fix search_path."
                )
            schema = str(row[0])
        self._schema = schema
        names = self._identifiers(schema)
        version_table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(_VERSION))
        if self._read_version(conn, schema, version_table) == SCHEMA_VERSION:
            return schema
        # Several processes may open a fresh database at once; the lock makes
        # one of them create the tables while the others wait and then find them.
        key = int.from_bytes(hashlib.sha256(f"enact schema {schema}".encode()).digest()[:8], "big")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (key - (1 << 63),))
            # Only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE
            # privilege on the database even when the schema exists.
            if not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (only_row boolean PRIMARY KEY DEFAULT true "
                    "CHECK (only_row), version integer NOT NULL)"
                ).format(version_table)
            )
            version = self._read_version(conn, schema, version_table) or 0
            if version > SCHEMA_VERSION:
                self._raise_newer(version)
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(sql.SQL(statement).format(**names))
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (version) VALUES (%s) "
                    "ON CONFLICT (only_row) DO UPDATE SET version = excluded.version"
                ).format(version_table),
                (SCHEMA_VERSION,),
            )
        return schema

    def _read_version(self, conn: _Connection, schema: str, table: sql.Composable) -> int | None:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL",
            (sql.Identifier(schema, _VERSION).as_string(conn),),
        ).fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute(sql.SQL("SELECT version FROM {}").format(table)).fetchone()
        version = None if row is None else int(row[0])
        if version is not None and version > SCHEMA_VERSION:
            self._raise_newer(version)
        return version

    def _raise_newer(self, version: int) -> None:
        raise StorageError(
            f"The enact tables in {self._address} schema {self._schema!r} have version "
            f"{version}, but this enact only knows versions up to {SCHEMA_VERSION}: "
            "upgrade enact in this environment."
        )

    @staticmethod
    def _identifiers(schema: str) -> dict[str, sql.Composable]:
        return {
            "objects": sql.Identifier(schema, _OBJECTS),
            "names": sql.Identifier(schema, _NAMES),
            "ready": sql.Identifier(schema, _READY),
            "names_by_code_point": sql.Identifier(schema, "enact_names_by_code_point"),
        }

    def _prepare_queries(self, conn: _Connection) -> None:
        """Renders every query once, so that no operation composes SQL."""
        names = self._identifiers(self.schema)

        def render(template: str) -> bytes:
            return sql.SQL(template).format(**names).as_bytes(conn)

        # Inserting objects counts the rows it inserted or found stored with the same
        # bytes: the update's WHERE skips the others. A count short of the rows sent
        # means some are stored already with other bytes, and the commit checks
        # those and replaces the ones that do not verify. Equal bytes cost a
        # comparison on the server, no transfer. (A join against the table to find
        # them instead cost 2-3x a batch of 10: psycopg's prepared generic plan for
        # it degrades as the table grows.)
        def counted_upsert(rows: str) -> bytes:
            return render(
                f"WITH written AS (INSERT INTO {{objects}} (digest, data) {rows} "
                "ON CONFLICT (digest) DO UPDATE SET committed_at = now() "
                "WHERE {objects}.data = excluded.data RETURNING 1) "
                "SELECT count(*) FROM written"
            )

        self._q_insert = counted_upsert("VALUES (%b, %b)")
        self._q_insert_many = counted_upsert("SELECT * FROM unnest(%b::bytea[], %b::bytea[])")
        self._q_repair = render(
            "UPDATE {objects} SET data = %b, committed_at = now() WHERE digest = %b AND data = %b"
        )
        self._q_copy = render("COPY {objects} (digest, data) FROM STDIN (FORMAT BINARY)")
        self._q_has = render("SELECT 1 FROM {objects} WHERE digest = %b")
        self._q_get = render("SELECT data FROM {objects} WHERE digest = %b")
        self._q_has_many = render("SELECT digest FROM {objects} WHERE digest = ANY(%b)")
        self._q_get_many = render("SELECT digest, data FROM {objects} WHERE digest = ANY(%b)")
        self._q_page_first = render(
            f"SELECT digest FROM {{objects}} ORDER BY digest LIMIT {_PAGE_SIZE}"
        )
        self._q_page = render(
            f"SELECT digest FROM {{objects}} WHERE digest > %b ORDER BY digest LIMIT {_PAGE_SIZE}"
        )
        self._q_prefix = render(
            "SELECT digest FROM {objects} WHERE digest BETWEEN %b AND %b ORDER BY digest LIMIT %s"
        )
        self._q_committed_before = render(
            "SELECT digest FROM {objects} "
            "WHERE digest = ANY(%b) AND committed_at < to_timestamp(%s)"
        )
        self._q_delete = render("DELETE FROM {objects} WHERE digest = ANY(%b)")
        self._q_delete_before = render(
            "DELETE FROM {objects} WHERE digest = ANY(%b) AND committed_at < to_timestamp(%s)"
        )
        # Names are found by `key` (SHA-256 of the name's UTF-8, see _name_key) and
        # listed through the index of their first _NAME_HEAD characters: every
        # range on whole names is also given as the (inclusive) range of their heads.
        self._q_get_name = render("SELECT digest FROM {names} WHERE key = %b")
        self._q_put_name = render(
            "INSERT INTO {names} (key, name, digest) VALUES (%b, %s, %b) ON CONFLICT (key) "
            "DO UPDATE SET digest = excluded.digest, updated_at = now()"
        )
        self._q_add_name = render(
            "INSERT INTO {names} (key, name, digest) VALUES (%b, %s, %b) "
            "ON CONFLICT (key) DO NOTHING"
        )
        self._q_swap_name = render(
            "UPDATE {names} SET digest = %b, updated_at = now() WHERE key = %b AND digest = %b"
        )
        self._q_drop_name = render("DELETE FROM {names} WHERE key = %b")
        self._q_drop_name_if = render("DELETE FROM {names} WHERE key = %b AND digest = %b")
        self._q_names = render('SELECT name, digest FROM {names} ORDER BY name COLLATE "C"')
        head = f'left(name, {_NAME_HEAD}) COLLATE "C"'
        in_range = (
            f"WHERE {head} >= left(%(low)s, {_NAME_HEAD}) "
            f"AND {head} <= left(%(high)s, {_NAME_HEAD}) "
            f"AND {head} >= left(%(after)s, {_NAME_HEAD}) "
            f"AND {head} <= left(%(before)s, {_NAME_HEAD}) "
            'AND name COLLATE "C" >= %(low)s AND name COLLATE "C" < %(high)s '
            'AND name COLLATE "C" > %(after)s AND name COLLATE "C" < %(before)s'
        )
        self._q_names_range = render(
            f"SELECT name, digest FROM {{names}} {in_range} "
            f'ORDER BY {head}, name COLLATE "C" LIMIT %(limit)s'
        )
        self._q_names_range_desc = render(
            f"SELECT name, digest FROM {{names}} {in_range} "
            f'ORDER BY {head} DESC, name COLLATE "C" DESC LIMIT %(limit)s'
        )
        self._q_drop_names = render(
            f"DELETE FROM {{names}} WHERE {head} >= left(%(low)s, {_NAME_HEAD}) "
            f"AND {head} <= left(%(high)s, {_NAME_HEAD}) "
            'AND name COLLATE "C" >= %(low)s AND name COLLATE "C" < %(high)s'
        )
        # The ready queue. Putting an item and waking the workers is one statement
        # (NOTIFY is delivered when it commits); taking one skips the rows other
        # workers are taking at the same moment instead of waiting for them.
        self._channel = "enact_ready_" + hashlib.sha256(self.schema.encode()).hexdigest()[:16]
        self._limited: dict[tuple[str, ...], bool] = {}  # served queues -> one has a limit
        self._q_ready_put = render(
            "WITH item AS (INSERT INTO {ready} (run_id, queue, ready_at, token) "
            "VALUES (%s, %s, now() + make_interval(secs => %s), %s) ON CONFLICT (run_id) "
            "DO UPDATE SET queue = excluded.queue, ready_at = excluded.ready_at, "
            "token = excluded.token, owner = NULL RETURNING queue) "
            "SELECT pg_notify(%s, queue) FROM item WHERE %s"
        )
        # Taking: one statement for queues without a global limit; it takes nothing
        # (and says so) when one of `queues` has a limit row, for `ready_take`'s
        # locked path.
        self._q_ready_take = render(
            "WITH limited AS (SELECT queue FROM {ready} WHERE run_id = ANY(%s)), "
            "taken AS (UPDATE {ready} SET ready_at = now() + make_interval(secs => %s), "
            "owner = %s WHERE NOT EXISTS (SELECT FROM limited) AND run_id = ("
            "SELECT run_id FROM {ready} WHERE queue = ANY(%s) AND ready_at <= now() "
            "ORDER BY ready_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING run_id, queue, token) "
            "SELECT EXISTS (SELECT FROM limited), taken.run_id, taken.queue, taken.token "
            "FROM (VALUES (0)) AS one LEFT JOIN taken ON true"
        )
        # The locked path, one transaction sent as one pipeline: lock the limit rows
        # (in key order, so takers cannot deadlock), then, in a statement whose
        # snapshot is taken after the locks, count the claims and take an item of a
        # queue below its limit (statement_timestamp(): now() is the time of BEGIN).
        self._q_ready_lock_limits = render(
            "SELECT queue, token FROM {ready} WHERE run_id = ANY(%s) ORDER BY run_id FOR UPDATE"
        )
        self._q_ready_take_locked = render(
            "WITH limits AS (SELECT queue, token AS most FROM {ready} WHERE run_id = ANY(%s)), "
            "claims AS (SELECT queue, count(*) AS held FROM {ready} "
            "WHERE queue IN (SELECT queue FROM limits) AND owner IS NOT NULL "
            "AND ready_at > statement_timestamp() AND ready_at < 'infinity' GROUP BY queue), "
            "full_queues AS (SELECT queue FROM limits JOIN claims USING (queue) "
            "WHERE claims.held >= limits.most) "
            "UPDATE {ready} SET ready_at = statement_timestamp() + make_interval(secs => %s), "
            "owner = %s WHERE run_id = (SELECT run_id FROM {ready} WHERE queue = ANY(%s) "
            "AND queue NOT IN (SELECT queue FROM full_queues) "
            "AND ready_at <= statement_timestamp() ORDER BY ready_at LIMIT 1 "
            "FOR UPDATE SKIP LOCKED) RETURNING run_id, queue, token"
        )
        self._q_ready_renew = render(
            "UPDATE {ready} SET ready_at = now() + make_interval(secs => %s) "
            "FROM unnest(%s::text[], %s::bigint[]) AS held (run_id, token) "
            "WHERE {ready}.run_id = held.run_id AND {ready}.token = held.token "
            "AND {ready}.owner = %s AND {ready}.ready_at > now()"
        )
        # Deferring or dropping an item of a limited queue frees a slot: wake the workers.
        self._q_ready_defer = render(
            "WITH item AS (UPDATE {ready} SET ready_at = now() + make_interval(secs => %s), "
            "owner = NULL WHERE run_id = %s AND token = %s RETURNING queue) "
            "SELECT pg_notify(%s, queue) FROM item "
            "WHERE %s OR EXISTS (SELECT FROM {ready} WHERE run_id = %s || item.queue)"
        )
        self._q_ready_drop = render(
            "WITH item AS (DELETE FROM {ready} WHERE run_id = %s AND token = %s "
            "RETURNING queue) SELECT pg_notify(%s, queue) FROM item "
            "WHERE EXISTS (SELECT FROM {ready} WHERE run_id = %s || item.queue)"
        )
        self._q_ready_next = render(
            "SELECT extract(epoch FROM min(ready_at) - now()) FROM {ready} "
            "WHERE queue = ANY(%s) AND ready_at < 'infinity'"
        )
        self._q_ready_count = render(
            "SELECT count(*) FROM {ready} WHERE queue = ANY(%s) AND ready_at < 'infinity'"
        )
        self._q_ready_count_all = render("SELECT count(*) FROM {ready} WHERE ready_at < 'infinity'")
        self._q_ready_set_limit = render(
            "WITH item AS (INSERT INTO {ready} (run_id, queue, ready_at, token) "
            "VALUES (%s, %s, 'infinity', %s) ON CONFLICT (run_id) "
            "DO UPDATE SET token = excluded.token RETURNING queue) "
            "SELECT pg_notify(%s, queue) FROM item"
        )
        self._q_ready_drop_limit = render(
            "WITH item AS (DELETE FROM {ready} WHERE run_id = %s RETURNING queue) "
            "SELECT pg_notify(%s, queue) FROM item"
        )
        self._q_ready_limits = render(
            "SELECT queue, token FROM {ready} WHERE starts_with(run_id, %s) ORDER BY queue"
        )
        self._q_ready_queues_of = render("SELECT run_id, queue FROM {ready} WHERE run_id = ANY(%s)")

    # Running statements ----------------------------------------------------------

    def _run(self, action: str, work: Callable[[_Connection], T], *, retry: bool = True) -> T:
        """Runs `work` on a pooled connection, retrying deadlocks, wrapping errors.

        With `retry`, a statement that failed because its connection broke (a
        server restart) runs once more on a fresh connection; only idempotent
        work may ask for that.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._pool.connection() as conn:
                    return work(conn)
            except _RETRYABLE as err:
                if attempt >= _RETRIES:
                    raise self._error(action, err) from err
                time.sleep(random.uniform(0, 0.01 * attempt))
            except (psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as err:
                raise self._error(action, err) from err
            except psycopg.OperationalError as err:
                if not retry or attempt > 1 or not _is_disconnect(err):
                    raise self._error(action, err) from err
                # The server dropped the connection (a restart?): the other idle
                # ones are likely dead too, so replace them before the retry.
                self._pool.check()
            except psycopg.Error as err:
                raise self._error(action, err) from err

    def _error(self, action: str, err: psycopg.Error) -> StorageError:
        where = f"{self._address} schema {self._schema!r}" if self._schema else self._address
        if isinstance(err, psycopg_pool.PoolClosed):
            fix = "the store has been closed; open a new one."
        elif isinstance(err, psycopg_pool.PoolTimeout):
            fix = (
                f"no connection became free within {self._timeout:g} s. The server may be "
                f"down or overloaded, or all {self._pool_size} pooled connections are busy: "
                "check the server, or pass a larger pool_size."
            )
        elif isinstance(err, psycopg.OperationalError) and err.sqlstate is None:
            fix = (
                f"cannot reach the PostgreSQL server at {self._server} ({_oneline(err)}). "
                "Check that it is running and accepts connections, and that the DSN is right."
            )
        elif isinstance(err, pg_errors.InsufficientPrivilege):
            fix = (
                f"{_oneline(err)}. Grant the DSN's user access to the schema and its "
                "enact_* tables."
            )
        else:
            code = f" [SQLSTATE {err.sqlstate}]" if err.sqlstate else ""
            fix = f"{type(err).__name__}{code}: {_oneline(err)}"
        return StorageError(f"{action} failed (PostgreSQL store {where}): {fix}")

    # Objects -----------------------------------------------------------------

    def commit(self, packed_resource: PackedResource) -> None:
        params = (bytes.fromhex(packed_resource.digest), packed_resource.data)
        query = self._q_insert

        def work(conn: _Connection) -> None:
            if _count(conn.execute(query, params).fetchone()) == 0:
                self._repair(conn, [params])

        self._run(f"Committing {packed_resource.digest}", work)

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        # Sorted and unique: every statement then takes its row locks in digest
        # order, so concurrent writers of overlapping content cannot deadlock,
        # and no statement touches one row twice.
        unique = {bytes.fromhex(p.digest): p.data for p in packed_resources}
        rows = sorted(unique.items(), key=operator.itemgetter(0))
        if not rows:
            return
        small = len(rows) < _COPY_MIN_OBJECTS and sum(len(d) for _, d in rows) < _COPY_MIN_BYTES
        work = self._upsert if small else self._copy
        self._run(f"Committing {len(rows)} objects", functools.partial(work, rows=rows))

    def _upsert(self, conn: _Connection, *, rows: list[tuple[bytes, bytes]]) -> None:
        """Inserts rows, refreshing those that exist; one transaction, in key order."""
        chunks = list(_chunks(rows))
        with contextlib.ExitStack() as stack:
            if len(chunks) > 1:
                stack.enter_context(conn.transaction())
            for chunk in chunks:
                written = conn.execute(
                    self._q_insert_many, ([d for d, _ in chunk], [data for _, data in chunk])
                ).fetchone()
                if _count(written) < len(chunk):
                    self._repair(conn, chunk)

    def _repair(self, conn: _Connection, rows: list[tuple[bytes, bytes]]) -> None:
        """Settles `rows` (digest, new bytes), of which the upsert found some stored with
        other bytes.

        Stored bytes that verify are kept; the others are replaced. Either way the
        commit time is refreshed, as the upsert does for equal bytes, so that gc
        spares the object. One deleted since the upsert (by gc) is written again.
        """
        new = dict(rows)
        found = conn.execute(self._q_get_many, (list(new),), binary=True).fetchall()
        stored = {bytes(key): bytes(data) for key, data in found}
        for key, data in new.items():
            old = stored.get(key)
            if old == data:
                continue  # the upsert refreshed it
            if old is None:
                conn.execute(self._q_insert, (key, data))
            else:
                kept = old if intact(PackedResource(key.hex(), old), self.locate) else data
                conn.execute(self._q_repair, (kept, key, old))

    def _copy(self, conn: _Connection, *, rows: list[tuple[bytes, bytes]]) -> None:
        """Writes a large batch: COPY for the new objects, one upsert for the others."""
        if self._expect_new:
            # Large batches are mostly new content: try COPY of everything first.
            if self._copy_new(conn, rows):
                return
            self._expect_new = False
        present = {row[0] for row in conn.execute(self._q_has_many, ([d for d, _ in rows],))}
        self._expect_new = not present
        missing = [row for row in rows if row[0] not in present]
        if missing and not self._copy_new(conn, missing):
            # Another writer committed some of them meanwhile.
            self._upsert(conn, rows=rows)
            return
        if present:
            # Refreshes the commit times; re-inserts whatever gc deleted meanwhile.
            self._upsert(conn, rows=[row for row in rows if row[0] in present])

    def _copy_new(self, conn: _Connection, rows: list[tuple[bytes, bytes]]) -> bool:
        """COPYs rows (one statement, so all or none); False if one was stored already."""
        try:
            with conn.cursor().copy(self._q_copy) as copy:
                copy.set_types(["bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)
        except pg_errors.UniqueViolation:
            return False
        return True

    def has(self, ref: Ref[Any]) -> bool:
        key = (bytes.fromhex(ref.digest),)
        return self._run(
            f"Looking up {ref.digest}",
            lambda conn: conn.execute(self._q_has, key).fetchone() is not None,
        )

    def get(self, ref: Ref[Any]) -> PackedResource | None:
        key = (bytes.fromhex(ref.digest),)

        def work(conn: _Connection) -> PackedResource | None:
            row = conn.execute(self._q_get, key, binary=True).fetchone()
            return None if row is None else PackedResource(ref.digest, row[0])

        return self._run(f"Reading {ref.digest}", work)

    def has_many(self, digests: Iterable[str]) -> set[str]:
        keys = [bytes.fromhex(d) for d in set(digests)]
        if not keys:
            return set()
        return self._run(
            f"Looking up {len(keys)} objects",
            lambda conn: {row[0].hex() for row in conn.execute(self._q_has_many, (keys,))},
        )

    def get_many(self, digests: Iterable[str]) -> dict[str, PackedResource]:
        keys = [bytes.fromhex(d) for d in set(digests)]
        if not keys:
            return {}

        def work(conn: _Connection) -> dict[str, PackedResource]:
            found: dict[str, PackedResource] = {}
            for key, data in conn.execute(self._q_get_many, (keys,), binary=True):
                digest = key.hex()
                found[digest] = PackedResource(digest, data)
            return found

        return self._run(f"Reading {len(keys)} objects", work)

    def iter_digests(self) -> Iterator[str]:
        # Pages by key instead of one long server-side cursor: no connection or
        # snapshot is held while the caller works between pages, and objects
        # committed meanwhile past the current key are listed too.
        after: bytes | None = None
        while True:
            keys = self._run("Listing the objects", functools.partial(self._page, after=after))
            for key in keys:
                yield key.hex()
            if len(keys) < _PAGE_SIZE:
                return
            after = keys[-1]

    def _page(self, conn: _Connection, *, after: bytes | None) -> list[bytes]:
        if after is None:
            return [row[0] for row in conn.execute(self._q_page_first)]
        return [row[0] for row in conn.execute(self._q_page, (after,))]

    def digests_with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        low, high = base.digest_range(prefix)

        def work(conn: _Connection) -> list[str]:
            rows = conn.execute(self._q_prefix, (low, high, limit))
            return [bytes(row[0]).hex() for row in rows]

        return self._run(f"Looking up prefix {prefix}", work)

    def committed_before(self, digests: Iterable[str], cutoff: float) -> set[str]:
        keys = [bytes.fromhex(d) for d in set(digests)]
        if not keys:
            return set()
        return self._run(
            f"Reading the commit times of {len(keys)} objects",
            lambda conn: {
                row[0].hex() for row in conn.execute(self._q_committed_before, (keys, cutoff))
            },
        )

    def delete_many(self, digests: Iterable[str], *, committed_before: float | None = None) -> int:
        # With `committed_before` the age check and the deletion are one
        # statement: a re-commit racing it either waits and then inserts the
        # object again, or refreshes the row first so the DELETE skips it.
        keys = sorted(bytes.fromhex(d) for d in set(digests))
        if not keys:
            return 0

        def work(conn: _Connection) -> int:
            if committed_before is None:
                return conn.execute(self._q_delete, (keys,)).rowcount
            return conn.execute(self._q_delete_before, (keys, committed_before)).rowcount

        return self._run(f"Deleting {len(keys)} objects", work)

    # Named refs ----------------------------------------------------------------

    def get_name(self, name: str) -> str | None:
        check_name(name)

        key = _name_key(name)

        def work(conn: _Connection) -> str | None:
            row = conn.execute(self._q_get_name, (key,)).fetchone()
            return None if row is None else bytes(row[0]).hex()

        return self._run(f"Reading name {name!r}", work)

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        check_name(name)
        new = None if digest is None else bytes.fromhex(digest)
        old = None if expected is ANY or expected is None else bytes.fromhex(expected)
        key = _name_key(name)

        # Each case is one statement, so the compare and the set are atomic: a
        # conditional UPDATE or DELETE re-checks its condition on the newest
        # row version after waiting for a concurrent writer.
        def work(conn: _Connection) -> bool:
            if expected is ANY:
                if new is None:
                    conn.execute(self._q_drop_name, (key,))
                else:
                    conn.execute(self._q_put_name, (key, name, new))
                return True
            if expected is None:
                if new is None:
                    return conn.execute(self._q_get_name, (key,)).fetchone() is None
                return conn.execute(self._q_add_name, (key, name, new)).rowcount == 1
            if new is None:
                return conn.execute(self._q_drop_name_if, (key, old)).rowcount == 1
            return conn.execute(self._q_swap_name, (new, key, old)).rowcount == 1

        if self._run(f"Updating name {name!r}", work, retry=False):
            return
        where = f"{self._address} schema {self._schema!r}"
        raise base.name_conflict(name, where, expected, self.get_name(name))

    def iter_names(self) -> Iterator[tuple[str, str]]:
        rows = self._run(
            "Listing the names",
            lambda conn: [(str(n), bytes(d).hex()) for n, d in conn.execute(self._q_names)],
        )
        return iter(rows)

    def list_names(self, query: NameQuery) -> list[tuple[str, str]]:
        end = query.end
        params = {
            "low": query.prefix,
            "high": end,
            "after": query.after or "",
            "before": query.before or end,
            "limit": query.limit,
        }
        sql_query = self._q_names_range_desc if query.reverse else self._q_names_range
        return self._run(
            f"Listing the names under {query.prefix!r}",
            lambda conn: [(str(n), bytes(d).hex()) for n, d in conn.execute(sql_query, params)],
        )

    def delete_names(self, prefix: str) -> int:
        params = {"low": prefix, "high": NameQuery(prefix).end}
        return self._run(
            f"Deleting the names under {prefix!r}",
            lambda conn: int(conn.execute(self._q_drop_names, params).rowcount),
        )

    def commit_with_names(
        self, packed_resources: list[PackedResource], names: NamePairs, *, expected: Expected = None
    ) -> None:
        unique = {bytes.fromhex(p.digest): p.data for p in packed_resources}
        rows = sorted(unique.items(), key=operator.itemgetter(0))
        name_rows = sorted((name, bytes.fromhex(digest)) for name, digest in dict(names).items())
        checks = dict(expected or {})

        def work(conn: _Connection) -> None:
            with conn.transaction():
                if rows:
                    self._upsert(conn, rows=rows)
                for name, new in name_rows:
                    key = _name_key(name)
                    if name not in checks:
                        conn.execute(self._q_put_name, (key, name, new))
                        continue
                    # One conditional statement per name, as in set_name: the compare
                    # and the set are atomic; a failed one rolls the whole transaction back.
                    wanted = checks[name]
                    if wanted is None:
                        done = conn.execute(self._q_add_name, (key, name, new)).rowcount == 1
                    else:
                        swap = (new, key, bytes.fromhex(wanted))
                        done = conn.execute(self._q_swap_name, swap).rowcount == 1
                    if not done:
                        raise _NameRaced(name, wanted)

        try:
            self._run(
                f"Committing {len(rows)} objects and {len(name_rows)} names",
                work,
                retry=not checks,
            )
        except _NameRaced as raced:
            where = f"{self._address} schema {self._schema!r}"
            raise base.name_conflict(
                raced.name, where, raced.wanted, self.get_name(raced.name)
            ) from None

    # The ready queue (see enact.stores.ready) -------------------------------------

    def ready_put(self, run_id: str, queue: str, delay: float = 0.0) -> None:
        params = (run_id, queue, delay, _ready.new_token(), self._channel, delay <= 0)
        self._run(
            f"Putting run {run_id!r} in queue {queue!r}",
            lambda conn: conn.execute(self._q_ready_put, params),
        )

    def ready_take(
        self, queues: Sequence[str], owner: str, lease: float
    ) -> _ready.ReadyItem | None:
        keys = [_ready.limit_key(queue) for queue in queues]
        served = tuple(queues)

        def work(conn: _Connection) -> _ready.ReadyItem | None:
            row: Any = None
            if not self._limited.get(served, False):
                row = conn.execute(
                    self._q_ready_take, (keys, lease, owner, list(queues))
                ).fetchone()
                if row is None or not row[0]:
                    return None if row is None or row[1] is None else _item(row[1:])
            pipeline = (
                conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()
            )
            with pipeline, conn.transaction():
                locked = conn.execute(self._q_ready_lock_limits, (keys,))
                taken = conn.execute(self._q_ready_take_locked, (keys, lease, owner, list(queues)))
            # Limited queues go straight to this path next time, until their limits go.
            self._limited[served] = bool(locked.fetchall())
            row = taken.fetchone()
            return None if row is None else _item(row)

        return self._run("Taking a run from the ready queue", work, retry=False)

    def ready_defer(self, item: _ready.ReadyItem, delay: float) -> None:
        params = (
            delay,
            item.run_id,
            item.token,
            self._channel,
            delay <= 0,
            _ready.LIMIT_PREFIX,
        )
        self._run(
            f"Putting run {item.run_id!r} back in the ready queue",
            lambda conn: conn.execute(self._q_ready_defer, params),
        )

    def ready_drop(self, item: _ready.ReadyItem) -> None:
        params = (item.run_id, item.token, self._channel, _ready.LIMIT_PREFIX)
        self._run(
            f"Removing run {item.run_id!r} from the ready queue",
            lambda conn: conn.execute(self._q_ready_drop, params),
        )

    def ready_renew(self, items: Sequence[_ready.ReadyItem], owner: str, lease: float) -> int:
        if not items:
            return 0
        params = (lease, [i.run_id for i in items], [i.token for i in items], owner)
        return self._run(
            f"Renewing the claims of {len(items)} run(s)",
            lambda conn: conn.execute(self._q_ready_renew, params).rowcount,
        )

    def ready_set_limit(self, queue: str, limit: int | None) -> None:
        key = _ready.limit_key(queue)
        query = self._q_ready_drop_limit if limit is None else self._q_ready_set_limit
        params: tuple[Any, ...] = (
            (key, self._channel) if limit is None else (key, queue, limit, self._channel)
        )
        self._run(
            f"Setting the limit of queue {queue!r}",
            lambda conn: conn.execute(query, params),
        )

    def ready_limits(self) -> dict[str, int]:
        def work(conn: _Connection) -> dict[str, int]:
            rows = conn.execute(self._q_ready_limits, (_ready.LIMIT_PREFIX,)).fetchall()
            return {str(queue): int(limit) for queue, limit in rows}

        return self._run("Reading the queue limits", work)

    def ready_queues_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        def work(conn: _Connection) -> dict[str, str]:
            rows = conn.execute(self._q_ready_queues_of, (list(run_ids),)).fetchall()
            return {str(run_id): str(queue) for run_id, queue in rows}

        return self._run("Reading the ready queue", work) if run_ids else {}

    def ready_next(self, queues: Sequence[str]) -> float | None:
        def work(conn: _Connection) -> float | None:
            row = conn.execute(self._q_ready_next, (list(queues),)).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return self._run("Looking at the ready queue", work)

    def ready_count(self, queues: Sequence[str] | None = None) -> int:
        def work(conn: _Connection) -> int:
            if queues is None:
                row = conn.execute(self._q_ready_count_all).fetchone()
            else:
                row = conn.execute(self._q_ready_count, (list(queues),)).fetchone()
            return 0 if row is None else int(row[0])

        return self._run("Counting the ready queue", work)

    def ready_waiter(self) -> _ready.Waiter:
        return _Listener(self)

    # Life cycle ----------------------------------------------------------------

    def locate(self, digest: str) -> str:
        return f"{self._address} table {self._schema}.{_OBJECTS} digest {digest}"

    def close(self) -> None:
        self._pool.close()


class _Listener:
    """Waits for ``NOTIFY`` on the ready queue's channel, on a connection of its own."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._conn: _Connection | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._connect()

    def _connect(self) -> None:
        backend = self._backend
        try:
            conn = psycopg.connect(
                backend._dsn,
                autocommit=True,
                connect_timeout=max(1, round(backend._timeout)),
                application_name=_APPLICATION,
            )
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(backend._channel)))
        except psycopg.Error as err:
            raise backend._error("Listening for ready runs", err) from err
        self._conn = conn

    def wait(self, timeout: float) -> bool:
        if self._conn is None or self._conn.closed:
            self._connect()
        conn = self._conn
        assert conn is not None
        try:
            # The connection's socket, and a pipe that `wake` writes to.
            readable, _, _ = select.select(
                [conn.fileno(), self._wake_read], [], [], max(0.0, timeout)
            )
            if self._wake_read in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 4096)
            # Many notifications at once (a burst of submissions) make one wake-up.
            return any(True for _ in conn.notifies(timeout=0))
        except psycopg.OperationalError:
            # The server went away: reconnect at the next wait (workers look at the
            # queue after every wake-up, so nothing is missed meanwhile).
            with contextlib.suppress(psycopg.Error):
                conn.close()
            self._conn = None
            time.sleep(min(timeout, 0.5))
        return False

    def reset(self) -> None:
        pass

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"!")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)


class PostgresOptions(TypedDict, total=False):
    """The keyword arguments of `PostgresBackend` that `PostgresStore` passes on."""

    schema: str | None
    pool_size: int
    timeout: float


class PostgresStore(Store):
    """A store in a PostgreSQL database: ``Store(PostgresBackend(dsn, **options))``.

    Args:
        dsn: A libpq connection string or URL, e.g. ``postgresql://user@host/db``.
        durability: See `Store`.
        options: ``schema``, ``pool_size`` and ``timeout``: see `PostgresBackend`.
    """

    def __init__(
        self, dsn: str, *, durability: str = "call", **options: Unpack[PostgresOptions]
    ) -> None:
        super().__init__(PostgresBackend(dsn, **options), durability=durability)


def _item(row: Sequence[Any]) -> _ready.ReadyItem:
    return _ready.ReadyItem(str(row[0]), str(row[1]), int(row[2]))


def _name_key(name: str) -> bytes:
    """The key of a name's row: the SHA-256 of its UTF-8."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()


def _count(row: tuple[Any, ...] | None) -> int:
    """The number in the one row of a ``SELECT count(*)``."""
    assert row is not None
    return int(row[0])


def _chunks(rows: list[tuple[bytes, bytes]]) -> Iterator[list[tuple[bytes, bytes]]]:
    """Splits rows into runs small enough for one statement's parameters."""
    return base.batches(rows, _CHUNK_OBJECTS, size=_data_size, max_size=_CHUNK_BYTES)


def _data_size(row: tuple[bytes, bytes]) -> int:
    return len(row[1])


def _is_disconnect(err: psycopg.OperationalError) -> bool:
    """Whether the connection was lost (server restart, network), not the statement refused."""
    state = err.sqlstate
    return state is None or state.startswith(("08", "57P"))


def _oneline(err: Exception) -> str:
    return " ".join(str(err).split())


def _address(dsn: str) -> str:
    """Returns ``postgresql://host:port/dbname`` for messages: never the password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql://(unparsable DSN)"
    host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    user = str(params.get("user") or os.environ.get("PGUSER") or "")
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user or "postgres")
    if host.startswith("/"):
        host = f"[{host}]"
    return f"postgresql://{host}:{port}/{dbname}"
