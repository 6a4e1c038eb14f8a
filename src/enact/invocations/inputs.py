"""Input requests: pause an invocation until someone outside answers.

`request_input` inside an invocation is a journaled child call that raises
`InputRequest`. The invocation ends with that request recorded as its
exception. To continue, the answer is written into the journal as the output
of the request call, and the invocation is replayed: every recorded call
returns its recorded output, and the request call returns the answer. Because
everything needed lives in the store, the answer can come from another
process, days later.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from enact.errors import InvocationError
from enact.invocations.engine import (
    Invocation,
    current_frame,
    write_with_record,
)
from enact.invocations.invokables import Invokable, check_type
from enact.invocations.records import Output, Response
from enact.invocations.responses import commit_response, read_response
from enact.invocations.runs import (
    Run,
    _Node,
    check_sync_here,
    claim,
    get_run,
    record_answer,
    run_claimed,
    run_conflict,
)
from enact.refs import Ref
from enact.registry import lookup_class
from enact.resources import FieldValue, Resource, ResourceWrapper, register_resource_class
from enact.stores.store import current_store
from enact.wrappers import PRIMITIVE_WRAPPERS

_UNWRAPPED = {wrapper: value_type for value_type, wrapper in PRIMITIVE_WRAPPERS.items()}


def _requested_class(requested_type: Any) -> type:
    """The resource class stored for a requested type (builtins map to their wrappers)."""
    if requested_type is None:
        requested_type = type(None)
    wrapper = PRIMITIVE_WRAPPERS.get(requested_type)
    if wrapper is not None:
        return wrapper
    if isinstance(requested_type, type):
        if issubclass(requested_type, Resource):
            return requested_type
        from enact.registry import wrapper_for

        foreign = wrapper_for(requested_type)
        if foreign is not None:
            return foreign
    raise InvocationError(
        f"request_input cannot request {requested_type!r}: request int, float, bool, str, "
        "bytes, None, list, dict, a resource class, or a type with a registered "
        "ResourceWrapper."
    )


@dataclasses.dataclass(eq=False)
class InputRequest(Resource, Exception):
    """Raised (and journaled) when an invocation needs input from outside.

    Attributes:
        requested: The resource class that stands for the requested type.
        for_value: Ref to the value the input is requested for; call it
            (``request.for_value()``) to check the value out.
        context: Instructions or other context for whoever answers.
    """

    __enact_type_name__ = "enact.invocations.InputRequest"
    __enact_input_request__ = True  # how runs tell "waiting for input" from "raised"

    requested: type
    for_value: Ref[Any]
    context: FieldValue

    @property
    def requested_type(self) -> type:
        """The Python type an answer must have (``str`` for ``request_input(str)``)."""
        unwrapped = _UNWRAPPED.get(self.requested)
        if unwrapped is not None:
            return unwrapped
        if issubclass(self.requested, ResourceWrapper) and lookup_class(self.requested):
            try:
                return self.requested.wrapped_type()
            except NotImplementedError:
                return self.requested
        return self.requested

    def check_answer(self, value: Any) -> None:
        """Raises `enact.InputTypeError` unless `value` has the requested type."""
        check_type(value, self.requested_type, "the answer", "InputRequest")

    def __str__(self) -> str:
        return f"Input of type {self.requested_type.__qualname__} requested" + (
            f": {self.context}" if self.context is not None else ""
        )

    def __repr__(self) -> str:
        return (
            f"InputRequest(requested_type={self.requested_type.__qualname__}, "
            f"for_value={self.for_value!r}, context={self.context!r})"
        )


@write_with_record
@dataclasses.dataclass
class RequestInput(Invokable):
    """The invokable behind `request_input`: raises the `InputRequest`."""

    __enact_type_name__ = "enact.invocations.RequestInput"

    requested: type
    context: FieldValue

    def call(self, for_value: Any) -> Any:
        raise InputRequest(self.requested, current_store().commit(for_value), self.context)


register_resource_class(InputRequest)
register_resource_class(RequestInput)


def request_input(requested_type: Any, for_value: Any = None, context: FieldValue = None) -> Any:
    """Asks for input of `requested_type` from outside the running invocation.

    On first execution this raises `InputRequest`, which ends the invocation
    (unless the code catches it). Once an answer has been given (see
    `InvocationGenerator` or `Invocation.replay` with ``exception_override``),
    the replayed call returns the answer.

    Raises:
        InvocationError: Called outside of an invocation.
    """
    if current_frame() is None:
        raise InvocationError(
            "enact.request_input() was called outside of an invocation. Call it from code "
            "run by enact.invoke(...) or an InvocationGenerator, which can pause and resume."
        )
    return RequestInput(_requested_class(requested_type), context)(for_value)


def pending_input_requests(
    invocation: Invocation | Run,
) -> list[tuple[tuple[int, ...], InputRequest]]:
    """Returns the unanswered input requests in an invocation or a run, with their child paths."""
    if isinstance(invocation, Run):
        return [(path, request) for path, request, _ in run_input_requests(invocation)]
    store = current_store()
    found: list[tuple[tuple[int, ...], InputRequest]] = []
    stack: list[tuple[tuple[int, ...], Invocation]] = [((), invocation)]
    while stack:
        path, current = stack.pop()
        response = read_response(store, current.response)
        if response.output is not None or response.raised is None:
            continue
        if response.raised_here:
            raised = response.raised()
            if isinstance(raised, InputRequest):
                found.append((path, raised))
            continue
        # Only children that raised the same request can hold it; a finished
        # child (with an output) is skipped without looking further into it.
        for index in range(len(response.children) - 1, -1, -1):
            stack.append(((*path, index), response.children[index]))
    return found


def first_pending_path(invocation: Invocation) -> tuple[int, ...] | None:
    """Returns the child path of the input request the invocation ended with, or None.

    Follows the raised exception down from the root, looking at the most
    recent children first, so a sequential program costs one read per level.
    """
    store = current_store()
    response = read_response(store, invocation.response)
    if response.output is not None or response.raised is None:
        return None
    target = response.raised.digest
    path: list[int] = []
    while not response.raised_here:
        for index in range(len(response.children) - 1, -1, -1):
            child = read_response(store, response.children[index].response)
            if (
                child.output is None
                and child.raised is not None
                and (child.raised.digest == target)
            ):
                path.append(index)
                response = child
                break
        else:
            return None
    raised = response.raised
    return tuple(path) if raised is not None and isinstance(raised(), InputRequest) else None


@typing.overload
def answer(
    invocation: Invocation, value: Any, path: tuple[int, ...] | None = None
) -> Invocation: ...


@typing.overload
def answer(
    invocation: Run | str,
    value: Any,
    path: tuple[int, ...] | None = None,
    *,
    run_now: bool = False,
    strict: bool = True,
) -> Run: ...


def answer(
    invocation: Invocation | Run | str,
    value: Any,
    path: tuple[int, ...] | None = None,
    *,
    run_now: bool = False,
    strict: bool = True,
) -> Invocation | Run:
    """Answers an input request with `value`.

    For a run (or run id): the answer is recorded and the run's head moves
    to ``answered``; with `run_now` the run also continues here (see
    `answer_run`); otherwise `enact.resume` or a worker continues it later.
    Returns the run.

    For an invocation: returns a copy in which the request is answered; the
    copy has no output, so replaying it continues the journal.

    `path` selects the request (see `pending_input_requests`); by default the
    first one.

    Raises:
        InvocationError: No such pending request.
        InputTypeError: `value` does not have the requested type.
        RunConflictError: The run is not waiting, or another process holds it.
    """
    if not isinstance(invocation, Invocation):
        return answer_run(invocation, value, path, strict=strict, run_now=run_now)
    if path is None:
        path = first_pending_path(invocation)
        if path is None:
            pending = pending_input_requests(invocation)
            if not pending:
                raise InvocationError("The invocation has no pending input request to answer.")
            path = pending[0][0]
    path = tuple(path)
    request = _request_at(invocation, path)
    if request is None:
        pending_paths = [list(p) for p, _ in pending_input_requests(invocation)]
        raise InvocationError(
            f"No pending input request at child path {list(path)}; pending: {pending_paths}."
        )
    request.check_answer(value)
    store = current_store()
    return _replace_along(store, invocation, path, Output(value))


def _request_at(invocation: Invocation, path: tuple[int, ...]) -> InputRequest | None:
    """Returns the pending input request at `path`, or None if there is none."""
    store = current_store()
    response = read_response(store, invocation.response)
    for index in path:
        if response.output is not None or not 0 <= index < len(response.children):
            return None
        response = read_response(store, response.children[index].response)
    if response.output is not None or response.raised is None or not response.raised_here:
        return None
    raised = response.raised()
    return raised if isinstance(raised, InputRequest) else None


def _replace_along(
    store: Any, invocation: Invocation, path: tuple[int, ...], output: Output
) -> Invocation:
    response = read_response(store, invocation.response)
    if not path:
        new_response = Response(output, None, False, list(response.children))
    else:
        children = list(response.children)
        children[path[0]] = _replace_along(store, children[path[0]], path[1:], output)
        new_response = Response(None, None, False, children)
    return Invocation(invocation.request.deepcopy_resource(), commit_response(store, new_response))


def run_input_requests(run: Run) -> list[tuple[tuple[int, ...], InputRequest, str]]:
    """The unanswered input requests of a run's head: path, request, and request call digest."""
    found: list[tuple[tuple[int, ...], InputRequest, str]] = []
    if run.state.status not in ("waiting", "answered", "interrupted", "running"):
        return found
    answered = tuple(run.state.answer_path) if run.state.answer_path is not None else None
    _collect(run.store, run.template_root(), (), found)
    return [item for item in found if item[0] != answered]


def _collect(
    store: Any,
    node: _Node,
    path: tuple[int, ...],
    found: list[tuple[tuple[int, ...], InputRequest, str]],
) -> None:
    if node.children is None:
        return
    for index in sorted(node.children):
        child = node.children[index]
        child_path = (*path, index)
        if child.children is not None:
            _collect(store, child, child_path, found)
            continue
        if child.invocation is None:
            continue
        for sub_path, request in pending_input_requests(child.invocation):
            where = (*child_path, *sub_path)
            digest = _call_digest(store, child.invocation, sub_path)
            found.append((where, request, digest))


def _call_digest(store: Any, invocation: Invocation, path: tuple[int, ...]) -> str:
    current = invocation
    for index in path:
        current = read_response(store, current.response).children[index]
    return current.request.digest


def answer_run(
    run: Run | str,
    value: Any,
    path: tuple[int, ...] | None = None,
    *,
    strict: bool = True,
    run_now: bool = True,
) -> Run:
    """Answers a pending input request of a run, then continues the run in this process.

    The run keeps its id: its head moves from ``waiting`` to ``answered``
    (the answer is stored) and, with `run_now`, to the state the continued
    run ends in. Checks happen before any program code runs: the answer's
    type, and the claim (another process answering the same state at the
    same time gets `enact.RunConflictError`).

    Args:
        run: The run (as read: if its head moved on since, the answer is
            refused) or its id (the head now).
        value: The answer.
        path: Which request (see `Run.input_requests`); default: the first.
        strict: See `Invocation.replay`.
        run_now: Continue the run here (True) or only record the answer, for
            a worker or a later `enact.resume` to continue.

    Raises:
        RunConflictError: The run moved on, or another process holds it.
        InvocationError: The run has no such pending request.
        InputTypeError: `value` does not have the requested type.
    """
    current = get_run(run) if isinstance(run, str) else run
    if current.state.status != "waiting":
        raise run_conflict(
            current,
            f"Run {current.id!r} is {current.status}, not waiting for input (head "
            f"{current.head.digest}); only a waiting run can be answered. `enact log` shows "
            "its state; fork an older state to answer it again as a new run.",
        )
    pending = run_input_requests(current)
    if not pending:
        raise InvocationError(f"Run {current.id!r} has no pending input request.")
    chosen = pending[0] if path is None else next((p for p in pending if p[0] == tuple(path)), None)
    if chosen is None:
        raise InvocationError(
            f"Run {current.id!r} has no pending input request at child path {list(path or ())}; "
            f"pending: {[list(p[0]) for p in pending]}."
        )
    where, request, digest = chosen
    request.check_answer(value)
    if not run_now:
        return record_answer(current, where, digest, value)
    check_sync_here(current)
    handle, before = claim(
        current, expected=current.head, event="answered", answer=(where, digest, value)
    )
    run_claimed(handle, before, strict=strict)
    return get_run(handle.run_id, store=handle.store)


def continue_run(run: Run, *, strict: bool = True, trees: bool = True) -> Run:
    """Claims an answered (or interrupted, or queued) run and runs it to its next stop."""
    check_sync_here(run)
    handle, before = claim(run, expected=run.head, trees=trees, event="continued")
    run_claimed(handle, before, strict=strict)
    return get_run(handle.run_id, store=handle.store)
