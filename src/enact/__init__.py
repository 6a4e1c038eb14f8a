"""enact: journaled, replayable, content-addressed execution for generative software."""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from enact import invocations as _invocations
from enact import registry as _registry
from enact.errors import (
    AnswerError,
    CassetteError,
    CorruptObjectError,
    CycleError,
    EnactError,
    IncompatibleTypeError,
    IncompleteSubinvocationError,
    InputTypeError,
    InvalidDigestError,
    InvalidNameError,
    InvalidStoreURLError,
    InvocationError,
    NameConflictError,
    NoActiveStoreError,
    NotFoundError,
    RegistrationError,
    ReplayError,
    RunConflictError,
    RunError,
    RunNotFoundError,
    RunTimeoutError,
    SourceLocation,
    StorageError,
    UnknownTypeError,
    UnrecordedCallError,
    UnsupportedValueError,
)
from enact.invocations import *  # noqa: F403  (the journaled-execution API, all of it)
from enact.refs import CompressedRef, Ref
from enact.registration import register
from enact.resources import (
    FieldValue,
    Resource,
    ResourceBase,
    ResourceWrapper,
    TypeWrapper,
    unwrap,
    wrap,
)
from enact.stores import (
    ANY,
    InMemoryBackend,
    InMemoryStore,
    PackedResource,
    SQLiteBackend,
    SQLiteStore,
    StorageBackend,
    Store,
    UnsupportedOperationError,
    checkout,
    commit,
    default_store,
    open_store,
)
from enact.wrappers import FrozenSetWrapper, SetWrapper, TupleWrapper

if _TYPE_CHECKING:
    from enact.invocations.cache import CachedCall, CacheEntry, CachePolicy, cached_calls
    from enact.maintenance import (
        CopyReport,
        GCReport,
        MigrateReport,
        VerifyProblem,
        VerifyReport,
        copy,
        gc,
        migrate,
        verify,
    )
    from enact.pretty import pformat, pprint
    from enact.stores.files import FileBackend, FileStore
    from enact.stores.postgres import PostgresBackend, PostgresStore
    from enact.testing.cassettes import Cassette, cassette

# Imported on first use (PEP 562), so that a process that only runs calls does
# not load the call cache, the maintenance tools, the pretty printer, cassettes and
# the file backend.
_LAZY = {
    **dict.fromkeys(
        ("CacheEntry", "CachePolicy", "CachedCall", "cached_calls"), "enact.invocations.cache"
    ),
    **dict.fromkeys(
        ("CopyReport", "GCReport", "MigrateReport", "VerifyProblem", "VerifyReport"),
        "enact.maintenance",
    ),
    **dict.fromkeys(("copy", "gc", "migrate", "verify"), "enact.maintenance"),
    **dict.fromkeys(("pformat", "pprint"), "enact.pretty"),
    **dict.fromkeys(("Cassette", "cassette"), "enact.testing.cassettes"),
    **dict.fromkeys(("FileBackend", "FileStore"), "enact.stores.files"),
}

# A stored CacheEntry is read in a process that has not used the cache yet.
_registry.defer_import("enact.invocations.cache")  # registers CacheEntry when imported

__version__ = "1.0.0.dev0"
"""The release of enact; pyproject.toml reads it from here (one home for the number)."""

__all__ = [
    "ANY",
    "AnswerError",
    "CacheEntry",
    "CachePolicy",
    "CachedCall",
    "Cassette",
    "CassetteError",
    "CompressedRef",
    "CopyReport",
    "CorruptObjectError",
    "CycleError",
    "EnactError",
    "FieldValue",
    "FileBackend",
    "FileStore",
    "FrozenSetWrapper",
    "GCReport",
    "InMemoryBackend",
    "InMemoryStore",
    "IncompatibleTypeError",
    "IncompleteSubinvocationError",
    "InputTypeError",
    "InvalidDigestError",
    "InvalidNameError",
    "InvalidStoreURLError",
    "InvocationError",
    "MigrateReport",
    "NameConflictError",
    "NoActiveStoreError",
    "NotFoundError",
    "PackedResource",
    "PostgresBackend",
    "PostgresStore",
    "Ref",
    "RegistrationError",
    "ReplayError",
    "Resource",
    "ResourceBase",
    "ResourceWrapper",
    "RunConflictError",
    "RunError",
    "RunNotFoundError",
    "RunTimeoutError",
    "SQLiteBackend",
    "SQLiteStore",
    "SetWrapper",
    "SourceLocation",
    "StorageBackend",
    "StorageError",
    "Store",
    "TupleWrapper",
    "TypeWrapper",
    "UnknownTypeError",
    "UnrecordedCallError",
    "UnsupportedOperationError",
    "UnsupportedValueError",
    "VerifyProblem",
    "VerifyReport",
    "cached_calls",
    "cassette",
    "checkout",
    "commit",
    "copy",
    "default_store",
    "gc",
    "migrate",
    "open_store",
    "pformat",
    "pprint",
    "register",
    "unwrap",
    "verify",
    "wrap",
]
__all__ += _invocations.__all__  # the journaled-execution names are listed there, once


def __getattr__(name: str) -> _Any:
    """Imports `_LAZY` names, and the PostgreSQL backend (psycopg is an optional
    extra), on first use."""
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(module), name)
    elif name in ("PostgresBackend", "PostgresStore"):
        from enact.stores.urls import load_postgres

        value = getattr(load_postgres(f"enact.{name}"), name)
    else:
        raise AttributeError(f"module 'enact' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
