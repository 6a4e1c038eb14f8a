"""A cache of calls across runs: `CachePolicy`, `CacheEntry`, `cached_calls`.

Opt in per invokable, with ``@enact.register(cache=True)`` or
``@enact.register(cache=enact.CachePolicy(ttl=3600))``. A call of it whose
request digest (invokable, its fields, and input) was recorded before with
an output returns that output without running.

How it is stored, in the cache's store (the active store by default):

- ``enact/cache/<request digest>`` names a `CacheEntry`: the request, the
  response (output and children, exactly as journaled), the run that
  recorded it and when. The name keeps the response alive through gc;
  delete the names (``store.delete_names("enact/cache/")``) to empty the cache.

And in the active store, beside the journal of each run (`cached_calls` reads them):

- ``enact/cache-hits/<run id>/<path>`` (path as ``0.2.1``) names the
  `CacheEntry` that served the call (a hit);
- ``enact/cache-misses/<run id>/<path>`` names the entry that the call
  recorded when it ran (a miss: nothing was cached, or the entry had expired).

Digests do not change: a served call is journaled with the recorded response
itself, so a run's tree is the same whether a call came from the cache or
ran and returned the same output with the same children. Which calls were
served is a record beside the tree, like the run's other bookkeeping, not a
part of the content.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from enact.invocations.providers import CallSite
from enact.invocations.records import Request, Response
from enact.refs import Ref
from enact.resources import Resource, register_resource_class
from enact.stores.store import Store, current_store

CACHE_PREFIX: Final = "enact/cache/"
HITS_PREFIX: Final = "enact/cache-hits/"
MISSES_PREFIX: Final = "enact/cache-misses/"


@dataclasses.dataclass
class CacheEntry(Resource):
    """One cached call: what `CachePolicy` serves for a request digest.

    Attributes:
        request: The call's request.
        response: Its response (with an output), as the call journaled it.
        run_id: The run in which the call ran ("" outside runs).
        recorded_at: When it was recorded (seconds since the epoch, by the
            policy's clock).
    """

    __enact_type_name__ = "enact.invocations.CacheEntry"

    request: Ref[Request]
    response: Ref[Response]
    run_id: str
    recorded_at: float


register_resource_class(CacheEntry)


class CachePolicy:
    """Serves a call's recorded output when the same request was recorded before.

    Args:
        ttl: Seconds an entry is served after it was recorded (None: forever).
            An expired entry makes the call run again, and its new response
            replaces the entry.
        store: Where entries are kept (default: the active store of each
            call). A separate store is shared across projects or machines;
            served responses are copied into the active store.
        clock: Returns the current time in seconds (default `time.time`);
            tests pass their own.

    Only calls that return are cached; calls that raise (or ask for input)
    run every time.
    """

    def __init__(
        self,
        ttl: float | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}.")
        self.ttl = ttl
        self.store = store
        self.clock = clock

    def __repr__(self) -> str:
        return f"CachePolicy(ttl={self.ttl!r}, store={self.store!r})"

    def serve(self, site: CallSite) -> Ref[Response] | None:
        """The cached response for the call at `site`, or None (a miss, or expired)."""
        store = self.store or site.store
        found = store.get_name(CACHE_PREFIX + site.request_digest)
        if found is None:
            return None
        entry_ref: Ref[CacheEntry] = found
        entry = store.checkout(entry_ref)
        if not isinstance(entry, CacheEntry):
            return None  # a name someone else set: not ours to serve
        if self.ttl is not None and self.clock() - entry.recorded_at >= self.ttl:
            return None
        if store is not site.store:
            _copy(store, site.store, entry_ref)
        if site.run_id is not None:
            site.store.log_name(_mark(HITS_PREFIX, site.run_id, site.path), entry_ref.digest)
        return entry.response

    def record(self, site: CallSite, response: Ref[Response]) -> None:
        """Keeps the response of a call that ran, for later calls with the same request."""
        store = self.store or site.store
        if store is not site.store:
            _copy(site.store, store, response)
            _copy(site.store, store, Ref._unchecked(site.request_digest))
        entry = CacheEntry(
            Ref._unchecked(site.request_digest), response, site.run_id or "", self.clock()
        )
        entry_digest = store.commit(entry).digest
        if store is not site.store:
            _copy(store, site.store, Ref._unchecked(entry_digest))
        store.log_name(CACHE_PREFIX + site.request_digest, entry_digest)
        if site.run_id is not None:
            site.store.log_name(_mark(MISSES_PREFIX, site.run_id, site.path), entry_digest)


DEFAULT_POLICY: Final = CachePolicy()
"""What ``@enact.register(cache=True)`` uses: entries in the active store, kept forever."""


@dataclasses.dataclass(frozen=True)
class CachedCall:
    """A call of a run to an invokable with a cache: served from it, or run and recorded.

    Attributes:
        path: Child indices from the run's root to the call.
        served: True for a hit (the call did not run), False for a miss (it ran,
            and its response is now the entry).
        run_id: The run that recorded the response (for a miss, this run).
        recorded_at: When that response was recorded.
        request: The call's request.
        response: The response served or recorded.
    """

    path: tuple[int, ...]
    served: bool
    run_id: str
    recorded_at: float
    request: Ref[Request]
    response: Ref[Response]


def cached_calls(run_id: str, *, store: Store | None = None) -> list[CachedCall]:
    """The calls of run `run_id` that went through a cache, hits and misses, in path order.

    Calls that raised are not listed (they are never cached). In a replay, a
    call that came from the journal did not ask the cache.
    """
    store = store or current_store()
    found = [
        CachedCall(path, served, entry.run_id, entry.recorded_at, entry.request, entry.response)
        for prefix, served in ((HITS_PREFIX, True), (MISSES_PREFIX, False))
        for path, entry in _marks(store, prefix, run_id)
    ]
    return sorted(found, key=lambda call: call.path)


def served_calls(run_id: str, *, store: Store | None = None) -> dict[tuple[int, ...], str]:
    """The calls of run `run_id` served by the cache: path -> the run that recorded the entry.

    One range scan of ``enact/cache-hits/<run id>/`` (a run without hits
    costs only that), and one checkout per hit. An entry recorded outside a
    run maps to "".
    """
    store = store or current_store()
    return {path: entry.run_id for path, entry in _marks(store, HITS_PREFIX, run_id)}


def _marks(store: Store, prefix: str, run_id: str) -> Iterator[tuple[tuple[int, ...], CacheEntry]]:
    """The cache marks (hits or misses, by `prefix`) of run `run_id`: call path and entry."""
    run_prefix = f"{prefix}{run_id}/"
    for name, ref in store.list_names(run_prefix):
        entry = store.checkout(ref)
        if isinstance(entry, CacheEntry):
            text = name[len(run_prefix) :]
            yield () if text == "root" else tuple(int(part) for part in text.split(".")), entry


def _mark(prefix: str, run_id: str, path: tuple[int, ...]) -> str:
    return f"{prefix}{run_id}/{'.'.join(map(str, path)) or 'root'}"


def _copy(source: Store, target: Store, ref: Ref[Any]) -> None:
    from enact.maintenance import copy  # on first use: most runs never copy

    copy(ref, source, target)
