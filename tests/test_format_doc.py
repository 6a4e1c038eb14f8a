"""docs/FORMAT.md's journal-record vectors and stored form match what the code writes."""

from __future__ import annotations

import ast
import datetime
import decimal
import enum
import hashlib
import pathlib
import uuid
import zlib
import zoneinfo
from typing import Any, Literal

import enact
from enact.invocations import Output
from enact.invocations.requested_types import record_type

DOC = pathlib.Path(__file__).parents[1] / "docs" / "FORMAT.md"


def doc_vectors() -> list[tuple[str, bytes]]:
    """Returns the (digest, token stream) lines between the doc's vector markers."""
    text = DOC.read_text().split("<!-- vectors:begin -->")[1].split("<!-- vectors:end -->")[0]
    lines = [line for line in text.splitlines() if line and not line.startswith("```")]
    return [(line[:64], ast.literal_eval(line[65:])) for line in lines]


def standard_library_values() -> list[Any]:
    """The standard-library values of the doc's vectors, in their order."""
    color = enum.Enum("Color", ["RED"], module="__main__")  # type: ignore[misc]
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    return [
        moment,
        moment.replace(tzinfo=datetime.UTC),
        moment.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        datetime.date(2024, 1, 2),
        datetime.time(3, 4, 5, 6),
        datetime.timedelta(days=1, seconds=2, microseconds=3),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        decimal.Decimal("-1.50"),
        pathlib.PurePosixPath("/tmp/a"),
        pathlib.PureWindowsPath("C:/a/b"),
        color.RED,
    ]


def registered_function_in_main() -> Any:
    """The doc's `double`: a registered function of module ``__main__``."""

    def double(x: int) -> int:
        return 2 * x

    double.__module__ = "__main__"
    double.__qualname__ = "double"
    return enact.register(double)


def test_doc_vectors_are_what_the_code_writes() -> None:
    """Each documented token stream hashes to its digest and is what commit stores."""
    double = registered_function_in_main()
    with enact.InMemoryStore() as store:
        values: list[Any] = [
            Output(5),
            (1, "a"),
            {3, 1, 2},
            [enact.commit(1, enact.CompressedRef)],
            *standard_library_values(),
            [double],
            record_type(list[str] | None),
            record_type(Literal["yes", "no"]),
            {2: "b", 1: "a"},
            {(1, "x"): None, "a": 1},
        ]
        vectors = doc_vectors()
        assert len(vectors) == len(values)
        for (digest, tokens), value in zip(vectors, values, strict=True):
            assert hashlib.sha256(tokens).hexdigest() == digest
            ref = store.commit(value)
            assert (ref.digest, store.read_tokens(ref)) == (digest, tokens)
        assert store.checkout(store.commit([double])) == [double]  # the function itself


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
