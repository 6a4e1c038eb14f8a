"""`gc`: delete what no name reaches, never what was committed while it ran."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

from enact.encoding import DecodeError
from enact.errors import CorruptObjectError
from enact.maintenance._common import BATCH_SIZE, Progress, Roots, chunks, root_digests
from enact.stores.base import PackedResource, UnsupportedOperationError
from enact.stores.store import Store


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
    to, count as roots. Names and commit times are read again right before
    deleting, and each deletion re-checks the commit time atomically where the
    backend can (SQLite, PostgreSQL), so a concurrent re-commit wins.

    A writer that holds a ref to an *old, unreachable* object and commits a new
    object linking to it, without committing the old one again, can race with
    the final deletion; keep what you still use reachable from a name.

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
        for chunk in chunks(garbage, batch_size):
            deleted += backend.delete_many(chunk, committed_before=cutoff)
            if progress is not None:
                progress("gc: delete", deleted, len(garbage))
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
        try:
            return self.store.links(packed)
        except DecodeError as err:
            location = self.store.backend.locate(packed.digest)
            raise CorruptObjectError(
                f"gc stopped before deleting anything: the refs inside object "
                f"{packed.digest} at {location} cannot be read ({err}). Run enact.verify "
                "and restore or delete the object first.",
                digest=packed.digest,
                location=location,
            ) from err


def _named(store: Store, *, required: bool) -> list[str]:
    """Returns the digests names point at; a backend without names has none, but then
    gc must be told its roots (`required`), or it would delete everything."""
    try:
        return [digest for _, digest in store.backend.iter_names()]
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
