"""PostgreSQL names of any script up to 1,000 characters (schema version 4), and the
upgrade in place of a store made with version 3, whose names were their own btree key.

Skips without a server (ENACT_TEST_POSTGRES_DSN); see helpers/postgres.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.postgres import fresh_schema, postgres_dsn

import enact
from enact.stores.base import NameQuery

psycopg = pytest.importorskip("psycopg")
from psycopg import sql  # noqa: E402  (after the skip)

from enact.stores.postgres import _MIGRATIONS, SCHEMA_VERSION, PostgresBackend  # noqa: E402

LONG = "".join(chr(0x4E00 + i * 7919 % 20000) for i in range(1000))  # about 3 KB of UTF-8


def make_version_3(conn: Any, schema: str) -> None:
    """Creates the tables as enact with schema version 3 did."""
    names = PostgresBackend._identifiers(schema)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for statements in _MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(**names))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), "
            "version integer NOT NULL)"
        ).format(sql.Identifier(schema, "enact_schema_version"))
    )
    conn.execute(
        sql.SQL("INSERT INTO {} (version) VALUES (3)").format(
            sql.Identifier(schema, "enact_schema_version")
        )
    )


def test_a_version_3_store_is_upgraded_in_place() -> None:
    """Its objects and names survive, listed in code point order; then long names work."""
    dsn = postgres_dsn()
    with fresh_schema(dsn) as schema:
        with psycopg.connect(dsn, autocommit=True) as conn:
            make_version_3(conn, schema)
            with pytest.raises(psycopg.errors.ProgramLimitExceeded):  # the defect
                conn.execute(
                    sql.SQL("INSERT INTO {} (name, digest) VALUES (%s, %s)").format(
                        sql.Identifier(schema, "enact_names")
                    ),
                    (LONG, b"\0" * 32),
                )
        old = enact.Store(_v3_backend(dsn, schema))
        refs = {
            name: old.commit(f"value of {name}") for name in ["runs/b", "runs/a", "runs/é", "x"]
        }
        for name, ref in refs.items():
            old.set_name(name, ref)
        old.close()

        store = enact.PostgresStore(dsn, schema=schema)
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                version = conn.execute(
                    sql.SQL("SELECT version FROM {}").format(
                        sql.Identifier(schema, "enact_schema_version")
                    )
                ).fetchone()
            assert version == (SCHEMA_VERSION,) == (4,)
            assert store.names() == dict(sorted(refs.items()))
            assert [name for name, _ in store.list_names("runs/")] == ["runs/a", "runs/b", "runs/é"]
            assert store.checkout(store.get_name("runs/é")) == "value of runs/é"  # type: ignore[arg-type]
            store.set_name(LONG, refs["x"])
            store.set_name("runs/a", refs["x"], expected=refs["runs/a"])
            assert store.get_name(LONG) == refs["x"] == store.get_name("runs/a")
            assert [name for name, _ in store.list_names(LONG[:700])] == [LONG]
            assert enact.verify(store).ok
        finally:
            store.close()
        # Opening it again (another process, a newer one) changes nothing.
        PostgresBackend(dsn, schema=schema).close()


def test_name_ranges_are_read_through_an_index() -> None:
    """The range scans behind runs and journals stay indexed (the head of each name)."""
    dsn = postgres_dsn()
    with fresh_schema(dsn) as schema:
        backend = PostgresBackend(dsn, schema=schema)
        try:
            store = enact.Store(backend)
            ref = store.commit("target")
            for i in range(300):
                store.set_name(f"runs/{i:04d}", ref)
            query = NameQuery("runs/", after="runs/0100", limit=5)
            assert [name for name, _ in backend.list_names(query)] == [
                f"runs/{i:04d}" for i in range(101, 106)
            ]
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET enable_seqscan = off")
                params = {
                    "low": "runs/",
                    "high": query.end,
                    "after": "runs/0100",
                    "before": query.end,
                    "limit": 5,
                }
                plan = "\n".join(
                    str(row[0])
                    for row in conn.execute(
                        b"EXPLAIN " + backend._q_names_range,
                        params,  # type: ignore[arg-type]
                    )
                )
            assert "enact_names_by_head" in plan, plan
        finally:
            backend.close()


def _v3_backend(dsn: str, schema: str) -> Any:
    """A backend that writes into the version 3 tables as the enact of that version did:
    the names table keyed by the name itself."""

    class Version3(PostgresBackend):
        def _create_tables(self, conn: Any, schema: str | None) -> str:
            assert schema is not None
            self._schema = schema
            return schema

        def set_name(self, name: str, digest: str | None, *, expected: Any = None) -> None:
            assert digest is not None
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("INSERT INTO {} (name, digest) VALUES (%s, %s)").format(
                        sql.Identifier(schema, "enact_names")
                    ),
                    (name, bytes.fromhex(digest)),
                )

    return Version3(dsn, schema=schema)
