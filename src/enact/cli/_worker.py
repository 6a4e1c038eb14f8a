"""``enact worker``: claim ready runs from the store's queues and continue them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import click

from enact.cli._app import CLIError, F, Session, command_options
from enact.errors import UnsupportedOperationError
from enact.invocations.runs import LEASE_SECONDS, Worker, set_queue_limit

pass_session = click.make_pass_decorator(Session)


def _seconds_option(*names: str, default: float, least: float, help: str) -> Callable[[F], F]:
    """An option that takes a duration in SECONDS (at least `least`), its default shown."""
    return click.option(
        *names,
        default=default,
        show_default=True,
        type=click.FloatRange(min=least),
        metavar="SECONDS",
        help=help,
    )


@click.command(short_help="Continue submitted, answered and interrupted runs.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="Q[=N]",
    help="A queue to serve (repeatable; default: default), with at most N of its runs "
    "at once in this worker.",
)
@click.option(
    "--queue-limit",
    "queue_limits",
    multiple=True,
    metavar="Q=N",
    help="Record in the store that at most N runs of queue Q run at once in all the "
    "workers that share it, on every machine (repeatable; Q=none removes the limit).",
)
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many runs this worker runs at once.",
)
@_seconds_option(
    "--lease",
    "lease_seconds",
    default=LEASE_SECONDS,
    least=0.5,
    help="How long a claim holds without renewal (renewed every third of it).",
)
@_seconds_option(
    "--grace",
    default=30.0,
    least=0,
    help="On SIGTERM, how long the runs in progress may finish before they are "
    "interrupted and put back in the queue.",
)
@click.option("--until-idle", is_flag=True, help="Stop once no run is ready or running.")
@click.option("--quiet", "-q", is_flag=True, help="No log line per run.")
@command_options
@pass_session
def worker(
    session: Session,
    queues: tuple[str, ...],
    queue_limits: tuple[str, ...],
    concurrency: int,
    lease_seconds: float,
    grace: float,
    until_idle: bool,
    quiet: bool,
) -> None:
    """Claim ready runs and continue them: queued (enact.submit), answered
    (enact answer --record-only) and interrupted (their worker died).

    Pass --import for the modules that define the runs' functions. Any number
    of workers may share a PostgreSQL store (on any number of machines) or an
    SQLite store (processes on one machine). A run is claimed by one worker at
    a time; a call that finished is never run again, a call that was running
    when its worker died runs again. SIGTERM or Ctrl-C: finish the runs in
    progress (within --grace), then stop; a second one interrupts them.

    --queue Q=N bounds the runs of Q in this worker; --queue-limit Q=N in all
    workers together (kept in the store until changed).
    """
    limits: dict[str, int] = {}
    for text in queues or ("default",):
        name, sep, count = text.partition("=")
        if sep and not count.isdigit():
            raise click.BadParameter(
                f"{text!r}: write Q or Q=N with N a number.", param_hint="--queue"
            )
        limits[name] = min(int(count), concurrency) if sep else concurrency
    global_limits: dict[str, int | None] = {}
    for text in queue_limits:
        name, sep, count = text.partition("=")
        if not name or not sep or not (count.isdigit() or count == "none"):
            raise click.BadParameter(
                f"{text!r}: write Q=N with N a number (or Q=none to remove the limit).",
                param_hint="--queue-limit",
            )
        global_limits[name] = None if count == "none" else int(count)
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger = logging.getLogger("enact")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    store = session.store()
    try:
        runner = Worker(
            store,
            queues=limits,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            grace=grace,
        )
        for name, limit in global_limits.items():
            set_queue_limit(name, limit, store=store)
    except (UnsupportedOperationError, ValueError) as err:
        raise CLIError(f"Cannot start a worker on store {session.where}: {err}") from err
    runner.run(until_idle=until_idle)
