"""Putting runs in the store's ready queue, for workers (see `enact.stores.ready`)."""

from __future__ import annotations

from typing import Final

from enact.stores.ready import ReadyQueue, ready_queue
from enact.stores.store import Store

DEFAULT_QUEUE: Final = "default"
"""The queue of `enact.submit` and of answered runs that were never submitted."""

PUT_GRACE: Final = 10.0
"""Seconds an item put *before* its run's head moves stays invisible.

Putting a run in the queue and moving its head are two writes. The item is
put first, invisible, then the head moves, then the item is made visible: a
crash in between leaves an item that a worker looks at after this grace (and
drops if the head never moved), never a ready run that no worker knows of.
"""


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
