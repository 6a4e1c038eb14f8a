"""Opening stores by URL, and the default store of examples and the command line.

``memory:``
    A new in-process store (`enact.InMemoryStore`).
``file:///abs/dir``, ``file:rel/dir``
    A directory store (`enact.FileStore`). ``?fsync=false`` skips fsync.
``sqlite:///rel/path.db``, ``sqlite:////abs/path.db``
    An SQLite file (`enact.SQLiteStore`): as in SQLAlchemy, three slashes
    then a relative path, four for an absolute one. ``?durable=true`` selects
    ``synchronous=FULL``; ``?timeout=SECONDS`` sets how long a writer waits.
``postgresql://user@host:port/dbname`` (or ``postgres://``)
    A PostgreSQL database (`enact.PostgresStore`); needs ``enact[postgres]``.
    ``?schema=NAME`` selects the schema; other parameters go to libpq.

The default store is ``$ENACT_STORE`` if set, else ``sqlite:///.enact/store.db``
(relative to the working directory).
"""

from __future__ import annotations

import math
import os
from types import ModuleType
from typing import Final

from enact.errors import InvalidStoreURLError
from enact.stores.memory import InMemoryStore
from enact.stores.store import Store

DEFAULT_STORE_URL: Final = "sqlite:///.enact/store.db"
"""The store used when ``ENACT_STORE`` is not set."""

STORE_URL_ENV: Final = "ENACT_STORE"
"""The environment variable that overrides the default store URL."""

_SCHEMES: Final = "memory:, file:///DIR, sqlite:///PATH, postgresql://HOST/DB"
_MAX_URL: Final = 4096
_MAX_PATH: Final = 4096  # PATH_MAX on Linux
_MAX_PATH_PART: Final = 255  # NAME_MAX
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def open_store(url: str | os.PathLike[str] | None = None) -> Store:
    """Returns the store a URL names (see the module docstring for the forms).

    Without a URL, opens the default store: ``$ENACT_STORE`` if set, else
    ``sqlite:///.enact/store.db``.

    Raises:
        InvalidStoreURLError: The URL has an unknown scheme or malformed
            options; the message lists the accepted forms.
        StorageError: The store cannot be opened or created.
        ImportError: A ``postgresql://`` URL, and psycopg is not installed.
    """
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    text = default_store_url() if url is None else os.fspath(url)
    if len(text) > _MAX_URL:
        raise _bad(
            text[:80] + "...", f"the URL has {len(text)} characters; the limit is {_MAX_URL}"
        )
    if "\x00" in urllib.parse.unquote(text):
        raise _bad(text, "it holds a NUL character (%00), which no path or name may hold")
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("memory", "file", "sqlite", "postgresql", "postgres"):
        raise _bad(text, f"unknown URL scheme. Use one of {_SCHEMES} ({_example_for(text)})")
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(text)
    body, _, query = rest.partition("?")
    options = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if scheme == "memory":
        _check_options(text, options, set())
        if body.strip("/"):
            raise _bad(text, "write an in-memory store as 'memory:'")
        return InMemoryStore()
    if scheme == "file":
        _check_options(text, options, {"fsync"})
        from enact.stores.files import FileStore

        return FileStore(_file_path(text, body), fsync=_flag(text, options, "fsync", True))
    _check_options(text, options, {"durable", "timeout"})
    path = _sqlite_path(text, body)
    timeout = options.get("timeout", "60")
    try:
        seconds = float(timeout)
    except ValueError:
        raise _bad(text, f"timeout={timeout!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad(text, f"timeout={timeout!r} is not a finite, non-negative number of seconds")
    from enact.stores.sqlite import SQLiteStore

    return SQLiteStore(path, durable=_flag(text, options, "durable", False), timeout=seconds)


def default_store_url() -> str:
    """Returns ``$ENACT_STORE`` if it is set and not empty, else `DEFAULT_STORE_URL`."""
    return os.environ.get(STORE_URL_ENV) or DEFAULT_STORE_URL


def default_store() -> Store:
    """Opens the default store: ``$ENACT_STORE``, or the SQLite file ``.enact/store.db``.

    The file and its directory are created on first use.
    """
    return open_store(default_store_url())


def _example_for(text: str) -> str:
    """The URL a bare path most likely meant (a database file, a directory), as advice."""
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    if text.lower().endswith((".db", ".sqlite", ".sqlite3")):
        return f"for the SQLite file {text!r}: 'sqlite:///{urllib.parse.quote(text)}'"
    if text and os.path.isdir(text):
        directory = os.path.abspath(text)
        return f"for the directory {text!r}: 'file://{urllib.parse.quote(directory)}'"
    return f"e.g. {DEFAULT_STORE_URL!r}"


def _file_path(url: str, body: str) -> str:
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    if body.startswith("//"):
        host, _, path = body[2:].partition("/")
        if host not in ("", "localhost"):
            raise _bad(
                url,
                "file URLs name a local directory; write 'file:///absolute/dir' "
                "(three slashes) or 'file:relative/dir'",
            )
        body = "/" + path
    path = urllib.parse.unquote(body)
    if not path.strip("/"):
        # 'file://' once opened '/': a store at the root is never what was meant.
        raise _bad(url, "the URL names no directory (write 'file:///absolute/dir')")
    return _check_path(url, path)


def _sqlite_path(url: str, body: str) -> str:
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    if body.startswith("///"):
        body = body[3:]
    elif body.startswith("//"):
        raise _bad(
            url,
            "write 'sqlite:///relative/path.db' (three slashes) or "
            "'sqlite:////absolute/path.db' (four)",
        )
    path = urllib.parse.unquote(body)
    if not path or path == ":memory:":
        raise _bad(url, "the URL names no database file (for a store in memory, use 'memory:')")
    return _check_path(url, path)


def _check_path(url: str, path: str) -> str:
    """Returns `path` if a file system can hold it (else the OS's error would be cryptic)."""
    if len(os.fsencode(path)) > _MAX_PATH:
        raise _bad(url, f"the path is longer than {_MAX_PATH} bytes")
    longest = max(len(os.fsencode(part)) for part in path.split("/"))
    if longest > _MAX_PATH_PART:
        raise _bad(url, f"a part of the path is longer than {_MAX_PATH_PART} bytes")
    return path


def _open_postgres(url: str) -> Store:
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parses it, so that a bad port is reported here
    except ValueError as err:
        raise _bad(url, f"it is not a valid PostgreSQL URL ({err})") from None
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "schema"])
    dsn = urllib.parse.urlunsplit(parts._replace(query=rest))
    store: Store = load_postgres(f"Opening {_redact(url)}").PostgresStore(dsn, schema=schema)
    return store


def load_postgres(purpose: str) -> ModuleType:
    """Imports `enact.stores.postgres`, whose psycopg and psycopg-pool are an optional extra.

    Raises:
        ImportError: They are not installed; the message starts with `purpose`
            ("Opening postgresql://...", "enact.PostgresStore") and says what to install.
    """
    try:
        from enact.stores import postgres
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] not in ("psycopg", "psycopg_pool"):
            raise
        raise ImportError(
            f"{purpose} needs psycopg 3 and psycopg-pool, which are not installed ({err}): "
            "pip install 'enact[postgres]'"
        ) from err
    return postgres


def _redact(url: str) -> str:
    """Returns `url` with its password (if any) masked."""
    import urllib.parse  # loaded when a URL is read, not by `import enact`

    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    user = user.rpartition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _bad(url: str, problem: str) -> InvalidStoreURLError:
    safe = _redact(url)
    return InvalidStoreURLError(f"Cannot open store {safe!r}: {problem}.", url=safe)


def _check_options(url: str, options: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise _bad(url, f"unknown option(s) {', '.join(unknown)} (accepted: {accepted})")


def _flag(url: str, options: dict[str, str], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _bad(url, f"{key}={value!r} is neither true nor false")
