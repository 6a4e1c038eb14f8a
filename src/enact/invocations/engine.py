"""Journaled execution: `Invocation`, `invoke`, replay and rewind.

While an invocation runs, a `Frame` in a context variable collects the child
calls its code makes. Each call of an invokable or registered function inside
it becomes a child invocation: the call runs with a frame of its own, and
when it finishes its request and response are committed.

A replay re-runs an invocation that has no output with its recorded children
as a template: the child call at position *i* is compared with the recorded
child at position *i* by request digest alone (no tree is re-hashed), and a
match with a recorded output returns that output without running the call.

A call that the template does not answer (a new call, or any call of a
fresh run) goes through `enact.invocations.providers` only when something
asks for it: a frozen replay refuses it (``new_calls="forbid"``), a cassette
or the call cache may serve its recorded response instead of running it.

Child slots are reserved when a call is made, not when it finishes, so the
children of ``asyncio.gather`` are recorded, and matched on replay, in the
order the program made the calls.

Durability: a root invocation that belongs to a run (see `enact.runs`) gets a
`CallSink`; then every child call, when it finishes, writes its request, its
response and one journal entry in a single backend call before its caller
sees the result. Without a sink (``durability="end"``) the whole root call is
one `Store.batch`, written when it ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeAlias, TypeVar

from enact import registry
from enact.encoding import encode
from enact.errors import (
    EnactError,
    IncompleteSubinvocationError,
    InputTypeError,
    InvocationError,
    ReplayError,
    UnrecordedCallError,
)
from enact.invocations import providers
from enact.invocations.diagnostics import (
    describe,
    describe_request,
    incomplete_error,
    missing_call_error,
    mutation_error,
    replay_error,
)
from enact.invocations.exceptions import record_exception
from enact.invocations.records import CallArgs, Output, Request, Response
from enact.invocations.responses import (
    IMMUTABLE_TYPES,
    commit_response,
    read_response,
    response_memo,
)
from enact.invocations.timings import CallTimer
from enact.invocations.timings import _clock as _timing_clock
from enact.invocations.usage import NO_USAGE
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.store import Store, current_store

if TYPE_CHECKING:  # defaults (PEP 696) for type checkers: a bare Invocation is Invocation[Any]
    from typing_extensions import TypeVar as _DefaultedTypeVar

    OutputT = _DefaultedTypeVar("OutputT", default=Any)
else:
    OutputT = TypeVar("OutputT")
"""The output type of an `Invocation` (and the O of ``Invokable[I, O]``)."""

ExceptionOverride: TypeAlias = Callable[[Ref[Any]], Any]
"""Called with the ref of a recorded exception; returns the output to use instead."""


T = TypeVar("T")


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
        return self.response().output is not None

    def is_complete(self) -> bool:
        """Same as `has_output`: the call returned and its output is recorded."""
        return self.has_output()

    def get_output(self) -> OutputT | None:
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
        response_ref = commit_response(store, Response(None, None, False, children))
        rewound = Invocation(self.request.deepcopy_resource(), response_ref)
        store.commit(rewound)
        return rewound

    def replay(
        self,
        *,
        strict: bool = True,
        exception_override: ExceptionOverride | None = None,
        new_calls: providers.NewCalls = "run",
    ) -> Invocation[OutputT]:
        """Re-executes the calls that have no recorded output; returns the new invocation.

        Recorded children whose requests match the calls the program makes
        return their recorded outputs without running.

        Args:
            strict: Raise `ReplayError` when a call does not match the record at
                its position; with False, such records are skipped and the call
                runs.
            exception_override: For recorded calls that raised (for example
                input requests), called with the ref of the exception; its
                return value (a value or a Ref) becomes the call's output (an
                answer to an input request is converted and checked as by
                `enact.answer`). None means no override: the call runs again,
                as it would without an override (an input request asks again,
                a failed tool call is retried); to answer None, return
                ``enact.commit(None)``. Return None for everything but
                `enact.InputRequest` to answer only the input requests.
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
        plan = self.replay_plan(
            strict=strict, exception_override=exception_override, new_calls=new_calls
        )
        if plan is None:
            return self
        if is_async_invokable(plan.invokable):
            raise InvocationError(
                f"{describe(plan.invokable)} is asynchronous: use "
                "`await invocation.replay_async(...)`."
            )
        return _materialized(invoke_root(_prepare_root[0](plan)))

    async def replay_async(
        self,
        *,
        strict: bool = True,
        exception_override: ExceptionOverride | None = None,
        new_calls: providers.NewCalls = "run",
    ) -> Invocation[OutputT]:
        """Like `replay`, for invocations of asynchronous invokables."""
        plan = self.replay_plan(
            strict=strict, exception_override=exception_override, new_calls=new_calls
        )
        if plan is None:
            return self
        return _materialized(await invoke_root_async(_prepare_root[0](plan)))

    def replay_plan(
        self,
        *,
        strict: bool = True,
        exception_override: ExceptionOverride | None = None,
        new_calls: providers.NewCalls = "run",
    ) -> RootPlan | None:
        """What `replay` would run, for tools that run it themselves (None: nothing to run).

        `enact replay` runs the plan with `enact.invocations.engine.invoke_root`
        to learn which run the replay made. Arguments as for `replay`.
        """
        override = exception_override
        if new_calls not in ("run", "forbid"):
            raise ValueError(f"new_calls must be 'run' or 'forbid', not {new_calls!r}.")
        response = read_response(current_store(), self.response)
        if response.output is not None:
            return None
        request = self.request()
        return RootPlan(
            request.invokable,
            request.input,
            request_ref=self.request,
            template=list(response.children),
            strict=strict,
            override=override,
            new_calls=new_calls,
        )


register_resource_class(Invocation)


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


class CallSink(Protocol):
    """Where a run records each finished call (see `enact.runs`)."""

    def entry_name(self, path: tuple[int, ...], request_digest: str) -> str:
        """The journal name under which a finished call's response is recorded."""
        ...

    def check(self) -> None:
        """Raises if this process may no longer write the run (its lease was lost)."""
        ...

    def waits_for(self, call: ChildCall) -> bool:
        """Whether `call` may wait in place for an answer (see `run_waiting`); cheap."""
        ...

    def run_waiting(self, call: ChildCall, body: Callable[[], Any]) -> Any:
        """Runs `body` (the call); if it asks for input, waits in place for the answer.

        A run driven by an `InvocationGenerator` in this process journals the
        request and the run's move to ``waiting`` in one transaction, then
        waits instead of unwinding, and returns the answer (recorded as the
        call's output, see `ChildCall.answered`). Anything else is returned or
        raised as by `body`.
        """
        ...


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
        "call",
        "child_errors",
        "closed",
        "hooks",
        "lock",
        "override",
        "parent",
        "path",
        "responses",
        "sink",
        "slots",
        "store",
        "strict",
        "template",
        "timer",
    )

    def __init__(
        self,
        store: Store,
        template: list[Any] | None,
        strict: bool,
        override: ExceptionOverride | None,
        path: tuple[int, ...],
        sink: CallSink | None,
        parent: Frame | None = None,
        call: ChildCall | None = None,
        hooks: providers.CallHooks = providers.NO_HOOKS,
        timer: CallTimer | None = None,
    ) -> None:
        self.store = store
        self.parent = parent
        self.call = call
        self.slots: list[Any] = []
        self.template = template
        self.strict = strict
        self.override = override
        self.path = path
        self.sink = sink
        self.hooks = hooks
        self.timer = timer  # the run's timings and observers (enact.invocations.timings)
        self.child_errors: list[BaseException] = []
        self.closed = False
        self.responses = response_memo(store)
        # Calls made from worker threads reserve slots concurrently.
        self.lock = threading.Lock()

    def children(self) -> list[Invocation]:
        return [slot for slot in self.slots if isinstance(slot, Invocation)]

    def first_incomplete(self) -> tuple[int, _Pending] | None:
        for index, slot in enumerate(self.slots):
            if isinstance(slot, _Pending):
                return index, slot
        return None

    def child(self, index: int, template: list[Any] | None, call: ChildCall) -> Frame:
        """A frame for `call`, this frame's child at `index`, with these settings."""
        return Frame(
            self.store,
            template,
            self.strict,
            self.override,
            (*self.path, index),
            self.sink,
            parent=self,
            call=call,
            hooks=self.hooks,
            timer=self.timer,
        )


_frame: Final[ContextVar[Frame | None]] = ContextVar("enact_invocation_frame", default=None)


current_frame: Final[Callable[[], Frame | None]] = _frame.get
"""Returns the frame of the invocation running in this context, or None."""


def set_frame(frame: Frame | None) -> Any:
    """Makes `frame` current in this context; returns the token for `reset_frame`."""
    return _frame.set(frame)


def reset_frame(token: Any) -> None:
    """Undoes `set_frame`."""
    _frame.reset(token)


MISSING: Final = object()
"""`ChildCall.output` before the call has run (a replayed call has its output at once)."""


class ChildCall:
    """One child call: reserved in its parent's frame when the call is made."""

    __slots__ = (
        "child_template",
        "digest",
        "frame",
        "index",
        "input",
        "invokable",
        "links",
        "output",
        "provider",
        "request_ref",
        "request_tokens",
        "started",
    )

    def __init__(self, frame: Frame, invokable: Any, input_value: Any) -> None:
        self.frame = frame
        self.invokable = invokable
        self.input = input_value
        pending = _Pending(invokable, input_value)
        with frame.lock:
            self.index = index = len(frame.slots)
            frame.slots.append(pending)
        try:
            tokens, links = encode(Request(invokable, input_value))
            self.digest = digest = hashlib.sha256(tokens).hexdigest()
            self.request_tokens: bytes = tokens
            self.links = links
            self.request_ref: Ref[Request] = Ref._unchecked(digest)
            self.output: Any = MISSING
            self.child_template: list[Any] | None = None
            self.provider: providers.CallProvider | None = None
            template = frame.template
            if template is not None and index < len(template):
                recorded = template[index]
                if isinstance(recorded, OpenCall):
                    if recorded.request_digest in (None, digest):
                        self.child_template = recorded.children
                        return
                elif recorded.request.digest == digest or _upgrades_to(
                    frame.store, recorded.request, tokens
                ):
                    self._replay(recorded)
                    return
                if frame.strict:
                    raise replay_error(
                        frame.path,
                        index,
                        _recorded_ref(recorded),
                        frame.store,
                        invokable,
                        input_value,
                        tokens,
                    )
            if frame.hooks.active or providers.declared:
                self._unrecorded()
        except BaseException:
            # The call never started (its input cannot be stored, or an answer has the
            # wrong type): free its slot, so the caller sees this error and not a
            # pending child.
            with frame.lock:
                if frame.slots and frame.slots[-1] is pending:
                    frame.slots.pop()
                else:
                    frame.slots[index] = None
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
            if frame.timer is not None:
                frame.timer.reused(frame.path, self.index, self.digest, self.invokable, value)
            return
        if response.raised is not None and response.raised_here and frame.override is not None:
            value = frame.override(response.raised)
            if value is not None:  # None: no override, the call runs again as without one
                if isinstance(value, Ref):
                    value = value()  # a Ref to None answers None
                self._overridden(response.raised, value)
                return
        self.child_template = list(response.children)

    def _site(self) -> providers.CallSite:
        frame = self.frame
        return providers.CallSite(
            frame.store,
            (*frame.path, self.index),
            self.digest,
            self.invokable,
            self.input,
            frame.hooks.run_id,
        )

    def _unrecorded(self) -> None:
        """A call the template does not answer: refused, served by a provider, or run."""
        frame = self.frame
        hooks = frame.hooks
        if hooks.forbid_new:
            raise _new_call_error(frame, self.index, self.invokable, self.input)
        provider = providers.provider_for(hooks, self.invokable)
        if provider is None:
            return
        served = provider.serve(self._site())
        if served is None:
            self.provider = provider  # told of the response when the call returns
            return
        value = _served_value(frame.store, served)
        with frame.store.batch():
            self._record(served)
        frame.slots[self.index] = Invocation(self.request_ref, served)
        self.output = value

    def _overridden(self, raised: Ref[Any], value: Any) -> None:
        """Records `value` as the output of this call, which raised `raised` when recorded."""
        frame = self.frame
        value = _convert_answer(raised, value)
        store = frame.store
        with store.batch():
            new_response = commit_response(store, Response(Output(value), None, False, []))
            self._record(new_response)
        frame.slots[self.index] = Invocation(self.request_ref, new_response)
        self.output = value

    def _record(self, response: Ref[Response]) -> None:
        """Writes this finished call's request and journal entry (inside a batch)."""
        frame = self.frame
        frame.store.commit_tokens(self.request_tokens, self.links, Ref, self.digest)
        sink = frame.sink
        if sink is not None:
            sink.check()
            name = sink.entry_name((*frame.path, self.index), self.digest)
            frame.store.log_name(name, response.digest)

    def start(self) -> tuple[Frame, Any]:
        frame = self.frame
        timer = frame.timer
        if timer is not None:
            if timer.plain:  # no observers: only the time is needed
                self.started = _timing_clock()
            else:
                self.started = timer.start(frame.path, self.index, self.digest, self.invokable)
        child = frame.child(self.index, self.child_template, self)
        return child, _frame.set(child)

    def finish(
        self, child: Frame, output: Any, error: BaseException | None
    ) -> BaseException | None:
        """Checks the finished call and records it in the parent's slot.

        With a run's sink, the request, the response and the journal entry
        are written in one backend call before this returns. Returns the
        exception the call ends with: its own, or the error that prevented
        committing its output.
        """
        frame = self.frame
        store = frame.store
        timer = frame.timer
        ended = _timing_clock() if timer is not None else 0
        with store.batch():
            closed = _close(child, self.invokable, self.input, self.request_tokens, output, error)
            response_ref, error = closed.response, closed.error
            assert response_ref is not None
            self._record(response_ref)
        if self.provider is not None and error is None:
            self.provider.record(self._site(), response_ref)
        if error is not None:
            frame.child_errors.append(error)
        frame.slots[self.index] = Invocation(self.request_ref, response_ref)
        if timer is not None:
            if timer.plain and not timer.below and type(output) in NO_USAGE:
                # The common case, inlined: a tuple per call, formatted when the run stops.
                timer.calls.append((frame.path, self.index, self.digest, self.started, ended))
            else:
                path, index, digest = frame.path, self.index, self.digest
                timer.finish(
                    path, index, digest, self.invokable, self.started, ended, output, error
                )
        return error

    def run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.output
        sink = self.frame.sink
        if sink is not None and sink.waits_for(self):
            return sink.run_waiting(self, lambda: self._body(call, args, kwargs))
        return self._body(call, args, kwargs)

    def _body(self, call: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        with _Running(self) as running:
            running.output = call(*args, **kwargs)
        return running.output

    def answered(self, error: Exception, value: Any, response: Ref[Response]) -> Any:
        """This call, which raised `error`, was answered in place (see `CallSink.run_waiting`)."""
        frame = self.frame
        frame.slots[self.index] = Invocation(self.request_ref, response)
        frame.child_errors = [raised for raised in frame.child_errors if raised is not error]
        return value

    async def run_async(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Awaits ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.output
        with _Running(self) as running:
            running.output = await call(*args, **kwargs)
        return running.output

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


class _Running:
    """The body of a child call: its own frame while it runs, its record when it ends.

    One context manager for both `ChildCall.run` and `ChildCall.run_async`,
    so the bookkeeping of a synchronous and an asynchronous call is the same code.
    """

    __slots__ = ("batch", "call", "child", "output", "token")

    def __init__(self, call: ChildCall) -> None:
        self.call = call
        self.output: Any = None
        self.batch: Any = None

    def __enter__(self) -> _Running:
        call = self.call
        if type(call.invokable) in _WRITTEN_WITH_RECORD:
            self.batch = call.frame.store.batch()
            self.batch.__enter__()
        self.child, self.token = call.start()
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is None:
                self.output = self.call.succeed(self.child, self.token, self.output)
            elif isinstance(error, Exception):
                self.call.fail(self.child, self.token, error)
            else:  # KeyboardInterrupt, SystemExit, cancellation: nothing to record here
                _frame.reset(self.token)
        finally:
            batch, self.batch = self.batch, None
            if batch is not None:
                # The body's writes go with the call's record, which `fail` wrote when
                # the body raised an Exception; an interrupt leaves neither.
                recorded = error is None or isinstance(error, Exception)
                batch.__exit__(*((None, None, None) if recorded else (kind, error, traceback)))


_WRITTEN_WITH_RECORD: Final[set[type]] = set()
"""Invokables whose body's commits are written in one transaction with the call's record."""


def write_with_record(invokable_class: type[T]) -> type[T]:
    """Marks a class of invokables with short bodies: what they commit is written with
    their record, in one transaction (`request_input`'s for_value and its request)."""
    _WRITTEN_WITH_RECORD.add(invokable_class)
    return invokable_class


def _upgrades_to(store: Store, recorded: Ref[Request], tokens: bytes) -> bool:
    """Whether a recorded request, read with today's classes, is the request `tokens` spells.

    A request recorded before a class or function was renamed (with an alias)
    or gained a field with a default has another digest than the same call
    made now; read with the current classes and encoded again, it spells the
    same tokens. Only tried when the digests differ.
    """
    try:
        return encode(store.checkout(recorded))[0] == tokens
    except EnactError:  # types not registered here, or not compatible: not the same call
        return False


def _recorded_ref(recorded: Invocation | OpenCall) -> Ref[Request] | None:
    if isinstance(recorded, OpenCall):
        return None if recorded.request_digest is None else Ref._unchecked(recorded.request_digest)
    return recorded.request


def _served_value(store: Store, served: Ref[Response]) -> Any:
    """The output of a response that a provider serves (a copy, if it could be changed)."""
    response = read_response(store, served)
    assert response.output is not None, "providers serve responses with an output"
    value = response.output.value
    if type(value) not in IMMUTABLE_TYPES:  # the caller gets a copy of its own
        fresh = store.checkout(served).output
        assert fresh is not None
        value = fresh.value
    return value


def _new_call_error(
    frame: Frame, index: int, invokable: Any, input_value: Any
) -> UnrecordedCallError:
    template = frame.template
    nearby: list[tuple[int, str]] = []
    if template is not None:
        for position in range(max(0, index - 2), min(len(template), index + 2)):
            request = _recorded_request(template[position])
            nearby.append(
                (
                    position,
                    "(a call that did not finish)"
                    if request is None
                    else describe_request(request.invokable, request.input, short=True),
                )
            )
    return providers.new_call_error(
        frame.path,
        index,
        nearby,
        invokable,
        input_value,
        recorded_count=None if template is None else len(template),
    )


def _recorded_request(recorded: Invocation | OpenCall) -> Request | None:
    if isinstance(recorded, OpenCall):
        return None
    request: Request = recorded.request()
    return request


def _close(
    frame: Frame,
    invokable: Any,
    input_value: Any,
    request_tokens: bytes | None,
    output: Any,
    error: BaseException | None,
    *,
    commit: bool = True,
) -> Closed:
    """Ends a call's frame: checks it, commits its response (unless `commit` is False).

    Returns the response and the exception the call ends with (its own, a
    mutation of its request, or an output that cannot be stored).

    Raises:
        IncompleteSubinvocationError: A child of the call is still running.
        ReplayError: The call returned without making a recorded call.
    """
    incomplete = frame.first_incomplete()
    if incomplete is not None:
        index, pending = incomplete
        raise incomplete_error(index, pending.invokable, pending.input, error)
    if error is None:
        _check_template_used(frame, invokable)
    frame.closed = True
    if error is None and _request_changed(request_tokens, invokable, input_value):
        error = mutation_error(invokable, frame.path)
    return _commit_response(frame.store, frame, output, error, commit)


def _request_changed(tokens: bytes | None, invokable: Any, input_value: Any) -> bool:
    """Whether a call changed its own invokable or input (checked only if it could have)."""
    if tokens is None or _is_frozen(invokable, input_value):
        return False
    try:
        return encode(Request(invokable, input_value))[0] != tokens
    except EnactError:
        return True


def _check_template_used(frame: Frame, invokable: Any) -> None:
    template = frame.template
    if not frame.strict or template is None:
        return
    for position in range(len(frame.slots), len(template)):
        recorded = template[position]
        if isinstance(recorded, OpenCall) and recorded.request_digest is None:
            continue  # a call of unknown request that never finished: nothing to miss
        raise missing_call_error(
            frame.path, position, _recorded_ref(recorded), frame.store, invokable
        )


@dataclasses.dataclass(slots=True)
class Closed:
    """A finished call as `_close` recorded it.

    Attributes:
        response: The committed response (None if it was not to be committed).
        raised: The committed exception, or None.
        raised_here: Whether the exception started in this call.
        error: The exception the call ends with, or None.
    """

    response: Ref[Response] | None
    raised: Ref[Any] | None
    raised_here: bool
    error: BaseException | None


def _commit_response(
    store: Store, frame: Frame, output: Any, error: BaseException | None, commit: bool
) -> Closed:
    """Commits the response of a finished call; returns it and the call's exception.

    An output that cannot be committed turns into the call's exception, so
    the journal and the caller both see why.
    """
    children = frame.children()
    if error is None:
        if not commit:
            return Closed(None, None, False, None)
        try:
            response = commit_response(store, Response(Output(output), None, False, children))
            return Closed(response, None, False, None)
        except EnactError as commit_error:
            error = commit_error
    raised_here = not any(error is seen for seen in frame.child_errors)
    raised = commit_exception(store, error)
    response_ref = (
        commit_response(store, Response(None, raised, raised_here, children)) if commit else None
    )
    return Closed(response_ref, raised, raised_here, error)


def commit_exception(store: Store, error: BaseException) -> Ref[Any]:
    """Commits the record of `error`: the exception itself if it is a resource, else a
    `TracedException` (type, message, traceback, chain)."""
    try:
        return store.commit(_exception_resource(error))
    except EnactError:  # an exception resource holding values that cannot be stored
        return store.commit(record_exception(error))


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
    return record_exception(error)


def _convert_answer(raised: Ref[Any], value: Any) -> Any:
    """An override for an input request is converted and checked as an answer."""
    exception = raised()
    convert = getattr(exception, "convert_answer", None)
    return value if convert is None else convert(value)


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


def is_async_invokable(invokable: Any) -> bool:
    """Whether calling `invokable` returns an awaitable (``async def`` call or function)."""
    target = getattr(invokable, "__wrapped__", None) or getattr(invokable, "call", None)
    return inspect.iscoroutinefunction(target)


def unbind(invokable: Any, args: Any) -> tuple[Any, Any]:
    """Turns a bound registered method into the registered function and its self."""
    function = getattr(invokable, "__func__", None)
    if function is not None and registry.function_info(function) is not None:
        return function, (invokable.__self__, *(args or ()))
    return invokable, args


def root_input(invokable: Any, args: Any, kwargs: dict[str, Any] | None) -> Any:
    """The input recorded for a top-level call of `invokable` with `args` and `kwargs`."""
    args = tuple(args or ())
    if registry.function_info(invokable) is not None:
        return CallArgs(list(args), dict(kwargs or {}))
    if registry.function_info(invokable) is None and not hasattr(invokable, "_enact_run"):
        raise InvocationError(
            f"{invokable!r} cannot be invoked: decorate the function with @enact.register, "
            "or invoke an enact.Invokable or enact.AsyncInvokable."
        )
    if kwargs or len(args) > 1:
        raise InvocationError(
            f"{invokable!r} takes at most one argument: invoke(invokable, (arg,))."
        )
    input_value = args[0] if args else None
    return input_value() if isinstance(input_value, Ref) else input_value


class RootSink(CallSink, Protocol):
    """What a run does when its root call starts and ends (see `enact.runs`)."""

    def finished(self, outcome: RootOutcome) -> None:
        """Records the end of the root call (returned, raised or asked for input)."""
        ...

    def interrupted(self, error: BaseException) -> None:
        """Records that the root call was stopped by KeyboardInterrupt, SystemExit, ..."""
        ...

    def materializes(self, error: BaseException | None) -> bool:
        """Whether the root response is committed as a tree for this outcome."""
        ...


@dataclasses.dataclass
class RootPlan:
    """What a root invocation runs: the call, its template, and how it is journaled.

    Attributes:
        invokable: What is called.
        input: Its input.
        request_ref: The committed request, if already known.
        template: Recorded children to replay (None: a fresh run).
        strict: See `Invocation.replay`.
        override: See `Invocation.replay`.
        sink: The run that records the calls as they finish, or None.
        durable_calls: Write each call when it finishes (True) or all at the end.
        new_calls: ``"forbid"``: a call without recorded match raises
            `UnrecordedCallError` instead of running (see `Invocation.replay`).
    """

    invokable: Any
    input: Any
    request_ref: Ref[Request] | None = None
    template: list[Any] | None = None
    strict: bool = True
    override: ExceptionOverride | None = None
    sink: RootSink | None = None
    durable_calls: bool = False
    new_calls: providers.NewCalls = "run"


@dataclasses.dataclass
class RootOutcome:
    """How a root call ended.

    Attributes:
        request: The root request.
        invocation: The committed invocation tree, or None when the run chose
            not to commit the root response (see `RootSink.materializes`).
        children: The root's children, in call order.
        output: The output in its box, or None if the call raised.
        raised: The committed exception, or None.
        raised_here: Whether the root call itself raised it (not a child).
        error: The live exception, or None.
    """

    request: Ref[Request]
    invocation: Invocation | None
    children: list[Invocation]
    output: Output | None
    raised: Ref[Any] | None
    raised_here: bool
    error: BaseException | None


class _Root:
    """A running root invocation: entered around the call by both invoke_root variants."""

    def __init__(self, plan: RootPlan) -> None:
        self.plan = plan
        self.store = store = current_store()
        tokens, links = encode(Request(plan.invokable, plan.input))
        self.request_tokens = tokens
        self.request_ref = plan.request_ref or store.commit_tokens(tokens, links, Ref)
        sink = plan.sink
        self.timer: CallTimer | None = getattr(sink, "timer", None)
        self.frame = Frame(
            store,
            plan.template,
            plan.strict,
            plan.override,
            (),
            sink if plan.durable_calls else None,
            hooks=_hooks(plan),
            timer=self.timer,
        )
        self.output: Any = MISSING
        self.outcome: RootOutcome | None = None
        self.started = 0
        self._batch: Any = None
        self._token: Any = None
        self.served: Ref[Response] | None = None
        self.provider: providers.CallProvider | None = None

    def serve(self) -> Any:
        """The call's output from a provider (cassette, cache), or MISSING: then it runs.

        Only a new call (not a replay) is looked up, like a child call without record.
        """
        hooks = self.frame.hooks
        if self.plan.template is not None or not (hooks.active or providers.declared):
            return MISSING
        provider = providers.provider_for(hooks, self.plan.invokable)
        if provider is None:
            return MISSING
        served = provider.serve(self._site())
        if served is None:
            self.provider = provider  # told of the response when the call returns
            return MISSING
        self.served = served
        return _served_value(self.store, served)

    def _site(self) -> providers.CallSite:
        plan = self.plan
        return providers.CallSite(
            self.store,
            (),
            self.request_ref.digest,
            plan.invokable,
            plan.input,
            self.frame.hooks.run_id,
        )

    def __enter__(self) -> _Root:
        if not self.plan.durable_calls:
            self._batch = self.store.batch()
            self._batch.__enter__()
        if self.timer is not None:
            self.started = self.timer.start((), None, self.request_ref.digest, self.plan.invokable)
        self._token = _frame.set(self.frame)
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> bool:
        _frame.reset(self._token)
        ended = _timing_clock() if self.timer is not None else 0
        if error is not None and not isinstance(error, Exception):
            # KeyboardInterrupt, SystemExit, cancellation: what finished is in the
            # journal already (durable calls); the run is marked and the error goes on.
            self._end_batch(error)
            self._timed(ended, None, error)
            if self.plan.sink is not None:
                self.plan.sink.interrupted(error)
            return False
        if isinstance(error, ReplayError | IncompleteSubinvocationError):
            self._end_batch(error)
            self._timed(ended, None, error)
            return False
        try:
            self.outcome = self._finish(error)
        except BaseException as failure:
            self._end_batch(failure)
            raise
        self._end_batch(None)
        self._timed(ended, self.outcome.output, self.outcome.error)
        if self.plan.sink is not None:
            self.plan.sink.finished(self.outcome)
        return True

    def _timed(self, ended: int, output: Output | None, error: BaseException | None) -> None:
        """Tells the run's timer that the root call ended."""
        if self.timer is not None:
            value = None if output is None else output.value
            digest = self.request_ref.digest
            invokable = self.plan.invokable
            self.timer.finish((), None, digest, invokable, self.started, ended, value, error)

    def _end_batch(self, error: BaseException | None) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if error is None:
            batch.__exit__(None, None, None)
        else:
            batch.__exit__(type(error), error, error.__traceback__)

    def _finish(self, error: BaseException | None) -> RootOutcome:
        plan = self.plan
        sink = plan.sink
        if self.served is not None and error is None:
            served = Invocation(self.request_ref, self.served)
            self.store.commit(served)
            children = list(read_response(self.store, self.served).children)
            output_box = Output(self.output)
            return RootOutcome(self.request_ref, served, children, output_box, None, False, None)
        commit = sink is None or sink.materializes(error)
        output = None if error is not None else self.output
        closed = _close(
            self.frame,
            plan.invokable,
            plan.input,
            self.request_tokens,
            output,
            error,
            commit=commit,
        )
        error = closed.error
        invocation = None
        if closed.response is not None:
            invocation = Invocation(self.request_ref, closed.response)
            self.store.commit(invocation)
            if self.provider is not None and error is None:
                self.provider.record(self._site(), closed.response)
        return RootOutcome(
            self.request_ref,
            invocation,
            self.frame.children(),
            None if error is not None else Output(output),
            closed.raised,
            closed.raised_here,
            error,
        )


def _hooks(plan: RootPlan) -> providers.CallHooks:
    """What the calls of a root invocation consult (see `enact.invocations.providers`)."""
    if plan.new_calls not in ("run", "forbid"):
        raise ValueError(f"new_calls must be 'run' or 'forbid', not {plan.new_calls!r}.")
    run_id = getattr(plan.sink, "run_id", None)
    interceptor = providers.current_interceptor()
    if plan.new_calls == "run" and run_id is None and interceptor is None:
        return providers.NO_HOOKS
    return providers.CallHooks(plan.new_calls == "forbid", run_id, interceptor)


def invoke_root(plan: RootPlan) -> RootOutcome:
    """Runs a root invocation (a new journal), optionally replaying a template."""
    root = _Root(plan)
    with root:
        output = root.serve()
        root.output = run_call(plan.invokable, plan.input) if output is MISSING else output
    assert root.outcome is not None
    return root.outcome


async def invoke_root_async(plan: RootPlan) -> RootOutcome:
    """Asynchronous variant of `invoke_root` (synchronous invokables run as in `invoke_root`)."""
    if not is_async_invokable(plan.invokable):
        return invoke_root(plan)
    root = _Root(plan)
    with root:
        output = root.serve()
        root.output = await run_call(plan.invokable, plan.input) if output is MISSING else output
    assert root.outcome is not None
    return root.outcome


def set_root_preparer(prepare: Callable[[RootPlan], RootPlan]) -> None:
    """Installs what turns a replay's plan into a run (`enact.runs` does, at import).

    The engine sits below runs; this hook lets `Invocation.replay` start a
    run without the engine importing the layer above it.
    """
    _prepare_root[0] = prepare


_prepare_root: list[Callable[[RootPlan], RootPlan]] = [lambda plan: plan]


def _materialized(outcome: RootOutcome) -> Invocation:
    if outcome.invocation is None:
        raise InvocationError("The run did not commit its invocation tree.")
    return outcome.invocation
