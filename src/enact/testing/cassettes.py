"""Cassettes: a test's calls to the outside world, recorded once and replayed offline.

``enact.cassette(NAME, external=[...])`` is a decorator (of a test function)
and a context manager. Inside it, every journaled call of an *external*
invokable (one listed in `external`, or registered with
``@enact.register(external=True)``) is:

- recorded, when the cassette does not exist yet (or in ``mode="record"``,
  ``pytest --enact-record``): the call runs for real and its response is kept;
  when the block ends without an exception, the cassette is written;
- replayed otherwise: the call returns its recorded output and never runs. A
  call of an external invokable that the cassette does not hold is an
  `enact.UnrecordedCallError` naming the call, its child path and the recorded
  calls of the same invokable; it does not run. So is, when the block ends, a
  recorded call the test no longer made (unless ``allow_unused=True``).

Every other journaled call runs live, in record and in replay, so the test
checks the program's own code against the recorded world.

Calls are matched by request digest (the invokable, its fields, and the
input), not by position, so live code may call in another order; a request
made twice is answered by its two recordings in order.

A cassette is a file store directory, ``cassettes/NAME/`` next to the test
module by default: its objects are the calls' requests and responses, and the
names ``cassette/calls/0001``, ``0002``, ... point at them (as
`enact.Invocation` objects) in call order. Writing the same calls gives the
same files, byte for byte (no times, no run ids, no random names), so a
cassette diffs well in git, and it is reviewed with the ``enact`` command:
``enact --store file:tests/cassettes/NAME log``, then ``tree cassette/calls/0001``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, TypedDict, TypeVar, Unpack

from enact import registry
from enact.errors import CassetteError, NoActiveStoreError, UnrecordedCallError
from enact.invocations import providers
from enact.invocations.diagnostics import describe, describe_request
from enact.invocations.engine import Invocation
from enact.invocations.providers import CallProvider, CallSite
from enact.invocations.records import Request, Response
from enact.maintenance import copy
from enact.refs import Ref
from enact.stores.files import FileStore
from enact.stores.memory import InMemoryStore
from enact.stores.store import Store, current_store

Mode: TypeAlias = Literal["auto", "record", "replay"]
"""``auto``: replay if the cassette exists, else record. ``record``: record
again (the external calls run). ``replay``: the cassette must exist."""

CALLS_PREFIX: Final = "cassette/calls/"

F = TypeVar("F", bound=Callable[..., Any])


class _Options(TypedDict, total=False):
    """The keyword arguments of `cassette` (described there), which it passes on to
    `Cassette`: their defaults live there only."""

    external: Iterable[Any]
    directory: str | os.PathLike[str] | None
    mode: Mode | None
    allow_unused: bool


_default_mode: list[Mode] = ["auto"]
_test_case: list[str | None] = [None]


def set_test_case(case: str | None) -> None:
    """The parameter id of the running test (the pytest plugin sets it), or None.

    A decorated test that is parametrized gets one cassette per case,
    ``NAME[case]``, since each case makes its own calls.
    """
    _test_case[0] = None if case is None else case.replace("/", "_").replace(os.sep, "_")


def case_name(name: str) -> str:
    """`name`, or ``name[case]`` inside a parametrized test (see `set_test_case`)."""
    case = _test_case[0]
    return name if not case else f"{name}[{case}]"


def set_default_mode(mode: Mode) -> None:
    """The mode of cassettes made without one (the pytest plugin sets ``record`` for
    ``--enact-record``)."""
    _check_mode(mode)
    _default_mode[0] = mode


def default_mode() -> Mode:
    """The mode of cassettes made without one: ``$ENACT_CASSETTE_MODE``, else ``auto``."""
    mode = os.environ.get("ENACT_CASSETTE_MODE")
    if mode:
        _check_mode(mode)
        return mode  # type: ignore[return-value]
    return _default_mode[0]


def _check_mode(mode: str) -> None:
    if mode not in ("auto", "record", "replay"):
        raise ValueError(f"A cassette's mode is 'auto', 'record' or 'replay', not {mode!r}.")


@dataclasses.dataclass(slots=True)
class _Recorded:
    """One external call as recorded: where, what, and its response."""

    order: tuple[int, tuple[int, ...]]
    request_digest: str
    response: Ref[Response]
    store: Store


class Cassette:
    """A recording of external calls; see the module documentation and `cassette`.

    Attributes:
        name: The cassette's name (its directory's name).
        directory: The directory holding it (None: decided on use; see `cassette`).
        mode: The requested mode (None: `default_mode()` when it starts).
        recording: While active, whether it records (False: it replays).
    """

    def __init__(
        self,
        name: str,
        *,
        external: Iterable[Any] = (),
        directory: str | os.PathLike[str] | None = None,
        mode: Mode | None = None,
        allow_unused: bool = False,
    ) -> None:
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise ValueError(
                f"A cassette name is one file name (like 'support_agent'), not {name!r}; "
                "pass directory= for where it goes."
            )
        if mode is not None:
            _check_mode(mode)
        self.name = name
        self.directory = None if directory is None else Path(directory)
        self.mode = mode
        self.allow_unused = allow_unused
        self._external_functions: set[Any] = set()
        self._external_classes: list[type] = []
        for item in external:
            if isinstance(item, type):
                self._external_classes.append(item)
            elif registry.function_info(item) is not None:
                self._external_functions.add(item)
            else:
                raise ValueError(
                    f"external= lists invokables (registered functions or invokable classes), "
                    f"not {item!r}."
                )
        self.recording = False
        self._provider: _Provider | None = None
        self._exit: contextlib.ExitStack | None = None

    @property
    def path(self) -> Path:
        """The cassette's directory: `directory` / `name` (relative to the working directory)."""
        return (self.directory or Path("cassettes")) / self.name

    def __repr__(self) -> str:
        return f"Cassette({self.name!r}, path={str(self.path)!r})"

    # As a decorator ------------------------------------------------------------

    def __call__(self, function: F) -> F:
        """Runs `function` (a test) inside this cassette, kept next to its module by default."""
        directory = self.directory
        if directory is None:
            directory = Path(inspect.getfile(function)).resolve().parent / "cassettes"
        settings = dict(
            external=[*self._external_functions, *self._external_classes],
            directory=directory,
            mode=self.mode,
            allow_unused=self.allow_unused,
        )

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with Cassette(case_name(self.name), **settings):  # type: ignore[arg-type]
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Cassette(case_name(self.name), **settings):  # type: ignore[arg-type]
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    # As a context manager --------------------------------------------------------

    def __enter__(self) -> Cassette:
        if self._exit is not None:
            raise CassetteError(f"{self!r} is active already.", path=str(self.path))
        mode = self.mode or default_mode()
        path = self.path
        exists = (path / "objects").is_dir()
        if mode == "replay" and not exists:
            raise CassetteError(
                f"Cassette {self.name!r} does not exist at {path}: record it first (run the "
                "test with `pytest --enact-record`, or without ENACT_CASSETTE_MODE=replay).",
                path=str(path),
            )
        declared = any(options.external for options in providers.declared.values())
        if not self._external_functions and not self._external_classes and not declared:
            raise CassetteError(
                f"Cassette {self.name!r} has no external invokables to record: list them "
                "(enact.cassette(NAME, external=[llm, search])) or register them with "
                "@enact.register(external=True). Every other call runs live.",
                path=str(path),
            )
        self.recording = mode == "record" or not exists
        with contextlib.ExitStack() as stack:
            try:
                current_store()
            except NoActiveStoreError:
                stack.enter_context(InMemoryStore())
            source = None
            if not self.recording:
                source = FileStore(path, fsync=False)
                stack.callback(source.close)
            self._provider = _Provider(self, source)
            token = providers.set_interceptor(self._provider)
            stack.callback(providers.reset_interceptor, token)
            self._exit = stack.pop_all()
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        self.close(failed=error is not None)

    def close(self, *, failed: bool) -> None:
        """Ends the cassette (what leaving the ``with`` block does).

        Args:
            failed: Whether the code inside failed: then nothing is written
                or checked, and the code's own error is what is reported.

        Raises:
            UnrecordedCallError: The code caught a refused call, or (in replay)
                did not make a recorded one.
        """
        exit_stack, self._exit = self._exit, None
        provider, self._provider = self._provider, None
        assert exit_stack is not None and provider is not None
        with exit_stack:
            if failed:
                return  # a failed test writes no cassette and reports its own error
            if provider.refused:
                # The program caught the error (an `except Exception` around a model
                # call, for example): the test still fails, with the first refusal.
                raise provider.refused[0]
            if self.recording:
                self._write(provider.recorded)
            elif not self.allow_unused:
                provider.check_all_used()

    def provider_for(self, invokable: Any) -> CallProvider | None:
        """Implements `enact.invocations.providers.Interceptor`."""
        if not self.is_external(invokable):
            return None
        return self._provider

    def is_external(self, invokable: Any) -> bool:
        """Whether calls of `invokable` come from the cassette (else they run live)."""
        if isinstance(invokable, type) or registry.function_info(invokable) is not None:
            if invokable in self._external_functions:
                return True
        elif self._external_classes and isinstance(invokable, tuple(self._external_classes)):
            return True
        return providers.is_external(invokable)

    def _declared_names(self) -> str:
        listed = [describe(item) for item in self._external_functions]
        listed += [cls.__qualname__ for cls in self._external_classes]
        for obj, options in providers.declared.items():
            if options.external:
                listed.append(obj.__qualname__ if isinstance(obj, type) else describe(obj))
        return ", ".join(sorted(set(listed)))

    def _write(self, recorded: list[_Recorded]) -> None:
        """Writes the cassette: a new directory, then renamed over the old one."""
        path = self.path
        calls = _outermost(recorded)
        if not calls:
            # An empty directory does not survive git, so the next checkout would
            # record again, for real: refuse instead.
            raise CassetteError(
                f"Cassette {self.name!r} recorded no external call, so there is nothing to "
                f"write to {path}: the test calls none of the external invokables "
                f"({self._declared_names()}). Remove the cassette from this test, or declare "
                "the invokables it does call external.",
                path=str(path),
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".{self.name}.recording"
        if staging.exists():
            shutil.rmtree(staging)
        target = FileStore(staging, fsync=False)
        try:
            with target:
                for number, call in enumerate(calls, 1):
                    store = call.store
                    ref = store.commit(
                        Invocation(Ref._unchecked(call.request_digest), call.response)
                    )
                    copy(ref, store, target)
                    target.set_name(f"{CALLS_PREFIX}{number:04d}", ref)
        finally:
            target.close()
        with contextlib.suppress(FileNotFoundError):
            (staging / "names.lock").unlink()  # a lock file, not content
        if path.exists():
            if not (path / "objects").is_dir():
                raise CassetteError(
                    f"Cannot write cassette {self.name!r}: {path} exists and is not a "
                    "cassette (it has no objects/ directory); move it away.",
                    path=str(path),
                )
            shutil.rmtree(path)
        os.replace(staging, path)


def _outermost(recorded: list[_Recorded]) -> list[_Recorded]:
    """The calls in call order, without those made inside another recorded call.

    A replay serves the outer call, so the calls inside it are never made again.
    """
    orders = {call.order for call in recorded}
    return [
        call
        for call in sorted(recorded, key=lambda c: c.order)
        if not any(
            (call.order[0], call.order[1][:depth]) in orders for depth in range(len(call.order[1]))
        )
    ]


class _Provider:
    """What a cassette serves and records while it is active."""

    def __init__(self, cassette: Cassette, source: FileStore | None) -> None:
        self.cassette = cassette
        self.source = source
        self.recorded: list[_Recorded] = []
        self.refused: list[UnrecordedCallError] = []
        self._roots: dict[str | None, int] = {}
        self._queues: dict[str, list[tuple[str, Ref[Invocation]]]] = {}
        self._unused: dict[str, Ref[Invocation]] = {}
        self._all: list[tuple[str, Ref[Invocation]]] = []
        self._lock = threading.Lock()  # calls from worker threads serve and record too
        if source is not None:
            listed = source.list_names(CALLS_PREFIX)
            for name, ref in sorted(listed, key=lambda item: _call_number(item[0])):
                invocation = source.checkout(ref)
                if not isinstance(invocation, Invocation):
                    raise CassetteError(
                        f"Cassette {cassette.name!r} is damaged: {name} in {cassette.path} "
                        "is not an invocation. Record it again (pytest --enact-record).",
                        path=str(cassette.path),
                    )
                queue = self._queues.setdefault(invocation.request.digest, [])
                queue.append((name, ref))
                self._unused[name] = ref
                self._all.append((name, ref))

    def provider_for(self, invokable: Any) -> CallProvider | None:
        return self.cassette.provider_for(invokable)

    def serve(self, site: CallSite) -> Ref[Response] | None:
        if self.source is None:
            return None  # recording: the call runs for real
        found = None
        with self._lock:
            queue = self._queues.get(site.request_digest)
            if queue:
                name, ref = found = queue.pop(0)
                del self._unused[name]
        if found is None:
            error = self._unrecorded(site, recorded_before=site.request_digest in self._queues)
            with self._lock:
                self.refused.append(error)
            raise error
        if not site.store.has(ref):
            copy(ref, self.source, site.store)
        invocation: Invocation = site.store.checkout(ref)
        return invocation.response

    def record(self, site: CallSite, response: Ref[Response]) -> None:
        if self.source is not None:
            return
        with self._lock:
            root = self._roots.setdefault(site.run_id, len(self._roots))
            self.recorded.append(
                _Recorded((root, site.path), site.request_digest, response, site.store)
            )

    def _unrecorded(self, site: CallSite, *, recorded_before: bool) -> UnrecordedCallError:
        cassette = self.cassette
        actual = describe_request(site.invokable, site.input, short=True)
        lines = [
            f"Unrecorded call {actual} at child path {list(site.path)}: cassette "
            f"{cassette.name!r} ({cassette.path}) "
            + (
                "holds this request, but fewer times than the test now makes it."
                if recorded_before
                else "has no recording of it, so it was not run."
            )
        ]
        same = self._recorded_calls_of(site.invokable)
        if same:
            lines.append(f"Recorded calls of {_kind(site.invokable)}:")
            lines.extend(f"  {name}: {text}" for name, text in same[:10])
            if len(same) > 10:
                lines.append(f"  ... and {len(same) - 10} more")
        else:
            lines.append(f"The cassette has no call of {_kind(site.invokable)}.")
        lines.append(
            "If the program is meant to make this call now, record the cassette again: "
            "pytest --enact-record (the external calls run for real)."
        )
        return UnrecordedCallError(
            "\n".join(lines),
            path=site.path,
            expected="(no recorded call)",
            actual=actual,
            difference="new call",
        )

    def _recorded_calls_of(self, invokable: Any) -> list[tuple[str, str]]:
        assert self.source is not None
        is_function = registry.function_info(invokable) is not None
        wanted = describe(invokable) if is_function else type(invokable)
        found = []
        for name, ref in self._all:
            request = self._request(ref)
            recorded = describe(request.invokable) if is_function else type(request.invokable)
            if recorded == wanted:
                found.append((name, describe_request(request.invokable, request.input, short=True)))
        return found

    def _request(self, ref: Ref[Invocation]) -> Request:
        assert self.source is not None
        request: Request = self.source.checkout(self.source.checkout(ref).request)
        return request

    def check_all_used(self) -> None:
        if not self._unused:
            return
        assert self.source is not None
        described = []
        for name, ref in sorted(self._unused.items()):
            request = self._request(ref)
            described.append(
                f"  {name}: {describe_request(request.invokable, request.input, short=True)}"
            )
        cassette = self.cassette
        raise UnrecordedCallError(
            f"Cassette {cassette.name!r} ({cassette.path}) holds {len(described)} recorded "
            "call(s) that the test no longer made:\n"
            + "\n".join(described)
            + "\nRecord the cassette again (pytest --enact-record), or pass "
            "allow_unused=True if the calls are optional.",
            expected=described[0].strip(),
            actual="(no call)",
            difference="missing call",
        )


def _kind(invokable: Any) -> str:
    """What calls are alike for an error message: a function, or an invokable class."""
    if registry.function_info(invokable) is not None:
        return describe(invokable)
    return type(invokable).__qualname__


def _call_number(name: str) -> tuple[int, str]:
    """Orders ``cassette/calls/NNNN`` names by number (past 9999 they get longer)."""
    suffix = name[len(CALLS_PREFIX) :]
    return (int(suffix), suffix) if suffix.isdigit() else (-1, suffix)


def cassette(name: str, **options: Unpack[_Options]) -> Cassette:
    """A cassette: records a test's external calls once, then replays them offline.

    Use it as a decorator of a test function (the cassette is then
    ``cassettes/NAME/`` next to the test's module) or as a context manager
    (``cassettes/NAME/`` in the working directory, unless `directory` says).

    Args:
        name: The cassette's name: one file name, its directory's.
        external: The invokables (registered functions, invokable classes)
            whose calls come from the cassette, beside those registered with
            ``@enact.register(external=True)``. Every other call runs live.
        directory: Where the cassette's directory goes.
        mode: ``"auto"`` (replay if it exists, else record), ``"record"`` or
            ``"replay"``; default `default_mode()` (``--enact-record`` makes
            it ``"record"``, ``ENACT_CASSETTE_MODE`` sets it).
        allow_unused: Whether recorded calls that the test no longer makes are
            fine (default: an error at the end of the block).

    Raises (when it starts or ends):
        CassetteError: Nothing is declared external, or ``mode="replay"`` and
            the cassette does not exist.
        UnrecordedCallError: In replay, the test made an external call the
            cassette lacks (also when the program caught it), or did not
            make a recorded one.
    """
    return Cassette(name, **options)
