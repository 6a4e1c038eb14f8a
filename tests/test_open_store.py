"""enact.open_store URLs and the default store."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import enact


def test_memory_url() -> None:
    """'memory:' opens a new, empty in-memory store each time."""
    first = enact.open_store("memory:")
    ref = first.commit("only here")
    second = enact.open_store("memory:")
    assert isinstance(first, enact.InMemoryStore) and not second.has(ref)


def test_file_urls(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """file:///abs, file:rel and ?fsync=false open directory stores at the right place."""
    absolute = enact.open_store(f"file://{tmp_path}/abs")
    assert isinstance(absolute.backend, enact.FileBackend)
    assert absolute.backend.root == tmp_path / "abs"
    monkeypatch.chdir(tmp_path)
    relative = enact.open_store("file:rel%20dir?fsync=false")
    assert isinstance(relative.backend, enact.FileBackend)
    assert relative.backend.root.resolve() == tmp_path / "rel dir"
    assert (tmp_path / "rel dir" / "objects").is_dir()


def test_sqlite_urls(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///rel and sqlite:////abs follow SQLAlchemy; options reach the backend."""
    monkeypatch.chdir(tmp_path)
    relative = enact.open_store("sqlite:///data/rel.db?durable=true&timeout=2.5")
    assert isinstance(relative, enact.SQLiteStore)
    backend = relative.backend
    assert isinstance(backend, enact.SQLiteBackend)
    assert backend.path == tmp_path / "data" / "rel.db"
    assert (backend.durable, backend.timeout) == (True, 2.5)
    absolute = enact.open_store(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute.backend, enact.SQLiteBackend)
    assert absolute.backend.path == tmp_path / "abs.db" and not absolute.backend.durable
    relative.close()
    absolute.close()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("redis://localhost", "unknown URL scheme"),
        ("/just/a/path", "unknown URL scheme"),
        ("sqlite://host/x.db", "three slashes"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///:memory:", "memory:"),
        ("sqlite:///x.db?durable=maybe", "neither true nor false"),
        ("sqlite:///x.db?timeout=soon", "not a number"),
        ("sqlite:///x.db?journal=off", "unknown option(s) journal"),
        ("file://server/share", "local directory"),
        ("file:", "names no directory"),
        ("memory:/somewhere", "'memory:'"),
    ],
)
def test_bad_urls(url: str, fragment: str) -> None:
    """Malformed URLs raise InvalidStoreURLError that names the URL and the accepted forms."""
    with pytest.raises(enact.InvalidStoreURLError) as caught:
        enact.open_store(url)
    assert fragment in str(caught.value)
    assert caught.value.url == url
    assert isinstance(caught.value, ValueError)


def test_unknown_scheme_lists_accepted_ones() -> None:
    """The error for an unknown scheme lists every accepted scheme."""
    with pytest.raises(enact.InvalidStoreURLError) as caught:
        enact.open_store("s3://bucket/key")
    for scheme in ("memory:", "file://", "sqlite://", "postgresql://"):
        assert scheme in str(caught.value)


def test_passwords_are_masked_in_errors() -> None:
    """A password in a URL never appears in an error message."""
    with pytest.raises(enact.InvalidStoreURLError) as caught:
        enact.open_store("mysql://user:hunter2@db/x")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_default_store_is_a_sqlite_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ENACT_STORE, default_store() and open_store() open .enact/store.db here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENACT_STORE", raising=False)
    store = enact.default_store()
    assert isinstance(store.backend, enact.SQLiteBackend)
    assert store.backend.path == tmp_path / ".enact" / "store.db"
    assert (tmp_path / ".enact" / "store.db").is_file()
    store.close()
    same = enact.open_store()
    assert isinstance(same.backend, enact.SQLiteBackend)
    assert same.backend.path == tmp_path / ".enact" / "store.db"
    same.close()


def test_enact_store_variable_overrides_default(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENACT_STORE names the default store."""
    monkeypatch.setenv("ENACT_STORE", f"file://{tmp_path}/from-env")
    store = enact.default_store()
    assert isinstance(store.backend, enact.FileBackend)
    assert store.backend.root == tmp_path / "from-env"


def test_postgres_without_psycopg_says_what_to_install() -> None:
    # A real interpreter in which psycopg cannot be imported, as on a machine without the extra.
    script = """
import sys
sys.modules["psycopg"] = None  # makes `import psycopg` raise ModuleNotFoundError
import enact
for attempt in (lambda: enact.PostgresStore, lambda: enact.open_store("postgresql://u:secret@h/db")):
    try:
        attempt()
    except ImportError as err:
        print(err)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    first, second = done.stdout.splitlines()
    assert first.startswith("enact.PostgresStore needs psycopg 3 and psycopg-pool")
    assert first.endswith("pip install 'enact[postgres]'")
    assert second.startswith("Opening postgresql://u:***@h/db needs psycopg 3")
    assert "secret" not in second


def test_a_bare_path_gets_the_url_it_most_likely_meant(tmp_path: pathlib.Path) -> None:
    """A database file's path, or a directory's, is not guessed at (nothing is opened or
    created), but the error spells the URL to write instead."""
    for path, url in [
        ("journal.db", "'sqlite:///journal.db'"),
        (f"{tmp_path}/runs.sqlite3", f"'sqlite:///{tmp_path}/runs.sqlite3'"),
        (str(tmp_path), f"'file://{tmp_path}'"),
    ]:
        with pytest.raises(enact.InvalidStoreURLError) as caught:
            enact.open_store(path)
        assert str(caught.value).endswith(f"{url}).")
    assert list(tmp_path.iterdir()) == []
    assert not pathlib.Path("journal.db").exists()
