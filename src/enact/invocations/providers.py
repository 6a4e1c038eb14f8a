"""Calls served without running: frozen replays, cassettes and the call cache.

The engine consults this module for every journaled call that the replay
template does not answer:

- In a replay with ``new_calls="forbid"`` such a call is an
  `enact.UnrecordedCallError` instead of running (`new_call_error`).
- A `CallProvider` may serve the call's recorded response by request digest
  (a cassette, see `enact.testing.cassettes`, for the invokables it treats as
  external; a `enact.CachePolicy` for invokables registered with ``cache=``),
  and is told of each response the call records when it runs instead.

What each invokable declares (``@enact.register(cache=..., external=...)``)
is kept here, by registered function or by invokable class, so the engine's
per-call cost without any declaration is one empty-dict check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeAlias

from enact import registry
from enact.errors import UnrecordedCallError
from enact.invocations.diagnostics import describe_request

if TYPE_CHECKING:
    from enact.invocations.records import Response
    from enact.refs import Ref
    from enact.stores.store import Store

NewCalls: TypeAlias = Literal["run", "forbid"]
"""What a replay does with a call that has no recorded match: run it, or raise."""


@dataclasses.dataclass(frozen=True, slots=True)
class CallSite:
    """One journaled call as a provider sees it.

    Attributes:
        store: The active store (the one the run is journaled in).
        path: Child indices from the root invocation to this call.
        request_digest: The digest of the call's request (invokable and input).
        invokable: What is called.
        input: Its input.
        run_id: The run the call belongs to, or None outside runs.
    """

    store: Store
    path: tuple[int, ...]
    request_digest: str
    invokable: Any
    input: Any
    run_id: str | None


class CallProvider(Protocol):
    """Serves recorded responses by request digest, and records new ones."""

    def serve(self, site: CallSite) -> Ref[Response] | None:
        """The response to use instead of running the call (in ``site.store``), or None.

        Raises to refuse the call (a cassette refuses an unrecorded external call).
        """
        ...

    def record(self, site: CallSite, response: Ref[Response]) -> None:
        """Called when the call ran and returned, with its committed response."""
        ...


class Interceptor(Protocol):
    """Chooses a provider per call for the top-level invokes it is active around."""

    def provider_for(self, invokable: Any) -> CallProvider | None:
        """The provider for calls of `invokable`, or None for the declared default."""
        ...


class CallHooks:
    """What one root invocation (and every call under it) consults; see `enact.invocations.engine`.

    Attributes:
        forbid_new: Whether a call without recorded match raises (``new_calls="forbid"``).
        run_id: The run, for providers that mark what they served.
        interceptor: The active cassette, if any.
        active: Whether every call must be looked at (else only calls of
            invokables with declared options): computed once, read per call.
    """

    __slots__ = ("active", "forbid_new", "interceptor", "run_id")

    def __init__(
        self,
        forbid_new: bool = False,
        run_id: str | None = None,
        interceptor: Interceptor | None = None,
    ) -> None:
        self.forbid_new = forbid_new
        self.run_id = run_id
        self.interceptor = interceptor
        self.active = forbid_new or interceptor is not None


NO_HOOKS: Final = CallHooks()


@dataclasses.dataclass(frozen=True, slots=True)
class CallOptions:
    """What ``@enact.register(cache=..., external=...)`` declared for an invokable."""

    cache: CallProvider | None = None
    external: bool = False


_options: Final[dict[Any, CallOptions]] = {}

declared: Final[dict[Any, CallOptions]] = _options
"""The declared options by function or class; empty (false) when nothing declared any."""


def declare(obj: Any, *, cache: CallProvider | None, external: bool) -> None:
    """Records the options of a registered function or invokable class."""
    if cache is None and not external:
        _options.pop(obj, None)
        return
    _options[obj] = CallOptions(cache, external)


def options_of(invokable: Any) -> CallOptions | None:
    """The declared options of `invokable` (a registered function or an invokable object)."""
    if not _options:
        return None
    if registry.function_info(invokable) is not None:
        return _options.get(invokable)
    for cls in type(invokable).__mro__:
        found = _options.get(cls)
        if found is not None:
            return found
    return None


def is_external(invokable: Any) -> bool:
    """Whether `invokable` was registered with ``external=True``."""
    options = options_of(invokable)
    return options is not None and options.external


def provider_for(hooks: CallHooks, invokable: Any) -> CallProvider | None:
    """The provider that may serve a call of `invokable`: the cassette's, else its cache."""
    interceptor = hooks.interceptor
    if interceptor is not None:
        provider = interceptor.provider_for(invokable)
        if provider is not None:
            return provider
    options = options_of(invokable)
    return None if options is None else options.cache


_interceptor: Final[ContextVar[Interceptor | None]] = ContextVar(
    "enact_call_interceptor", default=None
)


def current_interceptor() -> Interceptor | None:
    """The interceptor (cassette) active in this context, or None."""
    return _interceptor.get()


def set_interceptor(interceptor: Interceptor | None) -> Any:
    """Makes `interceptor` active for new top-level invokes; returns a token to reset."""
    return _interceptor.set(interceptor)


def reset_interceptor(token: Any) -> None:
    """Undoes `set_interceptor`."""
    _interceptor.reset(token)


def new_call_error(
    parent_path: tuple[int, ...],
    index: int,
    nearby: Iterable[tuple[int, str]],
    invokable: Any,
    input_value: Any,
    *,
    recorded_count: int | None,
) -> UnrecordedCallError:
    """The error for a call that a frozen replay has no record of.

    Args:
        nearby: (position, description) of the recorded calls around `index`.
        recorded_count: How many calls the record has in this parent, or None
            when the parent itself was not recorded.
    """
    actual = describe_request(invokable, input_value, short=True)
    path = (*parent_path, index)
    lines = [
        f"Unrecorded call {actual} at child path {list(path)}: the replay forbids new "
        "calls (new_calls='forbid', --frozen), so it was not run."
    ]
    if recorded_count is None:
        lines.append("Its parent call has no record at all.")
    else:
        lines.append(f"The record has {recorded_count} call(s) here.")
        described = [f"  [{position}] {text}" for position, text in nearby]
        if described:
            lines.append("Recorded nearby:")
            lines.extend(described)
    lines.append(
        "Make the program's calls deterministic, or replay with new_calls='run' (without "
        "--frozen) to run new calls and record them."
    )
    return UnrecordedCallError(
        "\n".join(lines),
        path=path,
        expected="(no recorded call)",
        actual=actual,
        difference="new call",
    )
