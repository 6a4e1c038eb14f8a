"""Timings of journaled calls: recorded while a run runs, stored beside its journal.

Digests cover content only, so when a call started, how long it took and
which process ran it are not part of any request or response. Each time a
process runs a run (an *attempt*: the first run, a resume, an answer that
continues it, a replay), a `CallTimer` keeps, in memory, one row of a flat list
per call that ran: its path in the tree, its request digest, its start and end
(``time.perf_counter_ns``, taken once each) and the token usage its output
reports. When the attempt ends, the timer becomes one `RunTimings` object,
written in the same backend call as the run's next state, which refers to
it; each `RunTimings` refers to the attempt before it. So timings cost no
store write per call, and one small object per attempt, which keeps each
call's numbers and request digest prefix as raw bytes (32 a call: as base64
and hex text they were twice the bytes to encode and hash, a third of what
timings cost a run of many calls). The first attempt of
a run of at most `INLINE_TIMINGS` calls (a run of one call, most often) keeps
its record in the state itself, as one line of text (`RunTimings.to_text`; an
attempt whose calls have one parent, a shorter line of offsets from the
attempt's start, and the root alone a shorter one still, see
`CallTimer.close_text`), with no object of its own; the next attempt makes
that an object.

A call that a replay took from the journal has no entry in the attempt
that replayed it: `Timings.ran` tells the two apart.

A process killed mid-run (``kill -9``, a lost machine) writes no record at
its end. So that its calls keep their timings, each lease renewal of a run
with per-call durability (every third of the lease: 10 s by default) also
writes the calls since the last renewal as a record of status ``running``
that refers to the one before, in the state that renews the lease (so each
call is in one of them: a long run's records grow with its calls, not with
its renewals). `read_timings` reads such records of one attempt as one; the
next attempt refers to the last of them, and the attempt's own record, of
all its calls, takes their place when the attempt ends.
"""

from __future__ import annotations

import array
import binascii
import dataclasses
import linecache
import os
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol

from enact.invocations.usage import NO_USAGE, TokenUsage, token_usage
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.store import Store

_DIGEST_CHARS: Final = 16
"""Characters of a call's request digest kept with its timing (to match it to the tree)."""

INLINE_TIMINGS: Final = 16
"""A run's first attempt of at most this many calls keeps its timings in its state, as text."""

ROW: Final = 5
"""Items per call in `CallTimer.calls`: parent path, index, request digest, start, end."""

_TEXT_HEAD: Final = "enact-timings-2"
"""The first field of `RunTimings.to_text`: the version of that form."""

_SHORT_TEXT_HEAD: Final = "enact-ts3"
"""The first field of the shorter text of a first attempt whose calls have one parent
(`CallTimer.close_text`): times as offsets from the attempt's start, no packed columns."""

_ROOT_TEXT_HEAD: Final = "enact-ts4"
"""The first field of the shortest text, of a first attempt of the root alone (a run of
one call): no parent, index or attempt end (its call's), one request digest prefix."""

_OLD_TEXT_HEAD: Final = "enact-timings-1"
_OLD_SHORT_TEXT_HEAD: Final = "enact-timings-s1"
_S2_SHORT_TEXT_HEAD: Final = "enact-timings-s2"
"""The older text forms (``-1`` and ``-s1`` with the run id, the long one with `calls` in
the wide layout of `_calls_of`; ``-s2`` with the attempt's clock origin): read, no longer
written."""


@dataclasses.dataclass
class RunTimings(Resource):
    """The timings of one attempt of a run, as stored (see the module docstring).

    Attributes:
        run_id: The run.
        event: What started the attempt (``started``, ``resumed``, ``claimed``, ...).
        status: How it ended (``complete``, ``raised``, ``waiting``, ``interrupted``).
        host: The host name of the process that ran it.
        pid: Its process id.
        started: When the attempt started (``time.time_ns()``).
        ended: When it ended (``time.time_ns()``).
        clock: ``time.perf_counter_ns()`` at `started`: call times are on this clock.
        count: How many calls ran (the root included).
        parents: The paths of the calls' parents, dotted (``0.2``; the root's
            children have the empty path), separated by spaces.
        calls: Per call that ran, in the order they finished: the index of its
            parent's path in `parents` and its index among its parent's
            children (-1 for the root call), as signed 32-bit integers, then
            its start and end on `clock`, as signed 64-bit integers; stored
            column by column (all parents, all indexes, all starts, all ends),
            little-endian: 24 bytes a call. Packed, because the numbers of a
            thousand calls encode in microseconds this way, and in
            milliseconds as lists. (Older records have a str here: the
            base64 of the same columns, all of 64 bits.)
        requests: The first 8 bytes of each call's request digest (16 hex
            digits), concatenated. (Older records: the hex digits, a str.)
        usage: ``[call, input tokens, output tokens, total tokens]`` for the calls
            whose output reported token usage (``call``: its position in `calls`).
        reused: How many calls were taken from the journal instead of running.
        previous: The timings of the run's attempt before this one.
    """

    __enact_type_name__ = "enact.runs.RunTimings"

    run_id: str
    event: str
    status: str
    host: str
    pid: int
    started: int
    ended: int
    clock: int
    count: int
    parents: str
    calls: bytes | str
    requests: bytes | str
    usage: list[list[int]]
    reused: int
    previous: Ref[RunTimings] | None = None

    def to_text(self) -> str | None:
        """This record as one line of text (what a small run keeps in its state), or None.

        The fields in order but the run id (the state has it), separated by
        ``|``: `calls` in base64, `requests` in hex, `usage` as
        ``call,in,out,total`` rows separated by ``;``. None when a field could
        not be read back (a ``|`` in a host name), the record refers to an
        earlier attempt (a ref in a text would not keep that record alive) or
        it is an older record (`calls` a str).
        """
        process = _process_text_of(self.host, self.pid)
        calls, requests = self.calls, self.requests
        if (
            self.previous is not None
            or process is None
            or type(calls) is not bytes
            or type(requests) is not bytes
        ):
            return None
        return _text(
            self.event, self.status, process, self.started, self.ended, self.clock,
            self.count, self.reused, self.parents, calls, requests, self.usage,
        )  # fmt: skip

    @classmethod
    def from_text(cls, text: str, run_id: str = "") -> RunTimings | None:
        """The record `to_text` or `CallTimer.close_text` wrote, or None if `text` is not one.

        `run_id`: the run whose state holds `text` (the text does not repeat
        it). Also reads the older forms, which named the run.
        """
        fields = text.split("|")
        head = fields[0]
        if head == _ROOT_TEXT_HEAD and len(fields) == 9:
            # The root alone: its parent and index are known, the attempt ends with it.
            start, end = fields[6:8]
            return cls._from_short_text(
                run_id, [*fields[1:6], "0", end, "", f"-1,{start},{end}", fields[8]]
            )
        if head == _SHORT_TEXT_HEAD and len(fields) == 10:
            fields.insert(6, "0")  # no clock origin: times are offsets from the start
            return cls._from_short_text(run_id, fields[1:])
        if head == _S2_SHORT_TEXT_HEAD and len(fields) == 11:
            return cls._from_short_text(run_id, fields[1:])
        if head == _OLD_SHORT_TEXT_HEAD and len(fields) == 12:
            return cls._from_short_text(fields[1], fields[2:])
        if head == _TEXT_HEAD and len(fields) == 14:
            fields.insert(1, run_id)
        elif head != _OLD_TEXT_HEAD or len(fields) != 15:
            return None
        try:
            numbers = [int(field) for field in fields[5:11]]
        except ValueError:
            return None
        usage = []
        for row in fields[14].split(";"):
            parts = row.split(",")
            if len(parts) == 4 and all(part.isascii() and part.isdigit() for part in parts):
                usage.append([int(part) for part in parts])  # a damaged row is left out
        pid, started, ended, clock, count, reused = numbers
        run_id, event, status, host = fields[1:5]
        parents, calls, requests = fields[11:14]
        if head == _OLD_TEXT_HEAD:  # the columns stay in their old form, as stored
            return cls(
                run_id, event, status, host, pid, started, ended, clock, count, parents,
                calls, requests, usage, reused,
            )  # fmt: skip
        import base64  # read only: a process that runs calls never needs it

        try:
            packed = base64.b64decode(calls, validate=True)
            prefixes = bytes.fromhex(requests)
        except ValueError:
            return None
        return cls(
            run_id, event, status, host, pid, started, ended, clock, count, parents, packed,
            prefixes, usage, reused,
        )  # fmt: skip

    @classmethod
    def _from_short_text(cls, run_id: str, fields: list[str]) -> RunTimings | None:
        """The record of a short line (see `CallTimer.close_text`), or None.

        `fields`: the line's fields after its head (and after the run id, in
        the ``-s1`` form), with the clock origin after `started` (``0`` for a
        line that has none: its times are offsets from `started`).
        """
        event, status, host, _, _, _, _, parent, rows, requests = fields
        try:
            pid, started, clock, ended = [int(field) for field in fields[3:7]]
            calls = [[int(part) for part in row.split(",")] for row in rows.split(";") if row]
            if any(len(call) != 3 for call in calls) or len(requests) != 16 * len(calls):
                return None
            count = len(calls)
            packed = _packer(count).pack(
                *(0,) * count,
                *[call[0] for call in calls],
                *[clock + call[1] for call in calls],
                *[clock + call[2] for call in calls],
            )
            prefixes = bytes.fromhex(requests)
        except (ValueError, struct.error):  # not numbers, or beyond their bits
            return None
        return cls(
            run_id, event, status, host, pid, started, started + ended, clock, count, parent,
            packed, prefixes, [], 0,
        )  # fmt: skip


register_resource_class(RunTimings)


def _text(
    event: str, status: str, process: str, started: int, ended: int, clock: int,
    count: int, reused: int, parents: str, calls: bytes, requests: bytes,
    usage: list[list[int]],
) -> str:  # fmt: skip
    """`RunTimings.to_text` of these fields (`process`: `_process_text_of` host and pid)."""
    rows = ";".join([",".join(map(str, row)) for row in usage]) if usage else ""
    packed = binascii.b2a_base64(calls, newline=False).decode("ascii")
    return (
        f"{_TEXT_HEAD}|{event}|{status}|{process}|{started}|{ended}|{clock}|"
        f"{count}|{reused}|{parents}|{packed}|{requests.hex()}|{rows}"
    )


def _process_text_of(host: str, pid: int) -> str | None:
    """``host|pid`` as `_text` writes them, or None for a host name that text cannot hold."""
    return None if "|" in host or not host.isascii() else f"{host}|{pid}"


@dataclasses.dataclass(frozen=True, slots=True)
class CallEvent:
    """A journaled call starting or finishing, as observers see it (`enact.add_call_observer`).

    Attributes:
        run_id: The run the call belongs to.
        attempt: Identifies the attempt (this process's run of the run): the
            ``time.time_ns()`` it started.
        path: The call's position in the tree (``()`` is the run's root call).
        request: The call's request digest.
        invokable: What is called (the live object: a registered function or an
            invokable resource).
        start_ns: When the call started (``time.time_ns()`` scale).
        end_ns: When it finished; None for a call that just started.
        status: ``running`` (just started), ``complete``, ``raised``,
            ``waiting`` (for input), ``interrupted`` (KeyboardInterrupt,
            SystemExit, cancellation: the root call only) or ``reused``
            (taken from the journal: both events of such a call have it).
        output: The output of a complete call, else None.
        error: The exception of a raised (or waiting) call, else None.
        usage: The token usage the output reports, if any.
        host: The host name of this process.
        pid: This process's id.
    """

    run_id: str
    attempt: int
    path: tuple[int, ...]
    request: str
    invokable: Any
    start_ns: int
    end_ns: int | None
    status: str
    output: Any = None
    error: BaseException | None = None
    usage: TokenUsage | None = None
    host: str = ""
    pid: int = 0


class CallObserver(Protocol):
    """Told of every journaled call of every run this process runs (see `enact.add_call_observer`).

    Both methods run in the thread (or task) of the call, before its caller
    continues; they must be quick and must not raise (exceptions are logged
    and ignored).
    """

    def call_started(self, event: CallEvent) -> None:
        """A call (or the run's root call, with ``path == ()``) started."""
        ...

    def call_finished(self, event: CallEvent) -> None:
        """A call finished, or was taken from the journal (``status == "reused"``)."""
        ...


_clock: Final = time.perf_counter_ns
"""The clock of call timings (monotonic; `CallTimer` maps it to wall time once per attempt)."""


class CallTimer:
    """Collects the timings of one attempt of a run (see the module docstring).

    Created by the run (`enact.runs`) when timings or observers are on; the
    engine calls `start` and `finish` around every call that runs, `reused`
    for every call a replay takes from the journal.
    """

    __slots__ = (
        "_clock_origin",
        "_notify",
        "_usage",
        "add",
        "below",
        "calls",
        "event",
        "fast",
        "observers",
        "plain",
        "record",
        "reused_calls",
        "run_id",
        "started",
    )

    def __init__(
        self,
        run_id: str,
        event: str,
        record: bool = True,
        observers: tuple[CallObserver, ...] = (),
        on_error: Any = None,
    ) -> None:
        # A run of one call makes one timer: this is on its path, kept to plain stores.
        self._clock_origin = _clock()
        self.started = time.time_ns()
        self.run_id = run_id
        self.event = event
        self.record = record
        self.observers = observers
        self.plain = record and not observers
        """Only timings are recorded (no observers): the engine appends to `calls` itself."""
        self._notify = on_error
        self.calls: list[Any] = []
        """Per call that ran, `ROW` items one after the other (a flat list: no
        object per call for the garbage collector to walk while the run goes on):
        its parent's path, its index (-1: the root), its request digest, its start
        and its end (``time.perf_counter_ns()``)."""
        self.add = self.calls.extend
        """Adds one call's row (a tuple of `ROW` items) to `calls` (the engine's one
        step per call when `fast`)."""
        self._usage: list[tuple[int, TokenUsage]] = []
        self.below: set[tuple[int, ...]] = _NOTHING_BELOW
        """The paths of calls with a child that reported token usage (`_attribute`);
        a shared empty set until the first one (`_below` makes this timer's own)."""
        self.fast = self.plain
        """`plain` and no call has reported token usage yet: a call whose output is of a
        type without usage (`NO_USAGE`) only needs its row added to `calls`."""
        self.reused_calls = 0

    # Called by the engine ---------------------------------------------------------

    def start(
        self, parent: tuple[int, ...], index: int | None, request: str, invokable: Any
    ) -> int:
        """A call starts (the child `index` of the call at `parent`, None for the root).

        Returns its start time, for `finish`.
        """
        started = _clock()
        if self.observers:
            path = parent if index is None else (*parent, index)
            self._event("call_started", path, request, invokable, started, None, "running")
        return started

    def finish(
        self,
        parent: tuple[int, ...],
        index: int | None,
        request: str,
        invokable: Any,
        started: int,
        ended: int,
        output: Any,
        error: BaseException | None,
    ) -> None:
        """A call that `start` timed has finished (`ended`: ``time.perf_counter_ns()``)."""
        usage = None
        if error is None and type(output) not in NO_USAGE:
            usage = token_usage(output)
        below = self.below
        if usage is not None or below:
            path = parent if index is None else (*parent, index)
            if usage is not None or path in below:
                usage = self._attribute(path, usage)
        if self.record:
            calls = self.calls
            calls += (parent, -1 if index is None else index, request, started, ended)
            if usage is not None:
                self._usage.append((len(calls) // ROW - 1, usage))
        if self.observers:
            path = parent if index is None else (*parent, index)
            status = "complete" if error is None else _status_of(error)
            self._event(
                "call_finished",
                path,
                request,
                invokable,
                started,
                ended,
                status,
                output,
                error,
                usage,
            )

    def reused(
        self, parent: tuple[int, ...], index: int, request: str, invokable: Any, output: Any
    ) -> None:
        """A replay took the output of child `index` of the call at `parent` from the journal."""
        self.reused_calls += 1
        if type(output) not in NO_USAGE and token_usage(output) is not None:
            self._below().add(parent)  # the parent's copy of the usage is not new spend
        if self.observers:
            now = _clock()
            path = (*parent, index)
            self._event("call_started", path, request, invokable, now, None, "reused")
            self._event("call_finished", path, request, invokable, now, now, "reused", output)

    def _attribute(self, path: tuple[int, ...], usage: TokenUsage | None) -> TokenUsage | None:
        """Counts token usage once: at the deepest call that reports it.

        A call whose children reported usage (a wrapper returning the model's
        response) reports a copy; it is not counted again.
        """
        own = None if path in self.below else usage
        if path:
            self._below().add(path[:-1])
        return own

    def _below(self) -> set[tuple[int, ...]]:
        """`below`, made this timer's own set first if it is still the shared empty one."""
        if self.below is _NOTHING_BELOW:
            self.below = set()
            self.fast = False
        return self.below

    def _event(
        self,
        method: str,
        path: tuple[int, ...],
        request: str,
        invokable: Any,
        started: int,
        ended: int | None,
        status: str,
        output: Any = None,
        error: BaseException | None = None,
        usage: TokenUsage | None = None,
    ) -> None:
        origin = self.started - self._clock_origin
        event = CallEvent(
            self.run_id,
            self.started,
            path,
            request,
            invokable,
            started + origin,
            None if ended is None else ended + origin,
            status,
            output,
            error,
            usage,
            *_process(),
        )
        for observer in self.observers:
            try:
                getattr(observer, method)(event)
            except Exception as err:
                if self._notify is not None:
                    self._notify(observer, err)

    # Called by the run ------------------------------------------------------------

    def call_count(self) -> int:
        """How many calls this timer has timed so far."""
        return len(self.calls) // ROW

    def close(
        self,
        status: str,
        previous: Ref[RunTimings] | None,
        since: int = 0,
        reused_since: int = 0,
    ) -> RunTimings | None:
        """The stored record of this attempt (None if timings are not recorded).

        Also made while the attempt goes on, by another thread: the lease
        renewal of `enact.runs` keeps the calls since its last renewal (from
        call `since`; `reused_since` calls were reused before) as a record
        of status ``running`` that continues the one before (`read_timings`
        reads the records of one attempt as one). It reads copies of the
        lists the engine appends to, usage first, so each usage row it reads
        refers to a call it reads.
        """
        if not self.record:
            return None
        usage = [(index - since, counts) for index, counts in self._usage[:] if index >= since]
        count, parents, calls, requests = _columns(self.calls[since * ROW :])
        host, pid = _process_known[0] if _process_known else _process()
        return RunTimings(
            self.run_id,
            self.event,
            status,
            host,
            pid,
            self.started,
            self.started + (_clock() - self._clock_origin),
            self._clock_origin,
            count,
            parents,
            calls,
            requests,
            _usage_rows(usage),
            self.reused_calls - reused_since,
            previous,
        )

    def close_text(self, status: str) -> str | None:
        """`close` as `RunTimings.to_text` writes it, for a first attempt of a few calls.

        An attempt whose calls all have one parent (a run of one call, or of
        a root and its children), with no token usage and nothing reused,
        gets a shorter line: ``enact-ts3``, event, status, host, pid,
        started, the attempt's end, the parent's dotted path, per call
        ``index,start,end`` separated by ``;``, and the request digest
        prefixes (hex), separated by ``|``; every time but `started` is in
        nanoseconds from `started`. An attempt of the root alone (a run of
        one call, the most common) gets the shortest: ``enact-ts4``, event,
        status, host, pid, started, the root's start and end, its request
        digest prefix; the attempt ends with its one call. The run id is not
        repeated: the state has it. `RunTimings.from_text` reads every form.
        None if timings are not recorded, the attempt ran more than
        `INLINE_TIMINGS` calls, or the record cannot be text (then `close`).
        """
        calls = self.calls
        if not self.record or len(calls) > INLINE_TIMINGS * ROW:
            return None
        origin = self._clock_origin
        if not self._usage and not self.reused_calls:
            # One parent (a run of one call, or of a root and its children: most
            # runs) gets a short line. This runs once per run, where little of it
            # is in the CPU's caches: few steps, no loop or comprehension, the
            # line's fields up to `started` made once per process, its rows one
            # f-string made once per count, and for the root alone one f-string of
            # three numbers and no clock.
            fields = _short_heads.get((self.event, status)) or _short_head(self.event, status)
            if fields is not None and len(calls) == ROW and calls[1] == -1:
                # The root alone (a root has no parent).
                return (
                    f"{_ROOT_TEXT_HEAD}{fields}{self.started}|{calls[3] - origin}|"
                    f"{calls[4] - origin}|{calls[2][:_DIGEST_CHARS]}"
                )
            first = calls[0] if calls else ()
            count = len(calls) // ROW
            if fields is not None and calls[0::ROW].count(first) == count:
                line = _ONE_PARENT.get(count) or _one_parent_line(count)
                path = ".".join(map(str, first)) if first else ""
                return (
                    f"{_SHORT_TEXT_HEAD}{fields}{self.started}|{_clock() - origin}|"
                    f"{path}|{line(calls, origin)}"
                )
        process = _process_text[0] if _process_text else _process_field()
        if process is None:
            return None
        count, parents, packed, prefixes = _columns(calls)
        started = self.started
        return _text(
            self.event, status, process, started, started + (_clock() - origin), origin,
            count, self.reused_calls, parents, packed, prefixes, _usage_rows(self._usage),
        )  # fmt: skip


def _columns(calls: list[Any]) -> tuple[int, str, bytes, bytes]:
    """`RunTimings.count`, `parents`, `calls` and `requests` of `CallTimer.calls` (rows of
    `ROW` items, one after the other: each column is one slice)."""
    count = len(calls) // ROW
    if count == 1 and calls[1] == -1:  # a run of one call (no children): the most common
        _, _, request, start, end = calls
        return 1, "", _ROOT_ONLY.pack(0, -1, start, end), bytes.fromhex(request[:_DIGEST_CHARS])
    paths, indexes, digests = calls[0::ROW], calls[1::ROW], calls[2::ROW]
    starts, ends = calls[3::ROW], calls[4::ROW]
    if paths.count(paths[0] if paths else ()) == count:
        # One parent (a run of a root and its children): no table to build, and the
        # parent column is all zeros.
        parents = ".".join(map(str, paths[0])) if paths else ""
        packed = bytes(4 * count) + _packer(count, False).pack(*indexes, *starts, *ends)
    else:
        columns = _packer(count)
        parent_ids = {parent: number for number, parent in enumerate(dict.fromkeys(paths))}
        parents = " ".join([".".join(map(str, parent)) for parent in parent_ids])
        packed = columns.pack(*map(parent_ids.__getitem__, paths), *indexes, *starts, *ends)
    return count, parents, packed, _prefixes(digests)


def _usage_rows(usage: list[tuple[int, TokenUsage]]) -> list[list[int]]:
    return [
        [index, counts.input_tokens, counts.output_tokens, counts.total_tokens]
        for index, counts in usage
    ]


def _prefixes(digests: list[str]) -> bytes:
    """The bytes the first `_DIGEST_CHARS` hex digits of each digest spell, concatenated.

    For SHA-256 hex digests (64 characters each) the slicing is done by
    `array` on 8-byte units, in C: slicing a thousand strings one by one
    costs a third of packing a run's timings.
    """
    if len(digests) < 8:  # a small run: slicing costs less than joining first
        return bytes.fromhex("".join([digest[:_DIGEST_CHARS] for digest in digests]))
    joined = "".join(digests)
    if len(joined) != 64 * len(digests) or not joined.isascii():
        return bytes.fromhex("".join([digest[:_DIGEST_CHARS] for digest in digests]))
    units = array.array("Q", joined.encode("ascii"))
    prefixes = array.array("Q", bytes(_DIGEST_CHARS * len(digests)))
    prefixes[0::2] = units[0::8]
    prefixes[1::2] = units[1::8]
    return binascii.unhexlify(prefixes.tobytes())


def _packer(count: int, parents: bool = True) -> struct.Struct:
    """The layout of `RunTimings.calls` for `count` calls (made once for small counts);
    without the parents column if not `parents` (a run whose calls all have one parent
    packs that column as zeros of its own)."""
    packer = _COLUMNS.get((count, parents))
    if packer is None:
        packer = struct.Struct(f"<{2 * count if parents else count}i{2 * count}q")
        if count < 64:
            _COLUMNS[(count, parents)] = packer
    return packer


_COLUMNS: Final[dict[tuple[int, bool], struct.Struct]] = {}
"""The packers of `RunTimings.calls` for small call counts, made once each."""
_ROOT_ONLY: Final = struct.Struct("<2i2q")


_process_known: list[tuple[str, int]] = []
_process_text: list[str | None] = []
"""``host|pid`` as `RunTimings.to_text` writes them (None: a host name text cannot hold)."""

_NOTHING_BELOW: Final[set[tuple[int, ...]]] = set()
"""`CallTimer.below` of every timer until a call reports token usage (never added to)."""


def host_name() -> str:
    """``socket.gethostname()``; on POSIX read from `os.uname` (the same name), so that a
    process that runs a call need not import `socket`."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _process() -> tuple[str, int]:
    """This process's host name and pid (asked once per process, again after a fork)."""
    if not _process_known:
        _process_known.append((host_name(), os.getpid()))
    return _process_known[0]


def _process_field() -> str | None:
    """`_process_text_of` this process (asked once, again after a fork)."""
    if not _process_text:
        _process_text.append(_process_text_of(*_process()))
    return _process_text[0]


def _short_head(event: str, status: str) -> str | None:
    """A short line's fields after its head up to `started` (``|event|status|host|pid|``),
    made once per event and status (None if this process's host name cannot be in text)."""
    process = _process_field()
    if process is None:
        return None
    fields = _short_heads[(event, status)] = f"|{event}|{status}|{process}|"
    return fields


def _one_parent_line(count: int) -> Callable[[list[Any], int], str]:
    """The end of a short line of `count` calls of one parent (``index,start,end`` per
    call, ``;`` between, ``|``, the request digest prefixes), from the timer's calls and
    its clock origin: one f-string, made once per count (at most `INLINE_TIMINGS`).

    A loop over the calls cost a run of a root and one child 1 % of its time: the
    line is made once per run, mostly out of the CPU's caches.
    """
    starts = range(0, count * ROW, ROW)
    rows = ";".join(f"{{c[{i + 1}]}},{{c[{i + 3}] - o}},{{c[{i + 4}] - o}}" for i in starts)
    requests = "".join(f"{{c[{i + 2}][:{_DIGEST_CHARS}]}}" for i in starts)
    namespace: dict[str, Any] = {}
    source = f'def line(c, o):\n    return f"{rows}|{requests}"\n'
    filename = f"<enact timings line of {count} calls>"
    # Registered, so that a traceback through it (or inspect.getsource) shows its source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    line: Callable[[list[Any], int], str] = namespace["line"]
    _ONE_PARENT[count] = line
    return line


_ONE_PARENT: Final[dict[int, Callable[[list[Any], int], str]]] = {}
"""`_one_parent_line` by count."""

_short_heads: Final[dict[tuple[str, str], str]] = {}
"""`_short_head` by event and status (this process's own: cleared after a fork)."""


def _forgotten_process() -> None:
    _process_known.clear()
    _process_text.clear()
    _short_heads.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forgotten_process)


def _status_of(error: BaseException) -> str:
    if getattr(type(error), "__enact_input_request__", False):
        return "waiting"
    return "raised" if isinstance(error, Exception) else "interrupted"


# Reading timings --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CallTiming:
    """When one call ran, for how long, where, and what tokens it reported.

    Attributes:
        path: The call's position in the invocation tree (``()`` is the root).
        request: The first 16 hex digits of its request digest.
        start: When it started (seconds since the epoch, like ``time.time()``).
        end: When it finished.
        host: The host name of the process that ran it.
        pid: That process's id.
        attempt: The index of the attempt that ran it in `Timings.attempts`.
        usage: The token usage its output reported (counted once: a call
            returning a child's usage does not count it again), or None.
        start_ns: `start` in nanoseconds (``time.time_ns()``), exactly.
        end_ns: `end` in nanoseconds.
    """

    path: tuple[int, ...]
    request: str
    start: float
    end: float
    host: str
    pid: int
    attempt: int
    usage: TokenUsage | None = None
    start_ns: int = 0
    end_ns: int = 0

    @property
    def duration(self) -> float:
        """``end - start``, in seconds."""
        return self.end - self.start


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a run: a process running it from a start or a claim to its next stop.

    Attributes:
        event: What started it (``started``, ``resumed``, ``claimed``, ...).
        status: How it ended; ``running`` for an attempt still running, or one
            whose process was killed: its calls up to its last lease renewal.
        host: The host name of the process.
        pid: The process id.
        start: When it started (seconds since the epoch).
        end: When it ended.
        ran: How many calls ran (the root included).
        reused: How many calls were taken from the journal.
        usage: The tokens the calls that ran reported.
    """

    run_id: str
    event: str
    status: str
    host: str
    pid: int
    start: float
    end: float
    ran: int
    reused: int
    usage: TokenUsage

    @property
    def duration(self) -> float:
        """``end - start``, in seconds."""
        return self.end - self.start


class Timings:
    """The timings of a run's calls, over all its attempts (`enact.Run.timings`).

    Attributes:
        attempts: The attempts that recorded timings, oldest first (an attempt
            whose process died records none).
        calls: For each path, the timing from the latest attempt that ran the call.
    """

    def __init__(self, attempts: list[Attempt], calls: dict[tuple[int, ...], CallTiming]) -> None:
        self.attempts = attempts
        self.calls = calls

    def __repr__(self) -> str:
        return f"Timings({len(self.attempts)} attempt(s), {len(self.calls)} call(s))"

    def get(self, path: tuple[int, ...], request: str | None = None) -> CallTiming | None:
        """The timing of the call at `path`, or None.

        With `request` (a request digest), only if the timed call made that
        request: a call at the same path with another request is another call.
        """
        found = self.calls.get(tuple(path))
        if found is None or (request is not None and not request.startswith(found.request)):
            return None
        return found

    def ran(self, path: tuple[int, ...], request: str | None = None) -> bool:
        """Whether the call at `path` ran in the latest attempt (False: from the journal)."""
        found = self.get(path, request)
        return found is not None and found.attempt == len(self.attempts) - 1

    @property
    def usage(self) -> TokenUsage:
        """The tokens every call that ran reported, summed over all attempts."""
        total = TokenUsage()
        for attempt in self.attempts:
            total += attempt.usage
        return total

    @property
    def duration(self) -> float:
        """The time the run spent running: its attempts' durations, summed (seconds)."""
        return sum(attempt.duration for attempt in self.attempts)

    def __iter__(self) -> Iterator[CallTiming]:
        return iter(self.calls.values())


def read_timings(store: Store, head: Ref[RunTimings] | str | None, run_id: str = "") -> Timings:
    """The `Timings` of the attempts chained from `head` (the newest; a ref, or a text).

    `run_id`: the run whose state holds `head` (a text does not name it).
    """
    records: list[RunTimings] = []
    seen: set[str] = set()
    ref: Ref[RunTimings] | None
    if isinstance(head, str):
        inline = RunTimings.from_text(head, run_id)
        records.extend([] if inline is None else [inline])
        ref = None
    else:
        ref = head
    while ref is not None and ref.digest not in seen:
        seen.add(ref.digest)
        record = store.checkout(ref)
        if not isinstance(record, RunTimings):
            break
        records.append(record)
        ref = record.previous
    records.reverse()
    # The records an attempt kept at its lease renewals, in a row, are one attempt:
    # the same process, started at the same moment on the same clock.
    groups: list[list[RunTimings]] = []
    for record in records:
        if groups and _attempt_key(groups[-1][-1]) == _attempt_key(record):
            groups[-1].append(record)
        else:
            groups.append([record])
    attempts: list[Attempt] = []
    calls: dict[tuple[int, ...], CallTiming] = {}
    for number, group in enumerate(groups):
        ran, reused, usage = 0, 0, TokenUsage()
        for record in group:
            record_calls, record_usage = _calls_of(record, number)
            for timing in record_calls:
                calls[timing.path] = timing
            ran += len(record_calls)
            reused += record.reused
            usage += record_usage
        first, last = group[0], group[-1]
        attempts.append(
            Attempt(
                first.run_id,
                first.event,
                last.status,
                first.host,
                first.pid,
                first.started / 1e9,
                last.ended / 1e9,
                ran,
                reused,
                usage,
            )
        )
    return Timings(attempts, calls)


def _attempt_key(record: RunTimings) -> tuple[str, str, int, int, int]:
    return (record.run_id, record.host, record.pid, record.started, record.clock)


def _calls_of(record: RunTimings, number: int) -> tuple[list[CallTiming], TokenUsage]:
    usages: dict[int, TokenUsage] = {}
    for row in record.usage:
        if len(row) == 4 and all(type(count) is int for count in row):
            usages[row[0]] = TokenUsage(row[1], row[2], row[3], 1)
    total = TokenUsage()
    for usage in usages.values():
        total += usage
    count = record.count
    try:
        parents = [
            tuple(int(part) for part in dotted.split(".")) if dotted else ()
            for dotted in record.parents.split(" ")
        ]
        columns = _columns_of(record.calls, count)
        kept = record.requests
        requests = kept.hex() if isinstance(kept, bytes) else kept
    except (ValueError, TypeError, struct.error):
        return [], total  # damaged: the calls show without timings
    origin = record.started - record.clock
    found = []
    for call in range(count):
        parent, index = columns[call], columns[count + call]
        if index == -1:
            path: tuple[int, ...] = ()
        elif 0 <= parent < len(parents):
            path = (*parents[parent], index)
        else:
            continue
        start_ns = origin + columns[2 * count + call]
        end_ns = origin + columns[3 * count + call]
        found.append(
            CallTiming(
                path,
                requests[call * _DIGEST_CHARS : (call + 1) * _DIGEST_CHARS],
                start_ns / 1e9,
                end_ns / 1e9,
                record.host,
                record.pid,
                number,
                usages.get(call),
                start_ns,
                end_ns,
            )
        )
    return found, total


def _columns_of(calls: bytes | str, count: int) -> tuple[int, ...]:
    """The four columns of `RunTimings.calls`, one after the other (see `RunTimings`).

    Raises ValueError (or struct.error) for columns that do not hold `count` calls.
    An older record's str is the base64 of the wide layout: all four columns
    of 64 bits.
    """
    if count < 0:
        raise ValueError(f"a record of {count} calls")
    if type(calls) is bytes:
        return _packer(count).unpack(calls)
    import base64  # only older records hold base64

    wide = base64.b64decode(calls, validate=True)
    return struct.unpack(f"<{4 * count}q", wide)
