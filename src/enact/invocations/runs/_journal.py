"""The per-call journal of a run: entry names, reading them, and the template they make."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from enact.invocations.engine import (
    Invocation,
    OpenCall,
)
from enact.invocations.records import Response
from enact.invocations.responses import commit_response, read_response
from enact.invocations.runs._state import (
    JOURNAL_PREFIX,
)
from enact.refs import Ref
from enact.stores.base import NameQuery
from enact.stores.store import Store

# The journal -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class JournalEntry:
    """One finished call recorded while its run was running."""

    seq: int
    path: tuple[int, ...]
    request: str
    response: str


def _journal_prefix(run_id: str) -> str:
    return f"{JOURNAL_PREFIX}{run_id}/"


def entry_name(run_id: str, seq: int, path: tuple[int, ...], request_digest: str) -> str:
    """The name of a journal entry (see the module docstring)."""
    dotted = ".".join(map(str, path))
    return f"{JOURNAL_PREFIX}{run_id}/{seq:010d}/{dotted}/{request_digest}"


def read_journal(
    store: Store, run_id: str, start: int = 0, stop: int | None = None
) -> list[JournalEntry]:
    """Returns the journal entries of a run with ``start <= seq < stop``, in order.

    Entries below a state's ``journal_to`` never change once the state is
    written, so a bounded read is kept per store and the next read of the
    same run fetches only what was added since (answering a run n times
    reads each entry once, not n times). Unbounded reads (of a running run,
    whose entries may still arrive out of order) are never kept.
    """
    memo: dict[str, tuple[int, int, list[JournalEntry]]] = store.memo(_JOURNAL_MEMO)
    known_from, known_upto, known = memo.get(run_id, (0, 0, []))
    if start < known_from or start > known_upto:
        known_from, known_upto, known = start, start, []
    if stop is not None and stop <= known_upto:
        return [entry for entry in known if start <= entry.seq < stop]
    fetched = _fetch_journal(store, run_id, known_upto, stop)
    if stop is not None:
        memo[run_id] = (known_from, stop, [*known, *fetched])
    return [entry for entry in known if entry.seq >= start] + fetched


def keep_journal(
    store: Store, run_id: str, start: int, stop: int, entries: list[JournalEntry]
) -> None:
    """Keeps `entries`, every entry of the run with ``start <= seq < stop``, for the
    next `read_journal`, once no attempt can add entries below `stop` (a claim holds
    the run: the entries of crashed attempts are all there)."""
    memo: dict[str, tuple[int, int, list[JournalEntry]]] = store.memo(_JOURNAL_MEMO)
    known_from, known_upto, known = memo.get(run_id, (start, start, []))
    if not known_from <= start <= known_upto:
        known_from, known = start, []
    memo[run_id] = (known_from, stop, [*(e for e in known if e.seq < start), *entries])


_JOURNAL_MEMO: Final = "enact.runs.journal"


def _fetch_journal(store: Store, run_id: str, start: int, stop: int | None) -> list[JournalEntry]:
    prefix = _journal_prefix(run_id)
    after = f"{prefix}{start - 1:010d}/~" if start > 0 else None
    before = f"{prefix}{stop:010d}/" if stop is not None else None
    entries = []
    for name, ref in store.list_names(NameQuery(prefix, after=after, before=before)):
        seq_text, dotted, request = name[len(prefix) :].split("/")
        path = tuple(int(part) for part in dotted.split(".")) if dotted else ()
        entries.append(JournalEntry(int(seq_text), path, request, ref.digest))
    return entries


class _Node:
    """A call in the template being rebuilt: a recorded invocation, or open with overrides."""

    __slots__ = ("children", "invocation", "request")

    def __init__(self, request: str | None, invocation: Invocation | None) -> None:
        self.request = request
        self.invocation = invocation
        self.children: dict[int, _Node] | None = None

    def open(self, store: Store) -> dict[int, _Node]:
        """Turns a recorded call into one that runs again with its children as template."""
        if self.children is None:
            self.children = {}
            if self.invocation is not None:
                response = read_response(store, self.invocation.response)
                for index, child in enumerate(response.children):
                    self.children[index] = _Node(child.request.digest, child)
            self.invocation = None
        return self.children


def _overlay(store: Store, tree: Invocation | None, entries: list[JournalEntry]) -> _Node:
    """The root of `tree` with `entries` applied in order (later entries win).

    A run answered step by step asks for the same overlay again with a few
    more entries each time: the last overlay per tree and first entry is
    kept (callers only read it), and only the new entries are applied.
    """
    memo: dict[Any, tuple[list[JournalEntry], _Node]] = store.memo(_OVERLAY_MEMO)
    key = (None if tree is None else tree.response.digest, entries[0].seq if entries else None)
    cached = memo.get(key)
    if cached is not None:
        applied, root = cached
        if len(applied) <= len(entries) and (
            not applied or entries[len(applied) - 1] == applied[-1]
        ):
            _apply(store, root, entries[len(applied) :])
            memo[key] = (list(entries), root)
            return root
    root = _Node(None if tree is None else tree.request.digest, None)
    root.children = {}
    if tree is not None:
        response = read_response(store, tree.response)
        for index, child in enumerate(response.children):
            root.children[index] = _Node(child.request.digest, child)
    _apply(store, root, entries)
    if len(memo) > 1000:
        memo.clear()
    memo[key] = (list(entries), root)
    return root


_OVERLAY_MEMO: Final = "enact.runs.overlay"


def _apply(store: Store, root: _Node, entries: list[JournalEntry]) -> None:
    for entry in entries:
        node = root
        for index in entry.path[:-1]:
            children = node.open(store)
            node = children.setdefault(index, _Node(None, None))
        children = node.open(store)
        recorded = Invocation(Ref._unchecked(entry.request), Ref._unchecked(entry.response))
        children[entry.path[-1]] = _Node(entry.request, recorded)


def _template(node: _Node) -> list[Any]:
    """The replay template of an open node's children: invocations and open calls."""
    assert node.children is not None
    size = max(node.children, default=-1) + 1
    template: list[Any] = []
    for index in range(size):
        child = node.children.get(index)
        if child is None:
            template.append(OpenCall(None, []))
        elif child.children is None and child.invocation is not None:
            template.append(child.invocation)
        else:
            template.append(OpenCall(child.request, _template(child) if child.children else []))
    return template


def _materialize(store: Store, node: _Node) -> list[Invocation]:
    """Commits the open calls below `node`; returns its children as invocations."""
    assert node.children is not None
    children = []
    for index in sorted(node.children):
        child = node.children[index]
        if child.children is None and child.invocation is not None:
            children.append(child.invocation)
        elif child.request is not None:
            response = Response(None, None, False, _materialize(store, child))
            children.append(
                Invocation(Ref._unchecked(child.request), commit_response(store, response))
            )
    return children
