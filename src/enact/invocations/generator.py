"""`InvocationGenerator`: drive a run step by step, answering its input requests here.

A run driven by a generator runs its program in a thread of its own. When the
program asks for input, the request is journaled exactly as a stopped run's
would be and the run's head moves to ``waiting`` (so any process may answer
it), but the program's stack stays where it is: the generator yields the
request, and `set_input` claims the run back with the answer in one
compare-and-set and lets the program go on from the `request_input` call. An
answer therefore costs a few small writes, not a replay of everything before
it (answering n requests is linear in n, not quadratic).

Whatever happens to the process while it waits, the store holds a waiting run
like any other: another process can answer it (this generator then raises
`enact.RunConflictError` and its program is dropped without writing
anything), and a generator over a run answered elsewhere, or built with
`from_run`, continues by replaying the journal once, then waits in place too.
A program that cannot wait in place (an asynchronous one, a store with
``durability="end"``, a request made from a worker thread) stops at each
request and is replayed after each answer, as `enact.answer` does.
"""

from __future__ import annotations

import contextvars
import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from enact.errors import InvocationError, RunConflictError
from enact.invocations.engine import (
    ChildCall,
    Frame,
    Invocation,
    invoke_root,
    invoke_root_async,
    is_async_invokable,
    positional_args,
    root_input,
    unbind,
)
from enact.invocations.inputs import (
    InputRequest,
    RequestInput,
    answer,
    run_input_requests,
)
from enact.invocations.records import Response
from enact.invocations.responses import commit_response, read_response
from enact.invocations.runs import (
    Run,
    RunHandle,
    check_sync_here,
    claim,
    get_run,
    run_claimed,
    run_plan,
)
from enact.refs import Ref
from enact.stores.store import current_store

Pending = tuple[tuple[int, ...], InputRequest, str]
"""A pending request: its child path, the request, and the digest of the request call."""


class _Abandoned(BaseException):
    """Ends a waiting program whose run this process gave up; nothing is written after it."""


class _Program:
    """A run's program in its own thread, waiting in place at each input request."""

    def __init__(self, handle: RunHandle) -> None:
        self.handle = handle
        self.thread: threading.Thread | None = None
        self.to_driver: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.to_program: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.finalizer: weakref.finalize[Any, Any] | None = None
        handle.live = self

    def start(self, body: Callable[[], object]) -> None:
        context = contextvars.copy_context()

        def main() -> None:
            try:
                context.run(body)
            except _Abandoned:
                return
            except BaseException as error:  # handed to the driver, which raises it
                self.to_driver.put(("error", error))
                return
            finally:
                self.handle.store.release_thread()  # this thread's connection ends with it
            self.to_driver.put(("done",))

        self.thread = threading.Thread(target=main, name="enact-program", daemon=True)
        self.thread.start()

    # In the program's thread ------------------------------------------------------

    def waits_for(self, call: ChildCall) -> bool:
        """`LiveWaiter.waits_for`: a `request_input` call made by the program's own thread."""
        return type(call.invokable) is RequestInput and threading.current_thread() is self.thread

    def journal_wait(self, handle: RunHandle, call: ChildCall, error: Exception) -> Ref[Any] | None:
        """`LiveWaiter.journal_wait`: the open callers' records, in the request's write."""
        if not isinstance(error, InputRequest):
            return None
        return _journal_open_callers(handle, call, error)

    def lost(self, why: RunConflictError) -> None:
        """`LiveWaiter.lost`: the driver gets the conflict; the program ends, writing nothing."""
        self.to_driver.put(("error", why))
        raise _Abandoned from None

    def block(
        self, handle: RunHandle, call: ChildCall, request: Exception
    ) -> tuple[Any, Ref[Response]]:
        """`LiveWaiter.block`: hands the request to the driver and waits for its answer.

        The answer claims the run back here, in the program's thread, not in the
        driver's: both writes of a request then go through this thread's
        connection, whose page cache a write from another connection (the
        driver's) would invalidate each time.
        """
        self.to_driver.put(("waiting", ((*call.frame.path, call.index), request, call.digest)))
        message = self.to_program.get()
        if message[0] != "answer":  # the generator was dropped: the run stays waiting
            handle.abandon(
                RunConflictError(
                    f"The generator driving run {handle.run_id!r} was dropped while the run "
                    "waited for input; the run stays waiting for anyone to answer.",
                    run_id=handle.run_id,
                    status="waiting",
                    head=handle.head.digest,
                )
            )
            raise _Abandoned
        _, path, digest, value = message
        try:
            response = handle.resume_here(path, digest, value)
        except RunConflictError as err:  # answered elsewhere: the program ends, writing nothing
            handle.abandon(err)
            self.to_driver.put(("lost", err))
            raise _Abandoned from None
        return value, response

    # In the driver's thread -------------------------------------------------------

    def next_stop(self) -> tuple[Any, ...]:
        """Waits until the program asks for input, ends, or fails; Ctrl-C stops it."""
        interrupted = False
        while True:
            try:
                return self.to_driver.get()
            except KeyboardInterrupt:
                if interrupted or self.thread is None:
                    raise
                interrupted = True  # a second Ctrl-C stops waiting for the program
                _raise_in(self.thread, KeyboardInterrupt)

    def answer(self, path: tuple[int, ...], digest: str, value: Any) -> tuple[Any, ...]:
        """Hands the answer to the program, which claims the run back with it (see
        `block`) and goes on to its next stop.

        Raises:
            RunConflictError: The head moved on (another process answered or
                continued the run); the program ended without running on.
        """
        self.to_program.put(("answer", path, digest, value))
        stop = self.next_stop()
        if stop[0] == "lost":
            raise stop[1]
        return stop


def _loop_running() -> bool:
    asyncio = sys.modules.get("asyncio")  # no event loop runs before asyncio is imported
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _raise_in(thread: threading.Thread, error: type[BaseException]) -> None:
    """Raises `error` in `thread` at its next Python instruction (Ctrl-C for the program)."""
    if thread.ident is not None:
        import ctypes  # on first use: most programs are never interrupted

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(error)
        )


def _journal_open_callers(handle: RunHandle, call: ChildCall, error: InputRequest) -> Ref[Any]:
    """Journals the calls around a nested request as unwinding would have recorded them.

    Each open caller below the root gets the record it would have if the
    request had propagated: no output, the request as its exception, and its
    children so far. One record, the outermost, holds them all. A request made
    by the root itself needs none: the waiting state holds it.
    """
    frame: Frame = call.frame
    store = frame.store
    position = call.index
    inner: Invocation = frame.slots[position]
    raised = read_response(store, inner.response).raised
    assert raised is not None  # the request's own record, just written
    nested = False
    while frame.path and frame.call is not None and frame.parent is not None:
        nested = True
        children = [
            inner if index == position else slot
            for index, slot in enumerate(list(frame.slots))
            if index == position or isinstance(slot, Invocation)
        ]
        owner = frame.call
        store.commit_tokens(owner.request_tokens, owner.links, Ref, owner.digest)
        response = commit_response(store, Response(None, raised, False, children))
        inner = Invocation(owner.request_ref, response)
        position = frame.path[-1]
        frame = frame.parent
    if nested:
        store.log_name(handle.entry_name((position,), inner.request.digest), inner.response.digest)
    return raised


class InvocationGenerator:
    """Runs an invocation step by step, stopping at each input request.

    Iterating yields the pending `InputRequest`; answer it with `set_input`
    (or `send`), and the next iteration continues the run. `invocation` is
    the latest state of the journal.

    A generator made with `from_callable` drives one run (see `enact.runs`):
    the program waits in place at each request (see the module docstring), and
    each answer moves the same run's head, by compare-and-set.
    """

    def __init__(
        self,
        invocation: Invocation | None = None,
        *,
        start: Callable[[], Run | _Program] | None = None,
    ) -> None:
        if (invocation is None) == (start is None):
            raise InvocationError("Give InvocationGenerator an invocation or a start function.")
        self._invocation = invocation
        self._start = start
        self._run: Run | None = None
        self._program: _Program | None = None
        self._pending: Pending | None = None
        self._legacy_pending: InputRequest | None = None
        self._answered = False
        self._answer: tuple[tuple[int, ...], str, Any] | None = None

    @classmethod
    def from_callable(
        cls,
        fn: Any,
        args: Any = (),
        kwargs: dict[str, Any] | None = None,
        *,
        run_id: str | None = None,
    ) -> InvocationGenerator:
        """A generator that starts a run of `fn` (with ``*args, **kwargs``) on the first step."""
        args = positional_args(args)
        kwargs = dict(kwargs or {})

        def start() -> Run | _Program:
            invokable, call_args = unbind(fn, args)
            if is_async_invokable(invokable) and _loop_running():
                raise InvocationError(
                    f"{fn!r} is asynchronous and an event loop is running here: an "
                    "InvocationGenerator runs it in an event loop of its own. Drive it from "
                    "synchronous code, or use `await enact.invoke_async(...)` and "
                    "`enact.answer(...)` / `await enact.resume_async(...)`."
                )
            input_value = root_input(invokable, call_args, kwargs)
            plan = run_plan(invokable, input_value, run_id=run_id, durability=None, trees=False)
            if plan.sink is None:  # a store without names: no run, plain journal
                raise InvocationError(
                    "InvocationGenerator.from_callable needs a store that keeps names "
                    "(runs live in names); this backend has none."
                )
            assert isinstance(plan.sink, RunHandle)
            if is_async_invokable(invokable):
                import asyncio

                asyncio.run(invoke_root_async(plan))  # stops at each request; replayed per answer
            elif plan.durable_calls:
                program = _Program(plan.sink)
                program.start(lambda: invoke_root(plan))
                return program
            else:
                invoke_root(plan)
            return get_run(plan.sink.run_id, store=plan.sink.store)

        return cls(start=start)

    @classmethod
    def from_invocation(cls, invocation: Invocation) -> InvocationGenerator:
        """A generator that continues a journaled invocation (e.g. from another process)."""
        return cls(invocation)

    @classmethod
    def from_run(cls, run: Run | str) -> InvocationGenerator:
        """A generator that continues a run (by id, or as read)."""
        current = get_run(run) if isinstance(run, str) else run
        return cls(start=lambda: current)

    @property
    def run(self) -> Run | None:
        """The run this generator drives (None before the first step, or for an invocation)."""
        return self._run

    @property
    def invocation(self) -> Invocation:
        """The latest state of the journal."""
        if self._run is not None:
            invocation = self._run.invocation()
            if invocation is not None:
                return invocation
        if self._invocation is None:
            raise InvocationError("The generator has not started yet: iterate over it first.")
        return self._invocation

    def __iter__(self) -> Iterator[InputRequest]:
        return self

    def __next__(self) -> InputRequest:
        if self._invocation is not None and self._run is None:
            return self._next_legacy()
        if self._run is None:
            assert self._start is not None
            started = self._start()
            if isinstance(started, _Program):
                self._stopped(started, started.next_stop())
            else:
                self._run = started
        elif self._answered:
            self._answered = False
            assert self._answer is not None
            path, digest, value = self._answer
            self._answer = None
            program, self._program = self._program, None
            if program is not None:
                self._stopped(program, program.answer(path, digest, value))
            else:
                self._continue(path, digest, value)
        elif self._pending is not None:
            raise InvocationError(
                "The pending input request has not been answered: call set_input(value) "
                "before asking for the next one."
            )
        if self._pending is None and self._run is not None and self._run.status == "waiting":
            pending = run_input_requests(self._run)  # a run that stopped instead of waiting
            if pending:
                self._pending = pending[0]
        if self._pending is not None:
            return self._pending[1]
        raise StopIteration

    def _continue(self, path: tuple[int, ...], digest: str, value: Any) -> None:
        """Claims a stopped run with the answer and runs it (waiting in place from now on)."""
        run = self._run
        assert run is not None
        check_sync_here(run)
        handle, before = claim(
            run, expected=run.head, trees=False, event="answered", answer=(path, digest, value)
        )
        request = run.store.checkout(run.state.request)
        if is_async_invokable(request.invokable):
            run_claimed(handle, before, strict=True)
            self._run = get_run(handle.run_id, store=handle.store)
            return
        program = _Program(handle)
        program.start(lambda: run_claimed(handle, before, strict=True))
        self._stopped(program, program.next_stop())

    def _stopped(self, program: _Program, stop: tuple[Any, ...]) -> None:
        """Takes in where the program stopped: waiting for input, done, or failed."""
        handle = program.handle
        kind = stop[0]
        if kind == "error":
            self._run = get_run(handle.run_id, store=handle.store)
            raise stop[1]
        self._run = Run(handle.store, handle.head, handle.state)
        if kind == "waiting":
            self._pending = stop[1]
            self._program = program
            if program.finalizer is None:
                # Dropping the generator while its program waits lets the program go.
                program.finalizer = weakref.finalize(self, program.to_program.put, ("abandon",))
        else:
            self._pending = None
            if program.finalizer is not None:
                program.finalizer.detach()
            if program.thread is not None:
                program.thread.join()

    def _next_legacy(self) -> InputRequest:
        assert self._invocation is not None
        if self._answered:
            self._invocation = self._invocation.replay()
            self._answered = False
        elif self._legacy_pending is not None:
            raise InvocationError(
                "The pending input request has not been answered: call set_input(value) "
                "before asking for the next one."
            )
        response = read_response(current_store(), self._invocation.response)
        raised = None if response.raised is None else response.raised()
        if isinstance(raised, InputRequest):
            self._legacy_pending = raised
            return raised
        self._legacy_pending = None
        raise StopIteration

    def set_input(self, value: Any) -> None:
        """Answers the pending input request with `value`.

        Raises:
            AnswerError: `value` is not an answer of the requested type (see
                `enact.invocations.answers`); nothing is recorded.
            InvocationError: No request is pending.
        """
        if self._run is not None:
            if self._pending is None:
                raise InvocationError("No input request is pending: iterate to get one first.")
            path, request, digest = self._pending
            value = request.convert_answer(value)
            # Kept until the next step, which claims the run and answers it in one
            # compare-and-set.
            self._answer = (path, digest, value)
            self._pending = None
            self._answered = True
            return
        if self._legacy_pending is None or self._invocation is None:
            raise InvocationError("No input request is pending: iterate to get one first.")
        self._invocation = answer(self._invocation, value)
        self._legacy_pending = None
        self._answered = True

    def send(self, value: Any) -> InputRequest:
        """Answers the pending request and returns the next one (StopIteration at the end)."""
        self.set_input(value)
        return next(self)
