"""Putting runs in the store's ready queue, for workers (see `enact.stores.ready`)."""

from __future__ import annotations

from typing import Final

from enact.stores.ready import ReadyQueue, ready_queue
from enact.stores.store import Store, current_store

DEFAULT_QUEUE: Final = "default"
"""The queue of `enact.submit` and of answered runs that were never submitted."""

PUT_GRACE: Final = 10.0
"""Seconds an item put *before* its run's head moves stays invisible.

Putting a run in the queue and moving its head are two writes. The item is
put first, invisible, then the head moves, then the item is made visible: a
crash in between leaves an item that a worker looks at after this grace (and
drops if the head never moved), never a ready run that no worker knows of.
"""


MAX_LIMIT: Final = 2**31 - 1
"""The largest queue limit."""


def queue_of(store: Store) -> ReadyQueue | None:
    """The store's ready queue, or None if its backend keeps none."""
    backend = store.backend
    return backend if isinstance(backend, ReadyQueue) else None


def require_queue(store: Store) -> ReadyQueue:
    """The store's ready queue; raises `UnsupportedOperationError` if it keeps none."""
    return ready_queue(store.backend)


def check_queue_name(queue: str) -> str:
    """Returns `queue` if it can name a queue; raises ValueError if not."""
    if not isinstance(queue, str) or not queue or len(queue) > 200 or not queue.isprintable():
        raise ValueError(
            f"Queue name {queue!r} is not valid: use 1 to 200 printable characters "
            "(for example 'default' or 'emails')."
        )
    return queue


def set_queue_limit(queue: str, limit: int | None, *, store: Store | None = None) -> None:
    """Records that at most `limit` runs of `queue` run at once, across all workers.

    The limit is kept in the store, so it binds every worker on every machine
    that shares it, from their next claim on (runs already running go on).
    It is checked as a worker claims a run, under a lock of the queue's limit
    (PostgreSQL: its row, ``SELECT ... FOR UPDATE``; SQLite: the write
    transaction): two workers can never together exceed it. A claim counts
    while its worker holds it (renewed with the run's lease); the claim of a
    worker that died stops counting when its lease expires.

    A worker's own limits (``Worker(queues={"emails": 4})``, ``enact worker
    --queue emails=4``) and `Worker`'s ``concurrency`` still apply within
    the worker, like DBOS's ``worker_concurrency`` beside ``concurrency``.

    Args:
        queue: The queue.
        limit: The most runs of `queue` that all workers together run at
            once (an int >= 1), or None to remove the limit.
        store: The store (default: the active one).

    Raises:
        ValueError: `limit` is not an int >= 1 or None, or `queue` is not a
            valid queue name.
        UnsupportedOperationError: The store keeps no ready queue.
    """
    check_queue_name(queue)
    check_queue_limit(queue, limit)
    require_queue(store or current_store()).ready_set_limit(queue, limit)


def queue_limits(*, store: Store | None = None) -> dict[str, int]:
    """The global limit of each queue that has one (see `set_queue_limit`)."""
    queue = queue_of(store or current_store())
    return {} if queue is None else queue.ready_limits()


def check_queue_limit(queue: str, limit: object) -> None:
    """Raises ValueError unless `limit` is None or an int >= 1."""
    if limit is None:
        return
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(
            f"The limit of queue {queue!r} must be an int from 1 to {MAX_LIMIT} (or None: "
            f"no limit), not {limit!r}."
        )
