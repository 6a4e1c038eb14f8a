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
from typing import Any, TypedDict, TypeVar, Unpack

from enact.errors import InvocationError, ReplayError, UnknownTypeError, check_keywords
from enact.invocations.answers import convert_answer, parse_answer
from enact.invocations.engine import (
    Invocation,
    current_frame,
    write_with_record,
)
from enact.invocations.invokables import Invokable
from enact.invocations.records import Output, Response
from enact.invocations.requested_types import record_type, restore_type, type_label
from enact.invocations.responses import commit_response, holds_output, read_response
from enact.invocations.runs import (
    Run,
    _Node,
    check_sync_here,
    claim,
    get_run,
    record_answer,
    recorded_answers,
    run_claimed,
    run_conflict,
)
from enact.invocations.threads import thread_frame
from enact.refs import Ref
from enact.resources import FieldValue, Resource, register_resource_class
from enact.stores.store import current_store

T = TypeVar("T")


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

    requested: Any  # a class or a TypeForm (see requested_types)
    for_value: Ref[Any]
    context: FieldValue

    @property
    def requested_type(self) -> Any:
        """The type an answer must have: ``str`` for ``request_input(str)``, or a typing
        form such as ``list[str]`` or ``Literal['yes', 'no']``.

        Raises:
            UnknownTypeError: An enum the request names is not defined in this process.
        """
        return restore_type(self.requested)

    @property
    def requested_label(self) -> str:
        """The requested type as users write it, read without the program's classes."""
        return type_label(self.requested)

    def convert_answer(self, value: Any) -> Any:
        """Returns `value` as an answer of the requested type (see `enact.invocations.answers`).

        `value` is a value of the requested type or JSON-like data that spells
        one (a dict of fields for a class, a list for a tuple, an ISO string
        for a datetime).

        Raises:
            AnswerError: The value does not fit; the message names each field path.
        """
        return convert_answer(value, self.requested_type)

    def check_answer(self, value: Any) -> None:
        """Raises `enact.AnswerError` unless `value` is an answer of the requested type."""
        self.convert_answer(value)

    def parse_answer(self, text: str) -> Any:
        """Turns typed text into an answer of the requested type (see `answers.parse_answer`)."""
        return parse_answer(text, self.requested_type)

    def __str__(self) -> str:
        return f"Input of type {self.requested_label} requested" + (
            f": {self.context}" if self.context is not None else ""
        )

    def __repr__(self) -> str:
        return (
            f"InputRequest(requested_type={self.requested_label}, "
            f"for_value={self.for_value!r}, context={self.context!r})"
        )


@write_with_record
@dataclasses.dataclass
class RequestInput(Invokable):
    """The invokable behind `request_input`: raises the `InputRequest`."""

    __enact_type_name__ = "enact.invocations.RequestInput"

    requested: Any  # a class or a TypeForm (see requested_types)
    context: FieldValue

    def call(self, for_value: Any) -> Any:
        raise InputRequest(self.requested, current_store().commit(for_value), self.context)


register_resource_class(InputRequest)
register_resource_class(RequestInput)


@typing.overload
def request_input(
    requested_type: type[T], for_value: Any = None, context: FieldValue = None
) -> T: ...


@typing.overload
def request_input(
    requested_type: Any, for_value: Any = None, context: FieldValue = None
) -> Any: ...


def request_input(requested_type: Any, for_value: Any = None, context: FieldValue = None) -> Any:
    """Asks for input of `requested_type` from outside the running invocation.

    `requested_type` is a class (``str``, a resource class, a registered
    pydantic model or attrs class, an enum, a wrapped type such as
    ``datetime``) or a typing form: ``list[str]``, ``dict[str, int]``,
    ``tuple[int, str]``, ``Literal["yes", "no"]``, ``int | None``, unions.
    The answer is converted and checked against it in full (see
    `enact.invocations.answers`), and type checkers see the call return
    that type (``request_input(bool)`` is a ``bool``).

    On first execution this raises `InputRequest`, which ends the invocation
    (unless the code catches it). Once an answer has been given (see
    `InvocationGenerator` or `Invocation.replay` with ``exception_override``),
    the replayed call returns the answer.

    Raises:
        InvocationError: Called outside of an invocation.
    """
    if current_frame() is None:
        if thread_frame(request_input) is not None:
            raise InvocationError(
                "enact.request_input() was called from a thread started with "
                "threading.Thread inside an invocation: the run cannot stop there for the "
                "answer (the request would end that thread, not the run). Ask from the "
                "invocation's own thread, or from a concurrent.futures.ThreadPoolExecutor "
                "worker, whose request reaches the run through its future."
            )
        raise InvocationError(
            "enact.request_input() was called outside of an invocation. Call it from code "
            "run by enact.invoke(...) or an InvocationGenerator, which can pause and resume."
        )
    return RequestInput(record_type(requested_type), context)(for_value)


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
        try:
            response = read_response(store, current.response)
        except UnknownTypeError:
            # A call that returned a value of a class changed since (renamed, a field
            # removed): it holds no request, and answering reaches the replay, whose
            # ReplayError names the call and the fixes.
            if holds_output(store, current.response):
                continue
            raise
        if response.output is not None or response.raised is None:
            continue
        if response.raised_here:
            raised = response.raised()
            if isinstance(raised, InputRequest):
                found.append((path, raised))
            continue
        # Only children that raised the same request can hold it; a finished
        # child (with an output) is skipped without looking further into it. Their
        # responses are read in one backend call.
        store.prefetch(child.response for child in response.children)
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


class _AnswerOptions(TypedDict, total=False):
    """The keyword arguments of `answer` for a run, which it passes on to `answer_run`
    (described there); unset, `strict` is True and (unlike there) `run_now` is False."""

    run_now: bool
    strict: bool


@typing.overload
def answer(
    invocation: Invocation, value: Any, path: tuple[int, ...] | None = None
) -> Invocation: ...


@typing.overload
def answer(
    invocation: Run | str,
    value: Any,
    path: tuple[int, ...] | None = None,
    **options: Unpack[_AnswerOptions],
) -> Run: ...


def answer(
    invocation: Invocation | Run | str,
    value: Any,
    path: tuple[int, ...] | None = None,
    **options: Unpack[_AnswerOptions],
) -> Invocation | Run:
    """Answers an input request with `value`.

    For a run (or run id): the answer is recorded and the run's head moves
    to ``answered``; with ``run_now=True`` the run also continues here (see
    `answer_run`, which also takes `strict`); otherwise `enact.resume` or a
    worker continues it later. Returns the run.

    For an invocation: returns a copy in which the request is answered; the
    copy has no output, so replaying it continues the journal.

    `path` selects the request (see `pending_input_requests`); by default the
    first one. Only a pending input request can be answered: a path where a
    call raised another exception (a caught tool error) is refused, saying so.

    `value` is a value of the requested type or JSON-like data that spells
    one (a dict of fields for a class, a list for a tuple, an ISO string for
    a datetime); what is recorded is the converted value, checked in full.

    Raises:
        InvocationError: No such pending request.
        AnswerError: `value` is not an answer of the requested type (see
            `enact.invocations.answers`); nothing is recorded.
        RunConflictError: The run is not waiting, or another process holds it.
    """
    check_keywords("answer", options, _AnswerOptions)
    if not isinstance(invocation, Invocation):
        options.setdefault("run_now", False)
        return answer_run(invocation, value, path, **options)
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
        what = _what_is_at(current_store(), invocation, path)
        raise InvocationError(
            f"No pending input request at child path {list(path)}: {what}. Only input "
            "requests can be answered (other recorded exceptions stay as they are); pending "
            f"input requests: {pending_paths}."
        )
    value = request.convert_answer(value)
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


def _what_is_at(store: Any, invocation: Invocation, path: tuple[int, ...]) -> str:
    """What the call at `path` is, for an error that it is no pending input request."""
    response = read_response(store, invocation.response)
    for depth, index in enumerate(path):
        if not 0 <= index < len(response.children):
            where = list(path[:depth])
            return f"the call at {where} has {len(response.children)} child call(s)"
        response = read_response(store, response.children[index].response)
    if response.output is not None:
        return "that call finished with an output"
    if response.raised is None:
        return "that call did not finish"
    if not response.raised_here:
        return "that call only passed on an exception raised by one of its children"
    raised = store.checkout(response.raised)
    name = getattr(raised, "type_name", None) or type(raised).__qualname__
    return f"that call raised {name}, which is not an input request"


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
    answered = {path for path, _, _ in recorded_answers(run)}
    if run.state.answer_path is not None:
        answered.add(tuple(run.state.answer_path))
    _collect(run.store, run.template_root(), (), found)
    return [item for item in found if item[0] not in answered]


def _collect(
    store: Any,
    node: _Node,
    path: tuple[int, ...],
    found: list[tuple[tuple[int, ...], InputRequest, str]],
) -> None:
    if node.children is None:
        return
    # Each recorded child's response is read below: in one backend call, not one each
    # (a waiting run of 200 journaled calls made 200 queries before answering).
    store.prefetch(
        child.invocation.response
        for child in node.children.values()
        if child.children is None and child.invocation is not None
    )
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
        AnswerError: `value` is not an answer of the requested type (see
            `enact.invocations.answers`); nothing is recorded.
    """
    current = get_run(run) if isinstance(run, str) else run
    if current.state.status not in ("waiting", "answered"):
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
        invocation = current.invocation()
        where = tuple(path or ())
        what = "" if invocation is None else f": {_what_is_at(current.store, invocation, where)}"
        raise InvocationError(
            f"Run {current.id!r} has no pending input request at child path "
            f"{list(path or ())}{what}. Only input requests can be answered (other recorded "
            f"exceptions stay as they are); pending input requests: "
            f"{[list(p[0]) for p in pending]}."
        )
    where, request, digest = chosen
    value = request.convert_answer(value)
    if not run_now:
        return record_answer(current, where, digest, value)
    check_sync_here(current)
    handle, before = claim(
        current, expected=current.head, event="answered", answer=(where, digest, value)
    )
    try:
        run_claimed(handle, before, strict=strict)
    except ReplayError as err:
        # The claim stored the answer; the run stopped before the program went on.
        err.add_note(
            f"The answer is recorded: run {current.id!r} is interrupted, and `enact resume "
            f"{current.id}` (enact.resume) continues it with this answer once the program "
            "replays its journal again."
        )
        raise
    return get_run(handle.run_id, store=handle.store)


def continue_run(run: Run, *, strict: bool = True, trees: bool = True) -> Run:
    """Claims an answered (or interrupted, or queued) run and runs it to its next stop."""
    check_sync_here(run)
    handle, before = claim(run, expected=run.head, trees=trees, event="continued")
    run_claimed(handle, before, strict=strict)
    return get_run(handle.run_id, store=handle.store)
