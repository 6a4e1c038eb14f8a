"""`migrate`: rewrite a store's objects from old shapes to the current classes.

Objects never change: a migration writes *new* objects and moves the names
(user names, run heads, the run index, journal entries) that pointed at the
old ones, each by compare-and-set. The old objects stay until `enact.gc`
collects them.

How it runs, name by name (sorted): the objects the name reaches are read
children first; each is decoded with the current classes while an upgrade
function sees every resource of an old shape (`enact.encoding.upgrading`),
its refs are pointed at the migrated versions of their targets, and it is
encoded again. An object whose bytes come out the same is left alone. The
new objects a name needs are written in one batch, then the name is moved.

Why a crash or a SIGKILL at any moment is harmless: objects are written
children first (so the store never holds a dangling ref), a name moves only
after everything it reaches is written, and content addressing makes a rerun
compute the same new objects again. A rerun reads migrated objects as current
(nothing to do) and finishes the names that were not moved yet: it is
idempotent, and so resumable.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any, Final

from enact.digests import is_digest
from enact.encoding import Upgrade, decode, encode, scan_links, upgrading
from enact.errors import (
    IncompatibleTypeError,
    NameConflictError,
    NotFoundError,
    RunNotFoundError,
    UnknownTypeError,
)
from enact.invocations.runs._state import INDEX_PREFIX, JOURNAL_PREFIX, RUN_PREFIX, check_run_id
from enact.maintenance._common import Progress
from enact.refs import PACKED_PREFIX, Ref, packing_class, parse_packed_header
from enact.registry import lookup_class
from enact.resources import Resource, class_info
from enact.stores.store import Store, as_resource, current_store, named_object

_BATCH: Final = 500
"""New objects per backend write, within one name's objects."""


@dataclasses.dataclass(frozen=True)
class MigrateReport:
    """What a migration did (or, with ``dry_run``, would do).

    Attributes:
        names: Names looked at.
        moved: Names moved to migrated objects (would be moved, in a dry run).
        conflicts: Names that changed while the migration ran (not moved; run again).
        objects: Objects read.
        rewritten: Objects that have a new version (written, or to be written).
        upgraded: Calls of the upgrade function that returned a new value.
        dry_run: Whether nothing was written.
    """

    names: int
    moved: tuple[str, ...]
    conflicts: tuple[str, ...]
    objects: int
    rewritten: int
    upgraded: int
    dry_run: bool

    @property
    def complete(self) -> bool:
        """Whether every name now points at migrated objects (no conflicts)."""
        return not self.conflicts


def migrate(
    upgrade: Upgrade | None = None,
    *,
    store: Store | None = None,
    run: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> MigrateReport:
    """Rewrites the objects a store's names reach into the shapes of the current classes.

    Every resource whose stored type is not the current version of a
    registered class (an older version of it, an alias, or a type that is not
    registered at all) is passed to ``upgrade(type_name, fields)``: the stored
    type name and a dict of its stored fields (decoded; nested resources
    already upgraded). It returns the new value (an instance of the current
    class, usually) or None to read it the default way: fields added with a
    default take it, a renamed class with its old name as alias becomes the
    new class. Objects are rewritten as new objects; the names and run heads
    that pointed at old ones are moved by compare-and-set; old objects are
    left for `enact.gc`.

    Idempotent and resumable: running it again after a crash (or after it
    reported conflicts) finishes the job and changes nothing that is done.
    The upgrade function must be deterministic (the same fields give the same
    value), as a rerun computes the objects again. Do not migrate a run while
    it runs; its head will not move (a conflict) if it changes meanwhile.

    Args:
        upgrade: The function for old shapes; None migrates only what reads
            by default (defaults, aliases).
        store: The store (default: the active store).
        run: Migrate only this run (its head, index entry and journal
            entries) instead of every name of the store.
        dry_run: Compute what would change; write nothing, move nothing.
        progress: Called as ``progress("objects", done, None)`` and
            ``progress("names", done, total)``.

    Raises:
        RunNotFoundError: `run` names no run.
        IncompatibleTypeError: An object of an old shape that neither the
            upgrade function nor the default reading can convert (nothing
            is moved for the name that reaches it; the names done before stay done).
        UnknownTypeError: An object whose type is not registered here links
            to migrated objects (import the module that defines it).
    """
    store = store if store is not None else current_store()
    names = sorted(_selected_names(store, run))
    migration = _Migration(store, upgrade, dry_run)
    moved: list[str] = []
    conflicts: list[str] = []
    for done, (name, ref) in enumerate(names, 1):
        new = migration.migrate_closure(ref.digest, progress)
        new_name = _entry_name(migration, name, progress)
        if new != ref.digest or new_name != name:
            if dry_run or _move(store, name, new_name, ref, Ref._unchecked(new)):
                moved.append(name)
            else:
                conflicts.append(name)
        if progress is not None:
            progress("names", done, len(names))
    return MigrateReport(
        names=len(names),
        moved=tuple(moved),
        conflicts=tuple(conflicts),
        objects=len(migration.seen),
        rewritten=migration.rewritten,
        upgraded=migration.upgraded,
        dry_run=dry_run,
    )


def _entry_name(migration: _Migration, name: str, progress: Progress | None) -> str:
    """The name of a journal entry after its request is migrated (it ends in its digest)."""
    if not name.startswith(JOURNAL_PREFIX):
        return name
    head, _, request = name.rpartition("/")
    if not is_digest(request) or not migration.store.has(Ref._unchecked(request)):
        return name
    return f"{head}/{migration.migrate_closure(request, progress)}"


def _move(store: Store, name: str, new_name: str, old: Ref[Any], new: Ref[Any]) -> bool:
    """Moves `name` from `old` to `new` by compare-and-set; False if it changed meanwhile.

    A journal entry whose request was migrated gets a new name: the new name is
    written first and the old one deleted after, so a crash in between leaves
    both (a rerun deletes the old one), never neither.
    """
    try:
        if new_name == name:
            store.set_name(name, new, expected=old)
            return True
        current = store.get_name(new_name)
        if current is None:
            store.set_name(new_name, new, expected=None)
        elif current != new:
            return False
        store.set_name(name, None, expected=old)
        return True
    except NameConflictError:
        return False


def _selected_names(store: Store, run: str | None) -> list[tuple[str, Ref[Any]]]:
    if run is None:
        return list(store.names().items())
    check_run_id(run)
    head = store.get_name(RUN_PREFIX + run)
    if head is None:
        raise RunNotFoundError(
            f"No run {run!r} in this store (no name {RUN_PREFIX + run}): `enact log` lists "
            "the runs.",
            run_id=run,
        )
    selected = [(RUN_PREFIX + run, head)]
    selected += store.list_names(f"{JOURNAL_PREFIX}{run}/")
    selected += [
        (name, ref)
        for name, ref in store.list_names(INDEX_PREFIX)
        if name.rpartition("/")[2] == run
    ]
    return selected


class _Migration:
    """The objects read and rewritten so far, shared by every name of one migration."""

    def __init__(self, store: Store, upgrade: Upgrade | None, dry_run: bool) -> None:
        self.store = store
        self.dry_run = dry_run
        self.seen: dict[str, str] = {}  # old digest -> new digest (the same if unchanged)
        self.rewritten = 0
        self.upgraded = 0
        user = upgrade

        def counted(type_name: str, fields: dict[str, Any]) -> Any:
            value = None if user is None else user(type_name, fields)
            if value is not None:
                self.upgraded += 1
            return value

        self.upgrade: Upgrade = counted

    def migrate_closure(self, root: str, progress: Progress | None) -> str:
        """Migrates what `root` reaches (children first); returns the new digest of `root`."""
        pending: list[tuple[str, bytes, type[Ref[Any]], list[str]]] = []
        stack: list[tuple[str, bytes, type[Ref[Any]], Iterator[str]]] = []
        if root not in self.seen:
            stack.append(self._open(root))
        try:
            while stack:
                digest, tokens, ref_type, links = stack[-1]
                for link in links:
                    if link not in self.seen:  # a DAG: a link is never an open ancestor
                        try:
                            stack.append(self._open(link))
                        except NotFoundError:
                            self.seen[link] = link  # dangling already: enact.verify reports it
                            continue
                        break
                else:
                    stack.pop()
                    self._rewrite(digest, tokens, ref_type, pending)
                    if len(pending) >= _BATCH:
                        self._write(pending)
                    if progress is not None and len(self.seen) % _BATCH == 0:
                        progress("objects", len(self.seen), None)
        finally:
            self._write(pending)  # what is finished is worth keeping, also on an error
        return self.seen[root]

    def _open(self, digest: str) -> tuple[str, bytes, type[Ref[Any]], Iterator[str]]:
        ref: Ref[Any] = Ref._unchecked(digest)
        tokens = self.store.read_tokens(ref)
        packed = self.store.backend.get(ref)
        ref_type: type[Ref[Any]] = Ref
        if packed is not None and packed.data.startswith(PACKED_PREFIX):
            header, _ = parse_packed_header(packed.data)
            ref_type = packing_class(str(header.get("packing")))
        return digest, tokens, ref_type, iter(scan_links(tokens))

    def _rewrite(
        self,
        digest: str,
        tokens: bytes,
        ref_type: type[Ref[Any]],
        pending: list[tuple[str, bytes, type[Ref[Any]], list[str]]],
    ) -> None:
        links = scan_links(tokens)
        moved = {link: self.seen[link] for link in links if self.seen.get(link, link) != link}
        try:
            with upgrading(self.upgrade):
                value = decode(tokens)
        except IncompatibleTypeError as err:
            raise named_object(err, digest) from None
        except UnknownTypeError as err:
            if not moved:
                self.seen[digest] = digest  # unreadable here, but nothing below it changed
                return
            raise UnknownTypeError(
                f"Object {digest} links to objects that were migrated, but cannot be read "
                f"here: {err} Import the module that defines it (--import) and run the "
                "migration again.",
                type_name=err.type_name,
            ) from err
        if moved:
            _point_refs(value, moved)
        new_tokens, new_links = encode(as_resource(value))
        if new_tokens == tokens:
            self.seen[digest] = digest
            return
        new_digest = _digest(new_tokens)
        self.seen[digest] = new_digest
        self.rewritten += 1
        pending.append((new_digest, new_tokens, ref_type, new_links))

    def _write(self, pending: list[tuple[str, bytes, type[Ref[Any]], list[str]]]) -> None:
        if not pending:
            return
        if not self.dry_run:
            with self.store.batch():
                for digest, tokens, ref_type, links in pending:
                    self.store.commit_tokens(tokens, links, ref_type, digest)
        pending.clear()


def _digest(tokens: bytes) -> str:
    return hashlib.sha256(tokens).hexdigest()


def _point_refs(value: Any, moved: dict[str, str]) -> None:
    """Points every ref inside a freshly decoded value at the migrated version of its target."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, str | int | float | bytes | bool) or item is None:
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Ref):
            new = moved.get(item.digest)
            if new is not None:
                item.__dict__["digest"] = new
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, Resource):
            stack.extend(getattr(item, name) for name in class_info(type(item)).field_names)
        else:
            fields = _fields_of(item)
            if fields is not None:
                stack.extend(fields)


def _fields_of(item: Any) -> list[Any] | None:
    info = lookup_class(type(item))
    if info is None:
        return None
    return [getattr(item, name) for name in info.field_names]
