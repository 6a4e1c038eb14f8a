"""`gc`: delete what no name reaches, never what was committed while it ran."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterable

from enact.errors import CorruptObjectError, UnknownTypeError
from enact.maintenance._common import (
    BATCH_SIZE,
    Progress,
    Roots,
    children_first,
    chunks,
    root_digests,
)
from enact.stores.base import PackedResource, UnsupportedOperationError, checked_name_digest
from enact.stores.store import Store
from enact.stores.verified import open_verified, packed_links


@dataclasses.dataclass(frozen=True)
class GCReport:
    """What `gc` did.

    Attributes:
        reachable: Objects reachable from the names and the extra roots.
        recent: Objects kept although the first mark did not reach them:
            committed within the grace period or during the collection, linked
            from such objects, or named while gc ran.
        deleted: Objects deleted (or, with ``dry_run``, that would have been).
        missing: Digests that names or objects point at but the store lacks
            (see `verify`).
        cutoff: Objects last committed before this `time.time()` were eligible.
        dry_run: Whether nothing was actually deleted.
    """

    reachable: int
    recent: int
    deleted: int
    missing: int
    cutoff: float
    dry_run: bool


def gc(
    store: Store,
    *,
    grace_seconds: float = 3600.0,
    roots: Roots = (),
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> GCReport:
    """Deletes the objects that no name (and no extra root) can reach.

    Never deletes an object committed or re-committed during the collection or
    within `grace_seconds` before it: such objects, and everything they link
    to, count as roots. Links are read from each object's verified bytes (never
    from the backend's link index alone). Objects are deleted parents first, a
    batch at a time, so a gc interrupted at any point leaves a store that
    verifies clean; before each batch the names are read again (whatever they
    now reach is kept), and each deletion re-checks the commit time atomically
    where the backend can (SQLite, PostgreSQL), so a concurrent re-commit wins.

    What stays possible: a name set, or an object committed that links to an
    *old, unreachable* object without committing it again, in the moment
    between gc's last look at the names and the deletion of the batch holding
    that object. Keep what you still use reachable from a name.

    Args:
        store: The store to collect.
        grace_seconds: Objects committed less than this long ago are kept.
        roots: More refs or digests to keep, besides the names.
        dry_run: Count what would be deleted, delete nothing.
        batch_size: Objects per backend call.
        progress: Called as ``progress("gc: mark", marked, None)``,
            ``progress("gc: scan", listed, None)`` and
            ``progress("gc: delete", deleted, total)``.

    Raises:
        UnsupportedOperationError: The backend cannot list or delete objects, or
            it has no names and no `roots` were given.
        CorruptObjectError: A reachable object whose links cannot be read (run
            `verify`); nothing is deleted.
    """
    if grace_seconds < 0:
        raise ValueError(f"grace_seconds must not be negative, not {grace_seconds}.")
    backend = store.backend
    cutoff = time.time() - grace_seconds
    extra = root_digests(roots)
    marker = _Marker(store, batch_size, progress)
    marker.mark(extra + _named(store, required=not extra))
    reachable = len(marker.live)

    candidates: list[str] = []
    for listed, digest in enumerate(backend.iter_digests(), 1):
        if digest not in marker.live:
            candidates.append(digest)
        if progress is not None and listed % batch_size == 0:
            progress("gc: scan", listed, None)
    old = _committed_before(store, candidates, cutoff, batch_size)
    marker.mark([digest for digest in candidates if digest not in old])

    # Last look before deleting: names may have moved and objects may have been
    # (re-)committed since the mark began.
    marker.mark(_named(store, required=False))
    garbage = [digest for digest in candidates if digest in old and digest not in marker.live]
    still_old = _committed_before(store, garbage, cutoff, batch_size)
    marker.mark([digest for digest in garbage if digest not in still_old])
    garbage = [digest for digest in garbage if digest in still_old and digest not in marker.live]

    deleted = 0
    if dry_run:
        deleted = len(garbage)
    else:
        deleted = _delete(store, marker, garbage, cutoff, batch_size, progress)
    return GCReport(
        reachable=reachable,
        recent=len(marker.live) - reachable,
        deleted=deleted,
        missing=len(marker.missing),
        cutoff=cutoff,
        dry_run=dry_run,
    )


class _Marker:
    """Marks everything reachable from given digests, one batch read per level."""

    def __init__(self, store: Store, batch_size: int, progress: Progress | None) -> None:
        self.store = store
        self.batch_size = batch_size
        self.progress = progress
        self.live: set[str] = set()
        self.missing: set[str] = set()

    def mark(self, roots: Iterable[str]) -> None:
        """Adds what `roots` reach to `live`; reports progress per batch and once at the end."""
        live = self.live
        frontier = [digest for digest in dict.fromkeys(roots) if digest not in live]
        live.update(frontier)
        while frontier:
            next_frontier: list[str] = []
            for chunk in chunks(frontier, self.batch_size):
                found = self.store.backend.get_many(chunk)
                for digest in chunk:
                    packed = found.get(digest)
                    if packed is None:
                        self.missing.add(digest)
                        continue
                    for link in self._links(packed):
                        if link not in live:
                            live.add(link)
                            next_frontier.append(link)
                if self.progress is not None:
                    self.progress("gc: mark", len(live), None)
            frontier = next_frontier
        if self.progress is not None:
            self.progress("gc: mark", len(live), None)

    def _links(self, packed: PackedResource) -> tuple[str, ...]:
        # From the verified bytes: the backend's links column is not covered by
        # the digest, and trusting an emptied one would delete reachable children.
        locate = self.store.backend.locate
        try:
            return open_verified(packed, locate, links=True).links or ()
        except UnknownTypeError:
            return packed_links(packed, locate)  # cannot be opened here; its header is all
        except CorruptObjectError as err:
            location = err.location or locate(packed.digest)
            raise CorruptObjectError(
                f"gc stopped before deleting anything more: object {packed.digest} at "
                f"{location} is reachable but its links cannot be trusted ({err.detail}). "
                "Run enact.verify and restore (enact copy) or delete the object first.",
                digest=packed.digest,
                location=location,
                detail=err.detail,
            ) from err


def _delete(
    store: Store,
    marker: _Marker,
    garbage: list[str],
    cutoff: float,
    batch_size: int,
    progress: Progress | None,
) -> int:
    """Deletes `garbage` parents first, one batch at a time, re-reading names before each.

    Parents first (nothing that remains links to a deleted object), so a gc
    killed between batches leaves a store that verifies clean. Before each batch
    the names are read again and whatever they now reach is spared; each
    deletion re-checks the commit time against `cutoff` (atomically on SQLite
    and PostgreSQL), so an object committed again meanwhile stays.
    """
    backend = store.backend
    graph = _garbage_graph(store, garbage, batch_size)
    order = list(reversed(children_first(graph)))
    deleted = done = 0
    for chunk in chunks(order, batch_size):
        marker.mark(_named(store, required=False))
        doomed = [digest for digest in chunk if digest not in marker.live]
        if doomed:
            deleted += backend.delete_many(doomed, committed_before=cutoff)
        done += len(chunk)
        if progress is not None:
            progress("gc: delete", done, len(order))
    return deleted


def _garbage_graph(store: Store, garbage: list[str], size: int) -> dict[str, tuple[str, ...]]:
    """The links among `garbage` objects, read from their bytes (an unreadable one has none:
    it is damaged, and deleting it before its children leaves nothing new dangling)."""
    graph: dict[str, tuple[str, ...]] = {}
    locate = store.backend.locate
    for chunk in chunks(garbage, size):
        found = store.backend.get_many(chunk)
        for digest in chunk:
            packed = found.get(digest)
            links: tuple[str, ...] = ()
            if packed is not None:
                try:
                    links = open_verified(packed, locate, links=True).links or ()
                except UnknownTypeError:
                    with contextlib.suppress(CorruptObjectError):
                        links = packed_links(packed, locate)
                except CorruptObjectError:
                    pass
            graph[digest] = links
    return graph


def _named(store: Store, *, required: bool) -> list[str]:
    """Returns the digests names point at; a backend without names has none, but then
    gc must be told its roots (`required`), or it would delete everything."""
    try:
        where = store.backend
        return [checked_name_digest(name, d, where) for name, d in store.backend.iter_names()]
    except UnsupportedOperationError as err:
        if required:
            raise UnsupportedOperationError(
                f"gc cannot tell what to keep in {store.backend!r}: it has no names ({err}). "
                "Pass the refs to keep as roots=."
            ) from err
        return []


def _committed_before(store: Store, digests: list[str], cutoff: float, size: int) -> set[str]:
    old: set[str] = set()
    for chunk in chunks(digests, size):
        old |= store.backend.committed_before(chunk, cutoff)
    return old
