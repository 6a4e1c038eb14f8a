"""``enact tag``, ``copy``, ``gc``, ``verify`` and ``migrate``: naming, moving, checking objects."""

from __future__ import annotations

import importlib
from typing import Any

import click
from rich import filesize
from rich.text import Text

from enact import maintenance
from enact.cli import _refs
from enact.cli._app import (
    CLIError,
    Session,
    command_options,
    describe_url,
    import_modules,
    open_url,
    progress_bars,
)
from enact.cli._journal import pass_session
from enact.errors import NameConflictError
from enact.invocations.runs import RUN_PREFIX, requeue_copied_runs
from enact.refs import Ref
from enact.stores.store import Store

# tag --------------------------------------------------------------------------------


@click.command(short_help="Point a name at an object.")
@click.argument("name")
@click.argument("ref", required=False)
@click.option("-f", "--force", is_flag=True, help="Move NAME if it points at another object.")
@click.option("-d", "--delete", is_flag=True, help="Delete NAME instead (give no REF).")
@command_options
@pass_session
def tag(session: Session, name: str, ref: str | None, force: bool, delete: bool) -> None:
    """Point the name NAME at the object REF (names keep objects from gc)."""
    store = session.store()
    current = store.get_name(name)
    if delete:
        if ref is not None:
            raise click.UsageError("--delete takes the NAME only.")
        if current is None:
            raise CLIError(f"No name {name!r} in store {session.where}: nothing to delete.")
        _set_name(session, name, None, current)
        session.out.print(f"Deleted name {name} (it pointed at {current.digest}).")
        return
    if ref is None:
        raise click.UsageError("Give the REF that NAME should point at (or --delete).")
    target = _refs.resolve_for(session, ref).ref
    if current == target:
        session.out.print(f"{name} already points at {target.digest}.")
        return
    if current is not None and not force:
        raise CLIError(
            f"Name {name!r} already points at {current.digest[:12]} in store {session.where}: "
            f"pass --force to move it to {target.digest[:12]}."
        )
    _set_name(session, name, target, current)
    moved = f" (was {current.digest[:12]})" if current is not None else ""
    session.out.print(f"{name} -> {target.digest}{moved}")


def _set_name(
    session: Session, name: str, target: Ref[Any] | None, expected: Ref[Any] | None
) -> None:
    try:
        session.store().set_name(name, target, expected=expected)
    except NameConflictError as err:
        raise CLIError(
            f"Name {name!r} in store {session.where} changed while enact tag ran "
            f"(it now points at {err.actual or 'nothing'}): run the command again."
        ) from err


# copy -------------------------------------------------------------------------------


@click.command(short_help="Copy what REFs reach to another store.")
@click.argument("refs", nargs=-1)
@click.option("--to", "target_url", required=True, metavar="URL", help="The store to copy to.")
@click.option("--all", "copy_all", is_flag=True, help="Copy every name and what it reaches.")
@command_options
@pass_session
def copy(session: Session, refs: tuple[str, ...], target_url: str, copy_all: bool) -> None:
    """Copy the objects REF... reach to another store (like git push).

    Only what the target lacks is sent. A REF given by name (or @N, or a run
    id) sets the same name in the target (a run: its head, index and journal
    names), unless the target's name points elsewhere.
    """
    if not refs and not copy_all:
        raise click.UsageError("Give the REF... to copy, or --all.")
    source = session.store()
    wanted = []
    for ref in refs:
        resolved = _refs.resolve_for(session, ref)
        if resolved.run is None:
            wanted.append(resolved)
        else:  # a run is its head, its index entry and its journal, not its invocation
            runs = _refs.run_names(resolved.run)
            wanted.extend(_refs.Resolved(ref, target, name) for name, target in runs)
    if copy_all:
        wanted.extend(_refs.Resolved(name, ref, name) for name, ref in source.names().items())
    if describe_url(target_url) == session.where:
        raise CLIError(f"The target {session.where} is the source store: copy to another URL.")
    target = open_url(target_url, create=True)
    try:
        with progress_bars(session.err) as progress:
            report = maintenance.copy(
                [item.ref for item in wanted], source, target, progress=progress
            )
        named, kept = 0, []
        for item in wanted:
            if item.name is None:
                continue
            try:
                target.set_name(item.name, item.ref, expected=None)
                named += 1
            except NameConflictError as err:
                if err.actual != item.ref.digest:
                    kept.append(item.name)
        queued = _requeue(source, target, wanted, kept, copy_all)
    finally:
        target.close()
    where = describe_url(target_url)
    session.out.print(
        f"Copied {report.sent} object(s) ({filesize.decimal(report.bytes_sent)}) to {where}; "
        f"{report.skipped} were already there; {named} name(s) set."
    )
    if queued:
        session.out.print(f"Put {queued} run(s) in the target's ready queue for its workers.")
    if report.unverified:
        session.err.print(
            Text(
                f"{report.unverified} object(s) were sent without a hash check: they are "
                "packed with a packing not defined here (--import its module to check them).",
                style="yellow",
            ),
            soft_wrap=True,
        )
    if kept:
        session.err.print(
            Text(
                f"Kept the target's own value of {len(kept)} name(s), which point elsewhere: "
                + ", ".join(kept),
                style="yellow",
            ),
            soft_wrap=True,
        )


def _requeue(
    source: Store, target: Store, wanted: list[_refs.Resolved], kept: list[str], limits: bool
) -> int:
    """Puts the copied runs that wait for a worker in the target's ready queue."""
    run_ids = [
        item.name[len(RUN_PREFIX) :]
        for item in wanted
        if item.name is not None and item.name.startswith(RUN_PREFIX) and item.name not in kept
    ]
    return requeue_copied_runs(source, target, run_ids, limits=limits)


# gc ---------------------------------------------------------------------------------


@click.command(short_help="Delete the objects that no name reaches.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep objects committed less than SECONDS ago, named or not.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@command_options
@pass_session
def gc(session: Session, grace: float, dry_run: bool) -> None:
    """Delete the objects that no name reaches (runs are names: they are kept)."""
    store = session.store()
    with progress_bars(session.err) as progress:
        report = maintenance.gc(store, grace_seconds=grace, dry_run=dry_run, progress=progress)
    verb = "would be deleted (dry run)" if dry_run else "deleted"
    session.out.print(
        f"gc of {session.where}: {report.reachable} object(s) reachable from names, "
        f"{report.recent} recent kept, {report.deleted} {verb}."
    )
    if report.missing:
        session.err.print(
            Text(
                f"{report.missing} ref(s) point at objects the store lacks: run enact verify.",
                style="yellow",
            ),
            soft_wrap=True,
        )


# verify -----------------------------------------------------------------------------


@click.command(short_help="Re-hash every object; check that no ref dangles.")
@command_options
@pass_session
@click.pass_context
def verify(ctx: click.Context, session: Session) -> None:
    """Re-hash every object and check that every ref points at a stored object.

    Exits with status 1 if an object is corrupt or a ref dangles.
    """
    store = session.store()
    with progress_bars(session.err) as progress:
        report = maintenance.verify(store, progress=progress)
    styles = {"corrupt": "red", "dangling": "red", "unverifiable": "yellow"}
    for problem in report.problems:
        session.out.print(Text(str(problem), style=styles.get(problem.kind, "")), soft_wrap=True)
    summary = (
        f"{report.checked} object(s) checked in {session.where}: {len(report.corrupt)} corrupt, "
        f"{len(report.dangling)} dangling ref(s), {len(report.unverifiable)} unverifiable."
    )
    session.out.print(Text(summary, style="green" if report.ok else "red"))
    if not report.ok:
        ctx.exit(1)


# migrate ----------------------------------------------------------------------------


@click.command(short_help="Rewrite objects of old shapes for the current classes.")
@click.option(
    "--using",
    metavar="MODULE:FUNCTION",
    default=None,
    help="The upgrade function, called as FUNCTION(type_name, fields) for each stored "
    "resource of an old shape; it returns the new value, or None for the default reading.",
)
@click.option("--run", "run_id", metavar="RUN", default=None, help="Migrate only this run.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@command_options
@pass_session
@click.pass_context
def migrate(
    ctx: click.Context, session: Session, using: str | None, run_id: str | None, dry_run: bool
) -> None:
    """Rewrite the objects that names (or RUN) reach into the shapes of the current classes.

    Pass --import for the modules that define the current classes. Objects are
    written anew and names and run heads moved to them by compare-and-set; old
    objects stay until `enact gc`. Safe to interrupt and run again.
    Exits with status 1 if a name changed meanwhile (run it again).
    """
    store = session.store()
    upgrade = _upgrade_function(using) if using else None
    with progress_bars(session.err) as progress:
        report = maintenance.migrate(
            upgrade, store=store, run=run_id, dry_run=dry_run, progress=progress
        )
    would = "would be " if dry_run else ""
    session.out.print(
        f"migrate of {session.where}{' (dry run)' if dry_run else ''}: {report.objects} "
        f"object(s) read from {report.names} name(s); {report.rewritten} {would}rewritten "
        f"({report.upgraded} by the upgrade function); {len(report.moved)} name(s) {would}moved."
    )
    if report.conflicts:
        shown = ", ".join(report.conflicts[:5])
        session.err.print(
            Text(
                f"{len(report.conflicts)} name(s) changed while migrate ran and were not moved "
                f"({shown}): run enact migrate again.",
                style="red",
            ),
            soft_wrap=True,
        )
        ctx.exit(1)


def _upgrade_function(spec: str) -> Any:
    """The function ``MODULE:FUNCTION`` names (the module imported as --import does)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise click.UsageError(f"--using takes MODULE:FUNCTION, not {spec!r}.")
    import_modules((module_name,))
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise CLIError(
            f"Module {module_name!r} has no function {function_name!r} (from --using {spec})."
        )
    return function
