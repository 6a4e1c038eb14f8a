"""What the pages show, read from the store a bounded amount at a time.

Nothing here reads the whole store: run lists read one page of the run
index (and, with a filter, at most `SCAN_LIMIT` index entries per page,
then offer to go on), trees are read a few levels at a time, and diffs
stop at `DIFF_LIMIT` calls. Values are shown with their ``repr`` only when
their types are registered in this process (``--import``); otherwise as
stored (`enact.encoding.decode_raw`), which runs no code.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import time
from collections.abc import Iterator
from typing import Any, Final

from enact import pretty, registry
from enact.digests import HEX_DIGITS
from enact.encoding import RawRef, RawResource, RawType, decode_raw
from enact.errors import EnactError, InvalidNameError, RunNotFoundError
from enact.invocations import exceptions
from enact.invocations.engine import Invocation
from enact.invocations.inputs import InputRequest, RequestInput, run_input_requests
from enact.invocations.records import CallArgs
from enact.invocations.requested_types import type_label as requested_type_label
from enact.invocations.runs import (
    INDEX_PREFIX as INDEX_PREFIX,
)
from enact.invocations.runs import (
    RUN_PREFIX as RUN_PREFIX,
)
from enact.invocations.runs import (
    Run,
    RunState,
    check_run_id,
    get_run,
    read_journal,
    run_index_name,
    state_invocation,
)
from enact.invocations.timings import Timings
from enact.pretty import shorten
from enact.refs import Ref
from enact.stores.base import NameQuery, UnsupportedOperationError
from enact.stores.store import Store

VALUE_LIMIT: Final = 300
"""Characters of a value in a tree line (the node's details show up to `DETAIL_LIMIT`)."""

DETAIL_LIMIT: Final = 20_000
"""Characters of a value in a call's details and on an object's page."""


def format_time(seconds: float | None) -> str:
    """A ``time.time()`` as UTC ``YYYY-MM-DD HH:MM:SS`` (empty for None)."""
    if seconds is None:
        return ""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_age(seconds: float, now: float | None = None) -> str:
    """How long ago, in the largest whole unit (``5 s``, ``3 min``, ``2 h``, ``4 d``)."""
    age = max(0.0, (time.time() if now is None else now) - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if age >= size:
            return f"{int(age // size)} {unit}"
    return f"{int(age)} s"


def safe_repr(value: Any, limit: int | None = VALUE_LIMIT) -> str:
    """``repr(value)``, shortened (`enact.pretty.safe_repr`, with the UI's default limit)."""
    return pretty.safe_repr(value, limit)


# Runs ----------------------------------------------------------------------------------


PAGE_SIZE: Final = 50
"""Runs on one page of the run list."""

SCAN_LIMIT: Final = 5000
"""Index entries one filtered page reads at most before it offers to go on."""

SCAN_SECONDS: Final = 0.08
"""How long one filtered page reads the run index before it offers to go on."""


@dataclasses.dataclass(frozen=True)
class RunFilter:
    """The run list's filters (all optional)."""

    status: str | None = None
    function: str | None = None
    since: float | None = None
    until: float | None = None

    @property
    def narrows(self) -> bool:
        """Whether runs must be read to be filtered (status or function given)."""
        return bool(self.status or self.function)

    def keeps(self, run: Run) -> bool:
        if self.status and run.status != self.status:
            return False
        return self.keeps_function(run.state)

    def keeps_function(self, state: RunState | None) -> bool:
        if not self.function:
            return True
        if state is None:
            return False
        return state.function == self.function or state.function.endswith("." + self.function)


@dataclasses.dataclass
class RunPage:
    """One page of the run list.

    Attributes:
        runs: The runs, newest first.
        next_cursor: Pass as ``before`` for the next page (None: no more runs).
        newest: The index name of the newest run scanned (where live updates start).
        scanned: Index entries read.
        stopped_early: The scan stopped at `SCAN_LIMIT` before the page was full.
    """

    runs: list[Run]
    next_cursor: str | None
    newest: str | None
    scanned: int
    stopped_early: bool


def index_bounds(filters: RunFilter, before: str | None) -> tuple[str | None, str | None]:
    """The run-index name range for the time filters and the cursor: (after, before)."""
    upper = before
    if filters.until is not None:
        bound = f"{INDEX_PREFIX}{max(0, int(filters.until * 1e9)):020d}/"
        upper = bound if upper is None else min(upper, bound)
    lower = None
    if filters.since is not None:
        lower = f"{INDEX_PREFIX}{max(0, int(filters.since * 1e9) - 1):020d}/~"
    return lower, upper


def run_page(
    store: Store,
    filters: RunFilter,
    before: str | None = None,
    *,
    limit: int = PAGE_SIZE,
    scan_limit: int = SCAN_LIMIT,
    seconds: float | None = SCAN_SECONDS,
) -> RunPage:
    """Reads one page of runs, newest first.

    A filtered page reads at most `scan_limit` index entries, and stops after
    `seconds` (None: no time limit) once it has read at least one chunk; the
    page then says how far it got and its cursor goes on from there.
    """
    lower, upper = index_bounds(filters, before)
    found: list[Run] = []
    scanned = 0
    newest: str | None = None
    last: str | None = None
    exhausted = False
    chunk = limit if not filters.narrows else min(scan_limit, 50 if filters.status else 100)
    deadline = None if seconds is None else time.monotonic() + seconds
    while len(found) < limit and scanned < scan_limit:
        if deadline is not None and scanned and time.monotonic() > deadline:
            break
        rows = store.list_names(
            NameQuery(INDEX_PREFIX, after=lower, before=upper, reverse=True, limit=chunk)
        )
        for name, first in rows:
            upper = last = name
            newest = newest or name
            scanned += 1
            if filters.function and not filters.keeps_function(_state(store, first)):
                continue  # a run's function is in its first state, which the index names
            run = _run_of_index(store, name)
            if run is not None:
                run.cursor = name
                if filters.keeps(run):
                    found.append(run)
            if len(found) == limit or scanned >= scan_limit:
                break
        if len(rows) < chunk and (not rows or rows[-1][0] == last):
            exhausted = True
            break
    if exhausted and len(found) < limit:
        return RunPage(found, None, newest, scanned, False)
    stopped = len(found) < limit
    return RunPage(found, last, newest, scanned, stopped)


_STATES: dict[str, RunState] = {}
"""Run states read, by digest (a digest's object never changes), to list runs faster."""

_STATES_KEPT: Final = 50_000


def _state(store: Store, ref: Ref[Any]) -> RunState | None:
    """The run state `ref` points at (cached), or None if it is not one."""
    state = _STATES.get(ref.digest)
    if state is None:
        try:
            state = store.checkout(ref)
        except EnactError:
            return None
        if not isinstance(state, RunState):
            return None
        if len(_STATES) >= _STATES_KEPT:
            _STATES.clear()
        _STATES[ref.digest] = state
    return state


def _run_of_index(store: Store, name: str) -> Run | None:
    """The run an index name lists (None if its head is gone or is not a run state)."""
    run_id = name.rsplit("/", 1)[1]
    try:
        head = store.get_name(RUN_PREFIX + run_id)
    except InvalidNameError:
        return None
    if head is None:
        return None
    state = _state(store, head)
    if state is None:
        return None
    if run_index_name(state) != name:
        return None  # a left-over name of an earlier attempt to start a run of this id
    return Run(store, head, state)


def runs_after(store: Store, filters: RunFilter, after: str, limit: int = PAGE_SIZE) -> RunPage:
    """The runs started after the index name `after` (for live updates), newest first."""
    lower, upper = index_bounds(filters, None)
    lower = after if lower is None else max(lower, after)
    rows = store.list_names(
        NameQuery(INDEX_PREFIX, after=lower, before=upper, reverse=True, limit=limit)
    )
    found = []
    for name, _ in rows:
        run = _run_of_index(store, name)
        if run is not None and filters.keeps(run):
            run.cursor = name
            found.append(run)
    newest = rows[0][0] if rows else after
    return RunPage(found, None, newest, len(rows), False)


_CALLS: dict[str, str] = {}
"""``name(arguments)`` of root requests, by request digest."""


def call_text(store: Store, run: Run, limit: int = 120) -> str:
    """What the run calls, ``name(arguments)`` (its function's name if the types are not here)."""
    digest = run.state.request.digest
    text = _CALLS.get(digest)
    if text is None:
        try:
            request = store.checkout(run.state.request)
            text = format_call(request.invokable, request.input, limit)
        except EnactError:
            return run.function.rpartition(".")[2] + "(…)"
        if len(_CALLS) >= _STATES_KEPT:
            _CALLS.clear()
        _CALLS[digest] = text
    return text


def find_run(store: Store, run_id: str) -> Run | None:
    """The run with this id, or None (also for text that cannot be a run id)."""
    try:
        check_run_id(run_id)
        return get_run(run_id, store=store)
    except (RunNotFoundError, InvalidNameError):
        return None


HISTORY_LIMIT: Final = 200
"""States of a run's history shown on its page."""


def history(
    run: Run, limit: int = HISTORY_LIMIT
) -> tuple[list[tuple[Ref[RunState], RunState]], bool]:
    """The run's newest `limit` states (newest first), and whether there are more."""
    states: list[tuple[Ref[RunState], RunState]] = []
    for item in run.history():
        if len(states) == limit:
            return states, True
        states.append(item)
    return states, False


def state_tree(store: Store, run_id: str, state: RunState) -> Invocation | None:
    """The invocation tree of one state of a run (journal entries that are gone are missing)."""
    stop = None if state.status == "running" else state.journal_to
    entries = read_journal(store, run_id, state.journal_from, stop)
    return state_invocation(store, state, entries)


# Inbox ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Pending:
    """One pending input request: its run, child path, request and request call digest."""

    run: Run
    path: tuple[int, ...]
    request: InputRequest | None
    error: str | None = None

    @property
    def path_text(self) -> str:
        return ".".join(str(index) for index in self.path)

    @property
    def type_label(self) -> str:
        return "" if self.request is None else requested_label(self.request.requested)


INBOX_RUNS: Final = 20
"""Waiting runs on one page of the inbox (each one's requests are read)."""


def inbox(store: Store, before: str | None = None) -> tuple[list[Pending], RunPage]:
    """The pending input requests of one page of waiting runs."""
    page = run_page(store, RunFilter(status="waiting"), before, limit=INBOX_RUNS)
    found: list[Pending] = []
    for run in page.runs:
        try:
            requests = run_input_requests(run)
        except EnactError as err:
            found.append(Pending(run, (), None, str(err)))
            continue
        found.extend(Pending(run, path, request) for path, request, _ in requests)
    return found, page


# Calls ----------------------------------------------------------------------------------


def type_label(requested: Any) -> str:
    """The name of a type as users write it (``str``, not ``StrWrapper``)."""
    if requested is None or requested is type(None):
        return "None"
    return str(getattr(requested, "__qualname__", requested))


def requested_label(requested: Any) -> str:
    """The label of a stored requested type: ``str`` for the wrapper of strs, ``list[str]``
    for its recorded `TypeForm` (read without the program's classes)."""
    return requested_type_label(requested)


def describe_invokable(invokable: Any) -> str:
    if registry.function_info(invokable) is not None:
        return str(getattr(invokable, "__qualname__", invokable))
    return safe_repr(invokable)


def format_call(invokable: Any, input_value: Any, limit: int | None = VALUE_LIMIT) -> str:
    """``name(arguments)``; `request_input` calls show what they ask for."""
    if isinstance(invokable, RequestInput):
        label = requested_label(invokable.requested)
        arguments = f"{label}, for_value={safe_repr(input_value, None)}"
        if invokable.context is not None:
            arguments += f", context={safe_repr(invokable.context, None)}"
        return f"request_input({shorten(arguments, limit)})"
    if isinstance(input_value, CallArgs):
        parts = [safe_repr(arg, None) for arg in input_value.args]
        parts.extend(f"{key}={safe_repr(value, None)}" for key, value in input_value.kwargs.items())
        arguments = ", ".join(parts)
    else:
        arguments = "" if input_value is None else safe_repr(input_value, None)
    return f"{describe_invokable(invokable)}({shorten(arguments, limit)})"


def describe_exception(exception: Any) -> str:
    """``Type: message`` of a recorded exception; an input request shows what it asks."""
    if isinstance(exception, InputRequest):
        return str(exception)
    return exceptions.describe_exception(exception)


@dataclasses.dataclass
class Node:
    """One call of a tree as a page shows it.

    Attributes:
        path: Child indexes from the root.
        call: ``name(arguments)``, shortened.
        state: ``complete``, ``raised``, ``waiting`` or ``no output``.
        shown: The output or exception, shortened.
        input_text / output_text: Longer renderings for the node's details.
        traceback: The recorded traceback, when there is one.
        raised_here: The exception started in this call.
        children: Child nodes read so far (None: not read, load on demand).
        child_count: How many children the call has.
        seconds: The call's duration, when recorded (`enact.Run.timings`).
        reused: The run's latest attempt took the call from the journal (it
            ran in an earlier one, which `seconds` is the duration of).
        error: Why the call could not be read (an unregistered type, a missing object).
    """

    path: tuple[int, ...]
    call: str
    state: str
    shown: str = ""
    input_text: str = ""
    output_text: str = ""
    traceback: str | None = None
    raised_here: bool = False
    children: list[Node] | None = None
    child_count: int = 0
    seconds: float | None = None
    reused: bool = False
    error: str | None = None

    @property
    def path_text(self) -> str:
        return ".".join(str(index) for index in self.path)


def read_node(
    store: Store, invocation: Invocation, path: tuple[int, ...], timings: Timings | None = None
) -> tuple[Node, list[Any]]:
    """One call (without its children) and its child invocations, timed by `timings`."""
    try:
        request = store.checkout(invocation.request)
        response = store.checkout(invocation.response)
    except EnactError as err:
        return Node(path, "(call not readable)", "error", error=str(err)), []
    children = list(response.children)
    node = Node(path, "", "no output", child_count=len(children), raised_here=response.raised_here)
    timing = None if timings is None else timings.get(path, invocation.request.digest)
    if timing is not None and timings is not None:
        node.seconds = timing.duration
        node.reused = timing.attempt != len(timings.attempts) - 1
    try:
        node.call = format_call(request.invokable, request.input)
        node.input_text = safe_repr(request.input, DETAIL_LIMIT)
    except EnactError as err:
        node.call, node.error = "(call not readable)", str(err)
    if response.output is not None:
        node.state = "complete"
        node.shown = safe_repr(response.output.value)
        node.output_text = safe_repr(response.output.value, DETAIL_LIMIT)
    elif response.raised is not None:
        try:
            exception = store.checkout(response.raised)
        except EnactError as err:
            node.state, node.error = "raised", str(err)
            return node, children
        if isinstance(exception, InputRequest):
            node.state = "waiting"
            node.shown = describe_exception(exception)
        else:
            node.state = "raised"
            node.shown = shorten(describe_exception(exception), VALUE_LIMIT)
            node.output_text = shorten(describe_exception(exception), DETAIL_LIMIT)
            trace = getattr(exception, "traceback", None)
            node.traceback = (
                shorten(trace, DETAIL_LIMIT) if isinstance(trace, str) and trace else None
            )
    return node, children


TREE_BUDGET: Final = 200
"""Calls a tree page (or one opened subtree) renders before the rest is loaded on demand."""


def read_tree(
    store: Store,
    invocation: Invocation,
    path: tuple[int, ...] = (),
    budget: int = TREE_BUDGET,
    timings: Timings | None = None,
) -> Node:
    """The call at `path` under `invocation`, with descendants breadth first up to `budget` calls.

    With `timings` (the run's, `enact.Run.timings`), each call has its duration.

    Raises:
        LookupError: No call at `path`.
    """
    target = invocation
    for index in path:
        children = store.checkout(target.response).children
        if not 0 <= index < len(children):
            raise LookupError(f"No call at path {list(path)}.")
        target = children[index]
    root, kids = read_node(store, target, path, timings)
    queue: list[tuple[Node, list[Any]]] = [(root, kids)]
    count = 1
    while queue:
        node, kids = queue.pop(0)
        if count + len(kids) > budget and node is not root:
            continue
        node.children = []
        for index, child in enumerate(kids):
            sub, grandchildren = read_node(store, child, (*node.path, index), timings)
            node.children.append(sub)
            count += 1
            queue.append((sub, grandchildren))
    return root


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children or []))


# Diffs ----------------------------------------------------------------------------------


@dataclasses.dataclass
class DiffRow:
    """One call pair of a diff.

    Attributes:
        path: Child indexes (of the left tree; the right one's where only it has the call).
        kind: ``same`` (reused: request and response identical), ``output`` (same
            call, other outcome), ``call`` (another call), ``left`` / ``right`` (only one
            side has a call at this place).
        left / right: The calls, as text.
        reused: For ``same``: how many calls the identical subtree holds.
    """

    path: tuple[int, ...]
    kind: str
    left: str = ""
    right: str = ""
    left_shown: str = ""
    right_shown: str = ""
    reused: int = 0

    @property
    def depth(self) -> int:
        return len(self.path)


@dataclasses.dataclass
class Diff:
    rows: list[DiffRow]
    same: int
    differing: int
    truncated: bool


def _count_calls(store: Store, invocation: Invocation, limit: int) -> int:
    count, stack = 0, [invocation]
    while stack and count < limit:
        current = stack.pop()
        count += 1
        stack.extend(store.checkout(current.response).children)
    return count


DIFF_LIMIT: Final = 2000
"""Call pairs a diff compares at most."""


def diff_trees(store: Store, left: Invocation, right: Invocation, limit: int = DIFF_LIMIT) -> Diff:
    """Compares two invocation trees call by call (by place: the same child indexes)."""
    rows: list[DiffRow] = []
    same = differing = 0
    stack: list[tuple[tuple[int, ...], Invocation | None, Invocation | None]] = [((), left, right)]
    while stack:
        if len(rows) >= limit:
            return Diff(rows, same, differing, True)
        path, a, b = stack.pop()
        if a is None or b is None:
            present = a if a is not None else b
            assert present is not None
            node, _ = read_node(store, present, path)
            kind = "left" if b is None else "right"
            rows.append(
                DiffRow(
                    path,
                    kind,
                    node.call if kind == "left" else "",
                    node.call if kind == "right" else "",
                    node.shown if kind == "left" else "",
                    node.shown if kind == "right" else "",
                )
            )
            differing += 1
            continue
        if a.request.digest == b.request.digest and a.response.digest == b.response.digest:
            node, _ = read_node(store, a, path)
            reused = _count_calls(store, a, limit)
            rows.append(DiffRow(path, "same", node.call, node.call, node.shown, node.shown, reused))
            same += reused
            continue
        left_node, left_kids = read_node(store, a, path)
        right_node, right_kids = read_node(store, b, path)
        kind = "output" if a.request.digest == b.request.digest else "call"
        rows.append(
            DiffRow(path, kind, left_node.call, right_node.call, left_node.shown, right_node.shown)
        )
        differing += 1
        pairs = [
            (
                (*path, index),
                left_kids[index] if index < len(left_kids) else None,
                right_kids[index] if index < len(right_kids) else None,
            )
            for index in range(max(len(left_kids), len(right_kids)))
        ]
        stack.extend(reversed(pairs))
    return Diff(rows, same, differing, False)


# Objects ------------------------------------------------------------------------------


@dataclasses.dataclass
class Resolved:
    """What a ref or name typed into the UI found."""

    ref: Ref[Any] | None
    name: str | None = None
    run: Run | None = None
    error: str | None = None


def resolve(store: Store, text: str) -> Resolved:
    """A run id, @N (the N-th latest run), a name, a full digest or a unique digest prefix."""
    text = text.strip()
    if not text:
        return Resolved(None, error="Give a run id, a name, or a digest (or a prefix of one).")
    nth = re.fullmatch(r"@([0-9]{0,4})", text)
    if nth is not None:
        number = int(nth.group(1) or 1)
        page = run_page(store, RunFilter(), limit=number) if number >= 1 else None
        if page is None or len(page.runs) < number:
            return Resolved(None, error=f"No run {text}: @1 is the latest run.")
        nth_run = page.runs[number - 1]
        return Resolved(nth_run.head, RUN_PREFIX + nth_run.id, nth_run)
    run = find_run(store, text)
    if run is not None:
        return Resolved(run.head, RUN_PREFIX + run.id, run)
    try:
        named = store.get_name(text)
    except InvalidNameError:
        named = None
    if named is not None:
        return Resolved(named, text)
    lowered = text.lower()
    if len(lowered) >= 4 and all(c in HEX_DIGITS for c in lowered):
        if len(lowered) == 64:
            ref: Ref[Any] = Ref._unchecked(lowered)
            if store.has(ref):
                return Resolved(ref)
            return Resolved(None, error=f"No object {lowered} in this store.")
        try:
            found = store.backend.digests_with_prefix(lowered, limit=6)
        except UnsupportedOperationError:
            return Resolved(None, error="This store cannot look up digest prefixes: give all 64.")
        if len(found) == 1:
            return Resolved(Ref._unchecked(found[0]))
        if found:
            shown = ", ".join(digest[:16] for digest in found[:5])
            return Resolved(None, error=f"{text!r} matches several objects ({shown}): give more.")
    return Resolved(
        None, error=f"No run, name or object {text!r} in this store (`enact log` lists runs)."
    )


@dataclasses.dataclass
class RawLine:
    """One line of an object's stored form: indent, label, text, and a ref to link to."""

    depth: int
    label: str
    text: str
    ref: str | None = None


def raw_object(store: Store, ref: Ref[Any]) -> tuple[str, Any]:
    """The type name and the value of an object as stored (no code run, no type needed)."""
    value = decode_raw(store.read_tokens(ref))
    name = value.type_name if isinstance(value, RawResource) else type(value).__name__
    return name, value


def raw_lines(value: Any, limit: int = 2000) -> list[RawLine]:
    """An object as stored, one field or item per line (refs become links)."""
    lines: list[RawLine] = []
    stack: list[tuple[int, str, Any]] = [(0, "", value)]
    while stack and len(lines) < limit:
        depth, label, current = stack.pop()
        if isinstance(current, RawRef):
            lines.append(RawLine(depth, label, current.digest, current.digest))
        elif isinstance(current, RawResource):
            lines.append(RawLine(depth, label, current.type_name))
            items = list(current.fields.items())
            stack.extend((depth + 1, key, item) for key, item in reversed(items))
        elif isinstance(current, list | tuple) and current:
            lines.append(RawLine(depth, label, f"list ({len(current)})"))
            stack.extend(
                (depth + 1, f"[{index}]", item)
                for index, item in reversed(list(enumerate(current)))
            )
        elif isinstance(current, dict) and current:
            lines.append(RawLine(depth, label, f"dict ({len(current)})"))
            stack.extend(
                (depth + 1, safe_repr(key, 80), item)
                for key, item in reversed(list(current.items()))
            )
        elif isinstance(current, RawType):
            lines.append(RawLine(depth, label, f"class {current.type_name}"))
        else:
            lines.append(RawLine(depth, label, safe_repr(current, DETAIL_LIMIT)))
    if stack:
        lines.append(RawLine(0, "", f"… cut at {limit} lines"))
    return lines


def decoded_repr(store: Store, ref: Ref[Any]) -> tuple[str | None, str | None]:
    """The object's repr with its types (or None), and why it could not be decoded."""
    try:
        return safe_repr(store.checkout(ref), DETAIL_LIMIT), None
    except EnactError as err:
        return None, str(err)


def ref_type(store: Store, ref: Ref[Any]) -> str:
    """The stored type name of an object (from its first tokens)."""
    from enact.encoding import stored_type_name

    return stored_type_name(store.read_tokens(ref)) or ""


def object_kind(store: Store, ref: Ref[Any]) -> str:
    """``invocation``, ``run state`` or ``object``."""
    name = ref_type(store, ref)
    if name == Invocation.__enact_type_name__:
        return "invocation"
    if name == RunState.__enact_type_name__:
        return "run state"
    return "object"


def invocation_of(store: Store, text: str) -> tuple[Invocation | None, str, str | None]:
    """The invocation a run id, a run state, or an invocation ref names: (tree, label, error)."""
    found = resolve(store, text)
    if found.ref is None:
        return None, text, found.error
    try:
        if found.run is not None:
            tree = found.run.invocation()
            label = f"run {found.run.id}"
        else:
            kind = object_kind(store, found.ref)
            if kind == "invocation":
                tree, label = store.checkout(found.ref), f"invocation {found.ref.digest[:12]}"
            elif kind == "run state":
                state: RunState = store.checkout(found.ref)
                tree = state_tree(store, state.run_id, state)
                label = f"run {state.run_id}, state {found.ref.digest[:12]} ({state.event})"
            else:
                return None, text, f"{text!r} is not a run, a run state or an invocation."
    except EnactError as err:
        return None, text, str(err)
    if tree is None:
        return None, label, f"{label} has recorded nothing yet."
    return tree, label, None
