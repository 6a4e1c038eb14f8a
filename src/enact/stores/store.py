"""`Store`: commit and checkout on top of any backend.

The store does everything that must not depend on the backend: it encodes a
value once into its token stream, hashes it, packs it for the ref type, hands
the bytes to the backend, and on checkout verifies that what the backend
returns hashes to the ref before decoding it (verify on read). Verified
objects are kept in a bounded cache, so a repeated checkout neither reads nor
re-hashes; every checkout still returns fresh objects that the caller may
mutate freely.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import weakref
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, TypeVar, cast, overload

from enact import context
from enact.encoding import DecodeError, decode, encode, scan_links
from enact.errors import (
    CorruptObjectError,
    EnactError,
    IncompatibleTypeError,
    InvalidNameError,
    NotFoundError,
)
from enact.refs import PACKED_PREFIX, Ref
from enact.registry import lookup_class
from enact.resources import Resource, wrap
from enact.stores.base import (
    ANY,
    DriverErrors,
    NameQuery,
    PackedResource,
    StorageBackend,
    UnsupportedOperationError,
    checked_name_digest,
)
from enact.stores.stored_form import (
    COMPRESSED_FORMS,
    COMPRESSED_PREFIXES,
    ENACT_TYPE_AT,
    PLAIN_MIN_SIZE,
    compress,
    stored_tokens,
)
from enact.stores.verified import packed_links, verified_tokens
from enact.wrappers import PRIMITIVE_WRAPPERS

R = TypeVar("R", bound=Ref[Any])
T = TypeVar("T")

_CACHE_MAX_BYTES = 64 * 1024 * 1024
_CACHE_MAX_ENTRIES = 100_000

_KEEP_STORED_FORM_MIN = 4096
"""Objects of at least this many token bytes that are read and verified keep their
stored (compressed) form, so that committing the same object again (a replay's tree
equal to the recorded one) need not compress it again."""
_STORED_FORMS_MAX_BYTES = 16 * 1024 * 1024
"""At most this many bytes of such stored forms are kept per store (oldest out first)."""


_stores: weakref.WeakSet[Store] = weakref.WeakSet()
"""Every store object: a forked child gets their locks back unlocked (`_after_fork`)."""


def _after_fork() -> None:
    """In a forked child, a lock another thread of the parent held at the fork stays held,
    and that thread does not exist here: each store's lock is made anew (as the standard
    library does for its own), so that a store used on both sides of a fork goes on."""
    for store in list(_stores):
        store._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Store:
    """A content-addressed store: commit values, check out refs.

    Use it as a context manager to make it the active store for `enact.commit`,
    `Ref.checkout` and `enact.invoke`. Blocks may be nested and re-entered, and
    the same store may be active in many threads and asyncio tasks at once.

    Args:
        backend: Where objects are kept (see `StorageBackend`).
        durability: How `enact.invoke` journals runs here unless told otherwise:
            ``"call"`` or ``"end"`` (see `enact.invoke`). Every ``*Store``
            class takes it too.
    """

    def __init__(self, backend: StorageBackend, *, durability: str = "call") -> None:
        if durability not in ("call", "end"):
            raise ValueError(
                f"durability must be 'call' (each journaled call is written when it "
                f"finishes) or 'end' (one write when the run ends), not {durability!r}."
            )
        self._backend = backend
        self.durability = durability
        """How `enact.invoke` journals runs in this store by default: ``"call"``
        (each call is durable when it finishes) or ``"end"`` (one write when the
        run ends). See `enact.invoke`."""
        self._committing = DriverErrors("commit objects", backend)
        self._compresses = bool(getattr(backend, "compresses", False))
        self._compressed_form = str(getattr(backend, "compressed_form", "z1"))
        if self._compresses and self._compressed_form not in COMPRESSED_FORMS:
            raise ValueError(
                f"{type(backend).__name__}.compressed_form is {self._compressed_form!r}: "
                f"a backend that compresses is handed one of {', '.join(COMPRESSED_FORMS)}."
            )
        self._cache: dict[str, bytes] = {}
        self._cache_bytes = 0
        self._stored_forms: dict[str, bytes] = {}
        """Verified compressed forms of large objects read here, as stored (bounded on
        their own, see `_KEEP_STORED_FORM_MIN`)."""
        self._stored_forms_bytes = 0
        self._lock = threading.Lock()
        _stores.add(self)  # its lock is made new in a forked child
        self._memos: dict[str, dict[str, Any]] = {}
        self._pending: ContextVar[dict[str, PackedResource] | None] = ContextVar(
            f"enact_store_batch_{id(self)}", default=None
        )
        self._pending_names: ContextVar[_PendingNames | None] = ContextVar(
            f"enact_store_batch_names_{id(self)}", default=None
        )

    def memo(self, key: str) -> dict[str, Any]:
        """Returns a dict that lives as long as this store, for the layers above it.

        Content-addressed objects never change, so a layer may keep what it
        derived from them here (the invocation engine keeps decoded responses).
        """
        memos = self._memos
        table = memos.get(key)
        if table is None:
            table = memos.setdefault(key, {})
        return table

    @property
    def backend(self) -> StorageBackend:
        """The backend this store reads and writes."""
        return self._backend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._backend!r})"

    def __enter__(self) -> Store:
        context.enter(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        context.leave(self)

    def close(self) -> None:
        """Closes the backend's connections and files."""
        self._backend.close()

    def release_thread(self) -> None:
        """Releases the calling thread's connection, for a thread that is about to end.

        The store stays usable: the thread (or any other) opens a new connection
        when it needs one.
        """
        self._backend.release_thread()

    # Commit ------------------------------------------------------------------

    @overload
    def commit(self, value: T) -> Ref[T]: ...

    @overload
    def commit(self, value: T, ref_type: type[R]) -> R: ...

    def commit(self, value: Any, ref_type: type[Ref[Any]] = Ref) -> Ref[Any]:
        """Commits `value` and returns a ref of type `ref_type` to it.

        `value` may be a resource or any field value (``commit(3)``, ``commit([1,
        2])``, a tuple, a value of a wrapped type).

        Raises:
            UnsupportedValueError: `value` holds something enact cannot store.
            CycleError: `value` contains itself.
            StorageError: The backend failed; nothing was reported as committed.
        """
        tokens, links = encode(as_resource(value))
        return self.commit_tokens(tokens, links, ref_type)

    def commit_tokens(
        self, tokens: bytes, links: list[str], ref_type: type[R], digest: str | None = None
    ) -> R:
        """Commits a token stream made by `enact.encoding.encode` (and its digest, if known).

        For callers that already encoded a value, e.g. to compare it with a
        record before deciding to commit it.
        """
        if digest is None:
            digest = hashlib.sha256(tokens).hexdigest()
        if ref_type.packing is not None:
            data = ref_type.seal(tokens, links)
        elif self._compresses and (
            # Only where it pays (stored_form.PLAIN_MIN_SIZE). Inline: a call here
            # would add 2% to a small commit.
            links or len(tokens) >= PLAIN_MIN_SIZE or tokens[ENACT_TYPE_AT] == b"enact."
        ):
            # A large object read from the backend (and verified) here before is
            # written again in the form it is stored in: the backend finds the same
            # bytes and only marks it committed again, and nothing is compressed.
            stored = None
            if len(tokens) >= _KEEP_STORED_FORM_MIN:
                stored = self._stored_forms.get(digest)
            data = stored or compress(tokens, self._compressed_form) or tokens
        else:
            data = tokens
        packed = PackedResource(digest, data, tuple(links))
        pending = self._pending.get()
        if pending is not None:
            pending[digest] = packed
        else:
            with self._committing:
                self._backend.commit(packed)
        return ref_type._unchecked(digest)

    def _write(self, packed: list[PackedResource]) -> None:
        with self._committing:
            self._backend.commit_many(packed)

    def batch(
        self, *, keep_on_exception: bool = False, call_record: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """Collects the commits of this thread or task and writes them at the end.

        One backend call (one transaction, one round trip) for the whole block.
        Refs returned inside the block can be checked out inside it; they are
        durable once the block has ended without an exception. If the block
        raises, nothing it committed is written. Nested blocks join the outer one.

        Args:
            keep_on_exception: Write what the block committed also when it
                raises an `Exception` (then the exception goes on): for blocks
                that record their own failure. An interrupt
                (KeyboardInterrupt, SystemExit, cancellation) still writes
                nothing.
            call_record: The block records one journaled call (its objects and
                names, no compare-and-set): the backend may keep it in a faster
                durable form first (`StorageBackend.commit_call`).
        """
        return _Batch(self, keep_on_exception, call_record)

    def batch_context(self) -> object:
        """The `batch` block this thread or task is in (opaque; None-like outside one), for
        `restore_batch_context`."""
        return (self._pending.get(), self._pending_names.get())

    def restore_batch_context(self, context: object) -> None:
        """Puts this thread or task back in the block `batch_context` returned, leaving
        every block entered since without writing it: for an interrupt
        (KeyboardInterrupt) that hit a block between its end and its write, so that the
        block was never left."""
        pending, names = cast("tuple[Any, Any]", context)
        self._pending.set(pending)
        self._pending_names.set(names)

    def _write_with_names(
        self,
        packed: list[PackedResource],
        names: list[tuple[str, str]],
        expected: dict[str, str | None],
        call_record: bool = False,
    ) -> None:
        try:
            with self._committing:
                if call_record and not expected:
                    self._backend.commit_call(packed, names)
                else:
                    self._backend.commit_with_names(packed, names, expected=expected or None)
        except UnsupportedOperationError:
            if expected:
                raise  # a compare-and-set cannot be skipped like bookkeeping
            if packed:  # names are bookkeeping; a backend without them keeps the objects
                self._write(packed)

    def list_names(self, query: NameQuery | str) -> list[tuple[str, Ref[Any]]]:
        """Returns the names `query` selects (a `NameQuery`, or a prefix) and their refs."""
        if isinstance(query, str):
            query = NameQuery(query)
        with self._failing(f"list names under {query.prefix!r}"):
            rows = self._backend.list_names(query)
        where = self._backend
        return [(name, Ref._unchecked(checked_name_digest(name, d, where))) for name, d in rows]

    def delete_names(self, prefix: str) -> int:
        """Deletes every name starting with `prefix` (at least one character); returns the count."""
        if not prefix:
            raise InvalidNameError("delete_names needs a non-empty prefix.")
        with self._failing(f"delete names under {prefix!r}"):
            return self._backend.delete_names(prefix)

    def in_batch(self) -> bool:
        """Whether a `batch` block of this store is active in this thread or task."""
        return self._pending.get() is not None

    @property
    def names_in_transaction(self) -> bool:
        """Whether a `batch` block's objects and names, compare-and-sets included, are
        written in one transaction (`StorageBackend.names_in_transaction`)."""
        return bool(getattr(self._backend, "names_in_transaction", False))

    def log_name(self, name: str, digest: str, *, expected: Ref[Any] | None = ANY) -> None:
        """Points `name` at `digest` once the object is written, if the backend has names.

        For bookkeeping names (the ``runs/`` log): inside `batch` the name is set
        after the block's objects are written, and not at all if the block
        raises, so it never points at an object that is not stored. Backends
        without names are skipped silently.

        With `expected` (a Ref, or None for "no such name"), the name is moved
        by compare-and-set, as with `set_name`: inside `batch`, in the same
        transaction as the block's objects and names, and if the name moved
        on, `NameConflictError` is raised at the end of the block and nothing
        of the block is written (on backends that write names in one
        transaction; see `StorageBackend.commit_with_names`).
        """
        names = self._pending_names.get()
        if names is not None:
            logs, wanted = names
            if expected is not ANY:
                wanted[name] = None if expected is None else expected.digest
            logs.append((name, digest))
            return
        if expected is not ANY:
            self.set_name(name, Ref._unchecked(digest), expected=expected)
            return
        with contextlib.suppress(UnsupportedOperationError), self._failing(f"update name {name!r}"):
            self._backend.set_name(name, digest)

    # Checkout ----------------------------------------------------------------

    def checkout(self, ref: Ref[T]) -> T:
        """Returns fresh objects for the value `ref` points to.

        Raises:
            NotFoundError: The backend does not hold the object.
            CorruptObjectError: The stored bytes do not hash to the ref, or do not parse.
            UnknownTypeError: The object's type is not registered in this process.
        """
        tokens = self._cache.get(ref.digest)
        if tokens is None:
            tokens = self._read_verified(ref)
        return self.decode_tokens(ref, tokens)

    def decode_tokens(self, ref: Ref[T], tokens: bytes) -> T:
        """Fresh objects from `tokens`, the verified token stream of `ref` that
        `read_tokens` returned: `checkout` for a reader that looked at the tokens first
        (an object too large for the store's cache is then not read twice).

        Raises:
            CorruptObjectError: The tokens do not parse.
            UnknownTypeError: The object's type is not registered in this process.
        """
        digest = ref.digest
        try:
            value: T = decode(tokens)
        except IncompatibleTypeError as err:
            raise named_object(err, digest) from None
        except DecodeError as err:
            location = self._backend.locate(digest)
            raise CorruptObjectError(
                f"Object {digest} at {location} hashes correctly but is not a valid "
                f"enact object ({err}); it was written by something other than enact.",
                digest=digest,
                location=location,
            ) from err
        return value

    def read_tokens(self, ref: Ref[Any]) -> bytes:
        """Returns the verified token stream of an object (no decoding, no types needed)."""
        tokens = self._cache.get(ref.digest)
        return tokens if tokens is not None else self._read_verified(ref)

    def _read_verified(self, ref: Ref[Any]) -> bytes:
        digest = ref.digest
        pending = self._pending.get()
        packed = pending.get(digest) if pending else None
        if packed is None:
            with self._failing(f"read object {digest}"):
                packed = self._backend.get(ref)
        if packed is None:
            raise self._not_found(
                digest,
                f"Object {digest}",
                "It may have been committed to another store: copy it here, or enter the "
                "store that holds it.",
            )
        if packed.digest != digest:  # a backend's mistake must not pass the check
            packed = PackedResource(digest, packed.data, packed.links)
        tokens = verified_tokens(packed, self._backend.locate)
        self._remember(digest, tokens, packed.data)
        return tokens

    def prefetch(self, refs: Iterable[Ref[Any]], limit: int = 5000) -> None:
        """Reads the objects of (the first `limit` of) `refs` that are not cached yet in
        one backend call, verified, so that checking them out needs no backend call.

        For readers that know what they will read next (a replay reads every
        recorded child's response). Objects that are missing or do not verify
        are left out: checking them out raises as it would have.
        """
        cache = self._cache
        wanted = [ref.digest for ref in itertools.islice(refs, limit)]
        wanted = [digest for digest in dict.fromkeys(wanted) if digest not in cache]
        if len(wanted) < 2:
            return
        with self._failing(f"read {len(wanted)} objects"):
            found = self._backend.get_many(wanted)
        locate = self._backend.locate
        verified: list[tuple[str, bytes, bytes | None]] = []
        for digest, packed in found.items():
            try:
                verified.append((digest, verified_tokens(packed, locate), packed.data))
            except EnactError:
                continue
        self._remember_many(verified)

    def _remember(self, digest: str, tokens: bytes, stored: bytes | None = None) -> None:
        """Caches verified `tokens`; for a large object also its `stored` form, if that
        is a compressed one (see `_KEEP_STORED_FORM_MIN`)."""
        self._remember_many([(digest, tokens, stored)])

    def _remember_many(self, objects: list[tuple[str, bytes, bytes | None]]) -> None:
        """`_remember` of each (digest, tokens, stored form), under one lock."""
        with self._lock:
            for digest, tokens, stored in objects:
                self._remember_locked(digest, tokens, stored)

    def _remember_locked(self, digest: str, tokens: bytes, stored: bytes | None) -> None:
        """`_remember` of one object; the caller holds `_lock`."""
        size = len(tokens)
        if size > _CACHE_MAX_BYTES // 8:
            return
        cache = self._cache
        if digest in cache:
            return
        while cache and (
            self._cache_bytes + size > _CACHE_MAX_BYTES or len(cache) >= _CACHE_MAX_ENTRIES
        ):
            oldest = next(iter(cache))
            self._cache_bytes -= len(cache.pop(oldest))
        cache[digest] = tokens
        self._cache_bytes += size
        if (
            stored is not None
            and size >= _KEEP_STORED_FORM_MIN
            and stored.startswith(COMPRESSED_PREFIXES)
        ):
            forms = self._stored_forms
            while forms and self._stored_forms_bytes + len(stored) > _STORED_FORMS_MAX_BYTES:
                self._stored_forms_bytes -= len(forms.pop(next(iter(forms))))
            forms[digest] = stored
            self._stored_forms_bytes += len(stored)

    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the backend holds the object (pending batch commits count)."""
        pending = self._pending.get()
        if pending and ref.digest in pending:
            return True
        return self._backend.has(ref)

    # Named refs ----------------------------------------------------------------

    def set_name(self, name: str, ref: Ref[Any] | None, *, expected: Ref[Any] | None = ANY) -> None:
        """Points `name` at `ref` (None deletes the name), atomically.

        Names are a store's roots: gc keeps every object reachable from a name.
        Inside `batch`, the pending commits are written first, so a name never
        points at an object that is not stored.

        Args:
            name: Any non-empty string of up to 1000 printable characters
                (``"runs/2024-05-01"``, ``"latest"``).
            ref: What the name should point at; None removes the name.
            expected: If given, the update happens only if the name currently
                points at this ref (None: only if the name does not exist);
                this makes read-modify-write loops safe across processes.

        Raises:
            NameConflictError: `expected` was given and the name holds something else.
            NotFoundError: `ref` is not in this store.
            InvalidNameError: `name` is empty, too long, or holds control characters.
        """
        check_name(name)
        digest = None
        if ref is not None:
            digest = ref.digest
            self._flush_pending()
            if not self.has(ref):
                raise self._not_found(
                    digest,
                    f"Cannot point name {name!r} at {digest}: the object",
                    "Commit or copy it here first.",
                )
        wanted = expected if expected is ANY or expected is None else expected.digest
        with self._failing(f"update name {name!r}"):
            self._backend.set_name(name, digest, expected=wanted)

    def get_name(self, name: str) -> Ref[Any] | None:
        """Returns a ref to what `name` points at, or None if there is no such name."""
        check_name(name)
        with self._failing(f"read name {name!r}"):
            digest = self._backend.get_name(name)
        if digest is None:
            return None
        return Ref._unchecked(checked_name_digest(name, digest, self._backend))

    def names(self) -> dict[str, Ref[Any]]:
        """Returns every name of this store and its ref, sorted by name."""
        with self._failing("list names"):
            items = list(self._backend.iter_names())
        where = self._backend
        return {name: Ref._unchecked(checked_name_digest(name, d, where)) for name, d in items}

    def _flush_pending(self) -> None:
        pending = self._pending.get()
        if pending:
            self._write(list(pending.values()))
            pending.clear()

    def _not_found(self, digest: str, subject: str, fix: str) -> NotFoundError:
        """The error for object `digest` missing here; `subject` names it, `fix` ends it."""
        location = self._backend.locate(digest)
        return NotFoundError(
            f"{subject} is not in the store ({location}). {fix}", digest=digest, location=location
        )

    def _failing(self, action: str) -> DriverErrors:
        return DriverErrors(action, self._backend)

    def links(self, packed: PackedResource) -> tuple[str, ...]:
        """Returns the digests an object refers to (from the writer, its header, or a scan).

        Trusts what the backend and the packing header recorded, without
        re-hashing (gc's mark needs only the links); `enact.verify` checks them.
        """
        if packed.links is not None:
            return packed.links
        if packed.data.startswith(PACKED_PREFIX):
            return packed_links(packed, self._backend.locate)
        try:
            tokens = stored_tokens(packed.data)
        except ValueError as err:
            raise DecodeError(f"object {packed.digest}: {err}") from err
        return tuple(scan_links(tokens))


_MAX_NAME_LENGTH = 1000


def check_name(name: str) -> str:
    """Returns `name` if a store can keep it as a name; raises `InvalidNameError` if not."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"A name must be a non-empty str, not {name!r}.")
    if len(name) > _MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"Name {name[:40]!r}... has {len(name)} characters; the limit is {_MAX_NAME_LENGTH}."
        )
    if not name.isprintable():
        raise InvalidNameError(
            f"Name {name!r} holds a control character; use printable characters only."
        )
    return name


def as_resource(value: Any) -> Any:
    """Returns what is encoded for a top-level commit: resources as they are,
    everything else inside its wrapper resource."""
    if isinstance(value, Resource):
        return value
    wrapper = PRIMITIVE_WRAPPERS.get(type(value))
    if wrapper is not None:
        return wrapper(value)
    if isinstance(value, type) or lookup_class(type(value)) is not None:
        return value
    return wrap(value)


def named_object(err: IncompatibleTypeError, digest: str) -> IncompatibleTypeError:
    """`err` with the digest of the object that was checked out in its message."""
    if err.digest:
        return err
    named = IncompatibleTypeError(
        f"Object {digest}: {err}",
        type_name=err.type_name,
        current_name=err.current_name,
        stored_fields=err.stored_fields,
        current_fields=err.current_fields,
        problem=err.problem,
        digest=digest,
    )
    named.__cause__ = err.__cause__
    return named


def current_store() -> Store:
    """Returns the innermost active store; raises `NoActiveStoreError` if none is."""
    store = context.current_store()
    if not isinstance(store, Store):  # only Store.__enter__ enters a store
        raise TypeError(f"The active store {store!r} is not an enact.Store.")
    return store


@overload
def commit(value: T) -> Ref[T]: ...


@overload
def commit(value: T, ref_type: type[R]) -> R: ...


def commit(value: Any, ref_type: type[Ref[Any]] = Ref) -> Ref[Any]:
    """Commits `value` to the active store and returns a ref to it.

    Raises:
        NoActiveStoreError: No ``with store:`` block is active.
    """
    # Through context's protocol: the extra call and type check of `current_store`
    # would add 2% to the Python side of a batched commit.
    ref: Ref[Any] = context.current_store().commit(value, ref_type)
    return ref


def checkout(ref: Ref[T]) -> T:
    """Checks `ref` out of the active store (same as ``ref()``)."""
    result: T = context.current_store().checkout(ref)
    return result


_PendingNames = tuple[list[tuple[str, str]], dict[str, str | None]]
"""What a batch logs: names and digests to set; expected digests of compare-and-set names."""


class _Batch:
    """`Store.batch`'s block (a class, not a generator: every journaled call enters one)."""

    __slots__ = ("call", "keep", "names", "names_token", "pending", "store", "token")

    def __init__(self, store: Store, keep_on_exception: bool, call_record: bool = False) -> None:
        self.store = store
        self.keep = keep_on_exception
        self.call = call_record
        self.pending: dict[str, PackedResource] | None = None

    def __enter__(self) -> None:
        store = self.store
        if store._pending.get() is not None:
            return  # nested: the outer block writes
        pending: dict[str, PackedResource] = {}
        self.pending = pending
        self.names: _PendingNames = ([], {})
        self.token = store._pending.set(pending)
        self.names_token = store._pending_names.set(self.names)

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        store = self.store
        store._pending_names.reset(self.names_token)
        store._pending.reset(self.token)
        if error is not None and not (self.keep and isinstance(error, Exception)):
            return  # nothing of the block is written; the error goes on
        logs, expected = self.names
        if logs:
            store._write_with_names(list(pending.values()), logs, expected, self.call)
        elif pending:
            store._write(list(pending.values()))
