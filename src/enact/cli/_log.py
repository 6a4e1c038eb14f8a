"""``enact log`` and ``enact inbox``: finding runs, and the input requests they wait for.

Both read names and run states only (no types needed). The tables keep every
column but the call (or context) whole at any terminal width: those are cut
to the room that is left. ``--json`` writes JSON lines in the schema of
`enact.jsonview` (docs/JSON.md).
"""

from __future__ import annotations

import bisect
import datetime
import re
import shlex
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import click
from rich.table import Table
from rich.text import Text

from enact import jsonview, pretty
from enact.cli import _raw, _refs, _render
from enact.cli._app import CLIError, Session, command_options
from enact.cli._journal import pass_session, resolve_run
from enact.cli._safe import clean
from enact.encoding import DecodeError
from enact.errors import CorruptObjectError, EnactError, NotFoundError
from enact.invocations import runs
from enact.invocations.exceptions import describe_exception
from enact.refs import Ref
from enact.stores.base import NameQuery
from enact.stores.store import Store

_PAGE: Final = 200
_STATUS_CHOICES: Final = (*runs.STATUSES, "waiting-for-input")
_RELATIVE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw])", re.I)
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, option: str, now: float | None = None) -> float:
    """A ``--since``/``--until`` value as a ``time.time()``.

    Accepts an ISO date or date and time (local time unless it names its
    offset: ``2026-12-01``, ``2026-12-01T14:30``, ``2026-12-01 14:30:00+00:00``)
    or an age (``90s``, ``15m``, ``2h``, ``3d``, ``1w``: that long ago).

    Raises:
        click.BadParameter: It is neither.
    """
    now = time.time() if now is None else now
    match = _RELATIVE.fullmatch(text.strip())
    if match is not None:
        return now - float(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a date and time (2026-12-01, 2026-12-01T14:30, with an "
            "optional +HH:MM offset) nor an age (90s, 15m, 2h, 3d, 1w).",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time
    return moment.timestamp()


def _age(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: how long ago, in one unit."""
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


# Finding runs --------------------------------------------------------------------


def _created_ns(index_name: str) -> int:
    return int(index_name[len(runs.INDEX_PREFIX) :].split("/", 1)[0])


def walk_runs(
    store: Store,
    *,
    before: str | None = None,
    until: float | None = None,
    unreadable: list[str] | None = None,
    **filters: Any,
) -> Iterator[tuple[int, runs.Run]]:
    """Yields ``(N, run)`` newest first, for the runs the filters select; N is its @N.

    Only the names of the run index are read for the time bounds and the
    numbering; each run considered is read once (its head state).

    Args:
        before: A run's `cursor`: start after that run (the next page).
        until: Only runs started before this `time.time()`.
        unreadable: Collects the runs whose head cannot be read (id and why).
        filters: ``status``, ``function`` and ``since``, as for `enact.list_runs`.
    """
    legacy = sorted(row.time_ns for row in _refs.legacy_rows(store))
    position = 0
    upper = runs.upper_bound(before, until)
    if upper is not None:  # the runs newer than the page count towards @N
        position = len(store.list_names(NameQuery(runs.INDEX_PREFIX, after=upper)))
        position += 1 if store.get_name(upper) is not None else 0
    skipped = unreadable if unreadable is not None else []
    found = runs.scan_runs(
        store, before=before, until=until, unreadable=skipped, page=_PAGE, **filters
    )
    for offset, run in found:
        newer_legacy = len(legacy) - bisect.bisect_right(legacy, _created_ns(run.cursor or ""))
        yield position + offset + newer_legacy, run


# log ------------------------------------------------------------------------------


def _limit_option(default: int, help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "-n",
        "--limit",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help=help_text,
    )


def _status_option(function: Any) -> Any:
    return click.option(
        "--status",
        type=click.Choice(_STATUS_CHOICES, case_sensitive=False),
        default=None,
        help="Only runs with this status (waiting: waiting for input).",
    )(function)


@click.command(short_help="List names and the latest runs with their status.")
@_limit_option(20, "Show the N most recent runs (that the filters select).")
@click.option("--all", "show_all", is_flag=True, help="Show every run.")
@_status_option
@click.option(
    "--function",
    metavar="NAME",
    default=None,
    help="Only runs of this function (its full name, or the part after a dot).",
)
@click.option(
    "--since",
    metavar="TIME",
    default=None,
    help="Only runs started at or after TIME: a date and time (2026-12-01T14:30) or an age "
    "(15m, 2h, 3d).",
)
@click.option("--until", metavar="TIME", default=None, help="Only runs started before TIME.")
@click.option(
    "--before",
    metavar="CURSOR",
    default=None,
    help="The next page: the runs older than CURSOR (printed under a cut-off list, and as "
    '"cursor" in --json).',
)
@click.option(
    "--history",
    metavar="RUN",
    default=None,
    help="List the states of RUN instead, newest first (for `enact fork --state`).",
)
@click.option("--json", "as_json", is_flag=True, help="Write JSON lines (docs/JSON.md).")
@command_options
@pass_session
def log(
    session: Session,
    limit: int,
    show_all: bool,
    status: str | None,
    function: str | None,
    since: str | None,
    until: str | None,
    before: str | None,
    history: str | None,
    as_json: bool,
) -> None:
    """List named refs and the most recent runs (top-level invocations), newest first.

    Runs are numbered: @1 is the latest, and `enact tree @1` shows it. Needs no
    --import: types are read by name only. Filters select runs by status,
    function and start time; a list cut off by -n ends with the command for
    the next page.
    """
    wanted = None if show_all else limit
    if history is not None:
        _history(session, resolve_run(session, history), wanted, as_json)
        return
    if status == "waiting-for-input":
        status = "waiting"
    if before is not None and not before.startswith(runs.INDEX_PREFIX):
        raise CLIError(
            f"--before {before!r} is not a cursor: give the one printed under a cut-off "
            'list (or the "cursor" of a run in --json).'
        )
    filtered = any(x is not None for x in (status, function, since, until, before))
    store = session.store()
    started, ended = (
        None if since is None else parse_time(since, "--since"),
        None if until is None else parse_time(until, "--until"),
    )
    rows: list[tuple[int, _refs.LogRow]] = []
    unreadable: list[str] = []
    more: str | None = None
    legacy = [] if filtered else _refs.legacy_rows(store)
    if legacy:  # an older enact's runs, interleaved by time: the plain list
        found, total = _refs.log_rows(store, wanted)
        rows = list(enumerate(found, 1))
        if len(found) < total:
            more = ""
    else:
        for number, found_run in walk_runs(
            store,
            status=status,
            function=function,
            since=started,
            until=ended,
            before=before,
            unreadable=unreadable,
        ):
            if wanted is not None and len(rows) == wanted:
                more = rows[-1][1].run.cursor if rows[-1][1].run is not None else ""
                break
            rows.append((number, _refs.LogRow(int(found_run.created * 1e9), run=found_run)))
    for problem in unreadable:
        session.err.print(
            Text(f"Run {problem} (enact verify checks the store)", style="yellow"), soft_wrap=True
        )
    if as_json:
        for number, row in rows:
            click.echo(jsonview.dumps(_row_json(store, number, row)))
        return
    user_names = {}
    if not filtered:
        user_names = {
            name: ref for name, ref in store.names().items() if not _refs.is_internal_name(name)
        }
    out = session.out
    if not user_names and not rows:
        if filtered:
            out.print(f"No run in store {session.where} matches.")
        else:
            out.print(f"Store {session.where} has no names and no runs yet.")
        return
    if user_names:
        table = _table(("name", False), ("ref", True), ("type", False))
        for name, ref in user_names.items():
            table.add_row(Text(clean(name)), ref.digest[:12], Text(clean(_type_of(store, ref))))
        out.print(Text("Names", style="bold"))
        out.print(table)
    if rows:
        if user_names:
            out.print()
        heading = "Runs" if filtered else f"Runs ({_refs.count_runs(store)})"
        out.print(Text(heading, style="bold"))
        out.print(runs_table(store, rows, out.width))
        if more is not None:
            hint = "Older runs not shown: --all shows them."
            if not filtered:
                older = _refs.count_runs(store) + len(legacy) - len(rows)
                hint = f"{older} older run(s) not shown: --all shows them."
            if more:
                flags = "".join(
                    f" {flag} {shlex.quote(value)}"
                    for flag, value in (
                        ("--status", status),
                        ("--function", function),
                        ("--since", since),
                        ("--until", until),
                    )
                    if value is not None
                )
                hint = hint.removesuffix(".") + (
                    f"; the next page: enact log --before {more}{flags} -n {limit}"
                )
            out.print(Text(clean(hint), style="dim"), soft_wrap=True)


def _row_json(store: Store, number: int, row: _refs.LogRow) -> dict[str, Any]:
    if row.run is not None:
        data = jsonview.run(row.run, call=_describe_call(store, row.run.state.request))
    else:
        assert row.ref is not None
        call, state = _describe_run(store, row.ref)
        data = {"id": None, "name": row.name, "ref": row.ref.digest, "status": state, "call": call}
        data["created"] = jsonview.timestamp(row.time_ns / 1e9)
    return {"number": number, **data}


def runs_table(store: Store, rows: list[tuple[int, _refs.LogRow]], width: int) -> Table:
    """The runs of `enact log`: #, time, status, call, run; only the call is cut to fit."""
    cells: list[tuple[str, datetime.datetime, str, str, str]] = []
    for number, row in rows:
        if row.run is not None:
            call = _describe_call(store, row.run.state.request)
            state, shown = _render.run_status(row.run.status), row.run.id
        else:
            assert row.ref is not None
            call, state = _describe_run(store, row.ref)
            shown = row.ref.digest[:12]
        cells.append((f"@{number}", row.time, state, clean(call), clean(shown)))
    gaps = 2 * 4
    fixed_long = _widths(cells, "%Y-%m-%d %H:%M:%S", long_status=True)
    short = width - fixed_long - gaps < 24
    time_format = "%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S"
    fixed = _widths(cells, time_format, long_status=not short)
    room = max(width - fixed - gaps, 1)
    table = _table(("#", True), ("time", True), ("status", True), ("call", False), ("run", True))
    for label, when, state, call, shown in cells:
        status = _render.status_text(state)
        if short and state == _render.WAITING:
            status.plain = "waiting"  # the same colour, in fewer columns
        table.add_row(
            label,
            when.strftime(time_format),
            status,
            Text(pretty.shorten(call, room)),
            Text(shown),
        )
    return table


def _widths(
    cells: list[tuple[str, datetime.datetime, str, str, str]], time_format: str, long_status: bool
) -> int:
    statuses = [
        cell[2] if long_status or cell[2] != _render.WAITING else "waiting" for cell in cells
    ]
    return (
        max(1, *(len(cell[0]) for cell in cells))
        + max(4, *(len(cell[1].strftime(time_format)) for cell in cells))
        + max(6, *(len(state) for state in statuses))
        + max(3, *(len(cell[4]) for cell in cells))
    )


def _history(session: Session, run: runs.Run, limit: int | None, as_json: bool) -> None:
    """The states of a run, newest first: what each was, and what made it."""
    table = _table(("state", True), ("time", True), ("status", True), ("event", False))
    cut = False
    for shown, (ref, state) in enumerate(run.history()):
        if limit is not None and shown == limit:
            cut = True
            break
        if as_json:
            click.echo(jsonview.dumps(jsonview.run_state(state, ref)))
            continue
        when = datetime.datetime.fromtimestamp(state.updated).astimezone()
        status = _render.run_status(state.status)
        event = state.event + (f" from {state.forked_from}" if state.event == "forked" else "")
        if state.event == "interrupted" and state.raised is not None:
            event += f" by {_interruption(session.store(), state.raised)}"
        table.add_row(
            ref.digest[:12],
            when.strftime("%Y-%m-%d %H:%M:%S"),
            _render.status_text(status),
            Text(clean(event)),
        )
    if as_json:
        return
    session.out.print(Text(f"Run {clean(run.id)}", style="bold"))
    session.out.print(table)
    if cut:
        session.out.print(Text("Older states not shown: --all shows them.", style="dim"))


def _interruption(store: Store, raised: Ref[Any]) -> str:
    """What interrupted a run (``KeyboardInterrupt``, ``ReplayError: ...``): its first line."""
    try:
        record = store.checkout(raised)
    except EnactError as err:
        return f"(unreadable: {type(err).__name__})"
    return describe_exception(record).partition("\n")[0]


def _table(*columns: tuple[str, bool]) -> Table:
    """A table; columns marked True are never shortened (the others take what is left)."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, whole in columns:
        if whole:
            table.add_column(column, no_wrap=True, overflow="fold")
        else:
            table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=1)
    return table


def _type_of(store: Store, ref: Ref[Any]) -> str:
    try:
        name = _raw.type_name(store.read_tokens(ref))
    except NotFoundError:
        return "(missing)"
    except (CorruptObjectError, DecodeError):
        return "(corrupt)"
    if name is None:
        return "value"
    return _raw.builtin_label(name) or name


def _describe_run(store: Store, ref: Ref[Any]) -> tuple[str, str]:
    """The call and status of a logged run, read without its types."""
    try:
        run = _render.read_raw_call(store, _raw.parse(store.read_tokens(ref)), 120)
        return run.call, run.state
    except NotFoundError:
        return "?", "missing"
    except (CorruptObjectError, DecodeError):
        return "?", "corrupt"


def _describe_call(store: Store, request: Ref[Any]) -> str:
    """The call a run makes, read without its types."""
    try:
        return _render.raw_call(_raw.parse(store.read_tokens(request)), 120)
    except NotFoundError:
        return "(missing)"
    except (CorruptObjectError, DecodeError):
        return "(corrupt)"


# inbox ----------------------------------------------------------------------------


@click.command(short_help="List the input requests that runs wait for.")
@_limit_option(50, "Show the requests of the N most recent waiting runs.")
@click.option("--function", metavar="NAME", default=None, help="Only runs of this function.")
@click.option("--json", "as_json", is_flag=True, help="Write JSON lines (docs/JSON.md).")
@command_options
@pass_session
def inbox(session: Session, limit: int, function: str | None, as_json: bool) -> None:
    """List the pending input requests of the runs that wait for input, newest first.

    Each row is a request: the run (for `enact answer RUN`), the path of the
    call in its tree, the requested type, the context and how long the run has
    waited. Needs no --import.
    """
    store = session.store()
    items: list[dict[str, Any]] = []
    for count, (_, found) in enumerate(walk_runs(store, status="waiting", function=function)):
        if count == limit:
            break
        items.extend(jsonview.run_input_requests(store, found))
    if as_json:
        for item in items:
            click.echo(jsonview.dumps(item))
        return
    out = session.out
    if not items:
        out.print(f"No run in store {session.where} waits for input.")
        return
    cells = []
    for item in items:
        context = item["context"]
        shown = context if isinstance(context, str) else jsonview.dumps(context)
        cells.append(
            (
                clean(item["run"]),
                "/".join(str(index) for index in item["path"]) or "-",
                clean(str(item["requested_label"])),
                clean(" ".join(shown.split())),
                _age(item["age_seconds"]),
            )
        )
    fixed = sum(
        max(len(head), *(len(cell[i]) for cell in cells))
        for i, head in ((0, "run"), (1, "path"), (2, "type"), (4, "age"))
    )
    room = max(out.width - fixed - 2 * 4, 1)
    table = _table(("run", True), ("path", True), ("type", True), ("context", False), ("age", True))
    for run_id, path, label, context_text, age in cells:
        table.add_row(
            Text(run_id), path, Text(label), Text(pretty.shorten(context_text, room)), age
        )
    out.print(Text(f"Inbox ({len(items)} request(s))", style="bold"))
    out.print(table)
