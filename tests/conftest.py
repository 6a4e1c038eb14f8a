"""Shared fixtures. Chiefly: the store backends that every store test runs against.

`BACKENDS` below is THE list of backend kinds. The conformance suite
(tests/conformance/), the maintenance tests and the multi-process tests are
parametrised over it through the `backend_kind`, `new_store_url` and
`make_backend` fixtures. To run all of them against another
backend, append a `BackendKind` whose `new_store` yields the URL (for
`enact.open_store`) of a new, empty store and cleans it up afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import pathlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

import enact
from enact.stores.base import StorageBackend


@dataclasses.dataclass(frozen=True)
class BackendKind:
    """How the store tests make a new, empty store of one kind.

    Attributes:
        name: The test id (``test_x[sqlite]``).
        new_store: Given a new empty directory the store may live in, a context
            manager yielding the URL of a new empty store (each call a new one)
            and removing it on exit. Call `pytest.skip` inside to skip the kind.
        shared: Whether other processes opening the URL reach the same store
            (False for ``memory:``: the cross-process tests skip it).
    """

    name: str
    new_store: Callable[[pathlib.Path], AbstractContextManager[str]]
    shared: bool = True


@contextlib.contextmanager
def _url(url: str) -> Iterator[str]:
    yield url


@contextlib.contextmanager
def _postgres(directory: pathlib.Path) -> Iterator[str]:
    from helpers.postgres import fresh_schema, postgres_dsn

    dsn = postgres_dsn()  # skips (or, under ENACT_REQUIRE_POSTGRES=1, fails) without a server
    with fresh_schema(dsn) as schema:
        yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


# ---- The backend kinds every store test runs against (extend here) ----------
BACKENDS: list[BackendKind] = [
    BackendKind("memory", lambda directory: _url("memory:"), shared=False),
    BackendKind("file", lambda directory: _url(f"file://{directory}")),
    BackendKind("sqlite", lambda directory: _url(f"sqlite:///{directory}/store.db")),
    # Skips unless ENACT_TEST_POSTGRES_DSN names a server (see helpers/postgres.py).
    BackendKind("postgres", _postgres),
]
# ------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS, ids=lambda kind: kind.name)
def backend_kind(request: pytest.FixtureRequest) -> BackendKind:
    """Each backend kind in turn."""
    kind: BackendKind = request.param
    return kind


@pytest.fixture
def new_store_url(backend_kind: BackendKind, tmp_path: pathlib.Path) -> Iterator[Callable[[], str]]:
    """Returns a function that returns the URL of a new, empty store of the kind."""
    counter = itertools.count()
    with contextlib.ExitStack() as cleanup:

        def new() -> str:
            directory = tmp_path / f"store{next(counter)}"
            directory.mkdir()
            return cleanup.enter_context(backend_kind.new_store(directory))

        yield new


@pytest.fixture
def make_backend(new_store_url: Callable[[], str]) -> Iterator[Callable[[], StorageBackend]]:
    """Returns a function that makes a new, empty backend of the kind (closed afterwards)."""
    opened: list[enact.Store] = []

    def make() -> StorageBackend:
        store = enact.open_store(new_store_url())
        opened.append(store)
        return store.backend

    yield make
    for store in opened:
        store.close()
