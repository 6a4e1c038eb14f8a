"""Runs: one identity per top-level invocation, its head state, and its journal.

Every top-level `invoke` starts a *run*. A run's states are `RunState`
resources chained by ``previous``, and its *head* (the latest state) is the
store name ``runs/<run id>``, moved only by compare-and-set. So any process
that continues a run -- answers it, resumes it -- first *claims* it: it moves
the head from the state it read to a ``running`` state that names the
process and a lease. A second process that tries the same loses the
compare-and-set and gets `RunConflictError` before any program code runs.

With per-call durability (the default) each finished call is recorded as a
journal entry, the name ``enact/journal/<run>/<seq>/<path>/<request digest>``
pointing at the call's response, written in one backend call with the
request and the response. A crash loses at most the calls still running;
resuming reads the entries in order (one range scan) and rebuilds the
template for a replay. When a run's state has a committed invocation tree
(the run returned or raised), its entries are folded into that tree and
deleted.

Listing runs newest first uses ``enact/run-index/<created ns>/<run id>``,
written once when the run starts, so a page of runs costs a page of names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import re
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any, Final, Literal

from enact import registry
from enact.errors import (
    InvalidNameError,
    InvocationError,
    NameConflictError,
    NotFoundError,
    RunConflictError,
    RunNotFoundError,
)
from enact.invocations.diagnostics import describe
from enact.invocations.engine import (
    Invocation,
    OpenCall,
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
from enact.invocations.records import Output, Request, Response
from enact.invocations.responses import commit_response, read_response
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.base import NameQuery, UnsupportedOperationError
from enact.stores.store import Store, current_store

RUN_PREFIX: Final = "runs/"
"""``runs/<run id>`` is the head of a run: its latest `RunState`."""

INDEX_PREFIX: Final = "enact/run-index/"
"""``enact/run-index/<created ns>/<run id>`` lists runs by start time."""

JOURNAL_PREFIX: Final = "enact/journal/"
"""``enact/journal/<run id>/<seq>/<path>/<request digest>`` -> response of a finished call."""

Durability = Literal["call", "end"]
"""``"call"``: each call is durable when it finishes; ``"end"``: one write at the end."""

Status = Literal["queued", "running", "waiting", "answered", "complete", "raised", "interrupted"]

STATUSES: Final = ("queued", "running", "waiting", "answered", "complete", "raised", "interrupted")

LEASE_SECONDS: Final = 30.0
"""How long a claim lasts without renewal; a running process renews it every third of it."""

_RUN_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}")


@dataclasses.dataclass
class RunState(Resource):
    """One state of a run, as stored (the head of a run is its latest state).

    Attributes:
        run_id: The run.
        status: ``queued``, ``running``, ``waiting`` (for input), ``answered``
            (ready to continue), ``complete``, ``raised`` or ``interrupted``.
        request: The root request (what the run calls).
        tree: The invocation tree of this state, or the tree the journal
            entries overlay; None if the run has no tree yet.
        journal_from: The first journal entry (sequence number) this state
            overlays on `tree`.
        journal_to: One past the last journal entry of this state.
        raised: The exception the root call ended with, if any.
        raised_here: Whether the root call itself raised it.
        event: What made this state (``started``, ``finished``, ``answered``,
            ``claimed``, ``interrupted``, ``forked``).
        function: What the run calls, for listing (``module.function``).
        created: When the run started (``time.time()``).
        updated: When this state was written.
        owner: The process that holds the run while it is ``running``.
        lease_until: Until when the owner's claim holds unless renewed.
        previous: The state before this one (renewals of a lease are not
            kept in the history).
        forked_from: ``run id`` of the run this one was forked from, if any.
        queue: The queue of a submitted run, if any.
        answer_path: The child path of the input request an ``answered`` state
            answers; whoever claims the state writes the answer to the journal.
        answer_request: The request digest of that input request call.
        answer: The `Response` holding the answer.
    """

    __enact_type_name__ = "enact.runs.RunState"

    run_id: str
    status: str
    request: Ref[Request]
    tree: Ref[Invocation] | None
    journal_from: int
    journal_to: int
    raised: Ref[Any] | None
    raised_here: bool
    event: str
    function: str
    created: float
    updated: float
    owner: str | None = None
    lease_until: float | None = None
    previous: Ref[RunState] | None = None
    forked_from: str | None = None
    queue: str | None = None
    answer_path: list[int] | None = None
    answer_request: str | None = None
    answer: Ref[Any] | None = None

    def effective_status(self, now: float | None = None) -> str:
        """The status; a ``running`` state shows as ``interrupted`` when its owner is gone.

        The owner is gone when its lease has expired, or at once when it was a
        process on this machine that no longer exists (killed, crashed).
        """
        if self.status != "running":
            return self.status
        if (
            self.lease_until is not None
            and (time.time() if now is None else now) > self.lease_until
        ):
            return "interrupted"
        if self.owner is not None and not _owner_alive(self.owner):
            return "interrupted"
        return self.status


register_resource_class(RunState)


def check_run_id(run_id: str) -> str:
    """Returns `run_id` if it can name a run; raises `InvalidNameError` if not."""
    if not isinstance(run_id, str) or _RUN_ID.fullmatch(run_id) is None:
        raise InvalidNameError(
            f"Run id {run_id!r} is not valid: use 1 to 200 letters, digits and . _ : @ + -, "
            "starting with a letter or digit (for example 'ticket-42')."
        )
    return run_id


def new_run_id() -> str:
    """A fresh run id that sorts by time: ``r<UTC time>-<random>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"r{stamp}-{uuid.uuid4().hex[:10]}"


_owner_lock = threading.Lock()
_owner: tuple[int, str] | None = None


def process_owner() -> str:
    """This process's identity in leases: ``host:pid:random`` (new after a fork)."""
    global _owner
    with _owner_lock:
        pid = os.getpid()
        if _owner is None or _owner[0] != pid:
            _owner = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
        return _owner[1]


def _owner_alive(owner: str) -> bool:
    """Whether the process named by a lease owner may still run (False only when sure)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == process_owner()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _function_name(invokable: Any) -> str:
    info = registry.function_info(invokable)
    if info is not None:
        return f"{getattr(invokable, '__module__', '')}.{getattr(invokable, '__qualname__', '')}"
    cls = type(invokable)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_input_request(error: BaseException | None) -> bool:
    return error is not None and getattr(type(error), "__enact_input_request__", False)


# The journal -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class JournalEntry:
    """One finished call recorded while its run was running."""

    seq: int
    path: tuple[int, ...]
    request: str
    response: str


def _journal_prefix(run_id: str) -> str:
    return f"{JOURNAL_PREFIX}{run_id}/"


def entry_name(run_id: str, seq: int, path: tuple[int, ...], request_digest: str) -> str:
    """The name of a journal entry (see the module docstring)."""
    dotted = ".".join(map(str, path))
    return f"{JOURNAL_PREFIX}{run_id}/{seq:010d}/{dotted}/{request_digest}"


def read_journal(
    store: Store, run_id: str, start: int = 0, stop: int | None = None
) -> list[JournalEntry]:
    """Returns the journal entries of a run with ``start <= seq < stop``, in order.

    Entries below a state's ``journal_to`` never change once the state is
    written, so a bounded read is kept per store and the next read of the
    same run fetches only what was added since (answering a run n times
    reads each entry once, not n times). Unbounded reads (of a running run,
    whose entries may still arrive out of order) are never kept.
    """
    memo: dict[str, tuple[int, int, list[JournalEntry]]] = store.memo(_JOURNAL_MEMO)
    known_from, known_upto, known = memo.get(run_id, (0, 0, []))
    if start < known_from or start > known_upto:
        known_from, known_upto, known = start, start, []
    if stop is not None and stop <= known_upto:
        return [entry for entry in known if start <= entry.seq < stop]
    fetched = _fetch_journal(store, run_id, known_upto, stop)
    if stop is not None:
        memo[run_id] = (known_from, stop, [*known, *fetched])
    return [entry for entry in known if entry.seq >= start] + fetched


_JOURNAL_MEMO: Final = "enact.runs.journal"


def _fetch_journal(store: Store, run_id: str, start: int, stop: int | None) -> list[JournalEntry]:
    prefix = _journal_prefix(run_id)
    after = f"{prefix}{start - 1:010d}/~" if start > 0 else None
    before = f"{prefix}{stop:010d}/" if stop is not None else None
    entries = []
    for name, ref in store.list_names(NameQuery(prefix, after=after, before=before)):
        seq_text, dotted, request = name[len(prefix) :].split("/")
        path = tuple(int(part) for part in dotted.split(".")) if dotted else ()
        entries.append(JournalEntry(int(seq_text), path, request, ref.digest))
    return entries


class _Node:
    """A call in the template being rebuilt: a recorded invocation, or open with overrides."""

    __slots__ = ("children", "invocation", "request")

    def __init__(self, request: str | None, invocation: Invocation | None) -> None:
        self.request = request
        self.invocation = invocation
        self.children: dict[int, _Node] | None = None

    def open(self, store: Store) -> dict[int, _Node]:
        """Turns a recorded call into one that runs again with its children as template."""
        if self.children is None:
            self.children = {}
            if self.invocation is not None:
                response = read_response(store, self.invocation.response)
                for index, child in enumerate(response.children):
                    self.children[index] = _Node(child.request.digest, child)
            self.invocation = None
        return self.children


def _overlay(store: Store, tree: Invocation | None, entries: list[JournalEntry]) -> _Node:
    """The root of `tree` with `entries` applied in order (later entries win).

    A run answered step by step asks for the same overlay again with a few
    more entries each time: the last overlay per tree and first entry is
    kept (callers only read it), and only the new entries are applied.
    """
    memo: dict[Any, tuple[list[JournalEntry], _Node]] = store.memo(_OVERLAY_MEMO)
    key = (None if tree is None else tree.response.digest, entries[0].seq if entries else None)
    cached = memo.get(key)
    if cached is not None:
        applied, root = cached
        if len(applied) <= len(entries) and (
            not applied or entries[len(applied) - 1] == applied[-1]
        ):
            _apply(store, root, entries[len(applied) :])
            memo[key] = (list(entries), root)
            return root
    root = _Node(None if tree is None else tree.request.digest, None)
    root.children = {}
    if tree is not None:
        response = read_response(store, tree.response)
        for index, child in enumerate(response.children):
            root.children[index] = _Node(child.request.digest, child)
    _apply(store, root, entries)
    if len(memo) > 1000:
        memo.clear()
    memo[key] = (list(entries), root)
    return root


_OVERLAY_MEMO: Final = "enact.runs.overlay"


def _apply(store: Store, root: _Node, entries: list[JournalEntry]) -> None:
    for entry in entries:
        node = root
        for index in entry.path[:-1]:
            children = node.open(store)
            node = children.setdefault(index, _Node(None, None))
        children = node.open(store)
        recorded = Invocation(Ref._unchecked(entry.request), Ref._unchecked(entry.response))
        children[entry.path[-1]] = _Node(entry.request, recorded)


def _template(node: _Node) -> list[Any]:
    """The replay template of an open node's children: invocations and open calls."""
    assert node.children is not None
    size = max(node.children, default=-1) + 1
    template: list[Any] = []
    for index in range(size):
        child = node.children.get(index)
        if child is None:
            template.append(OpenCall(None, []))
        elif child.children is None and child.invocation is not None:
            template.append(child.invocation)
        else:
            template.append(OpenCall(child.request, _template(child) if child.children else []))
    return template


def _materialize(store: Store, node: _Node) -> list[Invocation]:
    """Commits the open calls below `node`; returns its children as invocations."""
    assert node.children is not None
    children = []
    for index in sorted(node.children):
        child = node.children[index]
        if child.children is None and child.invocation is not None:
            children.append(child.invocation)
        elif child.request is not None:
            response = Response(None, None, False, _materialize(store, child))
            children.append(
                Invocation(Ref._unchecked(child.request), commit_response(store, response))
            )
    return children


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
    upper = before
    if until is not None:
        bound = f"{INDEX_PREFIX}{int(until * 1e9):020d}/"
        upper = bound if upper is None else min(upper, bound)
    lower = f"{INDEX_PREFIX}{int(since * 1e9) - 1:020d}/~" if since is not None else None
    found: list[Run] = []
    page = max(limit, 50)
    while len(found) < limit:
        rows = store.list_names(
            NameQuery(INDEX_PREFIX, after=lower, before=upper, reverse=True, limit=page)
        )
        for name, _ in rows:
            upper = name
            run_id = name.rsplit("/", 1)[1]
            try:
                run = get_run(run_id, store=store)
            except RunNotFoundError:
                continue
            run.cursor = name
            if status is not None and run.status != status:
                continue
            if function is not None and not (
                run.function == function or run.function.endswith("." + function)
            ):
                continue
            found.append(run)
            if len(found) == limit:
                break
        if len(rows) < page:
            break
    return found


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
        self.state = state
        self.head = head
        self.run_id = state.run_id
        self.lease_seconds = lease_seconds
        self.trees = trees
        self.deferred = deferred
        self.lost: RunConflictError | None = None
        self._seq = itertools.count(state.journal_to)
        self._lock = threading.Lock()
        self.renew_at = time.time() + lease_seconds / 3
        if not deferred:
            _leases.add(self)

    # CallSink ---------------------------------------------------------------

    def entry_name(self, path: tuple[int, ...], request_digest: str) -> str:
        return entry_name(self.run_id, next(self._seq), path, request_digest)

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def materializes(self, error: BaseException | None) -> bool:
        return self.trees or not _is_input_request(error)

    def finished(self, outcome: RootOutcome) -> None:
        if outcome.error is None:
            status = "complete"
        elif _is_input_request(outcome.error):
            status = "waiting"
        else:
            status = "raised"
        journal_to = next(self._seq)
        tree = outcome.invocation
        if tree is not None:
            new = self._next(
                status,
                "finished",
                tree=self.store.commit(tree),
                journal_from=journal_to,
                journal_to=journal_to,
                raised=outcome.raised,
                raised_here=outcome.raised_here,
            )
        else:
            new = self._next(
                status,
                "finished",
                journal_to=journal_to,
                raised=outcome.raised,
                raised_here=False,
            )
        self._move(new)
        if tree is not None:
            self.store.delete_names(_journal_prefix(self.run_id))

    def interrupted(self, error: BaseException) -> None:
        if self.lost is None:
            try:
                self._move(self._next("interrupted", "interrupted", journal_to=next(self._seq)))
            except Exception:  # the error that interrupted the run matters more
                _leases.remove(self)

    # Head moves ---------------------------------------------------------------

    def _next(self, status: str, event: str, **changes: Any) -> RunState:
        now = time.time()
        changes.setdefault("answer_path", None)
        changes.setdefault("answer_request", None)
        changes.setdefault("answer", None)
        return dataclasses.replace(
            self.state,
            status=status,
            event=event,
            updated=now,
            owner=None,
            lease_until=None,
            previous=self._history_head(),
            **changes,
        )

    def _history_head(self) -> Ref[RunState]:
        """The state to chain the next one to: the head, skipping this process's claim."""
        return self.head

    def _move(self, new: RunState) -> None:
        """Moves the head from this process's state to `new`; ends the lease."""
        with self._lock:
            try:
                if self.deferred:
                    self.head, self.state = self.store.commit(new), new
                    self.store.log_name(RUN_PREFIX + self.run_id, self.head.digest)
                else:
                    self.head, self.state = _compare_and_set(self.store, self.head, new), new
            finally:
                _leases.remove(self)

    def renew(self) -> None:
        """Extends the lease (called by the lease thread)."""
        with self._lock:
            if self.state.status != "running" or self.lost is not None:
                return
            now = time.time()
            renewed = dataclasses.replace(
                self.state, lease_until=now + self.lease_seconds, updated=now
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


def _compare_and_set(store: Store, expected: Ref[RunState] | None, new: RunState) -> Ref[RunState]:
    ref: Ref[RunState] = store.commit(new)
    try:
        store.set_name(RUN_PREFIX + new.run_id, ref, expected=expected)
    except NameConflictError as err:
        current = store.get_name(RUN_PREFIX + new.run_id)
        status = None
        if current is not None:
            status = _read_state(store, new.run_id, current).effective_status()
        raise RunConflictError(
            f"Run {new.run_id!r} moved on: its head is now "
            f"{current.digest if current else 'gone'} ({status or 'no status'}), not the state "
            f"{expected.digest if expected else '(none)'} this process started from. Another "
            f"process claimed or continued it; read it again (enact log), or fork the state "
            "you meant (enact fork) to continue it as a new run.",
            run_id=new.run_id,
            status=status,
            head=None if current is None else current.digest,
        ) from err
    return ref


def supports_runs(store: Store) -> bool:
    """Whether the store's backend keeps names (runs need them); asked once per store."""
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
) -> RunHandle | tuple[Ref[RunState], RunState]:
    """Records a new run; returns its handle (or its head and state when not running).

    Raises:
        RunConflictError: A run with this id exists already.
    """
    run_id = check_run_id(run_id) if run_id is not None else new_run_id()
    request_ref: Ref[Request] = store.commit(Request(invokable, input_value))
    now = time.time()
    running = status == "running"
    state = RunState(
        run_id=run_id,
        status=status,
        request=request_ref,
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
        head = store.commit(state)
        store.log_name(RUN_PREFIX + run_id, head.digest)
        store.log_name(f"{INDEX_PREFIX}{int(now * 1e9):020d}/{run_id}", head.digest)
        return RunHandle(
            store, state, head, lease_seconds=lease_seconds, trees=trees, deferred=True
        )
    try:
        head = _compare_and_set(store, None, state)
    except RunConflictError as err:
        raise RunConflictError(
            f"A run with id {run_id!r} exists already (status {err.status}). Continue it with "
            "enact.resume / answer, or choose another run id.",
            run_id=run_id,
            status=err.status,
            head=err.head,
        ) from None
    store.set_name(f"{INDEX_PREFIX}{int(now * 1e9):020d}/{run_id}", head)
    if not running:
        return head, state
    return RunHandle(store, state, head, lease_seconds=lease_seconds, trees=trees)


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
                else "Fork it to run it again as a new run."
            ),
            run_id=current.id,
            status=status,
            head=current.head.digest,
        )
    now = time.time()
    entries_to = _journal_end(current)
    state = dataclasses.replace(
        current.state,
        status="running",
        event=event,
        updated=now,
        owner=process_owner(),
        lease_until=now + lease_seconds,
        previous=current.head,
        journal_to=entries_to,
    )
    if answer is not None:
        path, request_digest, value = answer
        response = commit_response(current.store, Response(Output(value), None, False, []))
        state = dataclasses.replace(
            state, answer_path=list(path), answer_request=request_digest, answer=response
        )
    head = _compare_and_set(current.store, current.head, state)
    handle = RunHandle(current.store, state, head, lease_seconds=lease_seconds, trees=trees)
    if state.answer is not None and state.answer_path is not None and state.answer_request:
        # Written under the claim, so two answerers can never both reach the journal.
        name = handle.entry_name(tuple(state.answer_path), state.answer_request)
        handle.store.log_name(name, state.answer.digest)
    return handle, current


def run_conflict(run: Run, message: str) -> RunConflictError:
    """A `RunConflictError` about `run`, with its id, status and head as attributes."""
    return RunConflictError(message, run_id=run.id, status=run.status, head=run.head.digest)


def _journal_end(run: Run) -> int:
    """The next free journal sequence number of a run (after entries of crashed attempts)."""
    entries = read_journal(run.store, run.id, run.state.journal_from)
    last = max((entry.seq for entry in entries), default=-1)
    return max(run.state.journal_to, last + 1)


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
    return RootPlan(
        request.invokable,
        request.input,
        request_ref=state.request,
        template=_template(root),
        strict=strict,
        sink=handle,
        durable_calls=True,
    )


def run_plan(
    invokable: Any,
    input_value: Any,
    *,
    run_id: str | None,
    durability: Durability | None,
    trees: bool = True,
) -> RootPlan:
    """The plan for a new top-level call: a new run, unless this call is nested in one."""
    return prepare_root(
        RootPlan(invokable, input_value), run_id=run_id, durability=durability, trees=trees
    )


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
    handle = start_run(store, invokable, input_value, run_id=run_id, trees=trees)
    assert isinstance(handle, RunHandle)
    plan.request_ref = handle.state.request
    plan.sink = handle
    plan.durable_calls = mode == "call" and not handle.deferred
    return plan


def invoke(
    invokable: Any,
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    *,
    run_id: str | None = None,
    durability: Durability | None = None,
) -> Invocation:
    """Calls `invokable` and journals the call tree in the active store, as a new run.

    `invokable` is a function decorated with `enact.register` (called with
    ``*args, **kwargs``) or an `enact.Invokable` (called with ``args[0]``, or
    with no argument). Exceptions raised by the call are recorded in the
    returned invocation rather than raised.

    Args:
        run_id: The run's id (default: a new one that sorts by time); see
            `enact.get_run`.
        durability: ``"call"`` (the store's default): each journaled call is
            durable when it finishes, so a crash loses at most the calls still
            running. ``"end"``: the journal is written once when the run
            ends, faster, but a crash loses the whole run.

    Raises:
        NoActiveStoreError: No store is active.
        RunConflictError: A run with `run_id` exists already.
        ReplayError, IncompleteSubinvocationError: The call could not be journaled.
        KeyboardInterrupt, SystemExit: Re-raised after the run is marked interrupted.
    """
    invokable, args = unbind(invokable, args)
    input_value = root_input(invokable, args, kwargs)
    if is_async_invokable(invokable):
        raise InvocationError(
            f"{describe(invokable)} is asynchronous: use `await enact.invoke_async(...)` "
            "or `await invokable.invoke(...)`."
        )
    plan = run_plan(invokable, input_value, run_id=run_id, durability=durability)
    return _tree(invoke_root(plan))


async def invoke_async(
    invokable: Any,
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    *,
    run_id: str | None = None,
    durability: Durability | None = None,
) -> Invocation:
    """Like `invoke`, for asynchronous invokables and ``async def`` registered functions."""
    invokable, args = unbind(invokable, args)
    input_value = root_input(invokable, args, kwargs)
    plan = run_plan(invokable, input_value, run_id=run_id, durability=durability)
    return _tree(await invoke_root_async(plan))


set_root_preparer(prepare_root)


def _tree(outcome: RootOutcome) -> Invocation:
    assert outcome.invocation is not None
    return outcome.invocation


RESUMABLE: Final = frozenset({"interrupted", "answered", "queued"})


def resume(run: Run | str, *, strict: bool = True, store: Store | None = None) -> Run:
    """Continues an interrupted (or answered, or queued) run in this process.

    Every call that finished before the interruption returns its recorded
    output; calls that were still running (or raised) run again. For runs
    of asynchronous invokables from async code, use `resume_async`.

    Raises:
        RunConflictError: The run is held by a live process, or cannot be continued.
    """
    current = get_run(run, store=store) if isinstance(run, str) else run
    check_sync_here(current)
    handle, before = claim(current, statuses=RESUMABLE, event="resumed")
    run_claimed(handle, before, strict=strict)
    return get_run(handle.run_id, store=handle.store)


def check_sync_here(run: Run) -> None:
    """Refuses, before any claim, to run an asynchronous run's code from a running loop."""
    request = run.store.checkout(run.state.request)
    if not is_async_invokable(request.invokable):
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
    )
    head = _compare_and_set(target_store, None, new)
    target_store.set_name(f"{INDEX_PREFIX}{int(now * 1e9):020d}/{new_id}", head)
    return Run(target_store, head, new)


def record_answer(run: Run, path: tuple[int, ...], request_digest: str, value: Any) -> Run:
    """Moves a waiting run to ``answered``: the answer is stored, nothing runs.

    Raises:
        RunConflictError: The run's head moved on since `run` was read.
    """
    store = run.store
    response = commit_response(store, Response(Output(value), None, False, []))
    now = time.time()
    state = dataclasses.replace(
        run.state,
        status="answered",
        event="answered",
        updated=now,
        previous=run.head,
        answer_path=list(path),
        answer_request=request_digest,
        answer=response,
    )
    head = _compare_and_set(store, run.head, state)
    return Run(store, head, state)
