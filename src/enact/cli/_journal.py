"""``enact show``, ``tree``, ``replay``, ``resume`` and ``fork``: into and on with journals."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click
from rich.text import Text

from enact import jsonview
from enact.cli import _raw, _refs, _render, _timings
from enact.cli._app import CLIError, RunRaisedError, Session, command_options
from enact.cli._safe import clean
from enact.encoding import DecodeError, encode
from enact.errors import (
    CorruptObjectError,
    IncompatibleTypeError,
    InvocationError,
    UnknownTypeError,
)
from enact.invocations import runs
from enact.invocations.cache import served_calls
from enact.invocations.engine import (
    Invocation,
    invoke_root,
    invoke_root_async,
    is_async_invokable,
    replay_plan,
)
from enact.invocations.exceptions import describe_exception
from enact.invocations.providers import NewCalls
from enact.pretty import pformat
from enact.refs import Ref
from enact.stores.store import Store

F = TypeVar("F", bound=Callable[..., Any])

pass_session = click.make_pass_decorator(Session)


def tree_options(function: F) -> F:
    """``--depth`` and ``--full``, for the commands that print an invocation tree."""
    function = click.option(
        "--depth",
        type=click.IntRange(min=0),
        default=None,
        metavar="N",
        help="Show N levels of child calls; deeper calls are counted, not shown. [default: all]",
    )(function)
    return click.option(
        "--full", is_flag=True, help=f"Do not shorten values longer than {_render.VALUE_LIMIT}."
    )(function)


json_option: Final[Callable[[F], F]] = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Write JSON (docs/JSON.md) instead: read without types, no --import needed.",
)
"""``--json``, for the commands that can write the JSON view."""

strict_option: Final[Callable[[F], F]] = click.option(
    "--strict/--no-strict",
    default=True,
    show_default=True,
    help="Fail when the program makes other calls than the recorded ones; with "
    "--no-strict such records are skipped and the calls run.",
)
"""``--strict/--no-strict``, for every command that replays (replay, answer, resume)."""


# show -------------------------------------------------------------------------------


@click.command(short_help="Pretty-print any object.")
@click.argument("ref")
@click.option(
    "--raw",
    is_flag=True,
    help="Show type names and fields as stored, without importing any module.",
)
@json_option
@command_options
@pass_session
def show(session: Session, ref: str, raw: bool, as_json: bool) -> None:
    """Pretty-print the object REF names, following the refs inside it.

    The first line is the full digest and the type. Objects of types that are
    not registered here (no --import MODULE) are shown as stored: type names
    and fields, as with --raw. --json writes one JSON document (docs/JSON.md).
    """
    store = session.store()
    resolved = _refs.resolve_for(session, ref)
    if as_json:
        click.echo(jsonview.dumps(jsonview.object_view(store, resolved.ref)))
        return
    tokens = store.read_tokens(resolved.ref)
    type_name = _raw.type_name(tokens) or "value"
    out = session.out
    note = None
    if not raw:
        try:
            text = pformat(store.checkout(resolved.ref))
        except UnknownTypeError as err:
            raw, note = True, _as_stored_note(err)
    if raw:
        try:
            lines = _render.raw_lines(_raw.parse(tokens))
        except DecodeError as err:
            raise _corrupt(store, resolved.ref, err) from err
        text = "\n".join(lines)
    out.print(Text(f"{resolved.ref.digest}  {clean(type_name)}", style="dim"))
    out.print(Text(text), soft_wrap=True)  # long lines stay whole (grep, copy)
    trace = _render.traceback_text(store, resolved.ref)  # a failed call: its whole traceback
    if trace is not None:
        out.print(Text("\n" + trace.rstrip("\n"), style="red"), soft_wrap=True)
    if note is not None:
        session.err.print(Text(note, style="dim"), soft_wrap=True)


def _as_stored_note(err: UnknownTypeError) -> str:
    """Why `show` printed an object as stored, and how to see it as the program's classes."""
    if isinstance(err, IncompatibleTypeError):
        return (
            f"Shown as stored: {err.problem} (the class {err.current_name} defined here does "
            "not fit it; see `enact migrate`)."
        )
    return (
        f"Shown as stored: type {err.type_name} is not registered here; --import MODULE "
        "shows it as the program's classes."
    )


# tree -------------------------------------------------------------------------------


@click.command(short_help="Print the call tree of an invocation.")
@click.argument("ref")
@tree_options
@click.option(
    "--raw",
    is_flag=True,
    help="Read the journal without its types: no --import needed, values shown as stored.",
)
@json_option
@click.option(
    "--timings",
    "-t",
    is_flag=True,
    help="Of a run: show each call's duration and tokens, mark the calls its latest attempt "
    "took from the journal, and end with a line about the run.",
)
@command_options
@pass_session
def tree(
    session: Session,
    ref: str,
    depth: int | None,
    full: bool,
    raw: bool,
    as_json: bool,
    timings: bool,
) -> None:
    """Print the call tree of the invocation REF: inputs, outputs and exceptions.

    When REF names a run, calls the call cache served are marked "(from the
    cache, run X)", X the run that recorded them.

    Coloured in a terminal, plain text when piped (NO_COLOR turns colours off).
    --json writes the whole tree as one JSON document (docs/JSON.md), read
    without types.
    """
    store = session.store()
    resolved = _refs.resolve_for(session, ref)
    if as_json:
        _refs.invocation_tokens(store, resolved)  # an invocation, or one clear line
        click.echo(jsonview.dumps(jsonview.call_tree(store, resolved.ref, depth=depth)))
        return
    limit = None if full else _render.VALUE_LIMIT
    run_timings = None
    if timings:
        if resolved.run is None:
            raise CLIError(
                f"{ref} is not a run, and only runs record timings: name a run (its id or @N)."
            )
        run_timings = resolved.run.timings()
    annotate = None if run_timings is None else _timings.annotator(run_timings)
    # Calls the call cache served, when REF names a run (one range scan of its hits).
    cached = {} if resolved.run is None else served_calls(resolved.run.id, store=store)
    if raw:
        tokens = _refs.invocation_tokens(store, resolved)
        try:
            shown = _render.invocation_tree(
                store,
                _raw.parse(tokens),
                depth=depth,
                limit=limit,
                annotate=annotate,
                cached=cached,
            )
        except DecodeError as err:
            raise _corrupt(store, resolved.ref, err) from err
    else:
        invocation = _refs.load_invocation(store, resolved)
        shown = _render.invocation_tree(
            store, invocation, depth=depth, limit=limit, annotate=annotate, cached=cached
        )
    session.out.print(shown)
    if run_timings is not None and resolved.run is not None:
        session.out.print(_timings.footer(resolved.run.id, run_timings))


def _corrupt(store: Store, ref: Ref[Any], err: DecodeError) -> CorruptObjectError:
    location = store.backend.locate(ref.digest)
    return CorruptObjectError(
        f"Object {ref.digest} at {location}, or an object it refers to, hashes correctly but "
        f"cannot be read ({err}).",
        digest=ref.digest,
        location=location,
    )


# replay -----------------------------------------------------------------------------


@click.command(short_help="Replay an invocation or run as a new run; print its tree.")
@click.argument("ref")
@click.option(
    "--rewind",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="First drop the output and the last N child calls, so that they run again "
    "(--rewind 0 drops only the output).",
)
@strict_option
@click.option(
    "--frozen",
    is_flag=True,
    help="Run no call that the journal lacks: such a call is an error (exit 1) naming "
    "it, its child path and the recorded calls near it, instead of reaching a model or tool.",
)
@tree_options
@command_options
@pass_session
def replay(
    session: Session,
    ref: str,
    rewind: int | None,
    strict: bool,
    frozen: bool,
    depth: int | None,
    full: bool,
) -> None:
    """Replay the invocation REF and print the new tree and its ref.

    Recorded calls return their recorded outputs, calls that raised raise
    their recorded exceptions again (--rewind N drops calls so that they run),
    and calls without a record run. The code runs in this process: pass
    --import for the modules that define the invokables (enact never imports
    modules by itself).
    """
    store = session.store()
    resolved = _refs.resolve_for(session, ref)
    invocation = _refs.load_invocation(store, resolved)
    if rewind is not None:
        invocation = invocation.rewind(rewind)
    elif invocation.has_output():
        session.err.print(
            Text(
                f"{ref} is complete, so a replay returns it unchanged; --rewind N runs its "
                "last N calls again.",
                style="yellow",
            ),
            soft_wrap=True,
        )
    result, run_id = replay_invocation(
        invocation, strict=strict, new_calls="forbid" if frozen else "run"
    )
    if run_id is not None:
        print_run(session, runs.get_run(run_id, store=store), depth=depth, full=full)
    else:
        _, state = print_result(session, store, result, depth=depth, full=full)
        check_raised(store, result, None, state)


def replay_invocation(
    invocation: Invocation, *, strict: bool = True, new_calls: NewCalls = "run"
) -> tuple[Invocation, str | None]:
    """Replays `invocation` as a new run (in an event loop if its invokable is asynchronous).

    Returns the new invocation and the new run's id (None when nothing ran:
    a complete invocation replays to itself, and stores without names keep no runs).
    """
    # Run here rather than with Invocation.replay, which does not say which run it made.
    plan = replay_plan(invocation, strict=strict, new_calls=new_calls)
    if plan is None:
        return invocation, None
    plan = runs.prepare_root(plan)
    if is_async_invokable(plan.invokable):
        import asyncio  # only here: importing it costs a tenth of a second at every start

        outcome = asyncio.run(invoke_root_async(plan))
    else:
        outcome = invoke_root(plan)
    if outcome.invocation is None:
        raise InvocationError("The replay did not commit its invocation tree.")
    sink = plan.sink
    return outcome.invocation, sink.run_id if isinstance(sink, runs.RunHandle) else None


def check_raised(store: Store, invocation: Invocation, run_id: str | None, state: str) -> None:
    """Exits with `RAISED_EXIT` and the exception's summary when the produced run raised."""
    if state != _render.RAISED:
        return
    raised = invocation.response().raised
    exception = None if raised is None else raised()
    summary = "an exception" if raised is None else describe_exception(exception)
    where = _render.raised_at(exception)
    summary += f" ({where})" if where else ""
    what = f"Run {run_id!r}" if run_id is not None else "The invocation"
    raise RunRaisedError(f"{what} raised {summary}")


def print_result(
    session: Session, store: Store, invocation: Invocation, *, depth: int | None, full: bool
) -> tuple[str, str]:
    """Prints the tree of a new invocation, then ``ref DIGEST (status)``; returns both."""
    limit = None if full else _render.VALUE_LIMIT
    out = session.out
    out.print(_render.invocation_tree(store, invocation, depth=depth, limit=limit))
    response = invocation.response()
    state = _render.status(store, response.output is not None, response.raised)
    digest = hashlib.sha256(encode(invocation)[0]).hexdigest()  # replay committed it already
    out.print(Text.assemble("ref ", (digest, "bold"), " (", _render.status_text(state), ")"))
    return digest, state


def print_run(session: Session, run: runs.Run, *, depth: int | None, full: bool) -> tuple[str, str]:
    """Prints the tree of a run's head, ``ref DIGEST (status)`` and ``run ID (status)``."""
    store = run.store
    invocation = run.invocation()
    digest = ""
    if invocation is not None:
        digest, _ = print_result(session, store, invocation, depth=depth, full=full)
    state = _render.run_status(run.status)
    session.out.print(
        Text.assemble("run ", (run.id, "bold"), " (", _render.status_text(state), ")")
    )
    if invocation is not None:
        check_raised(store, invocation, run.id, state)
    return digest, state


# resume ---------------------------------------------------------------------------


@click.command(short_help="Continue an interrupted or answered run.")
@click.argument("run")
@strict_option
@tree_options
@command_options
@pass_session
def resume(session: Session, run: str, strict: bool, depth: int | None, full: bool) -> None:
    """Continue the run RUN (interrupted, answered or queued) in this process.

    Calls that finished before it stopped return their journaled outputs (or
    raise their journaled exceptions again); only unfinished calls run again.
    The run keeps its id. Pass --import for the modules that define its
    functions.
    """
    found = resolve_run(session, run)
    if found.status in runs.RESUMABLE:  # else resume says why the run cannot go on
        session.store().checkout(found.state.request)  # the types, before claiming it
    result = runs.resume(found, strict=strict, store=found.store)
    print_run(session, result, depth=depth, full=full)


# fork -------------------------------------------------------------------------------


@click.command(short_help="Make a new run from a state of a run.")
@click.argument("run")
@click.option(
    "--state",
    "state_text",
    metavar="DIGEST",
    default=None,
    help="The state to start from (a digest or prefix from `enact log --history`); "
    "default: the run's head.",
)
@click.option("--run-id", default=None, metavar="ID", help="The new run's id (default: new).")
@command_options
@pass_session
def fork(session: Session, run: str, state_text: str | None, run_id: str | None) -> None:
    """Make a new run from the head of RUN (or --state), leaving RUN unchanged.

    The new run has the state's status: answer or resume it to continue.
    """
    found = resolve_run(session, run)
    if run_id is not None and found.store.get_name(runs.RUN_PREFIX + run_id) is not None:
        raise CLIError(
            f"A run with id {run_id!r} exists already in store {session.where}: choose another "
            "--run-id (or leave it out for a new one)."
        )
    state = None
    if state_text is not None:
        state = _refs.resolve(found.store, state_text, session.where).ref
    new = runs.fork(found, state, run_id=run_id, store=found.store)
    status = _render.run_status(new.status)
    session.out.print(
        Text.assemble(
            "run ", (new.id, "bold"), " (", _render.status_text(status), f") forked from {found.id}"
        )
    )


def resolve_run(session: Session, text: str) -> runs.Run:
    """The run a RUN argument names (a run id, or @N).

    Raises:
        CLIError: It names no run (or an invocation an older enact logged).
    """
    resolved = _refs.resolve_for(session, text)
    if resolved.run is None:
        raise CLIError(
            f"{text} names no run in store {session.where} (runs are named by id or @N; "
            "`enact log` lists them): it is an invocation, which `enact replay` runs again."
        )
    session.subject = f"run {resolved.run.id}"
    return resolved.run
