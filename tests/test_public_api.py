"""The public API: the sorted names of ``enact.__all__``, and nothing private leaking out."""

from __future__ import annotations

import inspect
import pathlib
import tomllib
import types

import enact

EXPECTED_ALL = [
    "ANY",
    "AnswerError",
    "AsyncInvokable",
    "AttributedException",
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


def test_all_is_pinned() -> None:
    """enact.__all__ is exactly the reviewed list of public names (update it deliberately).

    It is enact's own names, then enact.invocations' (listed there once).
    """
    assert sorted(enact.__all__) == EXPECTED_ALL


def test_all_parts_are_sorted_and_unique() -> None:
    """enact's own names and those it takes from enact.invocations are each sorted, once."""
    import enact.invocations

    own = enact.__all__[: len(enact.__all__) - len(enact.invocations.__all__)]
    assert own == sorted(set(own))
    assert enact.invocations.__all__ == sorted(set(enact.invocations.__all__))
    assert enact.__all__[len(own) :] == enact.invocations.__all__
    assert len(set(enact.__all__)) == len(enact.__all__)


def test_every_public_name_resolves() -> None:
    """Every name in __all__ is an attribute of enact, including lazily loaded ones."""
    for name in enact.__all__:
        assert hasattr(enact, name), name


def test_no_private_names_are_exported() -> None:
    """No exported name starts with an underscore, and no exported object is private."""
    for name in enact.__all__:
        assert not name.startswith("_")
        value = getattr(enact, name)
        if name != "FieldValue" and isinstance(value, type | types.FunctionType):
            assert not value.__name__.startswith("_"), name
            assert value.__module__.startswith("enact"), name


def test_only_modules_besides_all() -> None:
    """Public attributes of enact that are not in __all__ are its submodules, nothing else."""
    for name in dir(enact):
        if name.startswith("_") or name in enact.__all__:
            continue
        assert isinstance(getattr(enact, name), types.ModuleType), name


def test_public_classes_and_functions_are_documented() -> None:
    """Each exported class and function has a docstring of its own."""
    for name in enact.__all__:
        value = getattr(enact, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), name


def test_unknown_attribute_is_an_attribute_error() -> None:
    """Asking enact for a name it does not have raises AttributeError naming it."""
    try:
        enact.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:  # pragma: no cover
        raise AssertionError("enact.no_such_thing did not raise")


def test_version_is_the_one_pyproject_reads() -> None:
    """enact.__version__ is a release string, and pyproject.toml takes the version from it."""
    pyproject = pathlib.Path(__file__).parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "enact.__version__"}
    assert isinstance(enact.__version__, str)
    assert enact.__version__.split(".")[0].isdigit()


def test_features_need_no_private_imports() -> None:
    """What the documented features use is exported: answering input, gc's error, name updates."""
    from enact.invocations import answer, pending_input_requests
    from enact.stores import ANY, UnsupportedOperationError

    assert enact.answer is answer
    assert enact.pending_input_requests is pending_input_requests
    assert enact.ANY is ANY
    assert enact.UnsupportedOperationError is UnsupportedOperationError
    assert issubclass(enact.UnsupportedOperationError, enact.EnactError)
