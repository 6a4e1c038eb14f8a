"""Store maintenance: copy closures between stores, collect garbage, verify.

All three work on any pair of backends through the batch methods of
`enact.StorageBackend` (``has_many``, ``get_many``, ``commit_many``), so each
step costs one round trip or one transaction per batch, not per object.

The invariant they rely on and preserve: *if a store holds an object, it holds
everything the object links to.* Normal commits keep it (a ref exists only
after its object was committed), `copy` writes children before parents, and
`gc` deletes only objects that nothing kept links to. `verify` reports where it
does not hold.

Each function takes an optional ``progress(stage, done, total)`` callable
(``total`` is None while unknown), called once per batch, so a command line
can draw progress bars.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeAlias

from enact.digests import check_digest
from enact.encoding import DecodeError, scan_links
from enact.errors import CorruptObjectError, NotFoundError, UnknownTypeError
from enact.refs import PACKED_PREFIX, Ref, open_object, parse_packed_header
from enact.stores.base import PackedResource
from enact.stores.store import Store

Progress: TypeAlias = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called after each batch of a maintenance run."""

Roots: TypeAlias = Ref[Any] | str | Iterable[Ref[Any] | str]
"""A ref, a hex digest, or an iterable of them."""

BATCH_SIZE: Final = 1000
"""Objects per backend call."""

_BATCH_BYTES: Final = 32 * 1024 * 1024
_COPY_MEMORY: Final = 256 * 1024 * 1024  # objects kept in memory between the two copy passes


# Checking one object ----------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """What re-hashing one stored object found."""

    links: tuple[str, ...]
    verified: bool  # False: packed with a packing this process cannot open
    problem: str | None = None  # why the object is corrupt


def _check(packed: PackedResource, locate: Callable[[str], str]) -> _Checked:
    """Re-hashes `packed` the way checkout does and recomputes its links from its bytes."""
    digest = packed.digest
    data = packed.data
    header_links: tuple[str, ...] | None = None
    if data.startswith(PACKED_PREFIX):
        try:
            header, _ = parse_packed_header(data)
            header_links = tuple(header.get("links", ()))
        except (ValueError, AttributeError) as err:
            return _Checked((), True, f"its packing header is unreadable ({err})")
    try:
        tokens = open_object(data, digest, locate(digest)) if header_links is not None else data
    except UnknownTypeError:
        return _Checked(header_links or (), False)
    except CorruptObjectError as err:
        return _Checked(header_links or (), True, str(err))
    actual = hashlib.sha256(tokens).hexdigest()
    if actual != digest:
        return _Checked((), True, f"its {len(tokens)} bytes hash to {actual}")
    try:
        links = tuple(scan_links(tokens))
    except (DecodeError, ValueError, IndexError) as err:
        return _Checked((), True, f"it hashes correctly but its refs cannot be read ({err})")
    if header_links is not None and header_links != links:
        return _Checked(links, True, "its packing header lists other links than its content")
    if packed.links is not None and tuple(packed.links) != links:
        return _Checked(links, True, "the backend's link index disagrees with its content")
    return _Checked(links, True)


def _verify_for_transfer(store: Store, packed: PackedResource) -> bool:
    """Raises `CorruptObjectError` unless `packed` hashes to its digest; returns whether
    it could be checked (False: packed with a packing unknown in this process)."""
    digest = packed.digest
    data = packed.data
    location = ""
    if data.startswith(PACKED_PREFIX):
        location = store.backend.locate(digest)
        try:
            data = open_object(data, digest, location)
        except UnknownTypeError:
            return False
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        location = location or store.backend.locate(digest)
        raise CorruptObjectError(
            f"Object {digest} at {location} is corrupt: its {len(data)} bytes hash to "
            f"{actual}. Nothing corrupt was copied; run enact.verify on the source, then "
            "restore the object from another copy of the store.",
            digest=digest,
            location=location,
        )
    return True


# Copy -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What `copy` did.

    Attributes:
        sent: Objects written to the target.
        skipped: Objects the target already held (with everything they link to,
            which was therefore not walked).
        bytes_sent: Stored bytes written to the target.
        unverified: Objects sent without a hash check because they are packed
            with a packing (e.g. encryption) whose Ref class is not defined here.
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
    which objects it already has (their subgraphs are skipped), the rest is
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
    """
    start = _root_digests(roots)
    graph: dict[str, tuple[str, ...]] = {}
    kept: dict[str, PackedResource] = {}
    kept_bytes = 0
    skipped = unverified = walked = 0
    seen = set(start)
    frontier = [(digest, "") for digest in dict.fromkeys(start)]
    while frontier:
        next_frontier: list[tuple[str, str]] = []
        for chunk in _chunks(frontier, batch_size):
            present = target.backend.has_many([digest for digest, _ in chunk])
            skipped += len(present)
            missing = [(digest, parent) for digest, parent in chunk if digest not in present]
            found = source.backend.get_many([digest for digest, _ in missing])
            for digest, parent in missing:
                packed = found.get(digest)
                if packed is None:
                    raise _missing(source, digest, parent, "copy")
                if not _verify_for_transfer(source, packed):
                    unverified += 1
                links = source.links(packed)
                packed.links = links
                graph[digest] = links
                if kept_bytes < _COPY_MEMORY:
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

    order = _children_first(graph)
    sent = bytes_sent = 0
    for chunk in _chunks(order, batch_size):
        refetch = [digest for digest in chunk if digest not in kept]
        found = source.backend.get_many(refetch) if refetch else {}
        batch: list[PackedResource] = []
        for digest in chunk:
            packed = kept.pop(digest, None)
            if packed is None:
                packed = found.get(digest)
                if packed is None:
                    raise _missing(source, digest, "", "copy")
                _verify_for_transfer(source, packed)
                packed.links = graph[digest]
            batch.append(packed)
        for part in _by_size(batch):
            target.backend.commit_many(part)
        sent += len(batch)
        bytes_sent += sum(len(packed.data) for packed in batch)
        if progress is not None:
            progress("copy: send", sent, len(order))
    return CopyReport(sent=sent, skipped=skipped, bytes_sent=bytes_sent, unverified=unverified)


def _children_first(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """Orders the nodes of a DAG so that every node comes after the nodes it links to."""
    order: list[str] = []
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        done.add(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        while stack:
            node, links = stack[-1]
            for link in links:
                if link in graph and link not in done:
                    done.add(link)
                    stack.append((link, iter(graph[link])))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


# Garbage collection ---------------------------------------------------------


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
        UnsupportedOperationError: The backend cannot list or delete objects.
        CorruptObjectError: A reachable object whose links cannot be read (run
            `verify`); nothing is deleted.
    """
    if grace_seconds < 0:
        raise ValueError(f"grace_seconds must not be negative, not {grace_seconds}.")
    backend = store.backend
    cutoff = time.time() - grace_seconds
    extra = _root_digests(roots)
    marker = _Marker(store, batch_size, progress)
    marker.mark(extra + _named(store))
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
    marker.mark(_named(store))
    garbage = [digest for digest in candidates if digest in old and digest not in marker.live]
    still_old = _committed_before(store, garbage, cutoff, batch_size)
    marker.mark([digest for digest in garbage if digest not in still_old])
    garbage = [digest for digest in garbage if digest in still_old and digest not in marker.live]

    deleted = 0
    if dry_run:
        deleted = len(garbage)
    else:
        for chunk in _chunks(garbage, batch_size):
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
        live = self.live
        frontier = [digest for digest in dict.fromkeys(roots) if digest not in live]
        live.update(frontier)
        while frontier:
            next_frontier: list[str] = []
            for chunk in _chunks(frontier, self.batch_size):
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

    def _links(self, packed: PackedResource) -> tuple[str, ...]:
        try:
            return self.store.links(packed)
        except (DecodeError, ValueError, IndexError) as err:
            location = self.store.backend.locate(packed.digest)
            raise CorruptObjectError(
                f"gc stopped before deleting anything: the refs inside object "
                f"{packed.digest} at {location} cannot be read ({err}). Run enact.verify "
                "and restore or delete the object first.",
                digest=packed.digest,
                location=location,
            ) from err


def _named(store: Store) -> list[str]:
    return [digest for _, digest in store.backend.iter_names()]


def _committed_before(store: Store, digests: list[str], cutoff: float, size: int) -> set[str]:
    old: set[str] = set()
    for chunk in _chunks(digests, size):
        old |= store.backend.committed_before(chunk, cutoff)
    return old


# Verify ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VerifyProblem:
    """One finding of `verify`.

    Attributes:
        kind: ``"corrupt"`` (bytes that do not hash to the digest or cannot be
            read), ``"dangling"`` (a name or object points at a digest the
            store lacks) or ``"unverifiable"`` (packed with a packing whose Ref
            class is not defined in this process, e.g. encryption without key).
        digest: The damaged, missing or unverifiable object.
        location: Where it is (or, for ``"dangling"``, where the pointer is).
        detail: A sentence saying what was found.
        referrer: For ``"dangling"``: the digest of the object, or ``name:NAME``
            of the name, that points at the missing object.
    """

    kind: str
    digest: str
    location: str
    detail: str
    referrer: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.digest} at {self.location}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """What `verify` found.

    Attributes:
        checked: Objects re-hashed.
        problems: Every finding, in the order found.
    """

    checked: int
    problems: tuple[VerifyProblem, ...]

    @property
    def ok(self) -> bool:
        """Whether no object is corrupt and nothing dangles (unverifiable objects are fine)."""
        return not any(problem.kind != "unverifiable" for problem in self.problems)

    @property
    def corrupt(self) -> tuple[VerifyProblem, ...]:
        """The corrupt objects."""
        return tuple(problem for problem in self.problems if problem.kind == "corrupt")

    @property
    def dangling(self) -> tuple[VerifyProblem, ...]:
        """Pointers (from objects or names) at objects the store lacks."""
        return tuple(problem for problem in self.problems if problem.kind == "dangling")

    @property
    def unverifiable(self) -> tuple[VerifyProblem, ...]:
        """Objects whose packing cannot be opened in this process."""
        return tuple(problem for problem in self.problems if problem.kind == "unverifiable")

    def __str__(self) -> str:
        lines = [
            f"{self.checked} objects checked: {len(self.corrupt)} corrupt, "
            f"{len(self.dangling)} dangling references, {len(self.unverifiable)} unverifiable."
        ]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


def verify(
    store: Store, *, batch_size: int = BATCH_SIZE, progress: Progress | None = None
) -> VerifyReport:
    """Re-hashes every object of `store` and checks that everything it links to is there.

    Each object goes through the same path as checkout (unpacking, then
    SHA-256 of the token stream); its links are recomputed from its bytes and
    compared with what the packing header and the backend recorded, because
    gc and copy trust those. Names pointing at missing objects are reported too.

    Args:
        store: The store to check.
        batch_size: Objects per backend call.
        progress: Called as ``progress("verify", checked, None)``.
    """
    backend = store.backend
    problems: list[VerifyProblem] = []
    checked = 0
    for chunk in _chunks(backend.iter_digests(), batch_size):
        found = backend.get_many(chunk)
        references: dict[str, str] = {}
        for digest in chunk:
            packed = found.get(digest)
            if packed is None:
                continue  # deleted since it was listed
            checked += 1
            result = _check(packed, backend.locate)
            if result.problem is not None:
                problems.append(
                    VerifyProblem("corrupt", digest, backend.locate(digest), result.problem)
                )
            elif not result.verified:
                problems.append(
                    VerifyProblem(
                        "unverifiable",
                        digest,
                        backend.locate(digest),
                        "packed with a packing whose Ref class is not defined in this "
                        "process; import it (with its key) to check the object",
                    )
                )
            for link in result.links:
                references.setdefault(link, digest)
        problems.extend(_dangling(store, references))
        if progress is not None:
            progress("verify", checked, None)
    names = {digest: f"name:{name}" for name, digest in backend.iter_names()}
    problems.extend(_dangling(store, names))
    return VerifyReport(checked=checked, problems=tuple(problems))


def _dangling(store: Store, references: dict[str, str]) -> Iterator[VerifyProblem]:
    """Yields a problem for each referenced digest the store lacks."""
    if not references:
        return
    backend = store.backend
    present = backend.has_many(references)
    for digest, referrer in references.items():
        if digest in present:
            continue
        if referrer.startswith("name:"):
            where = f"name {referrer[5:]!r} of {backend!r}"
        else:
            where = backend.locate(referrer)
        yield VerifyProblem(
            "dangling",
            digest,
            where,
            f"{where} points at {digest}, which the store lacks; copy it here from a "
            "store that has it",
            referrer,
        )


# Helpers --------------------------------------------------------------------


def _root_digests(roots: Roots) -> list[str]:
    if isinstance(roots, Ref):
        return [roots.digest]
    if isinstance(roots, str):
        return [check_digest(roots)]
    return [root.digest if isinstance(root, Ref) else check_digest(root) for root in roots]


def _missing(store: Store, digest: str, parent: str, action: str) -> NotFoundError:
    location = store.backend.locate(digest)
    via = f", which {parent} links to," if parent else ""
    return NotFoundError(
        f"Cannot {action}: object {digest}{via} is not in the source store ({location}). "
        "Run enact.verify on the source to find every dangling reference.",
        digest=digest,
        location=location,
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _by_size(batch: list[PackedResource]) -> Iterator[list[PackedResource]]:
    """Splits a batch so that no single transaction carries more than ~32 MB."""
    part: list[PackedResource] = []
    size = 0
    for packed in batch:
        if part and size + len(packed.data) > _BATCH_BYTES:
            yield part
            part, size = [], 0
        part.append(packed)
        size += len(packed.data)
    if part:
        yield part
