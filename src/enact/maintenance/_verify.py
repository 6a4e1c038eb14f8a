"""`verify`: re-hash every object and find what is missing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from enact.errors import CorruptObjectError, StorageError, UnknownTypeError
from enact.maintenance._common import BATCH_SIZE, Progress, chunks
from enact.refs import Ref
from enact.stores.base import PackedResource, UnsupportedOperationError, checked_name_digest
from enact.stores.store import Store
from enact.stores.verified import open_verified, packed_links


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
    unlisted: list[StorageError] = []
    for chunk in chunks(_listed(store, unlisted), batch_size):
        checked += _verify_chunk(store, chunk, problems)
        if progress is not None:
            progress("verify", checked, None)
    for err in unlisted:  # e.g. rows whose keys are not digests: reported, go on
        problems.append(VerifyProblem("corrupt", "", f"the objects of {backend!r}", str(err)))
    try:
        named = list(backend.iter_names())
    except UnsupportedOperationError:
        named = []  # a backend without names has no names to dangle
    except StorageError as err:  # damaged names: reported, the objects were checked
        problems.append(VerifyProblem("corrupt", "", f"the names of {backend!r}", str(err)))
        named = []
    names: dict[str, str] = {}
    for name, digest in named:
        try:
            names[checked_name_digest(name, digest, backend)] = f"name:{name}"
        except StorageError as err:
            where = f"name {name!r} of {backend!r}"
            problems.append(VerifyProblem("corrupt", "", where, str(err), f"name:{name}"))
    problems.extend(_dangling(store, names))
    return VerifyReport(checked=checked, problems=tuple(problems))


def _listed(store: Store, errors: list[StorageError]) -> Iterator[str]:
    """Yields the store's digests; a listing that fails (after yielding what it could) is
    added to `errors`, so that the objects listed before are still checked."""
    try:
        yield from store.backend.iter_digests()
    except StorageError as err:
        errors.append(err)


def _verify_chunk(store: Store, chunk: list[str], problems: list[VerifyProblem]) -> int:
    """Checks one batch of objects, adding what is wrong to `problems`; returns how many."""
    backend = store.backend
    checked = 0
    try:
        found = backend.get_many(chunk)
    except CorruptObjectError:  # a damaged row spoils the batch read: read one by one
        found = {}
        for digest in chunk:
            try:
                packed = backend.get(Ref._unchecked(digest))
            except CorruptObjectError as err:
                checked += 1
                problems.append(
                    VerifyProblem("corrupt", digest, err.location, err.detail or str(err))
                )
                continue
            if packed is not None:
                found[digest] = packed
    references: dict[str, str] = {}
    for digest in chunk:
        packed = found.get(digest)
        if packed is None:
            continue  # deleted since it was listed (or reported above)
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
    return checked


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """What re-hashing one stored object found."""

    links: tuple[str, ...]
    verified: bool  # False: packed with a packing this process cannot open
    problem: str | None = None  # why the object is corrupt


def _check(packed: PackedResource, locate: Callable[[str], str]) -> _Checked:
    """Checks `packed` as checkout does (`open_verified`) and reads its links from its bytes."""
    try:
        return _Checked(open_verified(packed, locate, links=True).links or (), True)
    except UnknownTypeError:
        pass
    except CorruptObjectError as err:
        return _Checked((), True, err.detail or str(err))
    try:
        return _Checked(packed_links(packed, locate), False)
    except CorruptObjectError as err:
        return _Checked((), True, err.detail or str(err))
