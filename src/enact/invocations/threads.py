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

Outside a running invocation nothing changes: the patched ``submit`` only
looks up a context variable.
"""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, Final

from enact import registry
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


def install() -> None:
    """Makes `ThreadPoolExecutor.submit` carry the running invocation (idempotent)."""
    concurrent.futures.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]


install()
