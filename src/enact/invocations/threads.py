"""Journaled calls from worker threads.

Sync code usually calls models in parallel with a
`concurrent.futures.ThreadPoolExecutor`. A worker thread does not inherit
the context of the thread that submitted the work, so without help a
journaled call made there would see no running invocation and silently go
unjournaled. enact therefore makes `ThreadPoolExecutor.submit` (and so
``map``) carry the submitting thread's running invocation into the worker:
calls made there become children of the invocation that submitted them.

When the submitted function is itself journaled (a registered function or
an invokable), its slot among the children is reserved at ``submit``, in
program order, so a replay matches the calls whatever order the workers
run in. Calls made inside a plain submitted function are recorded in the
order they start.

Threads started with `threading.Thread` inside a running invocation are
handled the same way: a registered function given as the thread's target has
its slot reserved at ``start``, and journaled calls made by a plain target
become children of the invocation that started the thread, in the order they
start. Such a thread refers to that invocation weakly; a journaled call it
makes after the invocation has returned cannot be journaled in it, and is an
`InvocationError` rather than a call that silently goes unjournaled. (The
workers of a `ThreadPoolExecutor`, which serve many submitters, are left to
``submit``.)

Outside a running invocation nothing changes: the patched ``submit`` and
``start`` only look up a context variable.

A child process forked while an invocation runs (a `ProcessPoolExecutor`'s
worker, `multiprocessing` with the ``fork`` start method) inherits a copy of
that invocation, which its parent never sees: a journaled call there cannot
be journaled, and is an `InvocationError` too. The child starts with no
running invocation, so it may start runs of its own with `enact.invoke`.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import functools
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final

from enact import registry
from enact.errors import InvocationError
from enact.invocations.diagnostics import describe
from enact.invocations.engine import (
    ChildCall,
    current_frame,
    is_async_invokable,
    reset_frame,
    run_call,
    set_frame,
)
from enact.invocations.records import CallArgs

_original_submit: Final = concurrent.futures.ThreadPoolExecutor.submit


def _submit(
    self: concurrent.futures.ThreadPoolExecutor,
    fn: Callable[..., Any],
    /,
    *args: Any,
    **kwargs: Any,
) -> concurrent.futures.Future[Any]:
    frame = current_frame()
    if frame is None:
        return _original_submit(self, fn, *args, **kwargs)
    call = _reserve(frame, fn, args, kwargs)

    def in_worker() -> Any:
        token = set_frame(frame)
        try:
            if call is not None:
                return call()
            return fn(*args, **kwargs)
        finally:
            reset_frame(token)

    return _original_submit(self, in_worker)


def _reserve(frame: Any, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Reserves the child slot of a journaled `fn` now, in submission order."""
    if registry.function_info(fn) is not None:
        if getattr(fn, "__wrapped__", None) is None:
            return None
        child = ChildCall(frame, fn, CallArgs(list(args), dict(kwargs)))
        return functools.partial(child.run, fn.__wrapped__, *args, **kwargs)
    run = getattr(fn, "_enact_run", None)
    if run is not None and not is_async_invokable(fn) and not kwargs and len(args) <= 1:
        input_value = args[0] if args else None
        child = ChildCall(frame, fn, input_value)
        return functools.partial(child.run, run_call, fn, input_value)
    return None


_original_start: Final = threading.Thread.start
_POOL_WORKER: Final = getattr(concurrent.futures.thread, "_worker", None)
"""The target of a `ThreadPoolExecutor`'s worker threads (`_submit` serves those)."""


def _start(self: threading.Thread) -> None:
    frame = current_frame()
    target = getattr(self, "_target", None)
    if frame is not None and target is not _POOL_WORKER:
        fields = vars(self)  # the target and its arguments, as `Thread.run` reads them
        if target is not None:
            args, kwargs = tuple(fields.get("_args", ())), dict(fields.get("_kwargs") or {})
            call = _reserve(frame, target, args, kwargs)
            if call is not None:
                fields.update(_target=_in_frame(frame, call), _args=(), _kwargs={})
        fields["_enact_origin"] = weakref.ref(frame)
    _original_start(self)


def _in_frame(frame: Any, call: Callable[[], Any]) -> Callable[[], Any]:
    """`call` run with `frame` as the running invocation (as a pool worker runs it)."""

    def in_thread() -> Any:
        token = set_frame(frame)
        try:
            return call()
        finally:
            reset_frame(token)

    return in_thread


def thread_frame(invokable: Any) -> Any:
    """The running invocation a journaled call of `invokable` belongs to when this thread
    has none of its own: the one that started it with `threading.Thread`, or None.

    Raises:
        InvocationError: This thread was started inside an invocation that has returned.
    """
    if _forked_inside:
        raise _forked_call_error(invokable)
    thread = threading.current_thread()
    origin = getattr(thread, "_enact_origin", None)
    if origin is None:
        return None
    frame = origin()
    if frame is None or frame.closed:
        raise InvocationError(
            f"{describe(invokable)} was called from thread {thread.name!r}, which was started "
            "inside a journaled call that has returned since: the call cannot be journaled "
            "in it. Join the thread before that call returns, or start the thread outside "
            "the invocation."
        )
    return frame


_forked_inside: list[int] = []
"""In a process forked while its forking thread ran an invocation: the parent's pid."""


def _after_fork_in_child() -> None:
    """Forgets the invocation a forked child inherited (see the module docstring)."""
    thread = threading.current_thread()
    started_in_run = getattr(thread, "_enact_origin", None) is not None
    if current_frame() is None and not started_in_run:
        return
    set_frame(None)  # this context is the one the child goes on in
    if started_in_run:
        thread._enact_origin = None  # type: ignore[attr-defined]
    _forked_inside.append(os.getppid())


def _forked_call_error(invokable: Any) -> InvocationError:
    return InvocationError(
        f"{describe(invokable)} was called in process {os.getpid()}, which process "
        f"{_forked_inside[0]} forked while it ran an invocation (a ProcessPoolExecutor "
        "worker, or multiprocessing): enact journals the calls of an invocation's own "
        "process (its threads and asyncio tasks), not those of child processes, and the "
        "call did not run. Make journaled calls in parallel from a ThreadPoolExecutor or "
        "asyncio; give the process pool functions that are not registered; or have the "
        "child start a run of its own with enact.invoke(..., run_id=...)."
    )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def install() -> None:
    """Makes `ThreadPoolExecutor.submit` and `threading.Thread.start` carry the running
    invocation (idempotent)."""
    concurrent.futures.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]
    threading.Thread.start = _start  # type: ignore[method-assign]


install()
