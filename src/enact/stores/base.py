"""The storage backend interface.

A backend maps digests to stored bytes and nothing more: three methods
(`StorageBackend.commit`, `has`, `get`) make a working backend. Everything
shared -- hashing, verification on read, decoding, type lookup, error wrapping
-- happens once in `enact.Store`, so no backend can forget it.

Optional methods have defaults built on the three: batches (which real
backends override to use one round trip or one transaction), enumeration and
deletion (for gc and verify), and named refs.
"""

from __future__ import annotations

import abc
import bisect
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeAlias, TypeVar

from enact.digests import DIGEST_HEX_LENGTH, HEX_DIGITS
from enact.errors import EnactError, InvalidDigestError, NameConflictError, StorageError
from enact.errors import UnsupportedOperationError as UnsupportedOperationError  # re-exported
from enact.refs import Ref

T = TypeVar("T")


@dataclasses.dataclass(slots=True)
class PackedResource:
    """An object as a backend stores it.

    Attributes:
        digest: Lower-case hex SHA-256 of the object's token stream: its address.
        data: The bytes to store: the token stream, or a packed form of it.
        links: Digests of the refs the object holds, when the writer knows them
            (None when a backend did not keep them; `enact.Store` recomputes).

    Treat instances as read-only (they are not frozen only because frozen
    dataclasses are several times slower to create, and one is made per commit).
    """

    digest: str
    data: bytes
    links: tuple[str, ...] | None = None

    @property
    def ref(self) -> Ref[Any]:
        """A plain `Ref` to this object's digest (the spec's ``packed_resource.ref``)."""
        return Ref._unchecked(self.digest)


@dataclasses.dataclass(frozen=True, slots=True)
class NameQuery:
    """Which names `StorageBackend.list_names` returns: a prefix, bounds, order, a limit.

    Attributes:
        prefix: Only names starting with it.
        after: Only names greater than this one (code point order).
        before: Only names less than this one.
        reverse: Largest names first.
        limit: At most this many (None: all).
    """

    prefix: str
    after: str | None = None
    before: str | None = None
    reverse: bool = False
    limit: int | None = None

    def selects(self, name: str) -> bool:
        """Whether `name` is in the range (ignoring `limit`)."""
        return (
            name.startswith(self.prefix)
            and (self.after is None or name > self.after)
            and (self.before is None or name < self.before)
        )

    @property
    def end(self) -> str:
        """The smallest string greater than every name that starts with `prefix`."""
        if not self.prefix:
            return "\U0010ffff" * 2
        return self.prefix[:-1] + chr(ord(self.prefix[-1]) + 1)


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Final[Any] = _Any()
"""Sentinel for `StorageBackend.set_name`: update the name whatever it holds."""

# The types of `StorageBackend.commit_with_names`, named once for the backends that
# override it.
NamePairs: TypeAlias = list[tuple[str, str]]
"""``(name, digest)`` pairs: each name is to point at its digest."""

Expected: TypeAlias = Mapping[str, str | None] | None
"""For some names, the digest each must point at now (None: the name must not exist);
None: no name is checked."""


class StorageBackend(abc.ABC):
    """Where a `Store` keeps its objects.

    Subclasses implement `commit`, `has` and `get`. A backend must make
    `commit` atomic (a reader sees the whole object or nothing) and idempotent
    (committing an existing digest again is harmless), and should let a commit
    repair: an object stored with other bytes than the commit brings, bytes
    that do not verify (`enact.stores.verified.intact`), is replaced. It must raise
    `enact.StorageError` (with the driver's error as ``__cause__``) rather than
    raw driver errors.
    """

    compresses: bool = False
    """Whether `enact.Store` hands this backend objects in the compressed stored
    form (``z1:``, see `enact.stores.stored_form`) when that is shorter. Every
    backend reads both forms; database backends ask for it, the file backend
    keeps token streams readable with ``cat``."""

    compressed_form: str = "z1"
    """Which compressed form a backend that `compresses` is handed: ``z1`` or
    ``z2`` (smaller; see `enact.stores.stored_form`)."""

    names_in_transaction: bool = False
    """Whether `commit_with_names` writes all of its objects and names, the
    compare-and-sets included, in one transaction: all or nothing, even on a
    crash. Runs then record a run's start, and each move of its head with
    what goes with it, in one write; on other backends they order their
    writes so that a crash between two of them leaves nothing a reader
    trips over."""

    @abc.abstractmethod
    def commit(self, packed_resource: PackedResource) -> None:
        """Stores a packed resource.

        A no-op if its digest is already stored intact (the same bytes, or
        other bytes that verify); stored bytes that do not verify are replaced.
        """

    @abc.abstractmethod
    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the backend holds the object `ref` points to."""

    @abc.abstractmethod
    def get(self, ref: Ref[Any]) -> PackedResource | None:
        """Returns the packed resource, or None if it is not stored here."""

    # Batches -----------------------------------------------------------------

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        """Stores many objects; real backends do it in one transaction."""
        for packed in packed_resources:
            self.commit(packed)

    def has_many(self, digests: Iterable[str]) -> set[str]:
        """Returns the subset of `digests` that is stored here."""
        from enact.refs import Ref

        return {digest for digest in digests if self.has(Ref._unchecked(digest))}

    def get_many(self, digests: Iterable[str]) -> dict[str, PackedResource]:
        """Returns the stored objects among `digests`, by digest (missing ones left out)."""
        from enact.refs import Ref

        found: dict[str, PackedResource] = {}
        for digest in digests:
            packed = self.get(Ref._unchecked(digest))
            if packed is not None:
                found[digest] = packed
        return found

    # Enumeration and deletion (gc, verify) -------------------------------------

    def iter_digests(self) -> Iterator[str]:
        """Yields the digest of every stored object."""
        raise UnsupportedOperationError(f"{type(self).__name__} cannot list its objects.")

    def digests_with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        """Returns the stored digests that start with `prefix` (lower-case hex), sorted.

        Lets a user name an object by the first few characters of its digest.
        The default scans `iter_digests`; database backends answer from their
        index. At most `limit` digests are returned (None: all).
        """
        check_prefix(prefix)
        found = sorted(digest for digest in self.iter_digests() if digest.startswith(prefix))
        return found if limit is None else found[:limit]

    def committed_before(self, digests: Iterable[str], cutoff: float) -> set[str]:
        """Returns those stored `digests` last committed before `cutoff` (a `time.time()`).

        Used by gc so that nothing committed (or re-committed) during the
        grace period is deleted: a backend that answers this must refresh an
        object's commit time when it is committed again. The default treats
        every stored object as old.
        """
        return self.has_many(digests)

    def delete_many(self, digests: Iterable[str], *, committed_before: float | None = None) -> int:
        """Deletes objects; returns how many were deleted.

        Args:
            digests: The objects to delete; digests not stored are ignored.
            committed_before: If given, delete only objects last committed
                before this `time.time()`, checked atomically with the deletion
                where the backend can (so a concurrent re-commit wins).
        """
        raise UnsupportedOperationError(f"{type(self).__name__} cannot delete objects.")

    def replace_many(self, packed_resources: Iterable[PackedResource]) -> None:
        """Stores objects, overwriting what is stored under their digests.

        For repairs (`enact.copy` onto an object whose stored bytes do not
        verify): `commit` leaves an existing digest as it is. The default
        deletes, then commits; backends that can overwrite in place override it.
        """
        batch = list(packed_resources)
        self.delete_many([packed.digest for packed in batch])
        self.commit_many(batch)

    # Named refs ----------------------------------------------------------------

    def get_name(self, name: str) -> str | None:
        """Returns the digest a name points to, or None."""
        raise UnsupportedOperationError(f"{type(self).__name__} does not support names.")

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        """Points `name` at `digest` (None deletes it), atomically.

        If `expected` is not `ANY`, the update happens only if the name currently
        points at `expected` (None: the name must not exist); otherwise it raises
        `NameConflictError` and changes nothing.
        """
        raise UnsupportedOperationError(f"{type(self).__name__} does not support names.")

    def iter_names(self) -> Iterator[tuple[str, str]]:
        """Yields ``(name, digest)`` for every name, sorted by name."""
        raise UnsupportedOperationError(f"{type(self).__name__} does not support names.")

    def list_names(self, query: NameQuery) -> list[tuple[str, str]]:
        """Returns ``(name, digest)`` for the names `query` selects, sorted.

        Runs and their journals are found this way, a page at a time; database
        backends answer from their index. The default filters `iter_names`.
        """
        found = [(name, digest) for name, digest in self.iter_names() if query.selects(name)]
        if query.reverse:
            found.reverse()
        return found if query.limit is None else found[: query.limit]

    def delete_names(self, prefix: str) -> int:
        """Deletes every name that starts with `prefix`; returns how many were deleted."""
        names = [name for name, _ in self.list_names(NameQuery(prefix))]
        for name in names:
            self.set_name(name, None)
        return len(names)

    def commit_with_names(
        self, packed_resources: list[PackedResource], names: NamePairs, *, expected: Expected = None
    ) -> None:
        """Stores objects, then points names at digests: in one transaction where possible.

        A journaled call is recorded this way (its request, its response and
        its journal entry), so a crash leaves all of it or none. The default
        commits the objects first, so a name never points at a missing object.

        Args:
            expected: For some of the names, the digest each must point at now
                (None: the name must not exist), as for `set_name`. If one does
                not, `NameConflictError` is raised and no name is changed (the
                default implementation checks each of these names atomically,
                before the other names, but not all of them at once).
        """
        if packed_resources:
            self.commit_many(packed_resources)
        expected = expected or {}
        for name, digest in names:
            if name in expected:
                self.set_name(name, digest, expected=expected[name])
        for name, digest in names:
            if name not in expected:
                self.set_name(name, digest)

    def commit_call(self, packed_resources: list[PackedResource], names: NamePairs) -> None:
        """Records one journaled call (its objects and its journal entry) before its caller
        sees its result: `commit_with_names`, unless the backend has a faster durable way
        (the SQLite backend appends it to a log that it folds into its tables later)."""
        self.commit_with_names(packed_resources, names)

    # Life cycle --------------------------------------------------------------

    def locate(self, digest: str) -> str:
        """Describes where the object with `digest` lives (for error messages)."""
        return f"{self!r} object {digest}"

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Releases connections and file handles."""

    def release_thread(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Releases what the calling thread holds (its connection), as the thread ends."""


_HEX: Final = frozenset(HEX_DIGITS)


def checked_name_digest(name: str, digest: object, where: object) -> str:
    """Returns the digest a stored name holds, if it is one (64 lower-case hex).

    Everything read from storage is checked before it is used as a key or a
    path: a damaged or hand-edited name must not reach a file path or a query.

    Raises:
        StorageError: It is not a digest (the message names the name and store).
    """
    if isinstance(digest, str) and len(digest) == DIGEST_HEX_LENGTH and _HEX.issuperset(digest):
        return digest
    shown = repr(digest) if len(repr(digest)) < 90 else repr(digest)[:80] + "..."
    raise StorageError(
        f"Name {name!r} in {where} is damaged: it holds {shown}, not a 64-hex-digit "
        "digest. Set the name again (or delete it); until then gc does not know what it "
        "protected."
    )


def check_prefix(prefix: str) -> str:
    """Returns `prefix` if it can start a digest (up to 64 lower-case hex characters)."""
    if (
        not isinstance(prefix, str)
        or len(prefix) > DIGEST_HEX_LENGTH
        or not _HEX.issuperset(prefix)
    ):
        shown = repr(prefix) if not isinstance(prefix, str) or len(prefix) < 80 else "it"
        raise InvalidDigestError(
            f"Cannot look up objects by {shown}: a digest prefix is up to 64 lower-case "
            "hexadecimal characters (the start of what `print(ref)` shows)."
        )
    return prefix


def digest_range(prefix: str) -> tuple[bytes, bytes]:
    """The lowest and the highest raw digest starting with `prefix` (checked by `check_prefix`).

    Every digest with the prefix lies between the two, so a database backend
    answers `StorageBackend.digests_with_prefix` with one range scan of its index.
    """
    check_prefix(prefix)
    return bytes.fromhex(prefix.ljust(64, "0")), bytes.fromhex(prefix.ljust(64, "f"))


def batches(
    items: Iterable[T],
    count: int | None,
    *,
    size: Callable[[T], int] | None = None,
    max_size: int = 0,
) -> Iterator[list[T]]:
    """Yields lists of consecutive `items`, for statements and transactions of bounded size.

    Args:
        items: What to split.
        count: The most items in a list (None: no limit).
        size: The weight of an item (bytes, usually); with it, a list stays at
            or below `max_size` unless a single item alone weighs more.
        max_size: The most a list may weigh when `size` is given.
    """
    batch: list[T] = []
    weight = 0
    for item in items:
        if size is not None:
            item_size = size(item)
            if batch and weight + item_size > max_size:
                yield batch
                batch, weight = [], 0
            weight += item_size
        batch.append(item)
        if count is not None and len(batch) >= count:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


class DriverErrors:
    """Turns a driver's errors (``sqlite3``, ``psycopg``, ``OSError``) into `StorageError`.

    ``with DriverErrors("commit 3 objects", backend):`` re-raises any `driver`
    exception of the block as ``StorageError("Cannot commit 3 objects in
    <backend>: <error>")`` with the original as ``__cause__``; errors of enact
    pass unchanged. The message is formatted only on failure, so an instance is
    cheap enough to create per call and may be kept and reused.

    Args:
        action: What was attempted, as a verb phrase.
        where: The backend or store, shown with `str`.
        driver: The exception types to wrap (default: every `Exception`).
    """

    __slots__ = ("_action", "_driver", "_where")

    def __init__(
        self,
        action: str,
        where: object,
        driver: type[Exception] | tuple[type[Exception], ...] = Exception,
    ) -> None:
        self._action = action
        self._where = where
        self._driver = driver

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, err: BaseException | None, traceback: object) -> None:
        if isinstance(err, self._driver) and not isinstance(err, EnactError):
            raise StorageError(f"Cannot {self._action} in {self._where}: {err}") from err


def name_conflict(
    name: str, where: str, expected: str | None, actual: str | None
) -> NameConflictError:
    """The error for a compare-and-set of `name` (in store `where`, if given) that lost."""
    place = f" in {where}" if where else ""
    return NameConflictError(
        f"Name {name!r}{place} points at {actual or 'nothing'}, not at "
        f"{expected or 'nothing'} as expected; re-read it and retry.",
        name=name,
        expected=expected,
        actual=actual,
    )


class NameTable:
    """A thread-safe in-process name -> digest map with compare-and-set.

    Shared by backends that keep names in memory. The names are also kept
    sorted, so a range query (a run's journal, a page of runs) bisects to its
    range instead of filtering every name.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._sorted: list[str] = []
        self._lock = threading.Lock()

    def get(self, name: str) -> str | None:
        return self._names.get(name)

    def set(self, name: str, digest: str | None, expected: Any) -> None:
        with self._lock:
            actual = self._names.get(name)
            if expected is not ANY and expected != actual:
                raise name_conflict(name, "", expected, actual)
            if digest is None:
                if actual is not None:
                    del self._names[name]
                    del self._sorted[bisect.bisect_left(self._sorted, name)]
            else:
                if actual is None:
                    bisect.insort(self._sorted, name)
                self._names[name] = digest

    def items(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            names = self._names
            return iter([(name, names[name]) for name in self._sorted])

    def select(self, query: NameQuery) -> list[tuple[str, str]]:
        """The names `query` selects, sorted (largest first with ``reverse``)."""
        with self._lock:
            keys, names, prefix = self._sorted, self._names, query.prefix
            low = bisect.bisect_left(keys, prefix)
            if query.after is not None:
                low = max(low, bisect.bisect_right(keys, query.after))
            high = len(keys)
            if prefix and ord(prefix[-1]) < 0x10FFFF:
                high = bisect.bisect_left(keys, query.end)
            else:  # no string bounds the prefix's names from above: find their end
                while high > low and not keys[high - 1].startswith(prefix):
                    high -= 1
            if query.before is not None:
                high = min(high, bisect.bisect_left(keys, query.before))
            selected = keys[low:high] if high > low else []
            if query.reverse:
                selected.reverse()
            if query.limit is not None:
                selected = selected[: query.limit]
            return [(name, names[name]) for name in selected]
