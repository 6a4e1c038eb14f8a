"""The ready queue: which runs a worker may continue, kept beside the names.

A run's head (its name ``runs/<id>``) stays the only authority on who runs
it: a worker that takes an item from the ready queue still has to claim the
run by compare-and-set before any program code runs. The queue is an index
that tells workers where to look, so that they neither scan every run nor
poll each other:

- an *item* is one row per run: its queue, when it becomes visible
  (``ready_at``), a random *token* that changes whenever the run is put in
  the queue again, and the worker holding it;
- `ReadyQueue.take` makes the oldest visible item of some queues invisible
  for a lease, atomically (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite:
  one write transaction), so two workers never take the same item at once;
- `defer` and `drop` act only if the token is unchanged: a worker never
  deletes the item of a run that was put in the queue again meanwhile (an
  answer arriving as the previous step ends);
- a worker *renews* the items it holds while their runs run, so an item is
  *claimed* (it has an owner and its lease has not expired) exactly while a
  live worker runs its run; an item whose worker died becomes visible again
  when its lease ends, and stops being a claim.

A queue may have a *global limit*: the most claimed items it holds at once,
whatever the number of workers and machines. The limit is a row of the same
table under the key ``#limit:<queue>`` (no run id starts with ``#``), never
visible (its ``ready_at`` is infinitely far), its token holding the limit.
`ReadyQueue.take` of a limited queue first locks that row (PostgreSQL:
``SELECT ... FOR UPDATE``; SQLite: the write transaction), then counts the
queue's claims and takes an item only below the limit, so two workers can
never together exceed it; queues without a limit take no lock. Dropping or
deferring an item of a limited queue wakes the workers (a slot is free).

Backends that implement it: `PostgresBackend` (any number of machines,
wake-ups by ``LISTEN``/``NOTIFY``) and `SQLiteBackend` (processes on one
machine, polling with backoff). Others raise `UnsupportedOperationError`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any, Final, Protocol, runtime_checkable

from enact.errors import UnsupportedOperationError


@dataclasses.dataclass(frozen=True, slots=True)
class ReadyItem:
    """An item taken from the ready queue: the run, its queue, and its token."""

    run_id: str
    queue: str
    token: int


class Waiter(Protocol):
    """Blocks a worker until something may be ready (a notification, or a timeout)."""

    def wait(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds (or until `wake`); True if the store notified."""
        ...

    def reset(self) -> None:
        """Says that the last wake-up found work (polling waiters shorten their sleep)."""
        ...

    def wake(self) -> None:
        """Ends the current (or next) `wait` at once; callable from any thread."""
        ...

    def close(self) -> None:
        """Releases the waiter's connection."""
        ...


@runtime_checkable
class ReadyQueue(Protocol):
    """What a backend offers workers (see the module docstring)."""

    def ready_put(self, run_id: str, queue: str, delay: float = 0.0) -> None:
        """Puts a run in `queue` with a new token, visible after `delay` seconds.

        With no delay, waiting workers are woken.
        """
        ...

    def ready_take(self, queues: Sequence[str], owner: str, lease: float) -> ReadyItem | None:
        """Takes the oldest visible item of `queues`, invisible to others for `lease` seconds.

        Queues whose global limit is reached (counted under the limit's lock)
        are left out; None if no item can be taken.
        """
        ...

    def ready_defer(self, item: ReadyItem, delay: float) -> None:
        """Makes `item` visible again after `delay` seconds (0: now, waking workers)."""
        ...

    def ready_drop(self, item: ReadyItem) -> None:
        """Deletes `item`, unless the run was put in the queue again since it was taken."""
        ...

    def ready_next(self, queues: Sequence[str]) -> float | None:
        """Seconds until the next item of `queues` is visible (<= 0: now); None if none."""
        ...

    def ready_count(self, queues: Sequence[str] | None = None) -> int:
        """How many items the queues hold (all queues if None)."""
        ...

    def ready_renew(self, items: Sequence[ReadyItem], owner: str, lease: float) -> int:
        """Extends `owner`'s unexpired claims of `items` by `lease` seconds; returns how many.

        An item put again (a new token), deferred, taken by another worker, or
        whose lease already ended is left alone: an expired claim is never
        revived without the limit's lock.
        """
        ...

    def ready_set_limit(self, queue: str, limit: int | None) -> None:
        """Records that `queue` holds at most `limit` claimed items at once (None: no limit)."""
        ...

    def ready_limits(self) -> dict[str, int]:
        """The global limit of each queue that has one."""
        ...

    def ready_queues_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        """The queue of each of `run_ids` that has an item (taken or not)."""
        ...

    def ready_waiter(self) -> Waiter:
        """A `Waiter` for this backend's wake-ups (listening from the moment it is made)."""
        ...


LIMIT_PREFIX: Final = "#limit:"
"""``#limit:<queue>`` is the key of a queue's limit row (run ids start with a letter or digit)."""


def limit_key(queue: str) -> str:
    """The key of `queue`'s limit row in the ready table."""
    return LIMIT_PREFIX + queue


def new_token() -> int:
    """A fresh item token (random, so that no counter is shared between processes)."""
    return (int.from_bytes(os.urandom(8), "big") >> 2) + 1  # 62 random bits


def ready_queue(backend: Any) -> ReadyQueue:
    """The backend as a `ReadyQueue`, or `UnsupportedOperationError` saying which ones are."""
    if isinstance(backend, ReadyQueue):
        return backend
    raise UnsupportedOperationError(
        f"{backend!r} keeps no ready queue, so runs cannot be submitted to workers there. "
        "enact.submit and enact worker need a PostgreSQL store (workers on any number of "
        "machines) or an SQLite store (worker processes on one machine); use enact.invoke "
        "or enact.resume with this store instead."
    )


class PollingWaiter:
    """A `Waiter` without notifications: sleeps 5 ms, doubling up to `longest` while idle."""

    def __init__(self, *, shortest: float = 0.005, longest: float = 0.25) -> None:
        self._shortest = shortest
        self._longest = longest
        self._delay = shortest
        self._woken = threading.Event()

    def wait(self, timeout: float) -> bool:
        self._woken.wait(max(0.0, min(timeout, self._delay)))
        self._woken.clear()
        self._delay = min(self._delay * 2, self._longest)
        return False  # no notifications: the caller looks at the queue

    def reset(self) -> None:
        self._delay = self._shortest

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        pass
