"""Submitting runs to workers, keys for external idempotency, and retry declarations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from enact.errors import EnactError, InvocationError, RunConflictError
from enact.invocations.diagnostics import describe
from enact.invocations.engine import current_frame
from enact.invocations.runs._api import _call_input
from enact.invocations.runs._claims import start_run
from enact.invocations.runs._lookup import get_run
from enact.invocations.runs._ready import (
    DEFAULT_QUEUE,
    PUT_GRACE,
    check_queue_name,
    queue_of,
    require_queue,
)
from enact.invocations.runs._state import RUN_PREFIX, check_run_id, new_run_id
from enact.stores.store import Store, current_store

T = TypeVar("T")


def submit(
    invokable: Any,
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    *,
    run_id: str | None = None,
    queue: str = DEFAULT_QUEUE,
    store: Store | None = None,
) -> str:
    """Records a run of `invokable` as ``queued`` for a worker; returns its id at once.

    Nothing of the program runs here: a worker (``enact worker``,
    `enact.Worker`) serving `queue` claims the run and runs it with per-call
    durability. `enact.wait` or `Run.result` waits for its end.

    Args:
        invokable: A registered function (called with ``*args, **kwargs``) or
            an `enact.Invokable`, as for `enact.invoke`; the worker imports
            its module (``enact worker --import MODULE``).
        run_id: The run's id (default: a new one); submitting an id that
            exists raises, so a deterministic id makes submitting idempotent.
        queue: The queue (workers serve the queues they are given).
        store: The store (default: the active one). PostgreSQL and SQLite
            stores keep a ready queue; others raise.

    Raises:
        RunConflictError: A run with `run_id` exists already.
        UnsupportedOperationError: The store's backend keeps no ready queue.
    """
    store = store or current_store()
    check_queue_name(queue)
    ready = require_queue(store)
    if store.in_batch():
        raise InvocationError(
            "enact.submit is called inside a store.batch() block, whose writes wait for "
            "the block's end: a worker could not see the run. Submit outside the block."
        )
    invokable, input_value = _call_input(invokable, args, kwargs)
    run_id = check_run_id(run_id) if run_id is not None else new_run_id()
    existing = store.get_name(RUN_PREFIX + run_id)
    if existing is not None:
        raise RunConflictError(
            f"A run with id {run_id!r} exists already; it was submitted or started before. "
            "Wait for it (enact.wait), or choose another run id.",
            run_id=run_id,
            head=existing.digest,
        )
    # Put first (invisible), then record the run, then make it visible (see PUT_GRACE).
    ready.ready_put(run_id, queue, PUT_GRACE)
    start_run(store, invokable, input_value, run_id=run_id, status="queued", queue=queue)
    ready.ready_put(run_id, queue)
    return run_id


def call_key(label: str | None = None) -> str:
    """A key for the journaled call running here that stays the same when it runs again.

    ``<run id>/<call path>`` (e.g. ``ticket-42/0.3``; ``ticket-42/root`` for
    the run's top-level call), plus ``/<label>`` if given. A call that was
    running when its process died runs again (at least once): pass this key
    as the idempotency key of an external side effect (a payment, an email)
    so that the second attempt does not repeat it.

    The key is the same with ``durability="end"``, where a crash makes every
    call of the run run again when it is resumed: a call's path is its place
    among its parent's calls, which a program that makes the same calls in
    the same order gives it again.

    Raises:
        InvocationError: No journaled call of a run runs here (outside
            `invoke`, or in a store that keeps no names).
    """
    frame = current_frame()
    if frame is None:
        raise InvocationError(
            "enact.call_key() is called outside a journaled call: call it from inside a "
            "registered function or invokable that runs as part of a run."
        )
    # The run's sink with per-call durability; its hooks also with durability="end".
    run_id = getattr(frame.sink, "run_id", None) or getattr(frame.hooks, "run_id", None)
    if not isinstance(run_id, str):
        raise InvocationError(
            "enact.call_key() is called in a call that is not part of a run (the store "
            f"{frame.store.backend!r} keeps no names, or no run was started for this "
            "invocation), so there is no run id to make a key that holds across processes. "
            "Run it with enact.invoke or enact.submit on a store that keeps runs (SQLite, "
            "PostgreSQL, a directory)."
        )
    path = ".".join(map(str, frame.path)) or "root"
    key = f"{run_id}/{path}"
    return key if label is None else f"{key}/{label}"


@dataclasses.dataclass(frozen=True)
class Retries:
    """How often a worker continues a run that raised (see `retries`).

    Attributes:
        attempts: How many times a raised run is continued again.
        backoff: Seconds before the first retry; doubled for each further one.
        max_backoff: The longest wait between two attempts.
    """

    attempts: int
    backoff: float = 1.0
    max_backoff: float = 300.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first)."""
        return float(min(self.backoff * 2 ** max(0, retry - 1), self.max_backoff))


RETRIES_ATTRIBUTE: Final = "__enact_retries__"


def retries(attempts: int, *, backoff: float = 1.0, max_backoff: float = 300.0) -> Callable[[T], T]:
    """Declares that workers continue a run of this function again when it raises.

    Without it a run that raised stays ``raised`` (no retry storm). With
    ``@enact.retries(3)`` (above or below ``@enact.register``, or on an
    `Invokable` class) a worker continues a raised run up to 3 more times,
    waiting `backoff` seconds, then twice as long each time. Calls that
    finished are returned from the journal; only the calls that raised or did
    not finish run again.
    """
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        raise ValueError(f"retries(attempts) must be an int >= 0, not {attempts!r}.")
    if backoff < 0 or max_backoff < 0:
        raise ValueError("retries(backoff=..., max_backoff=...) must be >= 0 seconds.")
    policy = Retries(attempts, float(backoff), float(max_backoff))

    def declare(target: T) -> T:
        try:
            setattr(target, RETRIES_ATTRIBUTE, policy)
        except (AttributeError, TypeError) as err:
            raise InvocationError(
                f"enact.retries cannot be declared on {describe(target)}: {err}. Use it on a "
                "function or an Invokable class."
            ) from None
        return target

    return declare


def retry_policy(invokable: Any) -> Retries | None:
    """The retries `invokable` declares, or None."""
    policy = getattr(invokable, RETRIES_ATTRIBUTE, None)
    return policy if isinstance(policy, Retries) else None


def requeue_copied_runs(
    source: Store, target: Store, run_ids: Iterable[str], *, limits: bool = False
) -> int:
    """Puts runs copied from `source` in `target`'s ready queue; returns how many.

    ``enact copy`` copies a run's names (its head and journal), not the
    source's ready queue, which is no object: without this, workers on the
    target would never see the runs that wait for one. A run is put in the
    same queue as in the source if the source's queue holds it (queued,
    answered, retried, or held by a worker: claims are not copied, the
    target's workers look at the head), or else if its head is ``queued``
    or ``answered`` (a source without a ready queue: in the queue it was
    submitted to, else ``default``). Items are visible at once: a worker
    that finds nothing to do for a run drops its item.

    Args:
        source: The store the runs were copied from.
        target: The store they were copied to (one without a ready queue: 0).
        run_ids: The copied runs.
        limits: Also copy the source's queue limits the target lacks.
    """
    into = queue_of(target)
    if into is None:
        return 0
    wanted = list(dict.fromkeys(run_ids))
    origin = queue_of(source)
    queued = origin.ready_queues_of(wanted) if origin is not None and wanted else {}
    put = 0
    for run_id in wanted:
        ref = target.get_name(RUN_PREFIX + run_id)
        if ref is None:
            continue
        queue = queued.get(run_id)
        if queue is None:
            try:
                state = get_run(check_run_id(run_id), store=target).state
            except EnactError:  # not a run's head (a name of the user's under runs/)
                continue
            if state.status not in ("queued", "answered"):
                continue
            queue = state.queue or DEFAULT_QUEUE
        into.ready_put(run_id, queue)
        put += 1
    if limits and origin is not None:
        present = into.ready_limits()
        for queue, limit in origin.ready_limits().items():
            if queue not in present:
                into.ready_set_limit(queue, limit)
    return put
