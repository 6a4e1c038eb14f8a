"""`Invocation`: the journal of one call, and `OpenCall`, a slot for an unfinished one.

This module is the record; running it again (`Invocation.replay`) is done by
`enact.invocations.engine._root`, which sits above it and installs itself
here when the engine package is imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, cast

from enact.invocations.providers import NewCalls
from enact.invocations.records import Request, Response
from enact.invocations.responses import (
    IMMUTABLE_TYPES,
    commit_response,
    read_response,
    response_memo,
)
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.store import current_store

if TYPE_CHECKING:  # defaults (PEP 696) for type checkers: a bare Invocation is Invocation[Any]
    from typing_extensions import TypeVar as _DefaultedTypeVar

    OutputT = _DefaultedTypeVar("OutputT", default=Any)
else:
    OutputT = TypeVar("OutputT")
"""The output type of an `Invocation` (and the O of ``Invokable[I, O]``)."""

ExceptionOverride: TypeAlias = Callable[[Ref[Any]], Any]
"""Called with the ref of a recorded exception; returns the output to use instead."""

Replay: TypeAlias = Callable[
    ["Invocation[Any]", bool, "ExceptionOverride | None", NewCalls], "Invocation[Any]"
]
"""What `Invocation.replay` runs: (invocation, strict, exception_override, new_calls)."""

ReplayAsync: TypeAlias = Callable[
    ["Invocation[Any]", bool, "ExceptionOverride | None", NewCalls],
    "Awaitable[Invocation[Any]]",
]
"""What `Invocation.replay_async` awaits."""


def _not_installed(*_: Any) -> Any:
    raise RuntimeError("enact.invocations.engine was not imported")  # pragma: no cover


_replayers: list[Any] = [_not_installed, _not_installed]


def install_replayers(replay: Replay, replay_async: ReplayAsync) -> None:
    """Installs the runners behind `Invocation.replay` (`_root` does, at import)."""
    _replayers[:] = [replay, replay_async]


@dataclasses.dataclass
class Invocation(Resource, Generic[OutputT]):
    """The journal of one call: its request and its response.

    ``Invocation[OutputT]`` is what type checkers see for a call whose output type
    is known (``Greet.invoke(...)`` of an ``Invokable[str, str]``):
    `get_output` returns ``O | None``, and replays keep ``O``.

    Attributes:
        request: Ref to the `Request` (the invokable and its input).
        response: Ref to the `Response` (output or exception, and children).
            ``with invocation.response.modify() as response:`` edits it, for
            example to drop an output before a replay.
    """

    __enact_type_name__ = "enact.invocations.Invocation"

    request: Ref[Request]
    response: Ref[Response]

    def get_request(self) -> Request:
        """Returns the checked out request."""
        return self.request()

    def get_invokable(self) -> Any:
        """Returns what was called: an invokable resource or a registered function."""
        return self.request().invokable

    def get_input(self) -> Any:
        """Returns the input of the call (a `CallArgs` for registered functions)."""
        return self.request().input

    def get_response(self) -> Response:
        """Returns the checked out response."""
        return self.response()

    def has_output(self) -> bool:
        """Returns whether an output is recorded (a recorded None counts)."""
        known = response_memo(current_store()).get(self.response.digest)
        if known is not None:  # decoded by the engine already (never changed)
            return known.output is not None
        return self.response().output is not None

    def is_complete(self) -> bool:
        """Same as `has_output`: the call returned and its output is recorded."""
        return self.has_output()

    def get_output(self) -> OutputT | None:
        """Returns the recorded output, or None if there is none."""
        known = response_memo(current_store()).get(self.response.digest)
        if known is not None and (
            known.output is None or type(known.output.value) in IMMUTABLE_TYPES
        ):  # decoded by the engine already, and nothing in it can be changed
            return None if known.output is None else known.output.value
        output = self.response().output
        return None if output is None else output.value

    def get_raised(self) -> Any:
        """Returns the recorded exception (a resource), or None."""
        raised = self.response().raised
        return None if raised is None else raised()

    def get_children(self) -> Iterator[Invocation]:
        """Yields the child invocations in call order."""
        return iter(self.response().children)

    def get_child(self, index: int) -> Invocation:
        """Returns the child invocation at `index`."""
        child: Invocation = self.response().children[index]
        return child

    def rewind(self, num_calls: int = 1) -> Invocation[OutputT]:
        """Returns a copy without output and without the last `num_calls` children.

        The copy is committed to the active store; this invocation is unchanged.
        A replay of the copy re-executes the call, replaying the kept children.
        """
        if num_calls < 0:
            raise ValueError(f"num_calls must be >= 0, got {num_calls}.")
        store = current_store()
        children = list(read_response(store, self.response).children)
        if num_calls:
            children = children[: max(0, len(children) - num_calls)]
        with store.batch():  # one write for both
            response_ref = commit_response(store, Response(None, None, False, children))
            rewound = Invocation(self.request.deepcopy_resource(), response_ref)
            store.commit(rewound)
        return rewound

    def replay(
        self,
        *,
        strict: bool = True,
        exception_override: ExceptionOverride | None = None,
        new_calls: NewCalls = "run",
    ) -> Invocation[OutputT]:
        """Re-executes the calls that have no recorded result; returns the new invocation.

        Recorded children whose requests match the calls the program makes
        return their recorded outputs without running. A recorded exception
        is a recorded result too: a child that raised raises its recorded
        exception again, without running (a caught tool error is caught
        again, the tool is not called; a pending input request stays
        pending). It is raised as an exception of its own class when that
        class is defined in this process (found among the imported modules,
        with the recorded message, notes and cause; its ``__init__`` is not
        run), else as its `enact.RecordedException` record; an exception
        that is a resource (`enact.InputRequest`) is raised as itself. A call
        that only passed on a child's exception runs again, so that the
        child's exception can be overridden. To run a call that raised
        again, `rewind` it away first; a worker's retry of a run declared
        with `enact.retries` runs the calls that raised again.

        Args:
            strict: Raise `ReplayError` when a call does not match the record at
                its position; with False, such records are skipped and the call
                runs.
            exception_override: For recorded calls that raised (for example
                input requests), called with the ref of the exception; its
                return value (a value or a Ref) becomes the call's output (an
                answer to an input request is converted and checked as by
                `enact.answer`). None means no override: the recorded
                exception is raised again, as without an override; to answer
                None, return ``enact.commit(None)``. Return None for
                everything but `enact.InputRequest` to answer only the input
                requests and leave other recorded exceptions as they are.
            new_calls: ``"run"`` (the default) runs calls that have no recorded
                match (past the end of the record, or every call with
                ``strict=False`` that does not match); ``"forbid"`` raises
                `UnrecordedCallError` for them instead, before they run, so
                a replay never reaches a model or tool the record lacks.

        Raises:
            ReplayError: The program did not make the recorded calls.
            UnrecordedCallError: With ``new_calls="forbid"``, a call had no record.
            InvocationError: The invokable is asynchronous (use `replay_async`).
        """
        replayed = _replayers[0](self, strict, exception_override, new_calls)
        return cast("Invocation[OutputT]", replayed)

    async def replay_async(
        self,
        *,
        strict: bool = True,
        exception_override: ExceptionOverride | None = None,
        new_calls: NewCalls = "run",
    ) -> Invocation[OutputT]:
        """Like `replay`, for invocations of asynchronous invokables."""
        replayed = await _replayers[1](self, strict, exception_override, new_calls)
        return cast("Invocation[OutputT]", replayed)


register_resource_class(Invocation)


def prefetch_calls(children: Iterable[Any]) -> None:
    """Reads the requests and responses of the `Invocation` items of `children` (others
    are skipped) from the active store in one backend call, for a reader about to read
    them one by one (printing a tree read 2 objects a query each)."""
    current_store().prefetch(
        ref
        for child in children
        if isinstance(child, Invocation)
        for ref in (child.request, child.response)
    )


@dataclasses.dataclass(slots=True)
class OpenCall:
    """A template slot for a call that was started but did not finish.

    Resuming a run after a crash rebuilds its template from the journal: a
    call that was still running has no record of its own, only the records
    of the children that finished inside it.

    Attributes:
        request_digest: The digest of the call's request, if it is known; None
            matches whatever call the program makes at this position.
        children: The template for the call's own children.
    """

    request_digest: str | None
    children: list[Any]


TemplateSlot: TypeAlias = "Invocation | OpenCall"
