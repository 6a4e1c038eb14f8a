"""White-box tests of enact.encoding: its fast paths against the general walk it shortcuts.

The fast writers (recursive speller, per-class spellers, flat lists and dicts)
and the per-class regex of the decoder must give exactly what the general walk
and the token loop give, on values large and deep enough to reach them.
"""

from __future__ import annotations

import dataclasses
import linecache
import pathlib
import traceback
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enact
import enact.encoding
from enact.encoding import DecodeError, decode, decode_raw, encode, scan_links
from enact.encoding._declared import declared
from enact.encoding._reader import _decode
from enact.encoding._spell import speller_for
from enact.encoding._writer import walk
from enact.registry import lookup_class


@enact.register
@dataclasses.dataclass
class Node(enact.Resource):
    label: enact.FieldValue
    child: enact.FieldValue


@enact.register
@dataclasses.dataclass
class Scored(enact.Resource):
    """Fields whose annotation gives their speller a branch of its own (bool, float)."""

    flag: bool
    maybe: float | None
    score: float


text = st.text(st.characters(exclude_categories=()), max_size=8)
ascii_text = st.text(st.characters(max_codepoint=0x7E, min_codepoint=0x20), max_size=8)
refs = st.text("0123456789abcdef", min_size=64, max_size=64).map(enact.Ref.from_digest)
# Registered classes as values (an input request holds its requested type): a resource
# class and wrapper classes.
classes = st.sampled_from([Node, enact.TupleWrapper, enact.SetWrapper, enact.FrozenSetWrapper])
leaves = (
    st.none() | st.booleans() | st.integers() | st.floats() | text | ascii_text | refs | classes
)
homogeneous_lists = (
    st.lists(st.integers(), min_size=9, max_size=40)
    | st.lists(st.floats(), min_size=9, max_size=40)
    | st.lists(ascii_text, min_size=9, max_size=40)
    | st.lists(text, min_size=9, max_size=40)
)
homogeneous_dicts = st.dictionaries(
    ascii_text, st.integers(), min_size=9, max_size=30
) | st.dictionaries(text, ascii_text | text, min_size=9, max_size=30)
values = st.recursive(
    leaves | homogeneous_lists | homogeneous_dicts | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(text, children, max_size=12)
        | st.builds(Node, children, children)
        | st.builds(Scored, st.booleans(), st.floats() | st.none(), st.floats())
    ),
    max_leaves=60,
)


def nest(value: Any, depth: int, kind: int) -> Any:
    """`value` inside `depth` containers: lists, dicts or resources, by `kind`."""
    for level in range(depth):
        choice = (kind + level) % 3
        if choice == 0:
            value = [value]
        elif choice == 1:
            value = {"k": value}
        else:
            value = Node(level, value)
    return value


deep_values = st.builds(nest, values, st.integers(0, 40), st.integers(0, 2))


@settings(max_examples=300)
@given(values | deep_values)
def test_fast_writers_give_the_bytes_of_the_general_walk(value: Any) -> None:
    """encode (fast paths first) and the general walk give identical bytes and links."""
    assert encode(value) == walk(value)


@settings(max_examples=200)
@given(values, values, values)
def test_fields_holding_other_than_their_annotation_are_written_alike(
    flag: Any, maybe: Any, score: Any
) -> None:
    """A field annotated bool or float that holds something else (an int, a list, a
    resource) takes the other branches of the generated speller, with the same bytes."""
    value = Scored(flag, maybe, score)
    assert encode(value) == walk(value)
    assert encode(Scored(1, 2, [-0.0, float("nan")])) == walk(Scored(1, 2, [-0.0, float("nan")]))


@settings(max_examples=300)
@given(values | deep_values)
def test_per_class_regex_reads_what_the_token_loop_reads(value: Any) -> None:
    """decode (per-class regex first) and the plain token loop read the same value back."""
    tokens, links = encode(value)
    fast, slow = decode(tokens), _decode(tokens)
    assert encode(fast) == encode(slow) == (tokens, links)
    assert scan_links(tokens) == links


@given(st.lists(st.integers(), min_size=9, max_size=200), st.integers(9, 200))
def test_long_containers_reach_the_flat_paths(items: list[int], size: int) -> None:
    """Long homogeneous lists and dicts take the flat writers and still match the walk."""
    mapping = {f"k{i}": str(i) for i in range(size)}
    for value in (items, mapping, {"a": items}, Node(items, mapping)):
        assert encode(value) == walk(value)
        assert decode(encode(value)[0]) == value


def test_a_run_of_one_resource_type_in_a_list_reads_back_whole() -> None:
    """The decoder reads on through a list's resources of one type (a response's children)
    without the token loop; one that is not flat, another type and a plain value in
    between end the run, and everything reads back in order."""
    ref = enact.Ref.from_digest("ab" * 32)
    items = [
        Node(1, "a"),
        Node(2, ref),
        Node(3, [Node(4, "c")]),
        Node(5, "d"),
        Node(6, None),
        Scored(True, None, 1.0),
        7,
        Node(8, "e"),
    ]
    for value in (items, {"k": items}, Node(items, items[:2]), [items, items]):
        tokens, links = encode(value)
        assert decode(tokens) == value
        assert encode(decode(tokens)) == (tokens, links)
    assert decode(encode([Node(i, str(i)) for i in range(500)])[0])[499] == Node(499, "499")


@enact.register
@dataclasses.dataclass
class Link(enact.Resource):
    """One field: a run of these is a run of resources of refs only."""

    to: enact.FieldValue


@enact.register
@dataclasses.dataclass
class Triple(enact.Resource):
    a: enact.FieldValue
    b: enact.FieldValue
    c: enact.FieldValue


def _without_ref_runs(monkeypatch: pytest.MonkeyPatch, tokens: bytes) -> Any:
    """What the decoder reads from `tokens` without its run of refs-only items."""
    with monkeypatch.context() as patched:
        patched.setattr(
            "enact.encoding._reader.flat_ref_run", lambda info, head, data, start: ([], start)
        )
        try:
            return decode(tokens)
        except DecodeError as err:
            return type(err)


ref_fields = st.one_of(refs, refs, refs, st.none(), ascii_text, st.integers())


@settings(max_examples=200)
@given(
    st.lists(
        st.one_of(
            st.builds(Node, ref_fields, ref_fields),
            st.builds(Link, ref_fields),
            st.builds(Triple, refs, refs, ref_fields),
        ),
        max_size=30,
    )
)
def test_runs_of_refs_only_read_what_the_general_reader_reads(items: list[Any]) -> None:
    """Lists of resources whose fields are all plain refs (a response's children) are read
    on without a regex per item; mixed with other items, types and fields, every list
    reads back as the general reader reads it, and spells the same bytes again."""
    tokens, links = encode(items)
    assert decode(tokens) == items
    assert _decode(tokens) == items
    assert encode(decode(tokens)) == (tokens, links)


compressed_refs: st.SearchStrategy[Any] = st.text("0123456789abcdef", min_size=64, max_size=64).map(
    enact.CompressedRef.from_digest
)
row_fields = st.one_of(refs, refs, refs, refs, compressed_refs, st.none(), ascii_text)


def _rows_of(cls: type, fields: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    count = len(dataclasses.fields(cls))
    return st.lists(st.builds(cls, *[fields] * count), min_size=9, max_size=40)


@settings(max_examples=200)
@given(
    st.sampled_from([Node, Triple, Link]).flatmap(
        lambda cls: _rows_of(cls, refs) | _rows_of(cls, row_fields)
    )
)
def test_long_lists_of_resources_of_refs_only_spell_as_the_walk_does(items: list[Any]) -> None:
    """A long list of one class whose fields all hold plain refs (a response's children)
    is spelled column by column; with a field that holds anything else (another Ref
    class, None, text) the list goes item by item. Both give the walk's tokens and links,
    in token order."""
    assert encode(items) == walk(items)
    assert encode({"children": items, "n": 1}) == walk({"children": items, "n": 1})


def test_a_run_of_refs_only_stops_at_a_digest_spelled_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An item of a run whose digest is not lower-case hex, or is cut short, is left to
    the general reader: the list reads as it reads without the run (the same value, or
    the same error), whichever item is damaged."""
    digests = [(f"{i:02x}" + "c0ffee" * 11)[:64] for i in range(12)]
    items = [Node(enact.Ref.from_digest(d), enact.Ref.from_digest(d[::-1])) for d in digests]
    tokens, _ = encode(items)
    assert decode(tokens) == items
    cases = [(i, digest) for i in (0, 1, 5, 11) for digest in (digests[i], digests[i][::-1])]
    for i, digest in cases:
        key = b"'label'" if digest == digests[i] else b"'child'"
        at = tokens.rfind(key, 0, tokens.index(digest.encode()))  # the digest's field name
        for damaged in (
            tokens.replace(digest.encode(), digest.upper().encode(), 1),
            tokens.replace(digest.encode(), digest[:-1].encode(), 1),
            tokens.replace(digest.encode(), b"g" + digest[1:].encode(), 1),
            tokens.replace(digest.encode() + b"']", digest.encode() + b"'x]", 1),
            tokens[:at] + key.upper() + tokens[at + len(key) :],
        ):
            assert damaged != tokens
            try:
                read: Any = decode(damaged)
            except DecodeError as err:
                read = type(err)
            assert read == _without_ref_runs(monkeypatch, damaged)
            if not isinstance(read, type):
                assert [item for item in read if item in items] == items[:i] + items[i + 1 :]


def test_a_run_of_refs_only_reads_thousands_of_children() -> None:
    """A response's children, as many as a long run makes, come back whole and in order."""
    items = [Node(enact.Ref.from_digest(f"{i:064x}"), enact.Ref.from_digest("ab" * 32))
             for i in range(5000)]  # fmt: skip
    tokens, links = encode({"children": items, "after": [Link(items[0].label), 3]})
    read = decode(tokens)
    assert read["children"] == items
    assert read["after"] == [Link(items[0].label), 3]
    assert encode(read) == (tokens, links)
    one, two = items[1].label, items[2].label
    mixed = [Node(one, two)] * 3 + [Node(one, "text"), Node(two, None), Node(two, one)]
    mixed += [Triple(one, two, one), Triple(one, two, "x"), Triple(two, two, two), Link(one)]
    assert decode(encode(mixed)[0]) == mixed


def test_deep_nesting_beyond_the_speller_depth() -> None:
    """Values nested far past the recursive speller's depth encode as the walk does."""
    for kind in range(3):
        value = nest([1, "x", None], 2000, kind)
        assert encode(value) == walk(value)
        assert encode(decode(encode(value)[0])) == encode(value)


def test_generated_spellers_show_their_source_in_tracebacks() -> None:
    """A per-class speller is registered with linecache under a readable file name."""
    info = lookup_class(Node)
    assert info is not None
    speller = speller_for(info)
    filename = speller.__code__.co_filename
    assert "Node" in filename
    assert linecache.getline(filename, 1).startswith("def speller(")

    broken = Node.__new__(Node)
    broken.__dict__.update(label=1, child=None)
    del broken.__dict__["child"]
    with pytest.raises(AttributeError) as caught:
        speller(broken, [], 0)
    shown = "".join(traceback.format_tb(caught.value.__traceback__))
    assert "x = v.child" in shown


def test_the_codec_names_no_class_of_the_layers_above() -> None:
    """The plain Ref and the Output box reach the codec by declaration only."""
    assert declared.ref_class is enact.Ref
    assert [info.name for _, info in declared.boxes] == ["enact.invocations.Output"]
    package = pathlib.Path(enact.encoding.__file__).parent
    for module in package.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        for banned in ("enact.invocations.Output", "enact.references.Ref", "registry._"):
            assert banned not in source, (module.name, banned)
        for layer_above in ("from enact.invocations", "from enact.refs", "from enact.stores"):
            assert layer_above not in source, (module.name, layer_above)


@pytest.mark.parametrize(
    "data",
    [
        b"res[",
        b"res[{}'digest's'",
        b"res[{\"name\": \"enact.references.Ref\"}'digest's'abc']",
        b'res[{"name": "enact.references.Ref"}\'x\'i1]',
        b"s'unterminated",
        b"b99:x",
        b"btoo",
        b"seq[s",
        b"type[",
        b"\xff'",
        b"s\xff",
    ],
)
def test_readers_raise_only_decode_errors(data: bytes) -> None:
    """scan_links, decode and decode_raw raise DecodeError (an EnactError) on damaged bytes."""
    for read in (scan_links, decode, decode_raw):
        try:
            read(data)
        except DecodeError as err:
            assert isinstance(err, enact.EnactError)
        except enact.UnknownTypeError:
            assert read is decode
    with pytest.raises(DecodeError):
        scan_links(data) if b"digest" in data or b"'x'" in data else decode_raw(data)


@settings(max_examples=200)
@given(st.binary(max_size=60))
def test_scan_links_raises_one_error_type_on_any_bytes(data: bytes) -> None:
    """On arbitrary bytes, scan_links returns well-formed digests or raises DecodeError."""
    try:
        links = scan_links(b"res[" + data)
    except DecodeError:
        return
    assert all(len(link) == 64 for link in links)
