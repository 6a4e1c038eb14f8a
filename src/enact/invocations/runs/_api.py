"""Starting and continuing runs: invoke, resume, fork, answers."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypedDict, TypeVar, Unpack, overload

from enact.errors import (
    InvocationError,
    check_keywords,
)
from enact.invocations.diagnostics import describe
from enact.invocations.engine import (
    Invocation,
    RootOutcome,
    RootPlan,
    current_frame,
    invoke_root,
    invoke_root_async,
    is_async_invokable,
    root_input,
    set_root_preparer,
    unbind,
)
from enact.invocations.records import Output, Response
from enact.invocations.responses import commit_response
from enact.invocations.runs._claims import (
    RunHandle,
    _compare_and_set,
    claim,
    create_run,
    start_run,
    supports_runs,
)
from enact.invocations.runs._journal import (
    JournalEntry,
    _overlay,
    _template,
    read_journal,
)
from enact.invocations.runs._lookup import (
    Run,
    get_run,
    state_invocation,
)
from enact.invocations.runs._ready import DEFAULT_QUEUE, PUT_GRACE, queue_of
from enact.invocations.runs._state import (
    Durability,
    RunState,
    check_run_id,
    new_run_id,
)
from enact.refs import Ref
from enact.stores.store import Store, current_store

R = TypeVar("R")


class _RunOptions(TypedDict, total=False):
    """The keyword arguments of `invoke` and `invoke_async` (described at `invoke`), declared
    once for all their forms; unset ones mean a new run id and the store's durability."""

    run_id: str | None
    durability: Durability | None


def continue_plan(
    handle: RunHandle, before: Run, *, strict: bool, entries: list[JournalEntry] | None = None
) -> RootPlan:
    """The root plan that continues a claimed run from its journal."""
    store = handle.store
    state = before.state
    tree = None if state.tree is None else store.checkout(state.tree)
    if entries is None:
        entries = read_journal(store, handle.run_id, state.journal_from)
    root = _overlay(store, tree, entries)
    request = store.checkout(state.request)
    return RootPlan.replaying(
        state.request,
        request,
        _template(root),
        strict=strict,
        sink=handle,
        durable_calls=True,
        # A worker's retry runs the calls that failed again; anything else that
        # continues a run raises recorded exceptions again, as a replay does.
        rerun_raised=state.event == "retried",
    )


def run_plan(
    invokable: Any, input_value: Any, *, trees: bool = True, **options: Unpack[_RunOptions]
) -> RootPlan:
    """The plan for a new top-level call: a new run, unless this call is nested in one."""
    return prepare_root(RootPlan(invokable, input_value), trees=trees, **options)


def prepare_root(
    plan: RootPlan,
    *,
    run_id: str | None = None,
    durability: Durability | None = None,
    trees: bool = True,
) -> RootPlan:
    """Makes `plan` (a new call, or a replay of an invocation) start a new run."""
    store = current_store()
    invokable, input_value = plan.invokable, plan.input
    if current_frame() is not None:
        if run_id is not None:
            raise InvocationError(
                f"invoke({describe(invokable)}, run_id={run_id!r}) runs inside another "
                "invocation, which is part of a run already: nested invocations have no run "
                "id of their own."
            )
        return plan
    mode = durability or getattr(store, "durability", "call")
    if mode not in ("call", "end"):
        raise ValueError(f"durability must be 'call' or 'end', not {mode!r}.")
    if not supports_runs(store):
        return plan
    # A replay's plan has its request's ref: read from this store, it is not committed again.
    handle = start_run(
        store, invokable, input_value, run_id=run_id, trees=trees, request=plan.request_ref
    )
    assert isinstance(handle, RunHandle)
    plan.request_ref = handle.state.request
    plan.sink = handle
    plan.durable_calls = mode == "call" and not handle.deferred
    return plan


def invoke(
    invokable: Callable[..., R],
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    **options: Unpack[_RunOptions],
) -> Invocation[R]:
    """Calls `invokable` and journals the call tree in the active store, as a new run.

    `invokable` is a function decorated with `enact.register` (called with
    ``*args, **kwargs``; `args` is a tuple or a list) or an `enact.Invokable`
    (called with ``args[0]``, or with no argument). Exceptions raised by the
    call are recorded in the returned invocation rather than raised. The
    invocation is typed by what the call returns: ``invoke(shout, ("a",))``
    for ``def shout(text: str) -> str`` is an ``Invocation[str]``, as is the
    invocation of an ``Invokable[str, str]``.

    Args:
        run_id: The run's id (default: a new one that sorts by time); see
            `enact.get_run`.
        durability: ``"call"`` (the store's default): each journaled call is
            durable when it finishes, so a crash loses at most the calls still
            running. ``"end"``: the journal is written once when the run
            ends, faster, but a crash loses the whole run.

    Raises:
        NoActiveStoreError: No store is active.
        InvocationError: `invokable` cannot be journaled, or `args` is not a tuple or a
            list (``invoke(f, 3)`` for ``invoke(f, (3,))``).
        RunConflictError: A run with `run_id` exists already.
        ReplayError, IncompleteSubinvocationError: The call could not be journaled.
        KeyboardInterrupt, SystemExit: Re-raised after the run is marked interrupted.
    """
    check_keywords("invoke", options, _RunOptions)
    target, input_value = _call_input(invokable, args, kwargs)
    if is_async_invokable(target):  # checked before a run is recorded
        raise InvocationError(
            f"{describe(target)} is asynchronous: use `await enact.invoke_async(...)` "
            "or `await invokable.invoke(...)`."
        )
    plan = run_plan(target, input_value, **options)
    return _tree(invoke_root(plan))


@overload
async def invoke_async(
    invokable: Callable[..., Awaitable[R]],
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    **options: Unpack[_RunOptions],
) -> Invocation[R]: ...


@overload
async def invoke_async(
    invokable: Callable[..., R],
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    **options: Unpack[_RunOptions],
) -> Invocation[R]: ...


async def invoke_async(
    invokable: Callable[..., Any],
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    **options: Unpack[_RunOptions],
) -> Invocation[Any]:
    """Like `invoke`, for asynchronous invokables and ``async def`` registered functions.

    The invocation is typed by what the call's coroutine returns (or, for a
    synchronous invokable, by what the call returns).
    """
    check_keywords("invoke_async", options, _RunOptions)
    target, input_value = _call_input(invokable, args, kwargs)
    plan = run_plan(target, input_value, **options)
    return _tree(await invoke_root_async(plan))


set_root_preparer(prepare_root)


def _call_input(invokable: Any, args: Any, kwargs: dict[str, Any] | None) -> tuple[Any, Any]:
    """What a top-level call runs and its recorded input (a bound method unbound)."""
    invokable, args = unbind(invokable, args)
    return invokable, root_input(invokable, args, kwargs)


def _tree(outcome: RootOutcome) -> Invocation[Any]:
    assert outcome.invocation is not None
    return outcome.invocation


RESUMABLE: Final = frozenset({"interrupted", "answered", "queued"})


def resume(run: Run | str, *, strict: bool = True, store: Store | None = None) -> Run:
    """Continues an interrupted (or answered, or queued) run in this process.

    Every call that finished before the interruption returns its recorded
    output, and every call that raised raises its recorded exception again
    (as in `Invocation.replay`); calls that were still running run again.
    For runs of asynchronous invokables from async code, use `resume_async`.

    Raises:
        RunConflictError: The run is held by a live process, or cannot be continued.
    """
    current = get_run(run, store=store) if isinstance(run, str) else run
    if current.status in RESUMABLE:  # else the claim says why it cannot be continued
        check_sync_here(current)
    handle, before = claim(current, statuses=RESUMABLE, event="resumed")
    run_claimed(handle, before, strict=strict)
    return get_run(handle.run_id, store=handle.store)


def check_sync_here(run: Run) -> None:
    """Refuses, before any claim, to run an asynchronous run's code from a running loop."""
    request = run.store.checkout(run.state.request)
    asyncio = sys.modules.get("asyncio")  # no event loop runs before asyncio is imported
    if asyncio is None or not is_async_invokable(request.invokable):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise InvocationError(
        f"Run {run.id!r} calls an asynchronous invokable and an event loop is running "
        "here: use `await enact.resume_async(...)` instead."
    )


async def resume_async(run: Run | str, *, strict: bool = True, store: Store | None = None) -> Run:
    """Like `resume`, awaiting the run in the running event loop."""
    handle, before = claim(run, store=store, statuses=RESUMABLE, event="resumed")
    plan = continue_plan(handle, before, strict=strict)
    with handle.store:
        await invoke_root_async(plan)
    return get_run(handle.run_id, store=handle.store)


def run_claimed(handle: RunHandle, before: Run, *, strict: bool) -> None:
    """Runs a claimed run to its next stop (an asynchronous one in a new event loop)."""
    plan = continue_plan(handle, before, strict=strict)
    with handle.store:
        if not is_async_invokable(plan.invokable):
            invoke_root(plan)
            return
        import asyncio

        asyncio.run(invoke_root_async(plan))


def fork(
    run: Run | str,
    state: Ref[RunState] | None = None,
    *,
    run_id: str | None = None,
    store: Store | None = None,
) -> Run:
    """Makes a new run from a state of `run` (default: its head), like a branch.

    The new run starts from that state's invocation tree, with its status;
    the original run is unchanged.
    """
    original = get_run(
        run if isinstance(run, str) else run.id,
        store=store or (None if isinstance(run, str) else run.store),
    )
    target_store = original.store
    if state is None:
        source, source_ref = original.state, original.head
        entries = original.entries()
    else:
        source, source_ref = target_store.checkout(state), state
        if not isinstance(source, RunState) or source.run_id != original.id:
            raise InvocationError(f"{state.digest} is not a state of run {original.id!r}.")
        entries = read_journal(target_store, original.id, source.journal_from, source.journal_to)
    tree = state_invocation(target_store, source, entries)
    new_id = check_run_id(run_id) if run_id is not None else new_run_id()
    now = time.time()
    status = source.effective_status()
    if status == "running":
        status = "interrupted"
    new = RunState(
        run_id=new_id,
        status=status,
        request=source.request,
        tree=None if tree is None else target_store.commit(tree),
        journal_from=0,
        journal_to=0,
        raised=source.raised,
        raised_here=source.raised_here,
        event="forked",
        function=source.function,
        created=now,
        updated=now,
        previous=source_ref,
        forked_from=original.id,
        answer_path=source.answer_path,
        answer_request=source.answer_request,
        answer=source.answer,
        timings=source.timings,  # the calls of the forked tree keep their timings
    )
    head, _ = create_run(target_store, lambda: new)
    return Run(target_store, head, new)


def record_answer(run: Run, path: tuple[int, ...], request_digest: str, value: Any) -> Run:
    """Moves a waiting run to ``answered``: the answer is stored, nothing runs.

    The run is put in the store's ready queue (its own queue, or
    ``default``), so that a worker continues it.

    Raises:
        RunConflictError: The run's head moved on since `run` was read.
    """
    store = run.store
    response = commit_response(store, Response(Output(value), None, False, []))
    # A worker continues it: the queue item is put first (invisible), then the
    # head moves, then the item is made visible (see PUT_GRACE).
    ready, queue = queue_of(store), run.state.queue or DEFAULT_QUEUE
    if ready is not None:
        ready.ready_put(run.id, queue, PUT_GRACE)
    state = run.state.moved(
        run.head,
        "answered",
        "answered",
        answer_path=list(path),
        answer_request=request_digest,
        answer=response,
    )
    head = _compare_and_set(store, run.head, state)
    if ready is not None:
        ready.ready_put(run.id, queue)
    return Run(store, head, state)
