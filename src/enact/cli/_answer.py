"""``enact answer``: answer the input requests an invocation waits for, and continue it."""

from __future__ import annotations

import sys
import textwrap
from typing import Any, Final

import click
from rich.text import Text

from enact import pretty
from enact.cli import _refs, _render
from enact.cli._app import CLIError, Session, command_options
from enact.cli._journal import (
    pass_session,
    print_run,
    replay_invocation,
    strict_option,
    tree_options,
)
from enact.cli._safe import clean
from enact.errors import EnactError, UnknownTypeError
from enact.invocations.inputs import (
    InputRequest,
    answer,
    answer_run,
    pending_input_requests,
    run_input_requests,
)
from enact.invocations.runs import Run, check_sync_here, get_run, supports_runs
from enact.resources import Resource


class AnswerError(ValueError):
    """Text that does not answer an input request."""


def parse_answer(text: str, request: InputRequest) -> Any:
    """Turns what the user typed into a value of the requested type.

    See `enact.invocations.answers.parse_answer` (shared with the web UI).

    Raises:
        AnswerError: The text is not a value of the requested type.
    """
    try:
        return request.parse_answer(text)
    except EnactError as err:
        problems = getattr(err, "problems", None)
        if problems:
            listed = "; ".join(f"{path}: {problem}" for path, problem in problems)
            raise AnswerError(
                f"{text!r} is not a valid {clean(request.requested_label)}: {clean(listed)}"
            ) from err
        label = clean(request.requested_label)
        raise AnswerError(f"{text!r} is not of type {label}: {clean(_clause(err))}") from err


def _clause(err: Exception) -> str:
    """An error message to embed in a sentence (without its final period)."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else err
    return str(text).rstrip(".")


def _json_hint(request: InputRequest) -> str | None:
    wanted = request.requested_type
    if wanted in (str, bytes, bool, int, float, type(None)):
        return None
    if isinstance(wanted, type) and issubclass(wanted, Resource):
        fields = ", ".join(f'"{name}": …' for name in wanted.field_names())
        return f"JSON, e.g. {{{fields}}}"
    return "JSON (or text where a string is taken)"


def _as_text(value: Any) -> str:
    """A str as the text it is (newlines kept, control characters escaped); others as repr."""
    if isinstance(value, str) and value:
        return clean(value, newlines=True)
    return clean(pretty.safe_repr(value, None if isinstance(value, str) else _render.VALUE_LIMIT))


def _context_text(request: InputRequest) -> str | None:
    context = request.context
    return None if context is None else _as_text(context)


def _for_value_text(request: InputRequest) -> str | None:
    value = request.for_value()
    return None if value is None else _as_text(value)


def _show_request(
    session: Session, number: int, total: int, path: tuple[int, ...], request: InputRequest
) -> None:
    """The request: its context and the value it is for, as wrapped text, then the type.

    Strings show as the text they are (wrapped to the terminal, their lines
    kept, escape sequences shown escaped), not as one-line reprs.
    """
    out = session.out
    out.print(
        Text.assemble(
            (f"Input request {number} of {total}", "bold yellow"),
            f" (child call {list(path)})" if path else "",
        )
    )
    rows = [("context", _context_text(request)), ("for", _for_value_text(request))]
    rows.append(("type", clean(request.requested_label)))  # a stored class name
    rows.append(("answer", _json_hint(request)))
    room = max(out.width - _LABEL_WIDTH, 20)
    for label, value in rows:
        if value is not None:
            lines = []
            for line in value.split("\n"):  # wrapped to the terminal, hanging under the label
                lines.extend(textwrap.wrap(line, room, drop_whitespace=False) or [""])
            shown = ("\n" + " " * _LABEL_WIDTH).join(line.rstrip() for line in lines)
            out.print(Text.assemble((f"  {label + ':':<9}", "dim"), shown), soft_wrap=True)


_LABEL_WIDTH: Final = 11


def _prompt(request: InputRequest) -> Any:
    """Asks on the terminal until the answer fits the requested type."""
    label = clean(request.requested_label)  # click writes it as it is: escape it here
    while True:
        text = click.prompt(
            f"Answer ({label})", default="" if label == "None" else None, show_default=False
        )
        if not sys.stdin.isatty():  # a terminal echoes what was typed; show piped answers too
            click.echo(text)
        try:
            return parse_answer(text, request)
        except AnswerError as err:
            message = clean(f"Not a valid answer: {_clause(err)}. Try again.")
            click.secho(message, fg="red", err=True)


@click.command(name="answer", short_help="Answer the input requests a run waits for; continue it.")
@click.argument("ref")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="JSON",
    help="Answer the pending requests in order, one --input each, instead of prompting "
    "(text is taken as is for str requests).",
)
@click.option("--list", "list_only", is_flag=True, help="List the pending requests only.")
@click.option(
    "--record-only",
    is_flag=True,
    help="Store one answer and stop: the run is left answered, for `enact resume` or a worker.",
)
@strict_option
@tree_options
@command_options
@pass_session
def answer_command(
    session: Session,
    ref: str,
    inputs: tuple[str, ...],
    list_only: bool,
    record_only: bool,
    strict: bool,
    depth: int | None,
    full: bool,
) -> None:
    """Answer the input requests the run REF waits for, and continue it.

    For each pending request, shows its context, the value it is for and the
    requested type, then prompts for the answer (or takes the next --input).
    Each answer continues the same run (it keeps its id), which may ask
    again; Ctrl-D stops. Answering claims the run: if another process
    answered or holds it, this fails before prompting or running any code.
    Prints the new tree, its ref and the run at the end.

    REF may also be an invocation (a digest, or a run logged by an older
    enact): it is answered and replayed as a new run.
    """
    resolved = _refs.resolve_for(session, ref)
    remaining = list(inputs)
    if resolved.run is None:
        if record_only:
            raise CLIError(
                f"{ref} is an invocation, not a run: --record-only needs a run (its id, or @N)."
            )
        run = _answer_invocation(session, resolved, remaining, list_only, strict)
        if run is None:
            return
        answered = 1
    else:
        run = resolved.run
        answered = 0
    session.subject = f"run {run.id}"
    if run.state.status == "waiting" or not answered:
        pending = _check_waiting(run, needs_program=not record_only)
        if list_only:
            for number, (path, request, _) in enumerate(pending, 1):
                _show_request(session, number, len(pending), path, request)
            return
        if not record_only or not answered:
            answered += _answer_rounds(
                session, ref, run, pending, remaining, bool(inputs), strict, record_only
            )
            run = run.refresh()
    if not answered:
        raise CLIError(f"No answer given: run {run.id} still waits for input.")
    if remaining:
        session.err.print(
            Text(f"{len(remaining)} --input value(s) were not needed.", style="yellow")
        )
    try:
        _, state = print_run(session, run, depth=depth, full=full)
    except UnknownTypeError:
        if not record_only:
            raise
        # Recording an answer needs none of the program's types: without its
        # module (--import) the tree cannot be shown, the run line can.
        state = _render.run_status(run.status)
        session.out.print(
            Text.assemble("run ", (run.id, "bold"), " (", _render.status_text(state), ")")
        )
    if state == _render.WAITING:
        session.err.print(
            Text(f"It waits for more input: enact answer {run.id}", style="yellow"),
            soft_wrap=True,
        )
    elif state == "answered":
        session.err.print(
            Text(
                f"Answer recorded: a worker (enact worker) or enact resume {run.id} "
                "continues the run.",
                style="yellow",
            ),
            soft_wrap=True,
        )


def _answer_rounds(
    session: Session,
    ref: str,
    run: Run,
    pending: list[tuple[tuple[int, ...], InputRequest, str]],
    remaining: list[str],
    from_inputs: bool,
    strict: bool,
    record_only: bool,
) -> int:
    """Answers the run's requests one at a time, continuing it after each; returns how many."""
    answered = 0
    while pending:
        if not remaining and from_inputs:  # the --input values are used up
            break
        path, request, _ = pending[0]
        _show_request(session, 1, len(pending), path, request)
        value = _next_answer(session, ref, request, remaining)
        if value is _STOP:
            break
        # Moves the head from the state read above by compare-and-set: if another process
        # answered or claimed it meanwhile, this fails before any program code runs.
        run = answer_run(run, value, path, strict=strict, run_now=not record_only)
        answered += 1
        if record_only or run.state.status != "waiting":
            break
        pending = run_input_requests(run)
    return answered


_STOP: Final = object()


def _next_answer(session: Session, ref: str, request: InputRequest, remaining: list[str]) -> Any:
    """The next --input value (parsed), or the answer typed; `_STOP` on Ctrl-D."""
    if remaining:
        text = remaining.pop(0)
        try:
            return parse_answer(text, request)
        except AnswerError as err:
            raise CLIError(
                f"--input {text!r} does not answer request 1 of {ref}: {_clause(err)}."
            ) from err
    try:
        return _prompt(request)
    except click.Abort:
        session.out.print()
        return _STOP


def _check_waiting(
    run: Run, *, needs_program: bool = True
) -> list[tuple[tuple[int, ...], InputRequest, str]]:
    """What can fail before a prompt: the run must wait for input, its types be registered.

    Recording an answer only (`needs_program` false) runs none of the program,
    so its module need not be importable here (a worker continues the run).

    Raises:
        CLIError: The run does not wait for input.
        UnknownTypeError: A type of the run is not registered (needs --import).
    """
    status = _render.run_status(run.status)
    if run.state.status != "waiting":
        hint = {
            "answered": "it was answered already; `enact resume` continues it",
            "running": f"another process ({run.state.owner}) is running it",
            "interrupted": "`enact resume` continues it",
            "queued": "`enact resume` starts it",
        }.get(
            run.status,
            f"`enact log --history {run.id}` lists its states, and `enact fork {run.id} "
            "--state STATE` makes a new run from one",
        )
        raise CLIError(
            f"Run {run.id} waits for no input: its status is {status!r} (head "
            f"{run.head.digest[:12]}); {hint}."
        )
    if needs_program:
        run.store.checkout(run.state.request)  # the program's types, before any prompt
        check_sync_here(run)  # what answering would refuse after the prompt, refused before it
    pending = run_input_requests(run)
    if not pending:
        raise CLIError(f"Run {run.id} waits for input, but no pending request was found.")
    return pending


def _answer_invocation(
    session: Session,
    resolved: _refs.Resolved,
    remaining: list[str],
    list_only: bool,
    strict: bool,
) -> Run | None:
    """Answers an invocation that is not a run's head (a digest, an older enact's log).

    The pending requests are answered in one round and the invocation is
    replayed as a new run, which is returned (None after --list).
    """
    store = session.store()
    ref = resolved.text
    invocation = _refs.load_invocation(store, resolved)
    pending = pending_input_requests(invocation)
    if not pending:
        response = invocation.response()
        state = _render.status(store, response.output is not None, response.raised)
        raise CLIError(
            f"{ref} ({resolved.ref.digest[:12]}) waits for no input: its status is {state!r}."
        )
    if list_only:
        for number, (path, request) in enumerate(pending, 1):
            _show_request(session, number, len(pending), path, request)
        return None
    store.checkout(invocation.request)  # the program's types, before any prompt
    if not supports_runs(store):  # refused before the prompt, not after it
        raise CLIError(
            f"Store {session.where} keeps no names, so the answered {ref} cannot continue as a "
            "run: answer it in a store that keeps names (copy it there with enact copy)."
        )
    from_inputs = bool(remaining)
    answers: list[tuple[tuple[int, ...], Any]] = []
    for number, (path, request) in enumerate(pending, 1):
        if not remaining and from_inputs:
            break
        _show_request(session, number, len(pending), path, request)
        value = _next_answer(session, ref, request, remaining)
        if value is _STOP:
            break
        answers.append((path, value))
    if not answers:
        raise CLIError(f"No answer given: {ref} still waits for input.")
    for path, value in answers:
        invocation = answer(invocation, value, path)
    _, run_id = replay_invocation(invocation, strict=strict)
    if run_id is None:
        raise CLIError(
            f"Store {session.where} keeps no names, so the answered {ref} cannot continue as a run."
        )
    return get_run(run_id, store=store)
