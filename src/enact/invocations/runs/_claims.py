"""Holding a run: leases, the handle a running process writes through, claims."""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol

from enact.errors import (
    NameConflictError,
    RunConflictError,
)
from enact.invocations.engine import (
    ChildCall,
    RootOutcome,
    commit_request,
)
from enact.invocations.exceptions import record_exception
from enact.invocations.records import Output, Request, Response
from enact.invocations.responses import commit_response
from enact.invocations.runs._journal import (
    JournalEntry,
    _journal_prefix,
    entry_name,
    keep_journal,
    read_journal,
)
from enact.invocations.runs._lookup import (
    Run,
    _read_state,
    get_run,
    recorded_answers,
)
from enact.invocations.runs._state import (
    LEASE_SECONDS,
    RUN_PREFIX,
    RunState,
    _function_name,
    _is_input_request,
    check_run_id,
    new_run_id,
    process_owner,
    run_index_name,
)
from enact.invocations.telemetry import logger, new_timer
from enact.invocations.timings import RunTimings
from enact.refs import Ref
from enact.stores.base import UnsupportedOperationError
from enact.stores.store import Store


class _Leases:
    """Renews the leases of the runs this process is running, from one daemon thread."""

    def __init__(self) -> None:
        self._runs: weakref.WeakSet[RunHandle] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, handle: RunHandle) -> None:
        with self._lock:
            self._runs.add(handle)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="enact-leases", daemon=True)
                self._thread.start()

    def remove(self, handle: RunHandle) -> None:
        with self._lock:
            self._runs.discard(handle)

    def forget(self) -> None:
        """In a forked child: the runs of the parent are not this process's to renew (its
        copies of their heads go stale as the parent moves them), and the lease thread
        did not survive the fork (nor may its lock, if it was held then)."""
        self._runs = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def _loop(self) -> None:
        while True:
            time.sleep(0.2)
            with self._lock:
                handles = list(self._runs)
            now = time.time()
            for handle in handles:
                if handle.renew_at <= now:
                    handle.renew()


_leases = _Leases()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_leases.forget)


class LiveWaiter(Protocol):
    """What lets a run wait in place for answers (see `RunHandle.run_waiting`)."""

    def waits_for(self, call: ChildCall) -> bool:
        """Whether `call` may be a request this waiter waits for (checked before it runs)."""
        ...

    def journal_wait(self, handle: RunHandle, call: ChildCall, error: Exception) -> Ref[Any] | None:
        """Inside the write: journals what waiting needs; the ref of the request's record.

        None when `error` is no request to wait for: it goes on to the caller.
        """
        ...

    def lost(self, why: RunConflictError) -> None:
        """The move to waiting lost its compare-and-set: ends the program (raises)."""
        ...

    def block(
        self, handle: RunHandle, call: ChildCall, request: Exception
    ) -> tuple[Any, Ref[Response]]:
        """Waits for the answer: its value and the response recorded for the call."""
        ...


class RunHandle:
    """The process's side of a run it is running: journal names, lease, head moves."""

    def __init__(
        self,
        store: Store,
        state: RunState,
        head: Ref[RunState],
        *,
        lease_seconds: float,
        trees: bool,
        deferred: bool = False,
    ) -> None:
        self.store = store
        # `head` is the ref of `state`: the two always move together.
        self.head, self.state = head, state
        self.run_id = state.run_id
        self.lease_seconds = lease_seconds
        self.trees = trees
        self.deferred = deferred
        self.lost: RunConflictError | None = None
        self.live: LiveWaiter | None = None
        self._seq = itertools.count(state.journal_to)
        self._journaled = state.journal_to > state.journal_from
        """Whether the run may have journal entries (an earlier attempt's, or this one's)."""
        self._lock = threading.Lock()
        self.renew_at = time.time() + lease_seconds / 3
        self.timer = new_timer(self.run_id, state.event)
        """Times this attempt's calls (`enact.invocations.timings`); None when off."""
        self._earlier_timings = state.timings
        """The timings of the attempts before this one (the state's may then be this one's
        calls so far, kept at each lease renewal)."""
        self._kept: Ref[RunTimings] | None = None
        """The last record of this attempt's calls kept at a lease renewal."""
        self._kept_calls = 0
        self._kept_reused = 0
        if not deferred:
            _leases.add(self)

    # CallSink ---------------------------------------------------------------

    def entry_name(self, path: tuple[int, ...], request_digest: str) -> str:
        self._journaled = True
        return entry_name(self.run_id, next(self._seq), path, request_digest)

    def check(self) -> None:
        """`CallSink.check`; called before each call starts and when it is recorded.

        A lease that has run out by this process's clock (the process was
        paused past it, a laptop asleep) is renewed first, when the caller is
        not inside a batch: if another process has claimed the run since, that
        renewal loses its compare-and-set and the run stops here, before its
        next call starts, rather than one call later at the lease thread's tick.
        """
        until = self.state.lease_until
        expired = until is not None and time.time() > until
        if expired and self.lost is None and not self.deferred and not self.store.in_batch():
            self.renew()
        if self.lost is not None:
            raise self.lost

    def waits_for(self, call: ChildCall) -> bool:
        live = self.live
        return live is not None and live.waits_for(call)

    def run_waiting(self, call: ChildCall, body: Callable[[], Any]) -> Any:
        """`CallSink.run_waiting`: the request's record and the move to waiting, one write.

        The call runs inside one batch; if it asked for input that `live` waits
        for, the records of its open callers (as unwinding would have written
        them) and the head's move to ``waiting`` join the batch, so the store
        holds, at once, the same waiting run as if the program had stopped:
        another process may answer it, and this one then loses it. The lock
        keeps the lease thread from moving the head in between.
        """
        live = self.live
        assert live is not None
        store = self.store
        with self._lock:
            waiting = False
            try:
                # What was recorded of a failed call stays; an interrupt writes nothing.
                with store.batch(keep_on_exception=True):
                    try:
                        output = body()
                    except Exception as error:
                        raised = live.journal_wait(self, call, error)
                        if raised is None:
                            raise
                        request = error
                    else:
                        return output
                    new = self._next(
                        "waiting",
                        "finished",
                        journal_to=next(self._seq),
                        raised=raised,
                        raised_here=False,
                    )
                    head: Ref[RunState] = store.commit(new)
                    store.log_name(RUN_PREFIX + self.run_id, head.digest, expected=self.head)
                    waiting = True
            except NameConflictError:
                if not waiting:
                    raise
                lost = _moved_on(store, self.head, new)
                self.lost = lost
                _leases.remove(self)
                live.lost(lost)  # raises
                raise
            self.head, self.state = head, new
            _leases.remove(self)
        value, response = live.block(self, call, request)
        return call.answered(request, value, response)

    def resume_here(self, path: tuple[int, ...], request_digest: str, value: Any) -> Ref[Response]:
        """Claims the paused run back with an answer and journals it, in one transaction.

        Raises:
            RunConflictError: The head moved on (another process answered or
                continued the run): this process must not continue it.
        """
        answered: list[Ref[Response]] = []

        def running() -> RunState:
            response = commit_response(self.store, Response(Output(value), None, False, []))
            answered.append(response)
            now = time.time()
            state = self.state.moved(
                self.head,
                "running",
                "answered",
                updated=now,
                owner=process_owner(),
                lease_until=now + self.lease_seconds,
                journal_to=next(self._seq),
                answer_path=list(path),
                answer_request=request_digest,
                answer=response,
            )
            self.store.log_name(self.entry_name(path, request_digest), response.digest)
            return state

        self._move_with(running)
        self.renew_at = time.time() + self.lease_seconds / 3
        _leases.add(self)
        return answered[0]

    def abandon(self, why: RunConflictError) -> None:
        """This process gives the run up: nothing more of it is written from here."""
        self.lost = why
        _leases.remove(self)

    def materializes(self, error: BaseException | None) -> bool:
        return self.trees or not _is_input_request(error)

    def finish(
        self, close: Callable[[], RootOutcome], batch: AbstractContextManager[None] | None = None
    ) -> RootOutcome:
        """`RootSink.finish`: what `close` commits, the tree, the timings and the new
        state, in one write (see `_move_with`; in `batch`, if given, which this ends);
        returns what `close` returned.

        Raises:
            RunConflictError: The head moved on (this process lost its lease):
                nothing of it is written.
        """
        ended: list[RootOutcome] = []

        def make_state() -> RunState:
            outcome = ended[0]
            if outcome.error is None:
                status = "complete"
            elif _is_input_request(outcome.error):
                status = "waiting"
            else:
                status = "raised"
            journal_to = next(self._seq)
            tree = outcome.tree  # the engine committed it in this batch
            timings = self._timings(status)
            if tree is None:
                return self._next(
                    status,
                    "finished",
                    journal_to=journal_to,
                    raised=outcome.raised,
                    raised_here=False,
                    **timings,
                )
            return self._next(
                status,
                "finished",
                tree=tree,
                journal_from=journal_to,
                journal_to=journal_to,
                raised=outcome.raised,
                raised_here=outcome.raised_here,
                **timings,
            )

        self._move_with(make_state, first=lambda: ended.append(close()), batch=batch)
        outcome = ended[0]
        if outcome.invocation is not None and self._journaled:
            # The tree holds the journal now: its entries go (after the head's move, so
            # that a crash in between leaves entries that the new state does not read).
            self.store.delete_names(_journal_prefix(self.run_id))
        return outcome

    def interrupted(self, error: BaseException) -> None:
        if self.lost is None:
            try:

                def make_state() -> RunState:
                    timings = self._timings("interrupted")
                    journal_to = next(self._seq)
                    event = "interrupted"
                    # What interrupted it, for `enact log --history` and `Run.state`.
                    raised = self.store.commit(record_exception(error))
                    return self._next(
                        event, event, journal_to=journal_to, raised=raised, raised_here=True,
                        **timings,
                    )  # fmt: skip

                self._move_with(make_state)
            except Exception as failure:
                # The error that interrupted the run matters more: it is re-raised, and
                # says why the head could not be moved (it still shows the run as
                # running until its process is gone or its lease expires).
                _leases.remove(self)
                error.add_note(
                    f"enact could not mark run {self.run_id!r} interrupted "
                    f"({type(failure).__name__}: {failure}); it shows as interrupted once "
                    "this process has exited or its lease has expired, and enact.resume "
                    "continues it then."
                )

    def _timings(self, status: str) -> dict[str, Any]:
        """This attempt's `RunTimings`, for the next state (committed into its batch).

        Returns the ``timings`` change for that state (none if timings are off).
        The first attempt of a run of a few calls (`INLINE_TIMINGS`) keeps its
        record in the state, as one line of text (`RunTimings.to_text`): no
        object, digest and row of its own, which for a run of one call is
        most of what timings cost. The next attempt makes it an object of its
        own, which its record refers to.
        """
        timer = self.timer
        if timer is None:
            return {}
        try:
            if self._earlier_timings is None:
                text = timer.close_text(status)
                if text is not None:
                    return {"timings": text}
            record = timer.close(status, self._earlier_record())
            if record is None:
                return {}
            return {"timings": self.store.commit(record)}
        except Exception as err:  # timings are not worth failing a finished run for
            logger.warning("run %s: its timings were not recorded: %s", self.run_id, err)
            return {}

    def _earlier_record(self) -> Ref[RunTimings] | None:
        """The record of the attempts before this one, as an object (a line becomes one)."""
        earlier = self._earlier_timings
        if isinstance(earlier, str):
            record = RunTimings.from_text(earlier, self.run_id)
            earlier = self._earlier_timings = None if record is None else self.store.commit(record)
        return earlier

    def _timings_so_far(self) -> dict[str, Any]:
        """The ``timings`` change that keeps the calls timed since the last renewal.

        A process killed mid-run (``kill -9``, a lost machine) writes no final
        record; what its attempt ran until its last renewal is then kept, as
        records of status ``running`` (each of the calls since the one
        before, which it refers to) that the next attempt refers to. Nothing
        when no call finished since the last renewal.
        """
        timer = self.timer
        if timer is None or timer.call_count() == self._kept_calls:
            return {}
        try:
            previous = self._kept or self._earlier_record()
            record = timer.close("running", previous, self._kept_calls, self._kept_reused)
            if record is None:
                return {}
            self._kept = self.store.commit(record)
            self._kept_calls += record.count
            self._kept_reused += record.reused
            return {"timings": self._kept}
        except Exception as err:  # the lease matters more
            logger.warning("run %s: its timings so far were not kept: %s", self.run_id, err)
            return {}

    # Head moves ---------------------------------------------------------------

    def _next(self, status: str, event: str, **changes: Any) -> RunState:
        """The state this process leaves the run in: not owned, no answer pending."""
        changes.setdefault("answer_path", None)
        changes.setdefault("answer_request", None)
        changes.setdefault("answer", None)
        return self.state.moved(self.head, status, event, owner=None, lease_until=None, **changes)

    def _move_with(
        self,
        make_state: Callable[[], RunState],
        first: Callable[[], object] | None = None,
        batch: AbstractContextManager[None] | None = None,
    ) -> None:
        """Moves the head from this process's state to the one `make_state` returns, in one
        write with what `first` and `make_state` commit; ends the lease (a caller that goes
        on running the run adds it again).

        The write is `batch`, an open `Store.batch` that this ends (the root's, for a run
        journaled at its end), or a batch of its own; for a run started inside a caller's
        batch, that batch's (its head then moves without a compare-and-set, since nobody
        else can see the run before the caller's batch ends). `first` (the root call's
        close, which tells observers of the call) runs before the lock that keeps the
        lease thread from moving the head is taken; the lock is held from reading the
        head until its compare-and-set.

        Raises:
            RunConflictError: The head moved on; nothing was written.
        """
        store = self.store
        if batch is None:
            assert self.deferred or not store.in_batch()  # must not join a caller's batch
            batch = store.batch()
            batch.__enter__()
        locked = False
        try:
            try:
                if first is not None:
                    first()
                self._lock.acquire()
                locked = True
                expected = self.head
                state = make_state()
                ref: Ref[RunState] = store.commit(state)
                name = RUN_PREFIX + self.run_id
                if self.deferred:
                    store.log_name(name, ref.digest)
                else:
                    store.log_name(name, ref.digest, expected=expected)
            except BaseException as error:
                batch.__exit__(type(error), error, error.__traceback__)  # writes nothing
                raise
            try:
                batch.__exit__(None, None, None)
            except NameConflictError as err:
                raise _moved_on(store, expected, state) from err
            self.head, self.state = ref, state
        finally:
            if locked:
                self._lock.release()
            _leases.remove(self)

    def renew(self) -> None:
        """Extends the lease (called by the lease thread)."""
        with self._lock:
            if self.state.status != "running" or self.lost is not None:
                return
            now = time.time()
            renewed = dataclasses.replace(
                self.state,
                lease_until=now + self.lease_seconds,
                updated=now,
                **self._timings_so_far(),
            )
            try:
                self.head, self.state = _compare_and_set(self.store, self.head, renewed), renewed
            except RunConflictError as err:
                self.lost = err
                _leases.remove(self)
                return
            except Exception:
                return  # a store hiccup: try again at the next tick
            self.renew_at = now + self.lease_seconds / 3


def _compare_and_set(
    store: Store,
    expected: Ref[RunState] | None,
    new: RunState,
    ref: Ref[RunState] | None = None,
) -> Ref[RunState]:
    """Commits `new` (unless `ref`, its ref, says it is stored) and moves the run's head
    to it from `expected`: one write (a transaction where the backend has them)."""
    name = RUN_PREFIX + new.run_id
    try:
        if store.in_batch():  # a caller's batch would put the compare-and-set off to its end
            ref = ref or store.commit(new)
            store.set_name(name, ref, expected=expected)
            return ref
        with store.batch():
            ref = ref or store.commit(new)
            store.log_name(name, ref.digest, expected=expected)
    except NameConflictError as err:
        raise _moved_on(store, expected, new) from err
    return ref


def _moved_on(store: Store, expected: Ref[RunState] | None, new: RunState) -> RunConflictError:
    """The error of a head move that lost its compare-and-set."""
    current = store.get_name(RUN_PREFIX + new.run_id)
    status = None
    if current is not None:
        status = _read_state(store, new.run_id, current).effective_status()
    return RunConflictError(
        f"Run {new.run_id!r} moved on: its head is now "
        f"{current.digest if current else 'gone'} ({status or 'no status'}), not the state "
        f"{expected.digest if expected else '(none)'} this process started from. Another "
        f"process claimed or continued it; read it again (enact log), or fork the state "
        "you meant (enact fork) to continue it as a new run.",
        run_id=new.run_id,
        status=status,
        head=None if current is None else current.digest,
    )


def create_run(store: Store, make_state: Callable[[], RunState]) -> tuple[Ref[RunState], RunState]:
    """Writes a new run: what `make_state` commits (the run's request), the state it
    returns, the run's index name and its head (by compare-and-set from no head).

    Where the backend writes names in a transaction (`Store.names_in_transaction`)
    all of it is one write. Elsewhere the index name is written before the head:
    a crash between the two leaves an index name with no head, which `list_runs`
    skips, never a run that `list_runs` cannot find.

    Raises:
        RunConflictError: A run with this id exists already (nothing of the new
            run is left named).
    """
    if store.names_in_transaction:
        state: RunState | None = None
        try:
            with store.batch():
                state = make_state()
                ref: Ref[RunState] = store.commit(state)
                store.log_name(run_index_name(state), ref.digest)
                store.log_name(RUN_PREFIX + state.run_id, ref.digest, expected=None)
        except NameConflictError as err:
            assert state is not None
            raise _moved_on(store, None, state) from err
        return ref, state
    state = make_state()
    index_name = run_index_name(state)
    ref = store.commit(state)
    store.set_name(index_name, ref)
    try:
        return _compare_and_set(store, None, state, ref), state
    except RunConflictError:
        store.set_name(index_name, None)
        raise


def supports_runs(store: Store) -> bool:
    """Whether the store's backend keeps names (runs need them); asked once per store."""
    if store.names_in_transaction:  # such a backend has names: no probe (a query) needed
        return True
    memo = store.memo(_SUPPORTS_MEMO)
    known = memo.get("names")
    if known is None:
        try:
            store.get_name(RUN_PREFIX + "enact-probe")
            known = True
        except UnsupportedOperationError:
            known = False
        memo["names"] = known
    return bool(known)


_SUPPORTS_MEMO: Final = "enact.runs.supports"


def start_run(
    store: Store,
    invokable: Any,
    input_value: Any,
    *,
    run_id: str | None,
    status: str = "running",
    queue: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
    trees: bool = True,
    request: Ref[Request] | None = None,
) -> RunHandle | tuple[Ref[RunState], RunState]:
    """Records a new run; returns its handle (or its head and state when not running).

    `request`: the ref of ``Request(invokable, input_value)`` if `store` holds it
    already (a replay's, just read from it), which is then not committed again.

    Raises:
        RunConflictError: A run with this id exists already.
    """
    run_id = check_run_id(run_id) if run_id is not None else new_run_id()
    running = status == "running"

    def make_state() -> RunState:
        """The run's first state; its request is committed with it."""
        now = time.time()
        return RunState(
            run_id=run_id,
            status=status,
            request=request or commit_request(store, invokable, input_value),
            tree=None,
            journal_from=0,
            journal_to=0,
            raised=None,
            raised_here=False,
            event="started",
            function=_function_name(invokable),
            created=now,
            updated=now,
            owner=process_owner() if running else None,
            lease_until=now + lease_seconds if running else None,
            queue=queue,
        )

    if store.in_batch():
        # Inside a `store.batch()` block nothing may be written before the block
        # ends: the run's records are written with it (no claim is needed, since
        # nobody else can see the run before that).
        if store.get_name(RUN_PREFIX + run_id) is not None:
            raise RunConflictError(
                f"A run with id {run_id!r} exists already; choose another run id.", run_id=run_id
            )
        state = make_state()
        head = store.commit(state)
        store.log_name(RUN_PREFIX + run_id, head.digest)
        store.log_name(run_index_name(state), head.digest)
        return RunHandle(
            store, state, head, lease_seconds=lease_seconds, trees=trees, deferred=True
        )
    try:
        head, state = create_run(store, make_state)
    except RunConflictError as err:
        raise RunConflictError(
            f"A run with id {run_id!r} exists already (status {err.status}). "
            f"{_EXISTING_RUN_HINTS.get(err.status or '', _EXISTING_RUN_HINT)}",
            run_id=run_id,
            status=err.status,
            head=err.head,
        ) from None
    if not running:
        return head, state
    return RunHandle(store, state, head, lease_seconds=lease_seconds, trees=trees)


_EXISTING_RUN_HINT: Final = "Look it up with enact.get_run, or choose another run id."
_EXISTING_RUN_HINTS: Final = {
    "waiting": "It waits for input: answer it with enact.answer, or choose another run id.",
    "answered": "Continue it with enact.resume, or choose another run id.",
    "interrupted": "Continue it with enact.resume, or choose another run id.",
    "queued": "A worker will run it (or enact.resume here); or choose another run id.",
    "running": "Another process is running it now; or choose another run id.",
    "complete": "It has finished: fork it (enact.fork) to run it again, or choose another run id.",
    "raised": "It has finished: fork it (enact.fork) to run it again, or choose another run id.",
}
"""What to do about a run id that is taken, by the existing run's status."""


CLAIMABLE: Final = frozenset({"queued", "answered", "interrupted", "waiting"})


def claim(
    run: Run | str,
    *,
    store: Store | None = None,
    expected: Ref[RunState] | None = None,
    statuses: frozenset[str] = CLAIMABLE,
    lease_seconds: float = LEASE_SECONDS,
    trees: bool = True,
    event: str = "claimed",
    answer: tuple[tuple[int, ...], str, Any] | None = None,
) -> tuple[RunHandle, Run]:
    """Claims a run for this process: moves its head to ``running`` by compare-and-set.

    Args:
        run: The run (or its id).
        expected: The state the caller means to continue (default: the head
            as read now); if the head has moved on, the claim fails.
        statuses: The statuses that may be claimed.
        answer: ``(path, request call digest, value)``: answer a waiting run in
            the same compare-and-set that claims it.

    Returns:
        The handle to run it with, and the run as it was before the claim.

    Raises:
        RunConflictError: The run is held by another process, in a status that
            cannot be continued, or its head is not `expected`.
    """
    if isinstance(run, Run) and expected is not None and expected.digest == run.head.digest:
        current = run  # read already; the compare-and-set below checks it is still the head
    else:
        current = get_run(
            run if isinstance(run, str) else run.id,
            store=store or (None if isinstance(run, str) else run.store),
        )
    if expected is not None and expected.digest != current.head.digest:
        raise run_conflict(
            current,
            f"Run {current.id!r} moved on: the state {expected.digest} is no longer its head "
            f"(the head is {current.head.digest}, {current.status}). Continue the head, or "
            "fork that state to make a new run from it.",
        )
    status = current.status
    if status not in statuses:
        held = status == "running"
        raise RunConflictError(
            f"Run {current.id!r} is {status}"
            + (
                f" in process {current.state.owner} (lease until "
                f"{time.strftime('%H:%M:%S', time.localtime(current.state.lease_until or 0))})"
                if held
                else ""
            )
            + f"; it cannot be continued now (head {current.head.digest}). "
            + (
                "Wait for it, or for its lease to expire."
                if held
                else "It waits for input: answer it (enact.answer, or `enact answer RUN`)."
                if status == "waiting"
                else "Fork it to run it again as a new run."
            ),
            run_id=current.id,
            status=status,
            head=current.head.digest,
        )
    now = time.time()
    journal_from = current.state.journal_from
    entries = read_journal(current.store, current.id, journal_from)
    journal_to = _journal_end(current, entries)
    answered: dict[str, Any] = {}
    if answer is not None:
        path, request_digest, value = answer
        response = commit_response(current.store, Response(Output(value), None, False, []))
        answered = {"answer_path": list(path), "answer_request": request_digest, "answer": response}
    state = current.state.moved(
        current.head,
        "running",
        event,
        updated=now,
        owner=process_owner(),
        lease_until=now + lease_seconds,
        journal_to=journal_to,
        **answered,
    )
    head = _compare_and_set(current.store, current.head, state)
    if status != "running":
        # The last attempt ended (it recorded its stop) and the run is held now: no
        # entry can arrive below journal_to, so the read above is the one continuing
        # the run needs (it was made twice). After an expired lease the old attempt
        # may still be writing: the journal is read again then.
        keep_journal(current.store, current.id, journal_from, journal_to, entries)
    handle = RunHandle(current.store, state, head, lease_seconds=lease_seconds, trees=trees)
    # Written under the claim, so two answerers can never both reach the journal: this
    # answer, and those recorded since the run last waited (gathered requests).
    answers = recorded_answers(current) if current.status == "answered" else []
    own = state.answer is not None and state.answer_path is not None and state.answer_request
    if own and (answer is not None or not answers):
        assert state.answer is not None and state.answer_path is not None
        answers.insert(0, (tuple(state.answer_path), str(state.answer_request), state.answer))
    for path, request_digest, response_ref in reversed(answers):
        handle.store.log_name(handle.entry_name(path, request_digest), response_ref.digest)
    return handle, current


def run_conflict(run: Run, message: str) -> RunConflictError:
    """A `RunConflictError` about `run`, with its id, status and head as attributes."""
    return RunConflictError(message, run_id=run.id, status=run.status, head=run.head.digest)


def _journal_end(run: Run, entries: list[JournalEntry]) -> int:
    """The next free journal sequence number of a run, given its `entries` from its
    state's ``journal_from`` on (those of crashed attempts included)."""
    last = max((entry.seq for entry in entries), default=-1)
    return max(run.state.journal_to, last + 1)
