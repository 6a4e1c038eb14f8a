"""The test PostgreSQL server: its DSN, and throw-away schemas and databases on it.

The server is named by ENACT_TEST_POSTGRES_DSN (`.ci/run` starts one; locally
run ``bash .ci/start_postgres.sh`` and export the DSN it prints). Without it
the PostgreSQL tests skip, unless ENACT_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator

import pytest

DSN_VARIABLE = "ENACT_TEST_POSTGRES_DSN"


def _required() -> bool:
    return os.environ.get("ENACT_REQUIRE_POSTGRES", "") not in ("", "0")


@functools.cache
def _probe(dsn: str) -> str | None:
    """Returns why the server cannot be used, or None if it can."""
    try:
        import psycopg
    except ImportError as err:
        return f"psycopg is not installed ({err}): pip install -e '.[test]'"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        return f"the PostgreSQL server at {DSN_VARIABLE} is unreachable: {err}"
    return None


def postgres_dsn() -> str:
    """Returns the test server's DSN, or skips (fails under ENACT_REQUIRE_POSTGRES=1)."""
    dsn = os.environ.get(DSN_VARIABLE, "")
    problem = (
        f"{DSN_VARIABLE} is not set: run .ci/run, or start a server with "
        f"`bash .ci/start_postgres.sh` and export the {DSN_VARIABLE}=... line it prints"
        if not dsn
        else _probe(dsn)
    )
    if problem is None:
        return dsn
    if _required():
        pytest.fail(f"ENACT_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(problem)


def unique_name(prefix: str) -> str:
    """Returns a fresh lower-case identifier, so that tests never share tables."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def fresh_schema(dsn: str) -> Iterator[str]:
    """Yields the name of a schema that does not exist yet; drops it afterwards."""
    import psycopg
    from psycopg import sql

    schema = unique_name("enact_test")
    try:
        yield schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def fresh_database(dsn: str) -> Iterator[str]:
    """Creates an empty database on the test server and yields its DSN; drops it afterwards."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = unique_name("enact_db")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
