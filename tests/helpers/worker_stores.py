"""What the worker tests share: the stores they run on, the ledger, their processes.

Each test module keeps its own thin fixtures (pytest finds fixtures per module)
and builds them from these.
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
from collections.abc import Iterator

import pytest
import worker_agent as agent
from helpers.postgres import fresh_schema, postgres_dsn

import enact


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """The URL of a fresh schema on the test server (skips without one)."""
    dsn = postgres_dsn()
    with fresh_schema(dsn) as schema:
        yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


@contextlib.contextmanager
def store_url(kind: str, tmp_path: pathlib.Path, file: str = "store.db") -> Iterator[str]:
    """A new, empty store that keeps a ready queue: ``"sqlite"`` or ``"postgres"``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/{file}"
        return
    with postgres_url() as url:
        yield url


@contextlib.contextmanager
def opened(url: str) -> Iterator[enact.Store]:
    """The store at `url`, active while the test runs, closed afterwards."""
    store = enact.open_store(url)
    try:
        with store:
            yield store
    finally:
        store.close()


def ledger_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An empty side-effect ledger that the agent's calls (here and in workers) append to."""
    path = tmp_path / "ledger.txt"
    path.touch()
    monkeypatch.setenv(agent.LEDGER_VARIABLE, str(path))
    return path


def stop_all(started: list[subprocess.Popen[bytes]]) -> None:
    """Kills the worker processes a test started that are still running."""
    while started:
        process = started.pop()
        if process.poll() is None:
            process.kill()
            process.wait()
