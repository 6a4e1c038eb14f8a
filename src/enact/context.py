"""Which store is active: the ``with store:`` stack of the current thread or task.

The stack lives in a `contextvars.ContextVar`, so each thread and each asyncio
task sees its own ``with`` blocks, the same `Store` may be entered from many of
them at once, and nested or re-entered blocks unwind in order.

This module sits below refs and stores: it knows a store only as an
`ActiveStore` (what `Ref.checkout` and `Ref.modify` call), so it imports
neither. Code that needs the whole `enact.Store` uses
`enact.stores.store.current_store`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Final, Protocol

from enact.errors import NoActiveStoreError


class ActiveStore(Protocol):
    """What the layers below `enact.Store` need of the active store."""

    def commit(self, value: Any, ref_type: Any) -> Any:
        """Commits `value` and returns a ref of type `ref_type` to it."""

    def checkout(self, ref: Any) -> Any:
        """Returns fresh objects for the value `ref` points to."""


_active: Final[ContextVar[tuple[ActiveStore, ...]]] = ContextVar("enact_active_stores", default=())


def current_store() -> ActiveStore:
    """Returns the innermost active store; raises `NoActiveStoreError` if none is."""
    stack = _active.get()
    if not stack:
        raise NoActiveStoreError(
            "No store is active: commit, checkout and invoke need one. Wrap the call in "
            "`with store:` (for example `with enact.InMemoryStore():` or "
            "`with enact.open_store('sqlite:///.enact/store.db'):`)."
        )
    return stack[-1]


def active_store() -> ActiveStore | None:
    """Returns the innermost active store, or None."""
    stack = _active.get()
    return stack[-1] if stack else None


def enter(store: ActiveStore) -> None:
    """Makes `store` the active store of the current context."""
    _active.set((*_active.get(), store))


def leave(store: ActiveStore) -> None:
    """Undoes the matching `enter`."""
    stack = _active.get()
    if not stack or stack[-1] is not store:
        raise RuntimeError(
            "Store contexts were left out of order: leave the innermost `with store:` block first."
        )
    _active.set(stack[:-1])
