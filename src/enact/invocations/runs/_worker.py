"""Workers: processes that claim ready runs from the store's queue and continue them.

A worker takes an item from the ready queue (see `enact.stores.ready`), reads
the run's head and, if the run can be continued (``queued``, ``answered``, or
``interrupted``: its last owner died or its lease expired), claims it by
compare-and-set on the head -- the one authority on who runs a run -- and
runs it to its next stop with per-call durability, renewing its lease. Then
the item is dropped (the run completed, raised or waits for input), or the
run is put back (released, or retried if its invokable declares retries).

Log lines go to the ``enact`` logger (silent unless the application
configures logging; ``enact worker`` shows them on standard error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, TypedDict, Unpack

from enact.errors import EnactError, RunConflictError, RunNotFoundError
from enact.invocations.runs._api import RESUMABLE, run_claimed
from enact.invocations.runs._claims import RunHandle, _compare_and_set, claim
from enact.invocations.runs._lookup import Run, get_run
from enact.invocations.runs._ready import (
    DEFAULT_QUEUE,
    check_queue_limit,
    check_queue_name,
    require_queue,
)
from enact.invocations.runs._state import LEASE_SECONDS, process_owner
from enact.invocations.runs._submit import retry_policy
from enact.stores.ready import ReadyItem, Waiter
from enact.stores.store import Store, current_store

log = logging.getLogger("enact")
log.addHandler(logging.NullHandler())  # silent unless the application configures logging


class WorkerShutdown(BaseException):
    """Raised inside a run's code when a stopping worker's grace period is over.

    Like `KeyboardInterrupt`, it marks the run ``interrupted``; the worker then
    puts it back in the queue for another worker.
    """


@dataclasses.dataclass
class WorkerStats:
    """What a worker did: counts of runs by how their step ended."""

    claimed: int = 0
    finished: int = 0
    waiting: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0


class Worker:
    """Claims ready runs from a store's queues and continues them (see the module docstring).

    Args:
        store: The store, or its URL (opened here, closed by `run`); default:
            the active store.
        queues: The queues to serve, in order of preference; or a mapping
            from queue to the most runs of it this worker runs at once.
        concurrency: How many runs this worker runs at once (threads).
        queue_limits: Global limits to record in the store when the worker
            starts (see `enact.set_queue_limit`): the most runs of each queue
            that all workers sharing the store run at once.
        lease_seconds: How long a claim holds without renewal (renewed every
            third of it while a run runs); another worker continues a run
            whose worker died once its lease is over (at once on the same
            machine).
        grace: On SIGTERM (or `stop`), how long the runs in progress may go on
            before they are interrupted and put back in the queue.

    Raises:
        UnsupportedOperationError: The store keeps no ready queue (only
            PostgreSQL and SQLite stores do).
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        queues: Sequence[str] | Mapping[str, int] = (DEFAULT_QUEUE,),
        concurrency: int = 1,
        queue_limits: Mapping[str, int] | None = None,
        lease_seconds: float = LEASE_SECONDS,
        grace: float = 30.0,
    ) -> None:
        if isinstance(store, str):
            from enact.stores.urls import open_store

            self.store = open_store(store)
            self._owns_store = True
        else:
            self.store = store or current_store()
            self._owns_store = False
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency!r}.")
        if isinstance(queues, str):
            queues = (queues,)
        limits = dict(queues) if isinstance(queues, Mapping) else dict.fromkeys(queues, concurrency)
        if not limits:
            raise ValueError("A worker needs at least one queue to serve.")
        for name, limit in limits.items():
            check_queue_name(name)
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f"The limit of queue {name!r} must be an int >= 1, not {limit!r}.")
        self.queues = list(limits)
        self.limits = {name: min(limit, concurrency) for name, limit in limits.items()}
        self.queue_limits = dict(queue_limits or {})
        for name, limit in self.queue_limits.items():
            check_queue_name(name)
            check_queue_limit(name, limit)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.grace = grace
        self.stats = WorkerStats()
        self._ready = require_queue(self.store)
        self._owner = process_owner()
        self._lock = threading.RLock()  # also taken by the signal handler
        self._take_lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._in_flight: dict[str, int] = dict.fromkeys(self.limits, 0)
        self._busy = 0
        self._stopping = threading.Event()
        self._threads_done = threading.Event()
        self._interrupting = False
        self._in_code: dict[int, bool] = {}  # thread ident -> running a run's code
        self._max_runs: int | None = None
        self._until_idle = False
        self._waiter: Waiter | None = None
        self._held: dict[int, ReadyItem] = {}  # thread ident -> the item its run came from
        self._takes = 0  # items taken so far (the main loop backs off when it stays put)

    # Running -----------------------------------------------------------------------

    def run(self, *, until_idle: bool = False, max_runs: int | None = None) -> WorkerStats:
        """Serves the queues until stopped (SIGTERM, SIGINT, or `stop`); returns the stats.

        Args:
            until_idle: Return once the queues hold nothing ready and nothing runs.
            max_runs: Return after this many runs were claimed.

        The first SIGTERM or SIGINT stops taking runs and lets the runs in
        progress finish within `grace` seconds; then (or at a second signal)
        they are interrupted and put back in the queue. No run is left claimed.
        """
        self._max_runs = max_runs
        self._until_idle = until_idle
        self._threads_done.clear()
        for name, limit in self.queue_limits.items():
            self._ready.ready_set_limit(name, limit)
        previous = self._install_signals()
        waiter = self._waiter = self._ready.ready_waiter()
        threads = [
            threading.Thread(target=self._loop, name=f"enact-worker-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        renewer = threading.Thread(target=self._renew_loop, name="enact-worker-renew", daemon=True)
        global_limits = {q: n for q, n in self._ready.ready_limits().items() if q in self.limits}
        log.info(
            "enact worker %s: serving %s with %d thread(s) on %r%s",
            self._owner,
            ", ".join(self.queues),
            self.concurrency,
            self.store.backend,
            "".join(
                f"; queue {q}: at most {n} run(s) at once in all workers"
                for q, n in global_limits.items()
            ),
        )
        for thread in threads:
            thread.start()
        renewer.start()
        took = -1
        try:
            while not self._stopping.is_set():
                # One query per wake-up (a notification, or the time the next
                # deferred item becomes visible, at most a second): idle
                # threads wait on the condition until this loop wakes them.
                pending = self._ready.ready_next(self.queues)
                if until_idle and pending is None and self._idle():
                    break
                if pending is not None and pending <= 0:
                    # Visible items: look again soon if the last wake-up took one;
                    # if none was taken (all busy, or a full limited queue), back off.
                    if self._takes != took:
                        waiter.reset()
                    took = self._takes
                    with self._wake:
                        self._wake.notify_all()
                    timeout = 1.0  # busy threads take the next item themselves
                else:
                    timeout = 1.0 if pending is None else max(0.001, min(pending, 1.0))
                while waiter.wait(timeout) and not self._stopping.is_set():
                    # Notified: wake the idle threads at once (they take the item
                    # themselves); the queue is looked at again when things calm down.
                    with self._wake:
                        self._wake.notify_all()
                    timeout = 0.05
        finally:
            self._stopping.set()
            with self._wake:
                self._wake.notify_all()
            self._shut_down(threads)
            self._threads_done.set()  # the runs are finished or released: stop renewing
            renewer.join()
            waiter.close()
            self._restore_signals(previous)
            if self._owns_store:
                self.store.close()
        log.info("enact worker %s: stopped (%s)", self._owner, self.stats)
        return self.stats

    def stop(self, *, interrupt: bool = False) -> None:
        """Asks `run` to return: finish the runs in progress (or interrupt them now)."""
        if interrupt:
            self._interrupting = True
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()

    def _idle(self) -> bool:
        with self._lock:
            return self._busy == 0

    def _loop(self) -> None:
        with self.store:
            worked = False
            while not self._stopping.is_set():
                item = self._take()
                if item is None:
                    if worked:  # going idle: the main loop works out when to look again
                        self._wake_main()
                        worked = False
                    with self._wake:
                        if not self._stopping.is_set():
                            self._wake.wait(5.0)
                    continue
                worked = True
                ident = threading.get_ident()
                try:
                    self.process(item)
                except Exception:  # a store failure: the item comes back after its lease
                    log.exception("enact worker %s: run %s failed", self._owner, item.run_id)
                finally:
                    with self._lock:
                        self._held.pop(ident, None)
                        self._in_flight[item.queue] = self._in_flight.get(item.queue, 1) - 1
                        self._busy -= 1
                    if self._until_idle:
                        self._wake_main()

    def _wake_main(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.wake()

    def _take(self) -> ReadyItem | None:
        with self._take_lock:
            with self._lock:
                if self._max_runs is not None and self.stats.claimed >= self._max_runs:
                    self._stopping.set()
                    return None
                allowed = [q for q in self.queues if self._in_flight[q] < self.limits[q]]
            if not allowed or self._stopping.is_set():
                return None
            item = self._ready.ready_take(allowed, self._owner, self.lease_seconds)
            if item is not None:
                with self._lock:
                    self._held[threading.get_ident()] = item
                    self._in_flight[item.queue] = self._in_flight.get(item.queue, 0) + 1
                    self._busy += 1
                    self._takes += 1
            return item

    def _renew_loop(self) -> None:
        """Renews the claims of the items whose runs run here, every third of the lease.

        A claim counts against its queue's global limit while it holds: one
        renewed as long as the run runs keeps counting; one whose worker died
        stops counting when its lease ends (and its run is taken again).
        """
        # Until the threads are done, not only until stopping: runs finishing in
        # the grace period keep their claims (and their queue's slots).
        while not self._threads_done.wait(self.lease_seconds / 3):
            with self._lock:
                held = list(self._held.values())
            try:
                self._ready.ready_renew(held, self._owner, self.lease_seconds)
            except EnactError as err:  # the next renewal tries again
                log.warning("enact worker %s: cannot renew its claims: %s", self._owner, err)

    # One item ----------------------------------------------------------------------

    def process(self, item: ReadyItem) -> None:
        """Looks at the run of a taken item; claims and continues it if it is ready."""
        ready = self._ready
        try:
            run = get_run(item.run_id, store=self.store)
        except RunNotFoundError:
            ready.ready_drop(item)  # its submitter died before recording it
            return
        status = run.status
        if status == "running":  # held by a live process: look again when its lease ends
            until = run.state.lease_until or (time.time() + self.lease_seconds)
            ready.ready_defer(item, max(0.05, until - time.time() + 0.05))
            return
        if status not in RESUMABLE:  # complete, raised, waiting: nothing to do
            ready.ready_drop(item)
            return
        try:
            handle, before = claim(
                run,
                expected=run.head,
                statuses=RESUMABLE,
                lease_seconds=self.lease_seconds,
                event="claimed",
            )
        except RunConflictError:  # another process moved it first: look again soon
            ready.ready_defer(item, 0.5)
            return
        self._count(
            "claimed",
            logging.INFO,
            "claimed run %s (%s, %s, queue %s)",
            run.id,
            run.function,
            status,
            item.queue,
        )
        started = time.monotonic()
        try:
            self._run_code(handle, before)
        except (WorkerShutdown, KeyboardInterrupt, SystemExit):
            self._release(handle, item, "shutting down")
            return
        except EnactError as err:
            # Not continued (a replay that no longer matches the code, say): leave
            # it for a person (enact resume), without retrying it in a loop.
            self._release(handle, item, None)
            ready.ready_drop(item)
            self._count(
                "failed", logging.WARNING, "failed run %s: it cannot be continued: %s", run.id, err
            )
            return
        # The handle holds the head it moved last: no need to read it again.
        after = Run(self.store, handle.head, handle.state)
        self._after(after, item, time.monotonic() - started)

    def _run_code(self, handle: RunHandle, before: Run) -> None:
        ident = threading.get_ident()
        with self._lock:
            self._in_code[ident] = True
        try:
            if self._interrupting:
                raise WorkerShutdown()
            run_claimed(handle, before, strict=True)
        finally:
            with self._lock:
                self._in_code[ident] = False

    def _after(self, run: Run, item: ReadyItem, seconds: float) -> None:
        ready = self._ready
        status = run.status
        if status == "raised":
            request = self.store.checkout(run.state.request)
            policy = retry_policy(request.invokable)
            done = _retries_so_far(run)
            if policy is not None and done < policy.attempts:
                queued = run.state.moved(
                    run.head, "queued", "retried", owner=None, lease_until=None
                )
                try:
                    _compare_and_set(self.store, run.head, queued)
                except RunConflictError:
                    ready.ready_defer(item, 0.5)
                    return
                delay = policy.delay(done + 1)
                ready.ready_put(run.id, item.queue, delay)
                self._count(
                    "retried",
                    logging.WARNING,
                    "failed run %s (%s); retry %d of %d in %.3g s",
                    run.id,
                    _raised_text(run),
                    done + 1,
                    policy.attempts,
                    delay,
                )
                return
            ready.ready_drop(item)
            self._count(
                "failed", logging.WARNING, "failed run %s in %.3f s: %s", run.id, seconds,
                _raised_text(run),
            )  # fmt: skip
            return
        if status in ("complete", "waiting"):
            ready.ready_drop(item)
            complete = status == "complete"
            self._count(
                "finished" if complete else "waiting", logging.INFO,
                "finished run %s in %.3f s: %s", run.id, seconds,
                "complete" if complete else "waiting for input",
            )  # fmt: skip
            return
        ready.ready_defer(item, 0)  # interrupted: another worker may continue it
        self._count("released", logging.INFO, "released run %s (%s)", run.id, status)

    def _release(self, handle: RunHandle, item: ReadyItem, reason: str | None) -> None:
        """Marks a run this worker holds as interrupted (if its code did not) and puts it back."""
        if handle.state.status == "running" and handle.lost is None:
            with contextlib.suppress(Exception):
                handle.interrupted(WorkerShutdown())
        if reason is None:
            return
        self._ready.ready_defer(item, 0)
        self._count("released", logging.INFO, "released run %s (%s)", item.run_id, reason)

    def _count(self, counter: str, level: int, message: str, *args: Any) -> None:
        """Adds one to ``stats.<counter>`` and logs `message` at `level`, after the owner."""
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        log.log(level, "enact worker %s: " + message, self._owner, *args)

    # Stopping ----------------------------------------------------------------------

    # `signal` is imported here, not with enact: only a worker handles signals.

    def _install_signals(self) -> dict[int, Any]:
        import signal

        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.signal(number, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        import signal

        for number, handler in previous.items():
            signal.signal(number, handler)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        import signal

        name = signal.Signals(number).name
        if self._stopping.is_set():
            log.info("enact worker %s: %s again: interrupting the runs now", self._owner, name)
            self.stop(interrupt=True)
            self._interrupt_threads()
            return
        log.info(
            "enact worker %s: %s: finishing the runs in progress (up to %g s)",
            self._owner,
            name,
            self.grace,
        )
        self.stop()

    def _shut_down(self, threads: list[threading.Thread]) -> None:
        deadline = time.monotonic() + self.grace
        for thread in threads:
            while thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0 or self._interrupting:
                    self._interrupting = True
                    self._interrupt_threads()
                    left = 0.2
                thread.join(min(left, 0.2))

    def _interrupt_threads(self) -> None:
        """Raises `WorkerShutdown` in the threads that run a run's code."""
        with self._lock:
            targets = [ident for ident, running in self._in_code.items() if running]
        import ctypes  # on first use: only a worker shutting down needs it

        for ident in targets:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(WorkerShutdown)
            )


def _retries_so_far(run: Run) -> int:
    return sum(1 for _, state in run.history() if state.event == "retried")


def _raised_text(run: Run) -> str:
    if run.state.raised is None:
        return "raised"
    try:
        return repr(run.store.checkout(run.state.raised))
    except EnactError as err:
        return f"raised (unreadable: {err})"


class WorkerOptions(TypedDict, total=False):
    """The keyword arguments of `Worker` that `run_worker` passes on (see `Worker`)."""

    queues: Sequence[str] | Mapping[str, int]
    concurrency: int
    queue_limits: Mapping[str, int] | None
    lease_seconds: float
    grace: float


def run_worker(
    store: Store | str | None = None,
    *,
    until_idle: bool = False,
    max_runs: int | None = None,
    **options: Unpack[WorkerOptions],
) -> WorkerStats:
    """``Worker(store, **options).run(until_idle=..., max_runs=...)``: serves the queues
    until stopped; `Worker` describes the options, `Worker.run` the rest."""
    return Worker(store, **options).run(until_idle=until_idle, max_runs=max_runs)
