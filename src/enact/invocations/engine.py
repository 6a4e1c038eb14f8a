"""Journaled execution: `Invocation`, `invoke`, replay and rewind.

While an invocation runs, a `Frame` in a context variable collects the child
calls its code makes. Each call of an invokable or registered function inside
it becomes a child invocation: its request is committed, the call runs with a
frame of its own, and its output (or exception) and response are committed.

A replay re-runs an invocation that has no output with its recorded children
as a template: the child call at position *i* is compared with the recorded
child at position *i* by request digest alone (no tree is re-hashed), and a
match with a recorded output returns that output without running the call.

Child slots are reserved when a call is made, not when it finishes, so the
children of ``asyncio.gather`` are recorded, and matched on replay, in the
order the program made the calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final, TypeAlias

from enact import registry
from enact.encoding import encode
from enact.errors import (
    EnactError,
    IncompleteSubinvocationError,
    InputTypeError,
    InvocationError,
    ReplayError,
)
from enact.invocations.diagnostics import (
    describe,
    describe_request,
    incomplete_error,
    mutation_error,
    replay_error,
)
from enact.invocations.records import CallArgs, Output, RecordedException, Request, Response
from enact.invocations.responses import (
    IMMUTABLE_TYPES,
    commit_response,
    read_response,
    response_memo,
)
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.store import Store, current_store

ExceptionOverride: TypeAlias = Callable[[Ref[Any]], Any]
"""Called with the ref of a recorded exception; returns the output to use instead."""

RUN_LOG_PREFIX: Final = "runs/"
"""Names under this prefix record top-level invocations, newest last (see `enact log`)."""


@dataclasses.dataclass
class Invocation(Resource):
    """The journal of one call: its request and its response.

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
        return self.response().output is not None

    def is_complete(self) -> bool:
        """Same as `has_output`: the call returned and its output is recorded."""
        return self.has_output()

    def get_output(self) -> Any:
        """Returns the recorded output, or None if there is none."""
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

    def rewind(self, num_calls: int = 1) -> Invocation:
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
        response_ref = commit_response(store, Response(None, None, False, children))
        rewound = Invocation(self.request.deepcopy_resource(), response_ref)
        store.commit(rewound)
        return rewound

    def replay(
        self, *, strict: bool = True, exception_override: ExceptionOverride | None = None
    ) -> Invocation:
        """Re-executes the calls that have no recorded output; returns the new invocation.

        Recorded children whose requests match the calls the program makes
        return their recorded outputs without running.

        Args:
            strict: Raise `ReplayError` when a call does not match the record at
                its position; with False, such records are skipped and the call
                runs.
            exception_override: For recorded calls that raised (for example
                input requests), called with the ref of the exception; its
                return value (a value or a Ref) becomes the call's output.

        Raises:
            ReplayError: The program did not make the recorded calls.
            InvocationError: The invokable is asynchronous (use `replay_async`).
        """
        response = read_response(current_store(), self.response)
        if response.output is not None:
            return self
        request = self.request()
        if _is_async(request.invokable):
            raise InvocationError(
                f"{describe(request.invokable)} is asynchronous: use "
                "`await invocation.replay_async(...)`."
            )
        return invoke_root(
            request.invokable,
            request.input,
            self.request,
            response.children,
            strict,
            exception_override,
        )

    async def replay_async(
        self, *, strict: bool = True, exception_override: ExceptionOverride | None = None
    ) -> Invocation:
        """Like `replay`, for invocations of asynchronous invokables."""
        response = read_response(current_store(), self.response)
        if response.output is not None:
            return self
        request = self.request()
        return await invoke_root_async(
            request.invokable,
            request.input,
            self.request,
            response.children,
            strict,
            exception_override,
        )


register_resource_class(Invocation)


# Frames ------------------------------------------------------------------------


class _Pending:
    """Placeholder for a child call that has started but not finished."""

    __slots__ = ("input", "invokable")

    def __init__(self, invokable: Any, input_value: Any) -> None:
        self.invokable = invokable
        self.input = input_value


class Frame:
    """The state of one running invocation: its children so far and its template."""

    __slots__ = (
        "child_errors",
        "closed",
        "override",
        "path",
        "responses",
        "slots",
        "store",
        "strict",
        "template",
    )

    def __init__(
        self,
        store: Store,
        template: list[Invocation] | None,
        strict: bool,
        override: ExceptionOverride | None,
        path: tuple[int, ...],
    ) -> None:
        self.store = store
        self.slots: list[Any] = []
        self.template = template
        self.strict = strict
        self.override = override
        self.path = path
        self.child_errors: list[BaseException] = []
        self.closed = False
        self.responses = response_memo(store)

    def children(self) -> list[Invocation]:
        return [slot for slot in self.slots if isinstance(slot, Invocation)]

    def first_incomplete(self) -> tuple[int, _Pending] | None:
        for index, slot in enumerate(self.slots):
            if isinstance(slot, _Pending):
                return index, slot
        return None


_frame: Final[ContextVar[Frame | None]] = ContextVar("enact_invocation_frame", default=None)


current_frame: Final[Callable[[], Frame | None]] = _frame.get
"""Returns the frame of the invocation running in this context, or None."""


MISSING: Final = object()
"""`ChildCall.output` before the call has run (a replayed call has its output at once)."""


class ChildCall:
    """One child call: reserved in its parent's frame when the call is made."""

    __slots__ = (
        "child_template",
        "frame",
        "index",
        "input",
        "invokable",
        "output",
        "request_ref",
        "request_tokens",
    )

    def __init__(self, frame: Frame, invokable: Any, input_value: Any) -> None:
        self.frame = frame
        self.invokable = invokable
        self.input = input_value
        self.index = index = len(frame.slots)
        pending = _Pending(invokable, input_value)
        frame.slots.append(pending)
        try:
            tokens, links = encode(Request(invokable, input_value))
            digest = hashlib.sha256(tokens).hexdigest()
            self.request_tokens: bytes | None = tokens
            self.output: Any = MISSING
            self.child_template: list[Invocation] | None = None
            template = frame.template
            if template is not None and index < len(template):
                recorded = template[index]
                if recorded.request.digest == digest:
                    self.request_ref = recorded.request
                    self._replay(recorded)
                    return
                if frame.strict:
                    raise replay_error(frame, index, recorded, invokable, input_value)
            self.request_ref = frame.store.commit_tokens(tokens, links, Ref, digest)
        except BaseException:
            # The call never started (its input cannot be stored, or an answer has the
            # wrong type): free its slot, so the caller sees this error and not a
            # pending child.
            if frame.slots and frame.slots[-1] is pending:
                frame.slots.pop()
            raise

    def _replay(self, recorded: Invocation) -> None:
        """Uses a recorded child whose request matches this call."""
        frame = self.frame
        response = frame.responses.get(recorded.response.digest)
        if response is None:
            response = read_response(frame.store, recorded.response)
        if response.output is not None:
            frame.slots[self.index] = recorded
            value = response.output.value
            if type(value) not in IMMUTABLE_TYPES:  # the caller gets a copy of its own
                fresh = frame.store.checkout(recorded.response).output
                assert fresh is not None  # the same response, read again
                value = fresh.value
            self.output = value
            return
        if response.raised is not None and response.raised_here and frame.override is not None:
            value = frame.override(response.raised)
            if isinstance(value, Ref):
                value = value()
            _check_answer(response.raised, value)
            new_response = commit_response(frame.store, Response(Output(value), None, False, []))
            frame.slots[self.index] = Invocation(self.request_ref, new_response)
            self.output = value
            return
        self.child_template = list(response.children)

    def start(self) -> tuple[Frame, Any]:
        frame = self.frame
        child = Frame(
            frame.store,
            self.child_template,
            frame.strict,
            frame.override,
            (*frame.path, self.index),
        )
        return child, _frame.set(child)

    def finish(
        self, child: Frame, output: Any, error: BaseException | None
    ) -> BaseException | None:
        """Checks the finished call and records it in the parent's slot.

        Returns the exception the call ends with: its own, or the error that
        prevented committing its output.
        """
        frame = self.frame
        response_ref, error = _close(
            child, self.invokable, self.input, self.request_tokens, output, error
        )
        if error is not None:
            frame.child_errors.append(error)
        frame.slots[self.index] = Invocation(self.request_ref, response_ref)
        return error

    def run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.output
        child, token = self.start()
        try:
            output = call(*args, **kwargs)
        except Exception as error:
            self.fail(child, token, error)
            raise
        return self.succeed(child, token, output)

    async def run_async(
        self, call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        """Awaits ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.output
        child, token = self.start()
        try:
            output = await call(*args, **kwargs)
        except Exception as error:
            self.fail(child, token, error)
            raise
        return self.succeed(child, token, output)

    def fail(self, child: Frame, token: Any, error: Exception) -> None:
        """Ends the child's frame and journals the exception it raised."""
        _frame.reset(token)
        if isinstance(error, ReplayError | IncompleteSubinvocationError):
            return
        try:
            self.finish(child, None, error)
        except (ReplayError, IncompleteSubinvocationError):
            raise
        except Exception:
            # Journaling the exception failed too (e.g. a RecursionError that the
            # record's own encoding hits again): give up the slot, so the caller
            # sees the call's own exception rather than a pending child.
            if self.frame.slots[self.index].__class__ is _Pending:
                self.frame.slots[self.index] = None

    def succeed(self, child: Frame, token: Any, output: Any) -> Any:
        """Ends the child's frame and journals its output; returns the output."""
        _frame.reset(token)
        failure = self.finish(child, output, None)
        if failure is not None:
            raise failure
        return output


def _close(
    frame: Frame,
    invokable: Any,
    input_value: Any,
    request_tokens: bytes | None,
    output: Any,
    error: BaseException | None,
) -> tuple[Ref[Response], BaseException | None]:
    """Ends a call's frame: checks it, commits its response.

    Returns the response and the exception the call ends with (its own, a
    mutation of its request, or an output that cannot be stored).

    Raises:
        IncompleteSubinvocationError: A child of the call is still running.
        ReplayError: The call returned without making a recorded call.
    """
    incomplete = frame.first_incomplete()
    if incomplete is not None:
        raise incomplete_error(incomplete, error)
    if error is None:
        _check_template_used(frame)
    frame.closed = True
    if error is None and _request_changed(request_tokens, invokable, input_value):
        error = mutation_error(invokable, frame)
    return _commit_response(frame.store, frame, output, error)


def _request_changed(tokens: bytes | None, invokable: Any, input_value: Any) -> bool:
    """Whether a call changed its own invokable or input (checked only if it could have)."""
    if tokens is None or _is_frozen(invokable, input_value):
        return False
    try:
        return encode(Request(invokable, input_value))[0] != tokens
    except EnactError:
        return True


def _check_template_used(frame: Frame) -> None:
    template = frame.template
    if frame.strict and template is not None and len(template) > len(frame.slots):
        recorded = template[len(frame.slots)]
        request = recorded.request()
        expected = describe_request(request.invokable, request.input, short=True)
        error = ReplayError(
            f"Expected invocation {expected} but the call returned without making it.\n"
            "Ensure that calls to subinvokables are deterministic or use strict=False.",
            path=(*frame.path, len(frame.slots)),
            expected=expected,
            actual="(no call)",
            difference="missing call",
        )
        error.add_note(f"At child path {list(error.path)} from the root invocation.")
        raise error


def _commit_response(
    store: Store, frame: Frame, output: Any, error: BaseException | None
) -> tuple[Ref[Response], BaseException | None]:
    """Commits the response of a finished call; returns it and the call's exception.

    An output that cannot be committed turns into the call's exception, so
    the journal and the caller both see why.
    """
    children = frame.children()
    if error is None:
        try:
            return commit_response(store, Response(Output(output), None, False, children)), None
        except EnactError as commit_error:
            error = commit_error
    raised_here = not any(error is seen for seen in frame.child_errors)
    try:
        raised = store.commit(_exception_resource(error))
    except EnactError:  # an exception resource holding values that cannot be stored
        raised = store.commit(RecordedException.from_exception(error))
    return commit_response(store, Response(None, raised, raised_here, children)), error


def _is_frozen(invokable: Any, input_value: Any) -> bool:
    """Whether neither the invokable nor the input can be changed by the call.

    Then the check that a call did not mutate its own request can be skipped.
    """
    if registry.function_info(invokable) is None:
        return False
    if type(input_value) is CallArgs:
        immutable = IMMUTABLE_TYPES
        return all(type(arg) in immutable for arg in input_value.args) and all(
            type(arg) in immutable for arg in input_value.kwargs.values()
        )
    return type(input_value) in IMMUTABLE_TYPES


def _exception_resource(error: BaseException) -> Any:
    if isinstance(error, Resource):
        return error
    return RecordedException.from_exception(error)


def _check_answer(raised: Ref[Any], value: Any) -> None:
    exception = raised()
    check = getattr(exception, "check_answer", None)
    if check is not None:
        check(value)


# Running calls ---------------------------------------------------------------------


def run_call(invokable: Any, input_value: Any) -> Any:
    """Runs `invokable` on `input_value` without journaling this call itself."""
    if registry.function_info(invokable) is not None:
        if not isinstance(input_value, CallArgs):
            raise InputTypeError(
                f"Registered function {describe(invokable)} expects CallArgs as input, got "
                f"{type(input_value).__name__}."
            )
        return invokable.__wrapped__(*input_value.args, **input_value.kwargs)
    run = getattr(invokable, "_enact_run", None)
    if run is None:
        raise InvocationError(
            f"{invokable!r} cannot be invoked: invoke an enact.Invokable, an "
            "enact.AsyncInvokable or a function decorated with @enact.register."
        )
    return run(input_value)


def call_child(invokable: Any, input_value: Any, frame: Frame) -> Any:
    """Makes a journaled child call of the invocation running in `frame`."""
    return ChildCall(frame, invokable, input_value).run(run_call, invokable, input_value)


def call_child_async(invokable: Any, input_value: Any, frame: Frame) -> Awaitable[Any]:
    """Reserves a journaled child call now; the returned awaitable runs it."""
    return ChildCall(frame, invokable, input_value).run_async(run_call, invokable, input_value)


def invoke(invokable: Any, args: Any = (), kwargs: dict[str, Any] | None = None) -> Invocation:
    """Calls `invokable` and journals the call tree in the active store.

    `invokable` is a function decorated with `enact.register` (called with
    ``*args, **kwargs``) or an `enact.Invokable` (called with ``args[0]``, or
    with no argument). Exceptions raised by the call are recorded in the
    returned invocation rather than raised.

    Raises:
        NoActiveStoreError: No store is active.
        ReplayError, IncompleteSubinvocationError: The call could not be journaled.
    """
    invokable, args = _unbind(invokable, args)
    input_value = _root_input(invokable, args, kwargs)
    if _is_async(invokable):
        raise InvocationError(
            f"{describe(invokable)} is asynchronous: use `await enact.invoke_async(...)` "
            "or `await invokable.invoke(...)`."
        )
    return invoke_root(invokable, input_value, None, None, True, None)


async def invoke_async(
    invokable: Any, args: Any = (), kwargs: dict[str, Any] | None = None
) -> Invocation:
    """Like `invoke`, for asynchronous invokables and ``async def`` registered functions."""
    invokable, args = _unbind(invokable, args)
    return await invoke_root_async(
        invokable, _root_input(invokable, args, kwargs), None, None, True, None
    )


def _unbind(invokable: Any, args: Any) -> tuple[Any, Any]:
    """Turns a bound registered method into the registered function and its self."""
    function = getattr(invokable, "__func__", None)
    if function is not None and registry.function_info(function) is not None:
        return function, (invokable.__self__, *(args or ()))
    return invokable, args


def _is_async(invokable: Any) -> bool:
    target = getattr(invokable, "__wrapped__", None) or getattr(invokable, "call", None)
    return inspect.iscoroutinefunction(target)


def _root_input(invokable: Any, args: Any, kwargs: dict[str, Any] | None) -> Any:
    args = tuple(args or ())
    if registry.function_info(invokable) is not None:
        return CallArgs(list(args), dict(kwargs or {}))
    if kwargs or len(args) > 1:
        raise InvocationError(
            f"{invokable!r} takes at most one argument: invoke(invokable, (arg,))."
        )
    input_value = args[0] if args else None
    return input_value() if isinstance(input_value, Ref) else input_value


def invoke_root(
    invokable: Any,
    input_value: Any,
    request_ref: Ref[Request] | None,
    template: list[Invocation] | None,
    strict: bool,
    override: ExceptionOverride | None,
) -> Invocation:
    """Runs a root invocation (a new journal), optionally replaying a template."""
    store = current_store()
    with store.batch():
        root = _Root(store, invokable, input_value, request_ref, template, strict, override)
        token = _frame.set(root.frame)
        try:
            output = run_call(invokable, input_value)
        except Exception as error:
            invocation = root.fail(token, error)
        else:
            invocation = root.succeed(token, output)
    root.log(invocation)
    return invocation


async def invoke_root_async(
    invokable: Any,
    input_value: Any,
    request_ref: Ref[Request] | None,
    template: list[Invocation] | None,
    strict: bool,
    override: ExceptionOverride | None,
) -> Invocation:
    """Asynchronous variant of `invoke_root` (synchronous invokables run as in `invoke_root`)."""
    if not _is_async(invokable):
        return invoke_root(invokable, input_value, request_ref, template, strict, override)
    store = current_store()
    with store.batch():
        root = _Root(store, invokable, input_value, request_ref, template, strict, override)
        token = _frame.set(root.frame)
        try:
            output = await run_call(invokable, input_value)
        except Exception as error:
            invocation = root.fail(token, error)
        else:
            invocation = root.succeed(token, output)
    root.log(invocation)
    return invocation


class _Root:
    """Bookkeeping of a root invocation."""

    def __init__(
        self,
        store: Store,
        invokable: Any,
        input_value: Any,
        request_ref: Ref[Request] | None,
        template: list[Invocation] | None,
        strict: bool,
        override: ExceptionOverride | None,
    ) -> None:
        self.store = store
        self.nested = _frame.get() is not None
        self.invokable = invokable
        self.input = input_value
        tokens, links = encode(Request(invokable, input_value))
        self.request_tokens = tokens
        self.request_ref = request_ref or store.commit_tokens(tokens, links, Ref)
        self.frame = Frame(store, template, strict, override, ())
        self.ref: Ref[Invocation] | None = None

    def fail(self, token: Any, error: Exception) -> Invocation:
        """Ends the root frame after the call raised; journals the exception.

        Errors of the journaling itself (a replay mismatch, unfinished children)
        are not journaled: they propagate.
        """
        _frame.reset(token)
        if isinstance(error, ReplayError | IncompleteSubinvocationError):
            raise error
        return self.finish(MISSING, error)

    def succeed(self, token: Any, output: Any) -> Invocation:
        """Ends the root frame after the call returned; journals the output."""
        _frame.reset(token)
        return self.finish(output, None)

    def finish(self, output: Any, error: BaseException | None) -> Invocation:
        response_ref, _ = _close(
            self.frame, self.invokable, self.input, self.request_tokens, output, error
        )
        invocation = Invocation(self.request_ref, response_ref)
        self.ref = self.store.commit(invocation)
        return invocation

    def log(self, invocation: Invocation) -> None:
        """Records a top-level invocation under ``runs/`` so that it can be found again."""
        if self.nested or self.ref is None:
            return
        digest = self.ref.digest
        self.store.log_name(f"{RUN_LOG_PREFIX}{time.time_ns():020d}-{digest[:12]}", digest)
