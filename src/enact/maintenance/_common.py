"""What the maintenance operations share: argument types, batching, error messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeAlias, TypeVar

from enact.digests import check_digest
from enact.errors import NotFoundError
from enact.refs import Ref
from enact.stores.base import PackedResource, batches
from enact.stores.store import Store

T = TypeVar("T")

Progress: TypeAlias = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called after each batch of a maintenance run."""

Roots: TypeAlias = Ref[Any] | str | Iterable[Ref[Any] | str]
"""A ref, a hex digest, or an iterable of them."""

BATCH_SIZE: Final = 1000
"""Objects per backend call."""

_BATCH_BYTES: Final = 32 * 1024 * 1024


def root_digests(roots: Roots) -> list[str]:
    """Returns the digests of `roots`, checking strings are digests."""
    if isinstance(roots, Ref):
        return [roots.digest]
    if isinstance(roots, str):
        return [check_digest(roots)]
    return [root.digest if isinstance(root, Ref) else check_digest(root) for root in roots]


def missing_error(store: Store, digest: str, parent: str, action: str) -> NotFoundError:
    """The error for an object of a closure that `store` lacks (`parent` links to it)."""
    location = store.backend.locate(digest)
    via = f", which {parent} links to," if parent else ""
    return NotFoundError(
        f"Cannot {action}: object {digest}{via} is not in the source store ({location}). "
        "Run enact.verify on the source to find every dangling reference.",
        digest=digest,
        location=location,
    )


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yields lists of up to `size` items."""
    return batches(items, size)


def by_size(batch: list[PackedResource]) -> Iterator[list[PackedResource]]:
    """Splits a batch so that no single transaction carries more than ~32 MB."""
    return batches(batch, None, size=_stored_size, max_size=_BATCH_BYTES)


def _stored_size(packed: PackedResource) -> int:
    return len(packed.data)


def children_first(graph: dict[str, tuple[str, ...]]) -> list[str]:
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
