"""`copy`: send the closure of refs from one store to another, like ``git push``."""

from __future__ import annotations

import dataclasses
from typing import Final

from enact.errors import CorruptObjectError, UnknownTypeError
from enact.maintenance._common import (
    BATCH_SIZE,
    Progress,
    Roots,
    by_size,
    children_first,
    chunks,
    missing_error,
    root_digests,
)
from enact.refs import Ref
from enact.stores.base import PackedResource
from enact.stores.store import Store
from enact.stores.verified import open_verified, packed_links

COPY_MEMORY: Final = 256 * 1024 * 1024
"""Bytes of objects kept in memory between the scan and the send; beyond, they are read again."""


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What `copy` did.

    Attributes:
        sent: Objects written to the target.
        skipped: Objects the target already held (with everything they link to,
            which was therefore not walked).
        bytes_sent: Stored bytes written to the target.
        unverified: Always 0: copy refuses an object it cannot hash-check (one
            packed with a packing whose Ref class is not defined here) instead
            of sending it unverified. Kept so that existing callers still work.
    """

    sent: int
    skipped: int
    bytes_sent: int
    unverified: int


def copy(
    roots: Roots,
    source: Store,
    target: Store,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> CopyReport:
    """Copies everything reachable from `roots` that `target` lacks, like ``git push``.

    The closure is walked breadth first; for each batch the target is asked
    which objects it already has intact (their subgraphs are skipped; one whose
    stored bytes do not verify is replaced and its links followed: copying the
    digest a `CorruptObjectError` names from a good store repairs it), the rest is
    read from the source in one call and hash-checked. Objects are then written
    children first, in batches, so that even an interrupted copy leaves the
    target holding complete closures only; running it again finishes the job.

    Args:
        roots: A ref, a hex digest, or an iterable of them.
        source: The store to read from.
        target: The store to write to.
        batch_size: Objects per backend call.
        progress: Called as ``progress("copy: scan", walked, None)`` and
            ``progress("copy: send", sent, total)``.

    Raises:
        NotFoundError: The source lacks an object of the closure; nothing is
            written.
        CorruptObjectError: An object of the source does not hash to its digest;
            nothing is written.
        UnknownTypeError: An object of the source is packed with a packing (e.g.
            encryption) whose Ref class is not defined in this process, so
            neither its bytes nor its links can be checked; nothing is written.
            Import the module that defines it (with its key) and copy again.
    """
    start = root_digests(roots)
    graph: dict[str, tuple[str, ...]] = {}
    kept: dict[str, PackedResource] = {}
    kept_bytes = 0
    skipped = walked = 0
    repair: set[str] = set()  # held by the target, but its stored bytes do not verify
    seen = set(start)
    frontier = [(digest, "") for digest in dict.fromkeys(start)]
    while frontier:
        next_frontier: list[tuple[str, str]] = []
        for chunk in chunks(frontier, batch_size):
            present = target.backend.has_many([digest for digest, _ in chunk])
            damaged = _damaged(target, present)
            present -= damaged
            repair |= damaged
            skipped += len(present)
            missing = [(digest, parent) for digest, parent in chunk if digest not in present]
            found = source.backend.get_many([digest for digest, _ in missing])
            for digest, parent in missing:
                packed = found.get(digest)
                if packed is None:
                    raise missing_error(source, digest, parent, "copy")
                links = _verified_links(source, packed)
                packed.links = links
                graph[digest] = links
                if kept_bytes < COPY_MEMORY:
                    kept[digest] = packed
                    kept_bytes += len(packed.data)
                for link in links:
                    if link not in seen:
                        seen.add(link)
                        next_frontier.append((link, digest))
            walked += len(chunk)
            if progress is not None:
                progress("copy: scan", walked, None)
        frontier = next_frontier

    order = children_first(graph)
    sent = bytes_sent = 0
    for part_order in chunks(order, batch_size):
        refetch = [digest for digest in part_order if digest not in kept]
        found = source.backend.get_many(refetch) if refetch else {}
        batch: list[PackedResource] = []
        for digest in part_order:
            packed = kept.pop(digest, None)
            if packed is None:
                packed = found.get(digest)
                if packed is None:
                    raise missing_error(source, digest, "", "copy")
                packed.links = graph[digest]
                _verified_links(source, packed)
            batch.append(packed)
        for part in by_size(batch):
            target.backend.commit_many([packed for packed in part if packed.digest not in repair])
            fixes = [packed for packed in part if packed.digest in repair]
            if fixes:
                target.backend.replace_many(fixes)
        sent += len(batch)
        bytes_sent += sum(len(packed.data) for packed in batch)
        if progress is not None:
            progress("copy: send", sent, len(order))
    return CopyReport(sent=sent, skipped=skipped, bytes_sent=bytes_sent, unverified=0)


def _damaged(store: Store, digests: set[str]) -> set[str]:
    """Returns those of `digests` whose bytes in `store` fail `open_verified` (copy repairs
    them; an object packed with a packing unknown here is taken as it is)."""
    damaged: set[str] = set()
    if not digests:
        return damaged
    try:
        stored = store.backend.get_many(digests)
    except CorruptObjectError:  # a row too damaged to read (one by one, to find it)
        stored = {}
        for digest in digests:
            try:
                packed = store.backend.get(Ref._unchecked(digest))
            except CorruptObjectError:
                damaged.add(digest)
                continue
            if packed is not None:
                stored[digest] = packed
    for digest, packed in stored.items():
        try:
            open_verified(packed, store.backend.locate, links=True)
        except UnknownTypeError:
            continue
        except CorruptObjectError:
            damaged.add(digest)
    return damaged


def _verified_links(store: Store, packed: PackedResource) -> tuple[str, ...]:
    """Returns the links of `packed`, read from its verified bytes.

    Raises:
        CorruptObjectError: The object fails the check of `open_verified`.
        UnknownTypeError: It is packed with a packing unknown in this process: its
            hash cannot be checked, so neither it nor the links its header lists
            are trusted (a hand-built header could name anything).
    """
    try:
        links = open_verified(packed, store.backend.locate, links=True).links
    except UnknownTypeError as err:
        packed_links(packed, store.backend.locate)  # a header listing non-digests is corrupt
        packing = err.type_name
        raise UnknownTypeError(
            f"Cannot copy object {packed.digest} from {store.backend.locate(packed.digest)}: "
            f"it is packed with {packing!r}, and no Ref subclass with packing = {packing!r} "
            "is defined in this process, so its bytes cannot be hash-checked nor its links "
            "trusted. Import the module that defines that Ref subclass (with its key, for "
            "encryption: enact --import MODULE copy ...) and copy again. Nothing was written.",
            type_name=packing,
        ) from None
    assert links is not None  # (asked for)
    return links
