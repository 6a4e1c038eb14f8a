"""``enact answer``: answer the input requests an invocation waits for, and continue it."""

from __future__ import annotations

import json
import sys
from typing import Any, Final

import click
from rich.text import Text

from enact.cli import _refs, _render
from enact.cli._app import CLIError, Session, command_options
from enact.cli._journal import pass_session, print_result, replay_invocation, tree_options
from enact.errors import EnactError
from enact.invocations.engine import Invocation
from enact.invocations.inputs import InputRequest, answer, pending_input_requests
from enact.resources import Resource

_TRUE: Final = frozenset({"y", "yes", "true", "1", "on"})
_FALSE: Final = frozenset({"n", "no", "false", "0", "off"})
_SEQUENCES: Final = (tuple, set, frozenset)


class AnswerError(ValueError):
    """Text that does not answer an input request."""


def parse_answer(text: str, request: InputRequest) -> Any:
    """Turns what the user typed into a value of the requested type.

    A ``str`` request takes the text as it is (or the string a JSON string
    literal spells); ``bool`` takes yes/no/true/false; ``bytes`` the UTF-8 of
    the text; ``None`` an empty answer or ``null``; other types take JSON (a
    JSON object for a resource class, built with ``from_resource_dict``).

    Raises:
        AnswerError: The text is not a value of the requested type.
    """
    wanted = request.requested_type
    label = _render.type_label(request.requested)
    if wanted is str:
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    if wanted is bytes:
        return text.encode("utf-8")
    if wanted is bool:
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise AnswerError(f"{text!r} is not yes or no ({label} requested)")
    if wanted is type(None):
        if text.strip() in ("", "null", "None"):
            return None
        raise AnswerError(f"{text!r} is not empty (None is requested)")
    try:
        value = json.loads(text)
    except ValueError as err:
        raise AnswerError(f"{text!r} is not JSON ({err}); {label} requested") from err
    try:
        if wanted is float and type(value) is int:
            value = float(value)
        elif isinstance(wanted, type) and issubclass(wanted, Resource) and isinstance(value, dict):
            value = wanted.from_resource_dict(value)
        elif wanted in _SEQUENCES and isinstance(value, list):
            value = wanted(value)
    except (KeyError, TypeError, ValueError) as err:
        raise AnswerError(f"{text!r} does not make a {label}: {_clause(err)}") from err
    try:
        request.check_answer(value)
    except EnactError as err:
        raise AnswerError(f"{text!r} is not of type {label}: {_clause(err)}") from err
    return value


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
    return "JSON"


def _context_text(request: InputRequest) -> str | None:
    context = request.context
    if context is None:
        return None
    return context if isinstance(context, str) else _render.safe_repr(context)


def _for_value_text(request: InputRequest) -> str | None:
    value = request.for_value()
    return None if value is None else _render.safe_repr(value, _render.VALUE_LIMIT)


def _show_request(
    session: Session, number: int, total: int, path: tuple[int, ...], request: InputRequest
) -> None:
    out = session.out
    out.print(
        Text.assemble(
            (f"Input request {number} of {total}", "bold yellow"),
            f" (child call {list(path)})" if path else "",
        )
    )
    rows = [("context", _context_text(request)), ("for", _for_value_text(request))]
    rows.append(("type", _render.type_label(request.requested)))
    rows.append(("answer", _json_hint(request)))
    for label, value in rows:
        if value is not None:
            out.print(Text.assemble((f"  {label + ':':<9}", "dim"), value), soft_wrap=True)


def _prompt(request: InputRequest) -> Any:
    """Asks on the terminal until the answer fits the requested type."""
    label = _render.type_label(request.requested)
    while True:
        text = click.prompt(
            f"Answer ({label})", default="" if label == "None" else None, show_default=False
        )
        if not sys.stdin.isatty():  # a terminal echoes what was typed; show piped answers too
            click.echo(text)
        try:
            return parse_answer(text, request)
        except AnswerError as err:
            click.secho(f"Not a valid answer: {_clause(err)}. Try again.", fg="red", err=True)


@click.command(
    name="answer", short_help="Answer the input requests an invocation waits for; continue it."
)
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
@tree_options
@command_options
@pass_session
def answer_command(
    session: Session,
    ref: str,
    inputs: tuple[str, ...],
    list_only: bool,
    depth: int | None,
    full: bool,
) -> None:
    """Answer the input requests the invocation REF waits for, and continue it.

    For each pending request, shows its context, the value it is for and the
    requested type, then prompts for the answer (or takes the next --input).
    The run then continues, and asks again if it requests more input; Ctrl-D
    stops. Prints the new tree and its ref at the end.
    """
    store = session.store()
    resolved = _refs.resolve_for(session, ref)
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
        return
    remaining = list(inputs)
    interactive = not inputs
    answered = 0
    while pending:
        answers: list[tuple[tuple[int, ...], Any]] = []
        stopped = False
        for number, (path, request) in enumerate(pending, 1):
            if not remaining and not interactive:  # the --input values are used up
                stopped = True
                break
            _show_request(session, number, len(pending), path, request)
            if remaining:
                text = remaining.pop(0)
                try:
                    value = parse_answer(text, request)
                except AnswerError as err:
                    raise CLIError(
                        f"--input {text!r} does not answer request {number} of {ref}: "
                        f"{_clause(err)}."
                    ) from err
            else:
                try:
                    value = _prompt(request)
                except click.Abort:
                    session.out.print()
                    stopped = True
                    break
            answers.append((path, value))
        if not answers:
            break
        answered += len(answers)
        invocation = _continue(invocation, answers)
        if stopped:
            break
        pending = pending_input_requests(invocation)
    if not answered:
        raise CLIError(f"No answer given: {ref} still waits for input.")
    if remaining:
        session.err.print(
            Text(f"{len(remaining)} --input value(s) were not needed.", style="yellow")
        )
    digest, state = print_result(session, store, invocation, depth=depth, full=full)
    if state == _render.WAITING:
        session.err.print(
            Text(f"It waits for more input: enact answer {digest[:12]}", style="yellow"),
            soft_wrap=True,
        )


def _continue(invocation: Invocation, answers: list[tuple[tuple[int, ...], Any]]) -> Invocation:
    for path, value in answers:
        invocation = answer(invocation, value, path)
    return replay_invocation(invocation)
