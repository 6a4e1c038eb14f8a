"""Frames and child calls: the state of a running invocation and the calls it makes.

While an invocation runs, a `Frame` in a context variable collects the child
calls its code makes. Each call of an invokable or registered function inside
it becomes a `ChildCall`: its slot is reserved when the call is made (so the
children of ``asyncio.gather`` keep the order the program made them in), it
runs with a frame of its own, and when it finishes its request and response
are committed; with a run's `CallSink`, in one backend call with its journal
entry, before its caller sees the result.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, Protocol, TypeVar

from enact.errors import IncompleteSubinvocationError, ReplayError, UnknownTypeError
from enact.invocations import providers
from enact.invocations.diagnostics import (
    incomplete_error,
    late_call_error,
    missing_call_error,
    mutation_error,
    replay_error,
    unreadable_record_error,
)
from enact.invocations.engine._closing import Closed, commit_outcome, request_changed
from enact.invocations.engine._invocation import ExceptionOverride, Invocation, OpenCall
from enact.invocations.engine._matching import (
    convert_answer,
    new_call_error,
    own_copy,
    recorded_ref,
    request_tokens,
    served_value,
    upgrades_to,
)
from enact.invocations.exceptions import is_cancellation, raised_again, records_cancellation
from enact.invocations.records import Output, Request, Response
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
from enact.stores.store import Store

T = TypeVar("T")


class CallSink(Protocol):
    """Where a run records each finished call (see `enact.runs`)."""

    def entry_name(self, path: tuple[int, ...], request_digest: str) -> str:
        """The journal name under which a finished call's response is recorded."""
        ...

    def check(self) -> None:
        """Raises if this process may no longer write the run (its lease was lost);
        called before each call starts and when it is recorded."""
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


_slots_lock: Final = threading.Lock()
"""Guards reserving a slot in a frame (calls made from worker threads reserve them
concurrently); one lock for all frames, held for an append, instead of one made per call."""

if hasattr(os, "register_at_fork"):
    # A thread of the parent may have held it at the fork: the child's own runs need it.
    os.register_at_fork(after_in_child=_slots_lock._at_fork_reinit)  # type: ignore[attr-defined]


class Frame:
    """The state of one running invocation: its children so far and its template."""

    __slots__ = (
        "__weakref__",  # a thread started inside the call refers to its frame weakly
        "call",
        "child_errors",
        "closed",
        "hooks",
        "override",
        "parent",
        "path",
        "rerun_raised",
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
        rerun_raised: bool = False,
    ) -> None:
        # Where the frame is in its tree, and its children so far.
        self.parent = parent
        self.call = call
        self.path = path
        self.closed = False
        self.slots: list[Any] = []
        self.child_errors: list[BaseException] = []
        # How its children replay: against `template` (None for a new call), and by
        # settings of the whole tree that `child` passes on. With `rerun_raised`,
        # recorded calls that raised run again instead of raising their record
        # again (a worker's retry of a failed run).
        self.template = template
        self.strict = strict
        self.override = override
        self.rerun_raised = rerun_raised
        # Where they are recorded and read back (settings of the whole tree too).
        self.store = store
        self.responses = responses = response_memo(store)
        self.sink = sink
        self.hooks = hooks
        self.timer = timer  # the run's timings and observers (enact.invocations.timings)
        if template is not None and len(template) > 1:
            # A replay reads every recorded child's response: one backend call for all.
            store.prefetch(
                recorded.response
                for recorded in template
                if isinstance(recorded, Invocation) and recorded.response.digest not in responses
            )

    def children(self) -> list[Invocation]:
        return [slot for slot in self.slots if isinstance(slot, Invocation)]

    def first_incomplete(self) -> tuple[int, ChildCall] | None:
        """The first child call that started and has not finished, and its index."""
        for index, slot in enumerate(self.slots):
            if slot.__class__ is ChildCall:
                return index, slot
        return None

    def close(
        self,
        invokable: Any,
        input_value: Any,
        request_tokens: bytes | None,
        output: Any,
        error: BaseException | None,
        *,
        commit: bool = True,
    ) -> Closed:
        """Ends this frame's call: checks it, commits its response (unless `commit` is False).

        Returns the response and the exception the call ends with (its own, a
        mutation of its request, or an output that cannot be stored).

        Raises:
            IncompleteSubinvocationError: A child of the call is still running.
            ReplayError: The call returned without making a recorded call.
        """
        with _slots_lock:  # no worker reserves a slot between the check and the close
            incomplete = self.first_incomplete()
            if incomplete is None:
                self.closed = True
        if incomplete is not None:
            if self.sink is not None:
                self.sink.check()  # a run lost to another process says so, not its child
            index, pending = incomplete
            raise incomplete_error(index, pending.invokable, pending.input, error)
        if error is None:
            self._check_template_used(invokable)
        if error is None and request_changed(request_tokens, invokable, input_value):
            error = mutation_error(invokable, self.path)
        return commit_outcome(self.store, self.children(), self.child_errors, output, error, commit)

    def _check_template_used(self, invokable: Any) -> None:
        template = self.template
        if not self.strict or template is None:
            return
        for position in range(len(self.slots), len(template)):
            recorded = template[position]
            if isinstance(recorded, OpenCall) and recorded.request_digest is None:
                continue  # a call of unknown request that never finished: nothing to miss
            raise missing_call_error(
                self.path, position, recorded_ref(recorded), self.store, invokable
            )

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
            rerun_raised=self.rerun_raised,
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

RAISES: Final = object()
"""`ChildCall.output` of a replayed call that raises its recorded exception again."""


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
        "raises",
        "request_tokens",
        "started",
    )

    def __init__(self, frame: Frame, invokable: Any, input_value: Any) -> None:
        self.frame = frame
        self.invokable = invokable
        self.input = input_value
        with _slots_lock:  # the call holds its slot until it has a record
            if frame.closed:  # a thread or task that outlived the call it was started in
                raise late_call_error(invokable, frame.path)
            self.index = index = len(frame.slots)
            frame.slots.append(self)
        try:
            tokens, links = request_tokens(invokable, input_value)
            self.digest = digest = hashlib.sha256(tokens).hexdigest()
            self.request_tokens: bytes = tokens
            self.links = links
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
                elif (
                    recorded.request.digest == digest
                    or upgrades_to(frame.store, recorded.request, tokens)
                ) and self._replay_readable(recorded):
                    return
                if frame.strict:
                    raise replay_error(
                        frame.path,
                        index,
                        recorded_ref(recorded),
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
            with _slots_lock:
                if frame.slots and frame.slots[-1] is self:
                    frame.slots.pop()
                else:
                    frame.slots[index] = None
            raise

    @property
    def request_ref(self) -> Ref[Request]:
        """A ref to this call's request (made when needed: a replayed call never is)."""
        return Ref._unchecked(self.digest)

    def _replay_readable(self, recorded: Invocation) -> bool:
        """`_replay`, for a record this process can read; False if it cannot and the
        replay is not strict (the record is skipped: the call runs).

        Raises:
            ReplayError: A type in the record is not registered here, or changed
                incompatibly (the code changed since the journal was written).
        """
        frame = self.frame
        try:
            self._replay(recorded)
        except UnknownTypeError as err:  # IncompatibleTypeError included
            frame.slots[self.index] = self
            self.output = MISSING
            self.child_template = None
            if frame.strict:
                raise unreadable_record_error(
                    frame.path, self.index, self.invokable, self.input, err
                ) from err
            return False
        return True

    def _replay(self, recorded: Invocation) -> None:
        """Uses a recorded child whose request matches this call."""
        frame = self.frame
        response = frame.responses.get(recorded.response.digest)
        if response is None:
            response = read_response(frame.store, recorded.response)
        if response.output is not None:
            frame.slots[self.index] = recorded
            value = own_copy(frame.store, recorded.response, response.output.value)
            self.output = value
            if frame.timer is not None:
                frame.timer.reused(frame.path, self.index, self.digest, self.invokable, value)
            return
        raised = response.raised
        if raised is not None and response.raised_here:
            if frame.override is not None:
                value = frame.override(raised)
                if value is not None:  # None: no override, the record is raised again
                    if isinstance(value, Ref):
                        value = value()  # a Ref to None answers None
                    self._overridden(raised, value)
                    return
            if not frame.rerun_raised:
                record = frame.store.checkout(raised)
                if records_cancellation(record):
                    # A cancelled call (a timeout) has no result: it runs again.
                    self.child_template = list(response.children)
                    return
                # A recorded exception is a recorded result: raised again, the call not run.
                frame.slots[self.index] = recorded
                self.raises = raised_again(record)
                self.output = RAISES
                if frame.timer is not None:
                    frame.timer.reused(frame.path, self.index, self.digest, self.invokable, None)
                return
        self.child_template = list(response.children)

    def replayed(self) -> Any:
        """The recorded output of a replayed call, or its recorded exception raised again."""
        if self.output is not RAISES:
            return self.output
        error = self.raises
        self.frame.child_errors.append(error)  # the caller passing it on did not raise it
        raise error

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
            raise new_call_error(frame.template, frame.path, self.index, self.invokable, self.input)
        provider = providers.provider_for(hooks, self.invokable)
        if provider is None:
            return
        served = provider.serve(self._site())
        if served is None:
            self.provider = provider  # told of the response when the call returns
            return
        value = served_value(frame.store, served)
        with frame.store.batch():
            self._record(served)
        frame.slots[self.index] = Invocation(self.request_ref, served)
        self.output = value

    def _overridden(self, raised: Ref[Any], value: Any) -> None:
        """Records `value` as the output of this call, which raised `raised` when recorded."""
        frame = self.frame
        value = convert_answer(raised, value)
        store = frame.store
        with store.batch():
            new_response = commit_response(store, Response(Output(value), None, False, []))
            self._record(new_response)
        frame.slots[self.index] = Invocation(self.request_ref, new_response)
        self.output = value if type(value) in IMMUTABLE_TYPES else served_value(store, new_response)

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
        sink = frame.sink
        if sink is not None:
            sink.check()  # a run another process took over starts no new call here
        timer = frame.timer
        if timer is not None:
            if timer.plain:  # no observers: only the time is needed
                self.started = _timing_clock()
            else:
                self.started = timer.start(frame.path, self.index, self.digest, self.invokable)
        child = frame.child(self.index, self.child_template, self)
        return child, _frame.set(child)

    def finish(self, child: Frame, output: Any, error: BaseException | None) -> Closed:
        """Checks the finished call and records it in the parent's slot.

        With a run's sink, the request, the response and the journal entry
        are written in one backend call before this returns. Returns how it
        was recorded: the exception the call ends with (its own, or the
        error that prevented committing its output), or its output as
        recorded.
        """
        frame = self.frame
        store = frame.store
        timer = frame.timer
        ended = _timing_clock() if timer is not None else 0
        with store.batch(call_record=True):
            closed = child.close(self.invokable, self.input, self.request_tokens, output, error)
            response_ref, error = closed.response, closed.error
            assert response_ref is not None
            self._record(response_ref)
        if self.provider is not None and error is None:
            self.provider.record(self._site(), response_ref)
        if error is not None:
            frame.child_errors.append(error)
        frame.slots[self.index] = Invocation(self.request_ref, response_ref)
        if timer is not None:
            if timer.fast and type(output) in NO_USAGE:
                # The common case, inlined: a row per call, formatted when the run stops.
                timer.add((frame.path, self.index, self.digest, self.started, ended))
            else:
                path, index, digest = frame.path, self.index, self.digest
                timer.finish(
                    path, index, digest, self.invokable, self.started, ended, output, error
                )
        return closed

    def run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.replayed()
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
        return value if type(value) in IMMUTABLE_TYPES else served_value(frame.store, response)

    async def run_async(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Awaits ``call(*args, **kwargs)`` as this child (or returns the replayed output)."""
        if self.output is not MISSING:
            return self.replayed()
        with _Running(self) as running:
            running.output = await call(*args, **kwargs)
        return running.output

    def fail(self, child: Frame, token: Any, error: BaseException) -> None:
        """Ends the child's frame and journals the exception it raised (or its cancellation)."""
        _frame.reset(token)
        if isinstance(error, ReplayError | IncompleteSubinvocationError):
            return
        if not isinstance(error, Exception) and child.first_incomplete() is not None:
            # Cancelled while calls it made are still being cancelled (Ctrl-C in
            # asyncio.run, a gather cancelled around it): not recorded, as an interrupt
            # is not, so that the cancellation goes on; a resume runs it again.
            return
        try:
            self.finish(child, None, error)
        except (ReplayError, IncompleteSubinvocationError):
            raise
        except Exception:
            # Journaling the exception failed too (e.g. a RecursionError that the
            # record's own encoding hits again): give up the slot, so the caller
            # sees the call's own exception rather than a pending child.
            if self.frame.slots[self.index] is self:
                self.frame.slots[self.index] = None

    def succeed(self, child: Frame, token: Any, output: Any) -> Any:
        """Ends the child's frame and journals its output; returns the output as recorded.

        The caller gets what a replay of the call would return (a fresh copy,
        dicts in stored order), so the first run and every replay see equal
        values in the same order.
        """
        _frame.reset(token)
        closed = self.finish(child, output, None)
        if closed.error is not None:
            raise closed.error
        return closed.output


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
            self.batch = call.frame.store.batch(keep_on_exception=True)
            self.batch.__enter__()
        self.child, self.token = call.start()
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is None:
                self.output = self.call.succeed(self.child, self.token, self.output)
            elif isinstance(error, Exception) or is_cancellation(error):
                # A cancelled call is recorded as such, in its place: its caller may go
                # on (``asyncio.wait_for`` turns it into a TimeoutError there), and a
                # replay runs it again (it has no result).
                self.call.fail(self.child, self.token, error)
            else:  # KeyboardInterrupt, SystemExit: the run stops, nothing to record here
                _frame.reset(self.token)
        finally:
            batch, self.batch = self.batch, None
            if batch is not None:
                # The body's writes go with the call's record, which `fail` wrote when
                # the body raised an Exception; an interrupt leaves neither.
                batch.__exit__(kind, error, traceback)


_WRITTEN_WITH_RECORD: Final[set[type]] = set()
"""Invokables whose body's commits are written in one transaction with the call's record."""


def write_with_record(invokable_class: type[T]) -> type[T]:
    """Marks a class of invokables with short bodies: what they commit is written with
    their record, in one transaction (`request_input`'s for_value and its request)."""
    _WRITTEN_WITH_RECORD.add(invokable_class)
    return invokable_class
