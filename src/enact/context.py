"""Which store is active: the ``with store:`` stack of the current thread or task.

The stack lives in a `contextvars.ContextVar`, so each thread and each asyncio
task sees its own ``with`` blocks, the same `Store` may be entered from many of
them at once, and nested or re-entered blocks unwind in order.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from enact.errors import NoActiveStoreError

if TYPE_CHECKING:
    from enact.stores.store import Store

_active: Final[ContextVar[tuple[Store, ...]]] = ContextVar("enact_active_stores", default=())


def current_store() -> Store:
    """Returns the innermost active store; raises `NoActiveStoreError` if none is."""
    stack = _active.get()
    if not stack:
        raise NoActiveStoreError(
            "No store is active: commit, checkout and invoke need one. Wrap the call in "
            "`with store:` (for example `with enact.InMemoryStore():` or "
            "`with enact.open_store('sqlite:///.enact/store.db'):`)."
        )
    return stack[-1]


def active_store() -> Store | None:
    """Returns the innermost active store, or None."""
    stack = _active.get()
    return stack[-1] if stack else None


def enter(store: Store) -> None:
    """Makes `store` the active store of the current context."""
    _active.set((*_active.get(), store))


def leave(store: Store) -> None:
    """Undoes the matching `enter`."""
    stack = _active.get()
    if not stack or stack[-1] is not store:
        raise RuntimeError(
            "Store contexts were left out of order: leave the innermost `with store:` block first."
        )
    _active.set(stack[:-1])
