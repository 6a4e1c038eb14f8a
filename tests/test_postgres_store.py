"""PostgresStore / PostgresBackend against a real PostgreSQL server (never mocks).

Each test gets its own schema (or its own database), so tests are independent.
They skip when ENACT_TEST_POSTGRES_DSN is unset, and fail instead under
ENACT_REQUIRE_POSTGRES=1 (CI); see helpers/postgres.py.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.pg_worker import COUNTER_INCREMENTS, OVERLAP_ITEMS, increment
from helpers.postgres import fresh_database, fresh_schema, postgres_dsn, unique_name
from helpers.workload import item

import enact
from enact.stores.base import PackedResource
from enact.stores.stored_form import compress

WORKER = pathlib.Path(__file__).parent / "helpers" / "pg_worker.py"


@pytest.fixture
def dsn() -> str:
    return postgres_dsn()


@pytest.fixture
def schema(dsn: str) -> Iterator[str]:
    with fresh_schema(dsn) as name:
        yield name


@pytest.fixture
def store(dsn: str, schema: str) -> Iterator[enact.Store]:
    opened = enact.PostgresStore(dsn, schema=schema)
    yield opened
    opened.close()


@pytest.fixture
def backend(store: enact.Store) -> Any:
    return store.backend


def packed(text: str) -> PackedResource:
    data = text.encode()
    return PackedResource(hashlib.sha256(data).hexdigest(), data)


def sql(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Runs one statement on its own connection (to inspect or damage the tables)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else []


# Objects ----------------------------------------------------------------------


def test_commit_and_checkout_round_trip(store: enact.Store) -> None:
    """A committed resource checks out equal, also from a second store on the same tables."""
    with store:
        ref = enact.commit(item(1))
        assert ref() == item(1)
        assert store.has(ref)
    dsn, schema = postgres_dsn(), store.backend.schema  # type: ignore[attr-defined]
    with enact.PostgresStore(dsn, schema=schema) as other:
        assert other.checkout(enact.Ref.from_digest(ref.digest)) == item(1)
        other.close()


def test_missing_object(store: enact.Store, backend: Any) -> None:
    """Looking up an absent digest gives False / None / NotFoundError naming the table."""
    ref = enact.Ref.from_digest("ab" * 32)
    assert not backend.has(ref)
    assert backend.get(ref) is None
    with store, pytest.raises(enact.NotFoundError) as caught:
        ref()
    assert "enact_objects" in caught.value.location
    assert caught.value.digest == "ab" * 32


@pytest.mark.parametrize("count", [3, 200], ids=["insert", "copy"])
def test_commit_many_is_idempotent_and_freshens(backend: Any, count: int) -> None:
    """Batches (small ones by INSERT, large ones by COPY) store new objects, skip duplicates
    and refresh the commit time of objects that were already there."""
    old = [packed(f"old {i}") for i in range(count)]
    backend.commit_many(old)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    new = [packed(f"new {i}") for i in range(count)]
    again = old[: count // 2 + 1]
    backend.commit_many([*new, *again, *new[:2]])
    digests = [p.digest for p in old + new]
    assert backend.has_many(digests) == set(digests)
    got = backend.get_many(digests)
    assert {d: p.data for d, p in got.items()} == {p.digest: p.data for p in old + new}
    stale = {p.digest for p in old} - {p.digest for p in again}
    assert backend.committed_before(digests, cutoff) == stale
    assert sum(1 for _ in backend.iter_digests()) == 2 * count


def test_single_commit_freshens(backend: Any) -> None:
    """Re-committing one object moves its commit time past an earlier cutoff."""
    first, second = packed("first"), packed("second")
    backend.commit(first)
    backend.commit(second)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    backend.commit(first)
    assert backend.committed_before([first.digest, second.digest], cutoff) == {second.digest}


@pytest.mark.parametrize("many", [False, True], ids=["commit", "commit_many"])
def test_recommit_of_other_valid_bytes_keeps_them_and_freshens(
    backend: Any, dsn: str, many: bool
) -> None:
    """An object stored in another valid form (plain, where this commit sends it
    compressed) keeps its bytes, and the commit still refreshes its time so gc spares
    it."""
    tokens = b"s'" + b"x" * 400 + b"'"
    digest = hashlib.sha256(tokens).hexdigest()
    compressed = compress(tokens)
    assert compressed is not None and compressed != tokens
    plain, other = PackedResource(digest, tokens), PackedResource(digest, compressed)
    backend.commit(plain)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    fresh = packed(f"fresh {many}")
    if many:
        backend.commit_many([other, fresh])
    else:
        backend.commit(other)
        backend.commit(fresh)
    assert backend.get(enact.Ref.from_digest(digest)).data == tokens
    assert backend.committed_before([digest, fresh.digest], cutoff) == set()
    table = f"{backend.schema}.enact_objects"
    stored = sql(dsn, f"SELECT data FROM {table} WHERE digest = %s", bytes.fromhex(digest))
    assert [bytes(row[0]) for row in stored] == [tokens]


def test_batch_of_large_objects(store: enact.Store) -> None:
    """A few megabyte-sized objects go through one batch and check out intact."""
    with store:
        with store.batch():
            refs = [enact.commit(bytes([k]) * 3_000_000) for k in range(3)]
        assert [ref() for ref in refs] == [bytes([k]) * 3_000_000 for k in range(3)]


def test_empty_batches(backend: Any) -> None:
    """Empty inputs make no round trip and return empty results."""
    backend.commit_many([])
    assert backend.has_many([]) == set()
    assert backend.get_many([]) == {}
    assert backend.committed_before([], time.time()) == set()
    assert backend.delete_many([]) == 0


def test_iter_digests_pages(backend: Any) -> None:
    """Listing yields every digest once, in order, across several pages."""
    objects = [packed(f"object {i}") for i in range(10_050)]
    backend.commit_many(objects)
    listed = list(backend.iter_digests())
    assert listed == sorted(p.digest for p in objects)


def test_recommit_of_a_batch_larger_than_one_statement(backend: Any) -> None:
    """Re-committing more objects than one INSERT carries refreshes all of them."""
    objects = [packed(f"many {i}") for i in range(10_050)]
    backend.commit_many(objects)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    extra = [packed(f"extra {i}") for i in range(10)]
    backend.commit_many(objects + extra)
    digests = [p.digest for p in objects + extra]
    assert backend.committed_before(digests, cutoff) == set()
    assert backend.has_many(digests) == set(digests)


def test_digests_with_prefix(backend: Any) -> None:
    """Prefix lookups (odd or even length, with a limit) find exactly the matching digests."""
    objects = [packed(f"prefixed {i}") for i in range(300)]
    backend.commit_many(objects)
    digests = sorted(p.digest for p in objects)
    for prefix in ("", "a", "3f", digests[7][:5], digests[7]):
        assert backend.digests_with_prefix(prefix) == [d for d in digests if d.startswith(prefix)]
    assert backend.digests_with_prefix("", limit=2) == digests[:2]
    with pytest.raises(ValueError):
        backend.digests_with_prefix("XYZ")


def test_delete_many(backend: Any) -> None:
    """delete_many removes what is asked and counts only what existed."""
    objects = [packed(f"doomed {i}") for i in range(5)]
    backend.commit_many(objects)
    digests = [p.digest for p in objects]
    assert backend.delete_many([*digests[:3], "cd" * 32]) == 3
    assert backend.has_many(digests) == set(digests[3:])


def test_delete_many_keeps_recommitted_objects(backend: Any) -> None:
    """With committed_before, objects committed again after the cutoff survive."""
    objects = [packed(f"maybe {i}") for i in range(4)]
    backend.commit_many(objects)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    backend.commit(objects[0])
    digests = [p.digest for p in objects]
    assert backend.delete_many(digests, committed_before=cutoff) == 3
    assert backend.has_many(digests) == {objects[0].digest}


def test_recommit_racing_a_delete_wins(dsn: str, backend: Any) -> None:
    """White-box: a re-commit whose transaction is still open when gc deletes makes the
    delete wait, then skip the object (the age check and the delete are atomic)."""
    import psycopg

    victim = packed("raced")
    backend.commit(victim)
    time.sleep(0.02)
    cutoff = time.time()
    time.sleep(0.02)
    table = f'"{backend.schema}".enact_objects'
    with psycopg.connect(dsn) as writer:
        writer.execute(
            f"UPDATE {table} SET committed_at = now() WHERE digest = %s".encode(),
            (bytes.fromhex(victim.digest),),
        )
        result: list[int] = []
        deleter = threading.Thread(
            target=lambda: result.append(
                backend.delete_many([victim.digest], committed_before=cutoff)
            )
        )
        deleter.start()
        time.sleep(0.3)
        assert deleter.is_alive(), "the delete should wait for the open re-commit"
        writer.commit()
        deleter.join(10)
    assert result == [0]
    assert backend.has_many([victim.digest]) == {victim.digest}


def test_corrupt_row_is_detected(dsn: str, store: enact.Store) -> None:
    """Bytes changed behind enact's back fail verification, naming the table and digest."""
    with store:
        ref = enact.commit(item(2))
    table = f'"{store.backend.schema}".enact_objects'  # type: ignore[attr-defined]
    sql(dsn, f"UPDATE {table} SET data = %s", b"tampered")
    fresh = enact.PostgresStore(dsn, schema=store.backend.schema)  # type: ignore[attr-defined]
    with fresh, pytest.raises(enact.CorruptObjectError) as caught:
        enact.Ref.from_digest(ref.digest)()
    fresh.close()
    assert f"table {store.backend.schema}.enact_objects digest {ref.digest}" in str(  # type: ignore[attr-defined]
        caught.value
    )


# Named refs ---------------------------------------------------------------------


def test_names_set_get_delete(backend: Any) -> None:
    """Names map to digests; None deletes; listing is sorted by name."""
    a, b = "a" * 64, "b" * 64
    assert backend.get_name("main") is None
    backend.set_name("main", a)
    backend.set_name("feature/ünïcode", b)
    assert backend.get_name("main") == a
    backend.set_name("main", b)
    assert list(backend.iter_names()) == [("feature/ünïcode", b), ("main", b)]
    backend.set_name("main", None)
    backend.set_name("never-existed", None)
    assert list(backend.iter_names()) == [("feature/ünïcode", b)]
    with pytest.raises(ValueError, match="empty"):
        backend.set_name("", a)


def test_names_compare_and_set(backend: Any) -> None:
    """A set with `expected` succeeds only from that value and otherwise changes nothing."""
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    backend.set_name("n", None, expected=None)
    backend.set_name("n", a, expected=None)
    with pytest.raises(enact.NameConflictError) as caught:
        backend.set_name("n", b, expected=None)
    assert (caught.value.name, caught.value.expected, caught.value.actual) == ("n", None, a)
    backend.set_name("n", b, expected=a)
    with pytest.raises(enact.NameConflictError) as caught:
        backend.set_name("n", c, expected=a)
    assert (caught.value.expected, caught.value.actual) == (a, b)
    assert "re-read it and retry" in str(caught.value)
    with pytest.raises(enact.NameConflictError):
        backend.set_name("n", None, expected=a)
    with pytest.raises(enact.NameConflictError):
        backend.set_name("n", None, expected=None)
    assert backend.get_name("n") == b
    backend.set_name("n", None, expected=b)
    assert backend.get_name("n") is None
    with pytest.raises(enact.NameConflictError) as caught:
        backend.set_name("n", a, expected=b)
    assert caught.value.actual is None


def test_compare_and_set_from_threads(store: enact.Store) -> None:
    """Four threads incrementing one counter name by compare-and-set lose no update."""
    threads = [
        threading.Thread(target=lambda: [increment(store) for _ in range(15)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    digest = store.backend.get_name("count")
    assert digest is not None
    assert store.checkout(enact.Ref.from_digest(digest)) == 60


# Setup, errors, life cycle ----------------------------------------------------------


def test_import_enact_does_not_import_psycopg() -> None:
    """psycopg is an optional extra: `import enact` leaves it alone until it is used."""
    code = (
        "import sys, enact\n"
        "assert 'psycopg' not in sys.modules, 'imported too early'\n"
        "from enact.stores.postgres import PostgresStore\n"
        "assert enact.PostgresStore is PostgresStore\n"
        "assert 'psycopg' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unreachable_server_names_host_and_port_not_password() -> None:
    """A server that refuses connections gives a StorageError naming host:port and the fix."""
    import psycopg

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(enact.StorageError) as caught:
        enact.PostgresStore(f"postgresql://someone:hunter2@127.0.0.1:{port}/nothing")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "is running" in message
    assert "hunter2" not in message
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


def test_password_never_in_repr_or_locate(dsn: str, schema: str) -> None:
    """repr() and locate() describe the server without the DSN's password."""
    import psycopg.conninfo

    with_password = psycopg.conninfo.make_conninfo(dsn, password="hunter2")
    backend = enact.PostgresBackend(with_password, schema=schema)
    try:
        described = repr(backend) + backend.locate("ab" * 32) + repr(enact.Store(backend))
        assert "hunter2" not in described
        assert schema in described
    finally:
        backend.close()


def test_tables_from_a_newer_enact_are_refused(dsn: str, schema: str) -> None:
    """Opening tables whose schema version is newer than this enact's fails clearly."""
    enact.PostgresBackend(dsn, schema=schema).close()
    sql(dsn, f'UPDATE "{schema}".enact_schema_version SET version = 99')
    with pytest.raises(enact.StorageError, match="upgrade enact"):
        enact.PostgresBackend(dsn, schema=schema)


def test_user_who_may_not_create_schemas(dsn: str, schema: str) -> None:
    """A user with rights on one existing schema only can open a store there; elsewhere
    the error names the missing privilege and the fix."""
    import psycopg.conninfo

    role = unique_name("enact_user")
    sql(dsn, f'CREATE ROLE "{role}" LOGIN')
    try:
        sql(dsn, f'CREATE SCHEMA "{schema}"')
        sql(dsn, f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"')
        as_role = psycopg.conninfo.make_conninfo(dsn, user=role)
        with enact.PostgresStore(as_role, schema=schema) as store:
            assert enact.commit(item(6))() == item(6)
            store.close()
        with pytest.raises(enact.StorageError, match="Grant the DSN's user") as caught:
            enact.PostgresStore(as_role, schema=f"{schema}_other")
        assert isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)
    finally:
        sql(dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        sql(dsn, f'DROP ROLE "{role}"')


def test_schemas_are_independent(dsn: str, store: enact.Store) -> None:
    """Two stores in two schemas of one database do not see each other's objects."""
    with fresh_schema(dsn) as other_schema:
        other = enact.PostgresStore(dsn, schema=other_schema)
        with store:
            ref = enact.commit(item(3))
        assert not other.has(ref)
        other.close()


def test_dropped_connections_are_replaced(dsn: str, store: enact.Store) -> None:
    """After the server drops every connection (as on a restart), the store carries on."""
    with store:
        ref = enact.commit(item(4))
    sql(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'enact' AND pid <> pg_backend_pid()",
    )
    with store:
        assert store.backend.has(ref)
        assert enact.commit(item(5))() == item(5)


def test_errors_after_close_are_storage_errors(store: enact.Store) -> None:
    """Using a closed store raises StorageError, not a raw driver error."""
    store.close()
    with pytest.raises(enact.StorageError):
        store.backend.has(enact.Ref.from_digest("ab" * 32))


# Real processes -------------------------------------------------------------------


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_kill_during_commits_loses_no_reported_ref(dsn: str, schema: str) -> None:
    """kill -9 in the middle of thousands of commits: every reported ref and name survives."""
    enact.PostgresBackend(dsn, schema=schema).close()
    worker = spawn("commit", dsn, schema)
    assert worker.stdout is not None
    refs: list[str] = []
    names: list[str] = []
    stop_after = random.randint(2_000, 3_000)
    for line in worker.stdout:
        kind, digest = line.split()
        (refs if kind == "ref" else names).append(digest)
        if len(refs) >= stop_after:
            break
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL
    with enact.PostgresStore(dsn, schema=schema) as store:
        assert store.backend.has_many(refs) == set(refs)
        for digest in refs[-50:]:
            assert isinstance(store.checkout(enact.Ref.from_digest(digest)), type(item(0)))
        last = store.backend.get_name("last")
        assert names and last is not None
        # The worker may have died between moving the name and reporting it.
        assert last == names[-1] or store.backend.has_many([last]) == {last}
        store.close()


def test_four_processes_write_overlapping_content(dsn: str, schema: str) -> None:
    """Four processes committing the same objects at once, in different orders and batch
    sizes, all succeed; each object is stored once; no counter increment is lost."""
    enact.PostgresBackend(dsn, schema=schema).close()
    workers = [spawn("overlap", dsn, schema, str(seed)) for seed in range(4)]
    start_together(workers)
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
        assert out.split()[-1] == "done"
    (count,) = sql(dsn, f'SELECT count(*) FROM "{schema}".enact_objects')[0]
    ints = 4 * COUNTER_INCREMENTS  # the counter values 1..40, one object each
    assert count == OVERLAP_ITEMS + ints
    with enact.PostgresStore(dsn, schema=schema) as store:
        expected = {enact.commit(item(i)).digest for i in range(OVERLAP_ITEMS)}
        assert store.backend.has_many(expected) == expected
        counter = store.backend.get_name("count")
        assert counter is not None
        assert enact.Ref.from_digest(counter)() == ints
        store.close()


def test_eight_processes_open_a_new_database(dsn: str) -> None:
    """Eight processes opening one brand-new database at once create the tables once
    and all commit successfully."""
    with fresh_database(dsn) as new_dsn:
        workers = [spawn("open", new_dsn, str(index)) for index in range(8)]
        start_together(workers)
        for worker in workers:
            out, _ = worker.communicate(timeout=120)
            assert worker.returncode == 0, out
            assert out.split()[-2] == "ok"
        from enact.stores.postgres import SCHEMA_VERSION

        assert sql(new_dsn, "SELECT version FROM enact_schema_version") == [(SCHEMA_VERSION,)]
        assert sql(new_dsn, "SELECT count(*) FROM enact_objects") == [(8,)]


def start_together(workers: list[subprocess.Popen[str]]) -> None:
    """Waits until every worker is ready, then releases them all at once."""
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
