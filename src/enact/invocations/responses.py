"""Responses as the engine reads and writes them.

Replays read the same recorded responses again and again (answering input
requests one at a time replays every earlier child per answer), so the
engine decodes each response once per store and keeps it. What it keeps is
never handed to user code: outputs that are not immutable are checked out
fresh for the caller.
"""

from __future__ import annotations

from typing import Final

from enact.errors import InvocationError
from enact.invocations.records import Response
from enact.refs import Ref
from enact.stores.store import Store

_MEMO: Final = "enact.invocations.responses"


_RESPONSE_CACHE_SIZE: Final = 200_000


def response_memo(store: Store) -> dict[str, Response]:
    """The decoded responses kept for `store` (read-only for callers)."""
    return store.memo(_MEMO)


def read_response(store: Store, ref: Ref[Response]) -> Response:
    """Returns the response `ref` points to, decoded once per store and kept.

    For the engine's own reads (matching, replay, answering), which never
    mutate what they get. Replays read the same responses again and again
    (an input request answered per step replays every earlier child), so
    each is decoded once. Mutable outputs handed to user code are checked
    out fresh.
    """
    cache = store.memo(_MEMO)
    response = cache.get(ref.digest)
    if response is None:
        response = store.checkout(ref)
        if not isinstance(response, Response):
            raise InvocationError(
                f"Object {ref.digest} is a {type(response).__name__}, not an "
                "invocation response: the invocation that points at it is damaged."
            )
        _remember_response(cache, ref.digest, response)
    return response


def commit_response(store: Store, response: Response) -> Ref[Response]:
    """Commits a response built by the engine and keeps it for `read_response`."""
    ref: Ref[Response] = store.commit(response)
    cache = store.memo(_MEMO)
    output = response.output
    if output is None or type(output.value) in IMMUTABLE_TYPES:
        _remember_response(cache, ref.digest, response)
    return ref


def _remember_response(cache: dict[str, Response], digest: str, response: Response) -> None:
    if len(cache) >= _RESPONSE_CACHE_SIZE:
        # Start over rather than evict one by one: other threads may be adding
        # to the same dict, and clear() is a single atomic step.
        cache.clear()
    cache[digest] = response


IMMUTABLE_TYPES: Final = frozenset({int, float, bool, str, bytes, type(None)})
