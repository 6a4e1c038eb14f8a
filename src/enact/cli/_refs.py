"""Finding objects by what users type: names, digests, digest prefixes, and runs (@N)."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any, Final

from enact.cli import _raw
from enact.cli._app import CLIError, Session
from enact.errors import InvalidNameError, RunNotFoundError
from enact.invocations.engine import Invocation
from enact.invocations.runs import (
    INDEX_PREFIX,
    JOURNAL_PREFIX,
    RUN_PREFIX,
    Run,
    check_run_id,
    get_run,
    list_runs,
)
from enact.pretty import shorten
from enact.refs import Ref
from enact.stores.base import UnsupportedOperationError
from enact.stores.store import Store

MAX_REF_LENGTH: Final = 1000
"""The longest REF accepted: the longest store name."""

MIN_PREFIX: Final = 4
"""The shortest digest prefix accepted as a REF."""

_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_LEGACY_RUN: Final = re.compile(re.escape(RUN_PREFIX) + r"([0-9]{20})-[0-9a-f]{12}")
"""``runs/<finish ns>-<digest[:12]>``: how enact before runs logged a finished invocation."""
INTERNAL_PREFIXES: Final = (RUN_PREFIX, "enact/")
_RUN_INDEX: Final = re.compile(r"@([0-9]*)")
_SHOWN_CANDIDATES: Final = 5


@dataclasses.dataclass(frozen=True)
class LogRow:
    """One row of `enact log`: a run, or a legacy logged invocation.

    Attributes:
        time_ns: When the run started (legacy: when it finished), in ns since the epoch.
        run: The run, or None for a ``runs/<ns>-<digest>`` name of an older enact.
        name: The legacy name (None for a run).
        ref: The legacy invocation (None for a run).
    """

    time_ns: int
    run: Run | None = None
    name: str | None = None
    ref: Ref[Invocation] | None = None

    @property
    def time(self) -> datetime.datetime:
        """When the run started, in local time."""
        return datetime.datetime.fromtimestamp(self.time_ns / 1e9).astimezone()


def is_internal_name(name: str) -> bool:
    """Whether `name` is kept by enact itself (run heads, the run index, journal entries)."""
    return name.startswith(INTERNAL_PREFIXES)


def legacy_rows(store: Store) -> list[LogRow]:
    """The invocations older enact versions logged as ``runs/<ns>-<digest>``, newest first."""
    found = []
    for name, ref in store.list_names(RUN_PREFIX):
        match = _LEGACY_RUN.fullmatch(name)
        if match is not None:
            found.append(LogRow(int(match.group(1)), name=name, ref=ref))
    found.sort(key=lambda row: row.time_ns, reverse=True)
    return found


def count_runs(store: Store) -> int:
    """How many runs the index lists (names only: no run is read)."""
    return sum(1 for _ in store.list_names(INDEX_PREFIX))


def log_rows(store: Store, limit: int | None) -> tuple[list[LogRow], int]:
    """The newest `limit` rows (None: all) of runs and legacy runs, and how many there are."""
    total_runs = count_runs(store)
    legacy = legacy_rows(store)
    wanted = total_runs if limit is None else min(limit, total_runs)
    runs = list_runs(limit=wanted, store=store) if wanted else []
    rows = [LogRow(int(run.created * 1e9), run=run) for run in runs] + legacy
    rows.sort(key=lambda row: row.time_ns, reverse=True)
    return rows[:limit] if limit is not None else rows, total_runs + len(legacy)


@dataclasses.dataclass(frozen=True)
class Resolved:
    """What a REF argument named.

    Attributes:
        text: The REF as typed.
        ref: The object.
        name: The store name it was found under (a ``runs/`` name for @N), or None.
        run: The run, when REF named one (its id, or @N); `ref` is then its
            head's invocation.
    """

    text: str
    ref: Ref[Any]
    name: str | None = None
    run: Run | None = None


def resolve(store: Store, text: str, where: str) -> Resolved:
    """Finds the object a REF names: a name, @N, a full digest, or a unique prefix.

    Names win over digest prefixes (a name may look like hex).

    Raises:
        CLIError: Nothing matches, or a prefix matches several objects, or
            `text` is longer than any name or digest.
    """
    if len(text) > MAX_REF_LENGTH:
        raise CLIError(
            f"REF {shorten(text, 40)!r} is {len(text):,} characters long: longer than any "
            f"name ({MAX_REF_LENGTH:,} characters at most) or digest (64 hex digits). Check the "
            "argument; `enact log` lists names and runs."
        )
    try:
        named = store.get_name(text) if text else None
    except InvalidNameError:
        named = None
    if named is not None:
        return Resolved(text, named, text)
    index = _RUN_INDEX.fullmatch(text)
    if index is not None:
        return _nth_run(store, text, int(index.group(1) or 1), where)
    run = _run_by_id(store, text)
    if run is not None:
        return _of_run(store, text, run, where)
    if len(text) > 64 and _HEX.fullmatch(text):
        raise CLIError(
            f"REF {shorten(text, 40)!r} has {len(text)} hex digits: a digest has 64. Check "
            f"the argument (no name {text[:12]}… exists in store {where} either)."
        )
    if len(text) >= MIN_PREFIX and _HEX.fullmatch(text):
        return Resolved(text, _by_digest(store, text.lower(), where))
    raise CLIError(
        f"No name {text!r} in store {where}, no run with that id, and {text!r} is neither a "
        f"digest nor a prefix of one ({MIN_PREFIX} to 64 hex digits) nor @N: run `enact log` "
        "to list names and runs."
    )


def run_names(run: Run) -> list[tuple[str, Ref[Any]]]:
    """The names that make up a run: its head, its index entry, and its journal entries."""
    store = run.store
    created = f"{INDEX_PREFIX}{int(run.created * 1e9):020d}/{run.id}"
    names: list[tuple[str, Ref[Any]]] = [(RUN_PREFIX + run.id, run.head)]
    index = store.get_name(created)
    if index is not None:
        names.append((created, index))
    names.extend(store.list_names(f"{JOURNAL_PREFIX}{run.id}/"))
    return names


def _run_by_id(store: Store, text: str) -> Run | None:
    try:
        check_run_id(text)
    except InvalidNameError:
        return None
    if store.get_name(RUN_PREFIX + text) is None:
        return None
    try:
        return get_run(text, store=store)
    except RunNotFoundError:
        return None  # a name an older enact wrote, or another object: not a run


def _of_run(store: Store, text: str, run: Run, where: str) -> Resolved:
    """A run resolves to its head's invocation (committed now if it is journal entries)."""
    invocation = run.invocation()
    if invocation is None:
        raise CLIError(
            f"Run {run.id!r} in store {where} has recorded nothing yet (status {run.status})."
        )
    ref: Ref[Any] = store.commit(invocation)
    return Resolved(text, ref, RUN_PREFIX + run.id, run)


def resolve_for(session: Session, text: str) -> Resolved:
    """`resolve` in the session's store; errors from now on name this REF."""
    resolved = resolve(session.store(), text, session.where)
    shown = resolved.ref.digest[:12]
    session.subject = text if text == shown else f"{text} ({shown})"
    return resolved


def _nth_run(store: Store, text: str, n: int, where: str) -> Resolved:
    rows, total = log_rows(store, n) if n >= 1 else ([], 0)
    if not 1 <= n <= len(rows):
        raise CLIError(
            f"No run {text} in store {where}: it has {total} run(s); @1 is the "
            "latest (see `enact log`)."
        )
    row = rows[n - 1]
    if row.run is not None:
        return _of_run(store, text, row.run, where)
    assert row.ref is not None
    return Resolved(text, row.ref, row.name)


def _by_digest(store: Store, digest: str, where: str) -> Ref[Any]:
    if len(digest) == 64:
        ref: Ref[Any] = Ref.from_digest(digest)
        if not store.has(ref):
            raise CLIError(
                f"No object {digest} in store {where}: check the digest, or copy the object "
                "here from the store that has it (enact copy)."
            )
        return ref
    try:
        found = store.backend.digests_with_prefix(digest, limit=_SHOWN_CANDIDATES + 1)
    except UnsupportedOperationError as err:
        raise CLIError(
            f"Store {where} cannot look up digest prefixes ({err}): give the full digest."
        ) from err
    if not found:
        raise CLIError(
            f"No object or name matches {digest!r} in store {where}: run `enact log` to list "
            "names and runs."
        )
    if len(found) > 1:
        shown = ", ".join(candidate[:16] for candidate in found[:_SHOWN_CANDIDATES])
        more = " and more" if len(found) > _SHOWN_CANDIDATES else ""
        raise CLIError(
            f"Digest prefix {digest!r} is ambiguous in store {where}: it matches {shown}{more}. "
            "Give more digits."
        )
    return Ref._unchecked(found[0])


INVOCATION_TYPE: Final = Invocation.__enact_type_name__


def invocation_tokens(store: Store, resolved: Resolved) -> bytes:
    """The token stream of the invocation a REF names.

    Raises:
        CLIError: The object is not an invocation.
    """
    tokens = store.read_tokens(resolved.ref)
    name = _raw.type_name(tokens)
    if name != INVOCATION_TYPE:
        what = f"a {name}" if name and not name.startswith(_raw.WRAPPER_PREFIX) else "a value"
        raise CLIError(
            f"{resolved.text} ({resolved.ref.digest[:12]}) is {what}, not an invocation: "
            f"`enact show {resolved.text}` prints it."
        )
    return tokens


def load_invocation(store: Store, resolved: Resolved) -> Invocation:
    """Checks out the invocation a REF names.

    Raises:
        CLIError: The object is not an invocation.
    """
    invocation_tokens(store, resolved)
    invocation: Invocation = store.checkout(resolved.ref)
    return invocation
