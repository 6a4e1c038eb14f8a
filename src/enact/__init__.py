"""enact: journaled, replayable, content-addressed execution for generative software."""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

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
from enact.invocations import (
    AsyncInvokable,
    CallArgs,
    CallEvent,
    CallTiming,
    InputRequest,
    Invocation,
    InvocationGenerator,
    Invokable,
    Output,
    RecordedException,
    Request,
    Response,
    Run,
    RunState,
    Timings,
    TokenUsage,
    TracebackFrame,
    TracedException,
    Worker,
    WorkerStats,
    add_call_observer,
    answer,
    call_key,
    configure_telemetry,
    fork,
    get_run,
    invocation_summary,
    invoke,
    invoke_async,
    list_runs,
    pending_input_requests,
    queue_limits,
    remove_call_observer,
    request_input,
    resume,
    resume_async,
    retries,
    run_worker,
    set_queue_limit,
    submit,
    token_usage,
    typed_invokable,
    wait,
)
from enact.invocations.cache import CachedCall, CacheEntry, CachePolicy, cached_calls
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
# not load the maintenance tools, the pretty printer, cassettes and the file backend.
_LAZY = {
    **dict.fromkeys(
        ("CopyReport", "GCReport", "MigrateReport", "VerifyProblem", "VerifyReport"),
        "enact.maintenance",
    ),
    **dict.fromkeys(("copy", "gc", "migrate", "verify"), "enact.maintenance"),
    **dict.fromkeys(("pformat", "pprint"), "enact.pretty"),
    **dict.fromkeys(("Cassette", "cassette"), "enact.testing.cassettes"),
    **dict.fromkeys(("FileBackend", "FileStore"), "enact.stores.files"),
}

__version__ = "1.0.0.dev0"
"""The release of enact; pyproject.toml reads it from here (one home for the number)."""

__all__ = [
    "ANY",
    "AnswerError",
    "AsyncInvokable",
    "CacheEntry",
    "CachePolicy",
    "CachedCall",
    "CallArgs",
    "CallEvent",
    "CallTiming",
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
    "InputRequest",
    "InputTypeError",
    "InvalidDigestError",
    "InvalidNameError",
    "InvalidStoreURLError",
    "Invocation",
    "InvocationError",
    "InvocationGenerator",
    "Invokable",
    "MigrateReport",
    "NameConflictError",
    "NoActiveStoreError",
    "NotFoundError",
    "Output",
    "PackedResource",
    "PostgresBackend",
    "PostgresStore",
    "RecordedException",
    "Ref",
    "RegistrationError",
    "ReplayError",
    "Request",
    "Resource",
    "ResourceBase",
    "ResourceWrapper",
    "Response",
    "Run",
    "RunConflictError",
    "RunError",
    "RunNotFoundError",
    "RunState",
    "RunTimeoutError",
    "SQLiteBackend",
    "SQLiteStore",
    "SetWrapper",
    "SourceLocation",
    "StorageBackend",
    "StorageError",
    "Store",
    "Timings",
    "TokenUsage",
    "TracebackFrame",
    "TracedException",
    "TupleWrapper",
    "TypeWrapper",
    "UnknownTypeError",
    "UnrecordedCallError",
    "UnsupportedOperationError",
    "UnsupportedValueError",
    "VerifyProblem",
    "VerifyReport",
    "Worker",
    "WorkerStats",
    "add_call_observer",
    "answer",
    "cached_calls",
    "call_key",
    "cassette",
    "checkout",
    "commit",
    "configure_telemetry",
    "copy",
    "default_store",
    "fork",
    "gc",
    "get_run",
    "invocation_summary",
    "invoke",
    "invoke_async",
    "list_runs",
    "migrate",
    "open_store",
    "pending_input_requests",
    "pformat",
    "pprint",
    "queue_limits",
    "register",
    "remove_call_observer",
    "request_input",
    "resume",
    "resume_async",
    "retries",
    "run_worker",
    "set_queue_limit",
    "submit",
    "token_usage",
    "typed_invokable",
    "unwrap",
    "verify",
    "wait",
    "wrap",
]


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
