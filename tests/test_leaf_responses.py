"""A leaf call's response is read without the decoder: to the same value, or not at all.

`enact.invocations.responses` reads the responses a replay meets most (a call
with no children that returned a plain str, int or None) by checking the
tokens around the output; every other response goes to the decoder. These
tests hold the two readers to the same result, on real SQLite files.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers.counting import counted_reads

import enact
from enact.encoding import decode, encode
from enact.invocations.records import Output, Response
from enact.invocations.responses import _leaf_response, read_response

VALUES: list[Any] = [
    "plain",
    "",
    "it's quoted",
    'a "double" quote',
    "back\\slash",
    "line\nbreak",
    "tab\tand nul \x00",
    "ünïcode ✓ 😀",
    0,
    7,
    10**17,
    10**18,
    10**40,
    -3,
    None,
    True,
    False,
    1.5,
    b"bytes",
    [1, 2],
    {"a": 1},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_leaf_response_reads_as_the_decoder_reads_it(value: Any) -> None:
    tokens = encode(Response(Output(value), None, False, []))[0]
    fast = _leaf_response(tokens)
    decoded = decode(tokens)
    if fast is not None:
        assert fast == decoded
        assert type(fast.output) is Output and type(fast.output.value) is type(value)
        assert fast.children == [] and fast.raised is None and fast.raised_here is False
    # The common outputs take the fast path; values with escapes or other types do not.
    plain_str = type(value) is str and value.isprintable() and not set(value) & {"'", "\\"}
    plain_int = type(value) is int and 0 <= value < 10**17
    assert (fast is not None) == (plain_str or plain_int or value is None)


def test_responses_that_are_not_a_leaf_calls_go_to_the_decoder() -> None:
    with enact.InMemoryStore():
        child = enact.Invocation(enact.commit("request"), enact.commit("response"))  # type: ignore[arg-type]
        others = [
            Response(None, None, False, []),
            Response(Output("x"), None, True, []),
            Response(Output("x"), enact.commit("error"), False, []),
            Response(Output("x"), None, False, [child]),
        ]
        for response in others:
            assert _leaf_response(encode(response)[0]) is None


def test_a_replay_reads_leaf_responses_from_disk_and_refuses_a_damaged_one(
    tmp_path: Path,
) -> None:
    """Read through the store (verified), a leaf response is the recorded one; a row whose
    bytes were changed is a corrupt object, not a different output."""

    @enact.register
    def leaf(i: int) -> str:
        return f"out {i}"

    @enact.register
    def root(n: int) -> list[str]:
        return [leaf(i) for i in range(n)]

    path = tmp_path / "store.db"
    with enact.SQLiteStore(path):
        recorded = enact.invoke(root, (3,))
        digest = enact.commit(recorded).digest
    with enact.SQLiteStore(path) as fresh:
        inv: enact.Invocation[list[str]] = enact.Ref.from_digest(digest)()
        responses = [read_response(fresh, child.response) for child in inv.get_children()]
        assert [r.output.value for r in responses if r.output] == ["out 0", "out 1", "out 2"]
        assert inv.rewind(0).replay().get_output() == ["out 0", "out 1", "out 2"]
        target = inv.get_child(1).response
    with sqlite3.connect(path) as raw:
        raw.execute(
            "UPDATE objects SET data = ? WHERE digest = ?",
            (encode(Response(Output("out X"), None, False, []))[0], bytes.fromhex(target.digest)),
        )
    with (
        enact.SQLiteStore(path) as damaged,
        pytest.raises(enact.CorruptObjectError, match=target.digest),
    ):
        read_response(damaged, target)


def test_a_response_too_large_for_the_cache_is_read_once(tmp_path: Path) -> None:
    """A response that is not a leaf call's and too large for the store's token cache
    (over 8 MB of tokens) is decoded from the tokens the leaf check read, not read from
    the backend a second time."""
    path = tmp_path / "store.db"
    large = Response(Output({"text": "x" * 9_000_000}), None, False, [])
    with enact.SQLiteStore(path) as store:
        ref: enact.Ref[Response] = enact.commit(large)
    store.close()
    backend, response = counted_reads(path, lambda fresh: read_response(fresh, ref))
    assert response.output is not None and len(response.output.value["text"]) == 9_000_000
    assert backend.single_reads == 1
