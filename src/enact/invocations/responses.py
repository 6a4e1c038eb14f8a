"""Responses as the engine reads and writes them.

Replays read the same recorded responses again and again (answering input
requests one at a time replays every earlier child per answer), so the
engine decodes each response once per store and keeps it. What it keeps is
never handed to user code: outputs that are not immutable are checked out
fresh for the caller.
"""

from __future__ import annotations

from typing import Any, Final

from enact.encoding import RawResource, decode_raw, encode
from enact.errors import InvocationError
from enact.invocations.records import Output, Response
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
        # Most responses a replay reads are a leaf call's: read without the decoder.
        tokens = store.read_tokens(ref)
        response = _leaf_response(tokens) or store.decode_tokens(ref, tokens)
        if not isinstance(response, Response):
            raise InvocationError(
                f"Object {ref.digest} is a {type(response).__name__}, not an "
                "invocation response: the invocation that points at it is damaged."
            )
        _remember_response(cache, ref.digest, response)
    return response


def holds_output(store: Store, ref: Ref[Response]) -> bool:
    """Whether the response `ref` points to records an output, read without its classes.

    For readers that only need to know that a call finished (the search for
    pending input requests) when `read_response` cannot decode its output: a
    class renamed or changed since the call returned.
    """
    raw = decode_raw(store.read_tokens(ref))
    return isinstance(raw, RawResource) and raw.fields.get("output") is not None


def _leaf_response(tokens: bytes) -> Response | None:
    """The response `tokens` spell if it is a leaf call's with an output of a plain str,
    a non-negative int or None (no children, nothing raised), else None (then the
    decoder reads it, to the same value).

    Such a response's tokens are the same around its output's value (`_leaf_frame`):
    checking that and reading one primitive token costs a third of decoding it.
    """
    head, tail = _leaf_frames[0] if _leaf_frames else _leaf_frame()
    if not (tokens.startswith(head) and tokens.endswith(tail)):
        return None
    token = tokens[len(head) : len(tokens) - len(tail)]
    value: Any
    if token.startswith(b"s'"):
        # Plain text only: one quote at the end, no escapes (else the decoder's).
        if token.find(b"'", 2) != len(token) - 1 or token.find(b"\\") >= 0:
            return None
        try:
            value = token[2:-1].decode("utf-8")
        except UnicodeDecodeError:
            return None  # the decoder says what is wrong with it
    elif token.startswith(b"i") and 1 < len(token) < 19 and token[1:].isdigit():
        value = int(token[1:])
    elif token == b"n":
        value = None
    else:
        return None
    # Made by their constructors (enact's own classes, which do nothing else): half
    # the cost of `enact.resources.build`.
    return Response(Output(value), None, False, [])


_leaf_frames: list[tuple[bytes, bytes]] = []


def _leaf_frame() -> tuple[bytes, bytes]:
    """The tokens of a leaf call's response before and after its output's value token."""
    value = "enact leaf response"
    tokens = encode(Response(Output(value), None, False, []))[0]
    head, tail = tokens.split(b"s'" + value.encode("ascii") + b"'")
    _leaf_frames.append((head, tail))
    return head, tail


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
