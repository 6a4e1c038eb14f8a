"""The ``enact`` command: look into, replay, answer, verify and move journals.

Every command works on the store ``--store URL`` names (default: ``$ENACT_STORE``,
else the SQLite file ``.enact/store.db``)::

    enact log                      names, and the latest runs with their status
    enact inbox                    the input requests that runs wait for
    enact show REF [--raw]         pretty print of any object
    enact tree REF [--depth N]     the call tree: inputs, outputs, exceptions
    enact replay REF [--rewind N]  replay an invocation as a new run; print its tree
    enact answer RUN [--input J]   answer pending input requests, continue the run
    enact resume RUN               continue an interrupted or answered run
    enact fork RUN [--state D]     make a new run from a state of a run
    enact worker [--queue Q]       continue submitted, answered and interrupted runs
    enact tag NAME REF             name an object
    enact copy --to URL REF...     copy what REF... reach to another store
    enact gc / enact verify        collect garbage / re-hash and check every object
    enact migrate [--using M:F]    rewrite objects of old shapes for the current classes
    enact ui [--port N]            a local web app: runs, trees, diffs, the inbox
    enact export-otel RUN          a run's calls as OpenTelemetry spans

REF is a name, a run id, a full digest, a unique prefix of one, or @N (the N-th
latest run). Commands that run code (replay, answer, resume, migrate) need the
modules that register the program's types: ``--import MODULE`` (repeatable;
enact never imports anything by itself); without them, show and tree print
objects as stored.
Failures are one line on standard error and exit status 1 (usage errors: 2; a
run that replay, resume or answer produced raised: 3).
"""

from enact.cli._answer import answer_command
from enact.cli._app import CLIError, cli, main
from enact.cli._journal import fork, replay, resume, show, tree
from enact.cli._log import inbox, log
from enact.cli._maintain import copy, gc, migrate, tag, verify
from enact.cli._otel import export_otel
from enact.cli._ui import ui
from enact.cli._worker import worker

for _command in (
    log,
    inbox,
    show,
    tree,
    replay,
    answer_command,
    resume,
    fork,
    worker,
    tag,
    copy,
    gc,
    verify,
    migrate,
    ui,
):
    cli.add_command(_command)
cli.add_command(export_otel)

__all__ = ["CLIError", "cli", "main"]
