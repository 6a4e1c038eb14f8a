"""docs/FORMAT.md's journal-record vectors and stored form match what the code writes."""

from __future__ import annotations

import ast
import hashlib
import pathlib
import zlib
from typing import Any

import enact
from enact.invocations import Output

DOC = pathlib.Path(__file__).parents[1] / "docs" / "FORMAT.md"


def doc_vectors() -> list[tuple[str, bytes]]:
    """Returns the (digest, token stream) lines between the doc's vector markers."""
    text = DOC.read_text().split("<!-- vectors:begin -->")[1].split("<!-- vectors:end -->")[0]
    lines = [line for line in text.splitlines() if line and not line.startswith("```")]
    return [(line[:64], ast.literal_eval(line[65:])) for line in lines]


def test_doc_vectors_are_what_the_code_writes() -> None:
    """Each documented token stream hashes to its digest and is what commit stores."""
    with enact.InMemoryStore() as store:
        values: list[Any] = [Output(5), (1, "a"), {3, 1, 2}, [enact.commit(1, enact.CompressedRef)]]
        vectors = doc_vectors()
        assert len(vectors) == len(values)
        for (digest, tokens), value in zip(vectors, values, strict=True):
            assert hashlib.sha256(tokens).hexdigest() == digest
            ref = store.commit(value)
            assert (ref.digest, store.read_tokens(ref)) == (digest, tokens)


def test_doc_stored_form_of_a_compressed_ref() -> None:
    """A CompressedRef object is stored as pack: + JSON header + newline + zlib payload."""
    with enact.InMemoryStore() as store:
        ref = store.commit("hello", enact.CompressedRef)
        assert ref.digest in DOC.read_text()
        stored = store.backend.get(ref)
        assert stored is not None
        header = b'pack:{"links": [], "packing": "zlib"}\n'
        assert stored.data.startswith(header)
        assert zlib.decompress(stored.data[len(header) :]) == store.read_tokens(ref)
