"""enact: journaled, replayable, content-addressed execution for generative software."""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from enact.errors import (
    CorruptObjectError,
    CycleError,
    EnactError,
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
    StorageError,
    UnknownTypeError,
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
    add_call_observer,
    answer,
    configure_telemetry,
    fork,
    get_run,
    invocation_summary,
    invoke,
    invoke_async,
    list_runs,
    pending_input_requests,
    remove_call_observer,
    request_input,
    resume,
    resume_async,
    token_usage,
    typed_invokable,
)
from enact.maintenance import CopyReport, GCReport, VerifyProblem, VerifyReport, copy, gc, verify
from enact.pretty import pformat, pprint
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
    FileBackend,
    FileStore,
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
    from enact.stores.postgres import PostgresBackend, PostgresStore

__version__ = "1.0.0.dev0"
"""The release of enact; pyproject.toml reads it from here (one home for the number)."""

__all__ = [
    "ANY",
    "AsyncInvokable",
    "CallArgs",
    "CallEvent",
    "CallTiming",
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
    "SQLiteBackend",
    "SQLiteStore",
    "SetWrapper",
    "StorageBackend",
    "StorageError",
    "Store",
    "Timings",
    "TokenUsage",
    "TupleWrapper",
    "TypeWrapper",
    "UnknownTypeError",
    "UnsupportedOperationError",
    "UnsupportedValueError",
    "VerifyProblem",
    "VerifyReport",
    "add_call_observer",
    "answer",
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
    "open_store",
    "pending_input_requests",
    "pformat",
    "pprint",
    "register",
    "remove_call_observer",
    "request_input",
    "resume",
    "resume_async",
    "token_usage",
    "typed_invokable",
    "unwrap",
    "verify",
    "wrap",
]


def __getattr__(name: str) -> _Any:
    """Imports the PostgreSQL backend on first use: psycopg is an optional extra."""
    if name not in ("PostgresBackend", "PostgresStore"):
        raise AttributeError(f"module 'enact' has no attribute {name!r}")
    try:
        from enact.stores import postgres
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] not in ("psycopg", "psycopg_pool"):
            raise
        raise ImportError(
            f"enact.{name} needs psycopg 3 and psycopg-pool, which are not installed "
            f"({err}): pip install 'enact[postgres]'"
        ) from err
    value = getattr(postgres, name)
    globals()[name] = value
    return value
