"""References: immutable addresses of committed resources, and how objects are packed.

A `Ref` holds the SHA-256 digest of a resource's token stream. Refs are
resources too, so resources can hold refs, which makes a store a Merkle DAG.

A Ref subclass may *pack* the bytes it commits (compression, encryption) by
setting `Ref.packing` and overriding `Ref.pack` / `Ref.unpack`. Packed objects
are stored as ``pack:`` + a one-line JSON header (packing name and the digests
the object links to, so that gc and copy work without the key) + a newline +
the packed payload. The digest is always that of the plain token stream, so a
ref names the content no matter how it was stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Self

from enact import context
from enact.digests import check_digest
from enact.encoding import declare_plain_ref
from enact.errors import CorruptObjectError, UnknownTypeError
from enact.registry import REF_TYPE_NAME
from enact.resources import Resource, register_resource_class

if TYPE_CHECKING:
    # A bare `Ref` (``Ref.from_digest(d)``) means `Ref[Any]` to type checkers rather
    # than a type they cannot infer. typing.TypeVar takes a default only from 3.13 on;
    # checkers ship typing_extensions' stubs, so this needs no runtime dependency.
    from typing_extensions import TypeVar

    T = TypeVar("T", default=Any)
else:
    from typing import TypeVar

    T = TypeVar("T")

PACKED_PREFIX: Final = b"pack:"
_packings: dict[str, type[Ref[Any]]] = {}


@dataclasses.dataclass(eq=False, repr=False)
class Ref(Resource, Generic[T]):
    """An immutable reference to a committed resource.

    ``ref()`` (or ``ref.checkout()``) returns a fresh copy of the resource from
    the active store. Two refs are equal when their digests are.

    Attributes:
        digest: The lower-case hex SHA-256 of the resource's token stream.
    """

    __enact_type_name__ = REF_TYPE_NAME
    __enact_builtin__ = True
    __enact_is_ref__ = True

    packing: ClassVar[str | None] = None
    """Name of the packing this class applies on commit (None: stored as is)."""

    digest: str

    def __post_init__(self) -> None:
        check_digest(self.digest)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        packing = cls.__dict__.get("packing")
        if isinstance(packing, str):
            _packings[packing] = cls

    @classmethod
    def from_digest(cls, digest: str) -> Self:
        """Returns a ref for a hex digest, which is checked before any store is touched.

        Raises:
            InvalidDigestError: `digest` is not 64 lower-case hex characters.
        """
        return cls._unchecked(check_digest(digest))

    @classmethod
    def _unchecked(cls, digest: str) -> Self:
        ref = cls.__new__(cls)
        ref.__dict__["digest"] = digest
        return ref

    def checkout(self) -> T:
        """Returns a fresh copy of the referenced resource from the active store.

        Raises:
            NoActiveStoreError: No ``with store:`` block is active.
            NotFoundError: The store does not hold the object.
            CorruptObjectError: The stored bytes do not hash to this ref.
            UnknownTypeError: The object's type is not registered in this process.
        """
        result: T = context.current_store().checkout(self)
        return result

    def __call__(self) -> T:
        """Same as `checkout`."""
        result: T = context.current_store().checkout(self)
        return result

    @contextlib.contextmanager
    def modify(self) -> Iterator[T]:
        """Checks out the resource for editing and commits it when the block ends.

        Afterwards this ref points at the new snapshot; the old snapshot stays in
        the store, and other refs to it are unchanged. If the block raises,
        nothing is committed and the ref is unchanged. Because the digest changes,
        do not modify a ref while it is a key in a dict or a member of a set.
        """
        store = context.current_store()
        value: T = store.checkout(self)
        yield value
        self.__dict__["digest"] = store.commit(value, ref_type=type(self)).digest

    def deepcopy_resource(self) -> Self:
        """Returns a new ref to the same snapshot, unaffected by `modify` on this one."""
        return type(self)._unchecked(self.digest)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ref):
            return self.digest == other.digest
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.digest}>"

    @classmethod
    def pack(cls, data: bytes) -> bytes:
        """Returns the bytes to store for a token stream (subclasses override)."""
        return data

    @classmethod
    def unpack(cls, data: bytes) -> bytes:
        """Inverse of `pack`."""
        return data

    @classmethod
    def seal(cls, tokens: bytes, links: list[str]) -> bytes:
        """Returns the stored form of a token stream: plain, or packed with a header."""
        if cls.packing is None:
            return tokens
        header = json.dumps({"links": links, "packing": cls.packing}, sort_keys=True)
        return PACKED_PREFIX + header.encode("ascii") + b"\n" + cls.pack(tokens)


register_resource_class(Ref)
declare_plain_ref(Ref, Ref._unchecked)


@dataclasses.dataclass(eq=False, repr=False)
class CompressedRef(Ref[T]):
    """A ref whose objects are stored zlib-compressed.

    Useful for large text (prompts, transcripts). Any ref can check out a
    compressed object; committing through a `CompressedRef` (``commit(x,
    ref_type=CompressedRef)``, or ``modify`` on one) is what compresses it.
    """

    __enact_type_name__ = "enact.references.CompressedRef"
    packing: ClassVar[str | None] = "zlib"

    @classmethod
    def pack(cls, data: bytes) -> bytes:
        return zlib.compress(data, 6)

    @classmethod
    def unpack(cls, data: bytes) -> bytes:
        return zlib.decompress(data)


register_resource_class(CompressedRef)


def packing_class(packing: str) -> type[Ref[Any]]:
    """The Ref subclass that packs objects with `packing`.

    Raises:
        UnknownTypeError: No Ref subclass of this process has that packing.
    """
    cls = _packings.get(packing)
    if cls is None:
        raise UnknownTypeError(
            f"No Ref subclass with packing = {packing!r} is defined in this process. Import "
            "the module that defines it (with its key, for encryption).",
            type_name=packing,
        )
    return cls


def parse_packed_header(data: bytes) -> tuple[dict[str, Any], int]:
    """Returns the header of a packed object and the offset of its payload."""
    newline = data.index(b"\n")
    header = json.loads(data[len(PACKED_PREFIX) : newline])
    if not isinstance(header, dict):
        raise ValueError("packed header is not a JSON object")
    return header, newline + 1


def open_object(data: bytes, digest: str, location: str) -> bytes:
    """Returns the token stream inside stored bytes, unpacking them if needed.

    Raises:
        CorruptObjectError: A packed header that cannot be read.
        UnknownTypeError: The packing's Ref class is not defined in this process.
    """
    if not data.startswith(PACKED_PREFIX):
        return data
    try:
        header, offset = parse_packed_header(data)
        packing = header["packing"]
    except (ValueError, KeyError) as err:
        raise CorruptObjectError(
            f"Object {digest} at {location} has an unreadable packing header ({err}).",
            digest=digest,
            location=location,
        ) from err
    cls = _packings.get(packing)
    if cls is None:
        raise UnknownTypeError(
            f"Object {digest} at {location} is packed with {packing!r}, and no Ref "
            f"subclass with packing = {packing!r} is defined in this process. Import the "
            "module that defines it (with its key, for encryption).",
            type_name=str(packing),
        )
    try:
        return cls.unpack(data[offset:])
    except Exception as err:
        raise CorruptObjectError(
            f"Object {digest} at {location} could not be unpacked with {packing!r}: {err}",
            digest=digest,
            location=location,
        ) from err
