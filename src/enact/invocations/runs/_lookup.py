"""Finding runs: `Run`, `get_run`, `list_runs`, and a state's invocation tree."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any, Final

from enact.errors import (
    EnactError,
    NotFoundError,
    RunError,
    RunNotFoundError,
    RunTimeoutError,
)
from enact.invocations.engine import (
    Invocation,
)
from enact.invocations.records import Response
from enact.invocations.responses import commit_response, read_response
from enact.invocations.runs._journal import (
    JournalEntry,
    _materialize,
    _Node,
    _overlay,
    read_journal,
)
from enact.invocations.runs._state import (
    INDEX_PREFIX,
    RUN_PREFIX,
    STATUSES,
    RunState,
    check_run_id,
    run_index_name,
)
from enact.invocations.timings import Timings, read_timings
from enact.refs import Ref
from enact.stores.base import NameQuery
from enact.stores.store import Store, current_store

# Runs --------------------------------------------------------------------------


class Run:
    """A run as read from a store: its id and its head state.

    Attributes:
        id: The run id.
        head: Ref to the head `RunState` when this object was read.
        state: The head state.
    """

    def __init__(self, store: Store, head: Ref[RunState], state: RunState) -> None:
        self.store = store
        self.head = head
        self.state = state
        self.cursor: str | None = None
        """The index name of this run in `list_runs`: pass it as ``before`` for the next page."""

    @property
    def id(self) -> str:
        return self.state.run_id

    @property
    def status(self) -> str:
        """The status, with a ``running`` run whose lease expired shown as ``interrupted``."""
        return self.state.effective_status()

    @property
    def function(self) -> str:
        return self.state.function

    @property
    def created(self) -> float:
        return self.state.created

    @property
    def updated(self) -> float:
        return self.state.updated

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r}, head={self.head.digest[:12]})"

    def refresh(self) -> Run:
        """Reads the run's head again."""
        return get_run(self.id, store=self.store)

    def history(self) -> Iterator[tuple[Ref[RunState], RunState]]:
        """Yields the run's states, newest first, with their refs."""
        ref: Ref[RunState] | None = self.head
        while ref is not None:
            state = self.store.checkout(ref)
            yield ref, state
            ref = state.previous

    def entries(self) -> list[JournalEntry]:
        """The journal entries the head state overlays on its tree."""
        state = self.state
        if state.status == "running":
            return read_journal(self.store, self.id, state.journal_from)
        return read_journal(self.store, self.id, state.journal_from, state.journal_to)

    def invocation(self) -> Invocation | None:
        """The head state's invocation tree (committed now if it was kept as journal entries).

        None if the run has recorded nothing yet.
        """
        return state_invocation(self.store, self.state, self.entries())

    def result(self, timeout: float | None = None) -> Any:
        """Waits for the run to end (see `wait`); returns its output or raises its exception.

        Raises:
            RunTimeoutError: The run did not end within `timeout` seconds.
            Exception: The exception the run ended with, as recorded (its own
                class if that is a resource, else `enact.RecordedException`).
        """
        run = wait(self.id, timeout=timeout, store=self.store)
        store = run.store
        state = run.state
        if state.status == "raised":
            raised = None if state.raised is None else store.checkout(state.raised)
            if isinstance(raised, BaseException):
                raise raised
            raise RunError(
                f"Run {run.id!r} raised {raised!r}, which is not an exception class here.",
                run_id=run.id,
                status="raised",
                head=run.head.digest,
            )
        invocation = run.invocation()
        assert invocation is not None
        output = read_response(store, invocation.response).output
        return None if output is None else output.value

    def timings(self) -> Timings:
        """When each call of the head state's tree ran, for how long, where, and its tokens.

        Read from the `RunTimings` of the run's attempts (see
        `enact.invocations.timings`); a call that the latest attempt took from
        the journal shows ``timings.ran(path) == False``.
        """
        return read_timings(self.store, self.state.timings, self.state.run_id)

    def template_root(self) -> _Node:
        tree = None if self.state.tree is None else self.store.checkout(self.state.tree)
        return _overlay(self.store, tree, self.entries())


def state_invocation(
    store: Store, state: RunState, entries: list[JournalEntry]
) -> Invocation | None:
    """The invocation tree of `state` with `entries` (committed to `store`)."""
    tree: Invocation | None = None if state.tree is None else store.checkout(state.tree)
    if state.answer is not None and state.answer_path and state.answer_request:
        # An answered state's answer is not in the journal yet (the claimer writes it).
        answer = JournalEntry(
            state.journal_to, tuple(state.answer_path), state.answer_request, state.answer.digest
        )
        entries = [*entries, answer]
    if not entries and tree is not None:
        return tree
    root = _overlay(store, tree, entries)
    children = _materialize(store, root)
    waiting = state.status == "waiting"
    response = Response(
        None,
        state.raised if waiting or state.status == "raised" else None,
        state.raised_here if waiting else False,
        children,
    )
    invocation = Invocation(state.request, commit_response(store, response))
    store.commit(invocation)
    return invocation


ENDED: Final = frozenset({"complete", "raised"})
"""The statuses a run ends in (a waiting run has not ended: it waits for an answer)."""


def wait(run_id: str, *, timeout: float | None = None, store: Store | None = None) -> Run:
    """Waits until the run has ended (``complete`` or ``raised``); returns it.

    Reads the run's head every few milliseconds at first, backing off to
    every 0.2 s; a run that does not exist yet (being submitted) is waited for.

    Raises:
        RunTimeoutError: It had not ended after `timeout` seconds.
    """
    store = store or current_store()
    check_run_id(run_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.002
    status = "missing"
    while True:
        head = store.get_name(RUN_PREFIX + run_id)
        if head is not None:
            run = Run(store, head, _read_state(store, run_id, head))
            status = run.status
            if status in ENDED:
                return run
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise RunTimeoutError(
                f"Run {run_id!r} had not ended after {timeout:g} s (it is {status}). Wait "
                "longer, check that a worker serves its queue (enact worker), or answer it "
                "if it waits for input.",
                run_id=run_id,
                status=None if status == "missing" else status,
                head=None if head is None else head.digest,
            )
        time.sleep(delay if deadline is None else min(delay, max(0.0, deadline - now)))
        delay = min(delay * 1.5, 0.2)


def recorded_answers(run: Run) -> list[tuple[tuple[int, ...], str, Ref[Any]]]:
    """The answers recorded since the run last waited, newest first: path, request call
    digest and answer of its head and each ``answered`` state right before it.

    Several requests of one waiting state (gathered calls) can each be answered
    (`enact.answer` without ``run_now``) before the run continues once with all of them.
    """
    found: list[tuple[tuple[int, ...], str, Ref[Any]]] = []
    state, seen = run.state, {run.head.digest}
    while state.status == "answered":
        if state.answer is not None and state.answer_path is not None and state.answer_request:
            found.append((tuple(state.answer_path), state.answer_request, state.answer))
        if state.previous is None or state.previous.digest in seen:
            break
        seen.add(state.previous.digest)
        state = _read_state(run.store, run.id, state.previous)
    return found


def _read_state(store: Store, run_id: str, ref: Ref[Any]) -> RunState:
    try:
        state = store.checkout(ref)
    except NotFoundError as err:
        raise RunNotFoundError(
            f"Run {run_id!r}: its head {ref.digest} is missing from the store; restore it "
            "from a copy (enact copy) or delete the name runs/" + run_id + ".",
            run_id=run_id,
        ) from err
    if not isinstance(state, RunState):
        raise RunNotFoundError(
            f"Name runs/{run_id} points at a {type(state).__name__}, not at a run state "
            "(it was written by an older enact, or by hand).",
            run_id=run_id,
        )
    return state


def get_run(run_id: str, *, store: Store | None = None) -> Run:
    """Returns the run with this id (its head as of now).

    Raises:
        RunNotFoundError: No run has this id.
    """
    store = store or current_store()
    check_run_id(run_id)
    head = store.get_name(RUN_PREFIX + run_id)
    if head is None:
        raise RunNotFoundError(
            f"No run {run_id!r} in {store.backend!r}; `enact log` lists the runs.",
            run_id=run_id,
        )
    return Run(store, head, _read_state(store, run_id, head))


def list_runs(
    *,
    status: str | None = None,
    function: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 50,
    before: str | None = None,
    store: Store | None = None,
) -> list[Run]:
    """Returns runs newest first (by start time), a page at a time.

    Args:
        status: Only runs with this status (`Run.status`).
        function: Only runs of this function (its full name, or a suffix after a dot).
        since: Only runs started at or after this `time.time()`.
        until: Only runs started before this `time.time()`.
        limit: At most this many runs.
        before: The `cursor` of the last run of the previous page.
        store: The store (default: the active one).
    """
    store = store or current_store()
    if status is not None and status not in STATUSES:
        raise ValueError(f"Unknown run status {status!r}; one of {', '.join(STATUSES)}.")
    scan = scan_runs(
        store,
        status=status,
        function=function,
        since=since,
        until=until,
        before=before,
        page=max(limit, 50),
    )
    return [run for _, run in itertools.islice(scan, limit)]


def upper_bound(before: str | None, until: float | None) -> str | None:
    """The run index name below which a scan with these bounds starts (None: the newest)."""
    if until is None:
        return before
    bound = f"{INDEX_PREFIX}{int(until * 1e9):020d}/"
    return bound if before is None else min(before, bound)


def scan_runs(
    store: Store,
    *,
    status: str | None = None,
    function: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before: str | None = None,
    unreadable: list[str] | None = None,
    page: int = 50,
) -> Iterator[tuple[int, Run]]:
    """Yields ``(offset, run)`` for the runs the filters select, newest first.

    Reads the run index a page of names at a time (by a range scan between
    the time bounds) and each run's head once. `offset` counts the index
    names read so far, the skipped ones included (``enact log`` numbers its
    rows with it). Arguments as for `list_runs`.

    Args:
        unreadable: Collects the runs whose head cannot be read (id and why),
            which are then skipped; without it, such a head raises.
    """
    upper = upper_bound(before, until)
    lower = f"{INDEX_PREFIX}{int(since * 1e9) - 1:020d}/~" if since is not None else None
    offset = 0
    while True:
        rows = store.list_names(
            NameQuery(INDEX_PREFIX, after=lower, before=upper, reverse=True, limit=page)
        )
        for name, _ in rows:
            upper = name
            offset += 1
            run_id = name.rsplit("/", 1)[1]
            try:
                run = get_run(run_id, store=store)
            except RunNotFoundError:
                continue  # its head was never written (a crash right after the index name)
            except EnactError as err:  # a damaged head: reported, not skipped silently
                if unreadable is None:
                    raise
                unreadable.append(f"{run_id}: {err}")
                continue
            if run_index_name(run.state) != name:
                continue  # a left-over name of an earlier attempt to start a run of this id
            run.cursor = name
            if status is not None and run.status != status:
                continue
            if function is not None and not (
                run.function == function or run.function.endswith("." + function)
            ):
                continue
            yield offset, run
        if len(rows) < page:
            return
