"""Digest format v1 (docs/FORMAT.md): golden vectors, a reference encoder, properties."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import golden_vectors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enact

HELPERS = pathlib.Path(__file__).parent / "helpers"

# A reference encoder written from FORMAT.md alone, to cross-check enact's. -------


@contextlib.contextmanager
def _unlimited_int_digits() -> Iterator[None]:
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(previous)


def reference_quote(text: str) -> str:
    """Quotes `text` following the "Quoted strings" rules of FORMAT.md."""
    quote = '"' if "'" in text and '"' not in text else "'"
    out = [quote]
    named = {"\\": "\\\\", quote: "\\" + quote, "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    for char in text:
        point = ord(char)
        if char in named:
            out.append(named[char])
        elif point < 0x20 or point == 0x7F:
            out.append(f"\\x{point:02x}")
        elif 0xD800 <= point <= 0xDFFF:
            out.append(f"\\u{point:04x}")
        else:
            out.append(char)
    out.append(quote)
    return "".join(out)


def reference_tokens(value: Any) -> bytes:
    """Returns the token stream of a primitive, list or dict, following FORMAT.md."""
    if value is True or value is False:
        return b"T" if value else b"F"
    if type(value) is int:
        with _unlimited_int_digits():
            return b"i" + str(value).encode()
    if type(value) is float:
        return b"f" + repr(value).encode()
    if type(value) is str:
        return b"s" + reference_quote(value).encode("utf-8")
    if type(value) is bytes:
        return b"b%d:" % len(value) + value
    if value is None:
        return b"n"
    if type(value) is list:
        return b"seq[" + b"".join(reference_tokens(item) for item in value) + b"]"
    if type(value) is dict:
        body = b"".join(
            reference_quote(key).encode("utf-8") + reference_tokens(value[key])
            for key in sorted(value)
        )
        return b"map[" + body + b"]"
    raise TypeError(type(value))


_WRAPPER_NAMES = {
    bool: "Bool",
    int: "Int",
    float: "Float",
    str: "Str",
    bytes: "Bytes",
    type(None): "None",
    list: "List",
    dict: "Dict",
}


def reference_commit_digest(value: Any) -> str:
    """Returns the digest FORMAT.md gives ``commit(value)`` for a bare primitive, list or dict."""
    name = _WRAPPER_NAMES[type(value)]
    type_id = json.dumps({"name": f"enact.resource_registry.{name}Wrapper"})
    tokens = b"res[" + type_id.encode() + b"'wrapped'" + reference_tokens(value) + b"]"
    return hashlib.sha256(tokens).hexdigest()


# Strategies ----------------------------------------------------------------------

all_text = st.text(st.characters(exclude_categories=()), max_size=12)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | all_text
    | st.text(max_size=12)
    | st.binary(max_size=12)
)
# Long homogeneous containers and deep nesting reach the encoder's fast paths
# (flat lists and dicts above 8 items, the speller's depth limit of 8).
long_containers = (
    st.lists(st.integers(), min_size=9, max_size=30)
    | st.lists(st.floats(), min_size=9, max_size=30)
    | st.lists(all_text | st.text(max_size=6), min_size=9, max_size=30)
    | st.dictionaries(
        st.text(max_size=6), st.integers() | st.text(max_size=6), min_size=9, max_size=20
    )
)
field_values = st.recursive(
    leaves | long_containers,
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(all_text, children, max_size=12)
        | children.map(lambda value: [[[[[[[[[[value]]]]]]]]]])
    ),
    max_leaves=40,
)


def digest_of(value: Any) -> str:
    with enact.InMemoryStore():
        return enact.commit(value).digest


def strictly_equal(a: Any, b: Any) -> bool:
    """Like ``==``, but True is not 1, 1.0 is not 1, and -0.0 and nan compare by repr."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[key], b[key]) for key in a)
    if isinstance(a, set | frozenset):
        return a == b and {type(item) for item in a} == {type(item) for item in b}
    return bool(a == b)


def run_helper(script: str, *args: str, stdin: bytes = b"", hash_seed: str = "0") -> Any:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, str(HELPERS / script), *args],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


# Golden vectors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "expected"),
    [(build, expected) for _, build, expected in golden_vectors.VECTORS],
    ids=[label for label, _, _ in golden_vectors.VECTORS],
)
def test_golden_vector(build: Callable[[], Any], expected: str) -> None:
    """Each golden vector of FORMAT.md commits to its documented digest."""
    assert digest_of(build()) == expected


def test_spec_type_id() -> None:
    """The spec's MyResource has the type id the spec prints."""
    assert golden_vectors.MyResource.type_id() == golden_vectors.MY_RESOURCE_TYPE_ID


@pytest.mark.parametrize("hash_seed", ["1", "4242"])
def test_golden_vectors_in_fresh_processes(hash_seed: str) -> None:
    """A fresh process with another PYTHONHASHSEED computes the same golden digests."""
    digests = run_helper("digest_worker.py", "vectors", hash_seed=hash_seed)
    assert digests == {label: expected for label, _, expected in golden_vectors.VECTORS}


# Properties ----------------------------------------------------------------------


@given(field_values)
def test_digest_follows_the_format(value: Any) -> None:
    """For any nested primitive value, the digest is the SHA-256 FORMAT.md specifies."""
    assert digest_of(value) == reference_commit_digest(value)


@given(field_values)
def test_checkout_of_commit_is_the_value(value: Any) -> None:
    """checkout(commit(x)) equals x, with the same types at every position."""
    with enact.InMemoryStore():
        ref = enact.commit(value)
        result = ref()
        assert strictly_equal(result, value)
        assert enact.commit(result) == ref


def reference_resource_tokens(resource: golden_vectors.LinkedList) -> bytes:
    """Token stream of the spec's LinkedList per FORMAT.md (fields sorted: next, value)."""
    if resource.next is None:
        next_tokens = b"n"
    else:
        ref_id = json.dumps({"name": "enact.references.Ref"}).encode()
        next_tokens = b"res[" + ref_id + b"'digest's'" + resource.next.digest.encode() + b"']"
    type_id = golden_vectors.LinkedList.type_id().encode()
    body = b"'next'" + next_tokens + b"'value'" + reference_tokens(resource.value)
    return b"res[" + type_id + body + b"]"


digests = st.text("0123456789abcdef", min_size=64, max_size=64)
linked_lists = st.builds(
    golden_vectors.LinkedList,
    value=field_values,
    next=st.none() | digests.map(enact.Ref.from_digest),
)


@given(linked_lists)
def test_resource_digest_follows_the_format(resource: golden_vectors.LinkedList) -> None:
    """A resource holding any field value and a ref or None hashes and round-trips per spec."""
    expected = hashlib.sha256(reference_resource_tokens(resource)).hexdigest()
    with enact.InMemoryStore():
        ref = enact.commit(resource)
        result = ref()
    assert ref.digest == expected
    assert type(result) is golden_vectors.LinkedList
    assert strictly_equal(result.value, resource.value)
    assert result.next == resource.next
    assert type(result.next) is type(resource.next)


@given(st.dictionaries(all_text, field_values, min_size=2, max_size=6), st.randoms())
def test_dict_order_never_changes_a_digest(mapping: dict[str, Any], random: Any) -> None:
    """Inserting the same items into a dict in another order gives the same digest."""
    items = list(mapping.items())
    random.shuffle(items)
    assert digest_of(dict(items)) == digest_of(mapping)
    assert digest_of({"outer": dict(reversed(items))}) == digest_of({"outer": mapping})


def test_true_one_float_str_and_bytes_differ() -> None:
    """True, 1, 1.0, '1' and b'1' get five different digests, alone, in lists and in fields."""
    values = [True, 1, 1.0, "1", b"1"]
    for wrap in (
        lambda v: v,
        lambda v: [v],
        lambda v: {"k": v},
        lambda v: golden_vectors.LinkedList(value=v),
    ):
        digests = {digest_of(wrap(value)) for value in values}
        assert len(digests) == len(values)
    assert digest_of(False) != digest_of(0)
    assert digest_of(0.0) != digest_of(-0.0)


def test_bytes_are_length_delimited() -> None:
    """[b'x', None] and [b'xn'] differ (a collision of the original format)."""
    assert digest_of([b"x", None]) != digest_of([b"xn"])
    assert digest_of([b"", b"a"]) != digest_of([b"a", b""])


@pytest.mark.parametrize(
    "value", [10**5000 + 7, -(10**4301) - 3, 2**20000], ids=["1e5000", "-1e4301", "2^20000"]
)
def test_ints_beyond_the_str_digit_limit(value: int) -> None:
    """Ints with more digits than Python's int-to-str limit commit, check out and hash per spec."""
    limit = sys.get_int_max_str_digits()
    with enact.InMemoryStore():
        ref = enact.commit([value, {"n": value}])
        assert ref() == [value, {"n": value}]
        assert enact.commit(value)() == value
        node = golden_vectors.LinkedList(value)
        node_ref = enact.commit(node)
        assert node_ref().value == value
    assert ref.digest == reference_commit_digest([value, {"n": value}])
    assert node_ref.digest == hashlib.sha256(reference_resource_tokens(node)).hexdigest()
    assert sys.get_int_max_str_digits() == limit


def test_ints_under_a_lowered_str_digit_limit() -> None:
    """A lowered sys.set_int_max_str_digits does not break commit, checkout or digests."""
    value = 10**2000 + 7
    samples: list[Any] = [
        value,
        [value],
        {"n": value},
        [value] * 10,
        golden_vectors.LinkedList(value),
    ]
    expected = [digest_of(sample) for sample in samples]
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1000)
    try:
        with enact.InMemoryStore():
            for sample, digest in zip(samples, expected, strict=True):
                ref = enact.commit(sample)
                assert ref.digest == digest
                assert ref() == sample
    finally:
        sys.set_int_max_str_digits(previous)


def test_long_homogeneous_lists_and_dicts_follow_the_format() -> None:
    """Long lists and dicts of one primitive type hash as the format says."""
    samples: list[Any] = [
        list(range(-50, 50)),
        [float(i) / 3 for i in range(20)],
        [str(i) for i in range(20)],
        ["é" * i for i in range(20)],
        {f"k{i}": i for i in range(20)},
        {f"k{i}": str(i) for i in range(20)},
        {f"k{i}": "ü" for i in range(20)},
        [10**5000, *range(10)],
    ]
    for value in samples:
        assert digest_of(value) == reference_commit_digest(value)


@given(all_text)
def test_strings_of_any_code_points_round_trip(text: str) -> None:
    """Non-ASCII, control and lone surrogate characters round-trip and hash per spec."""
    with enact.InMemoryStore():
        ref = enact.commit({text: [text]})
        assert ref() == {text: [text]}
    assert ref.digest == reference_commit_digest({text: [text]})


def test_ascii_quoting_is_python_repr() -> None:
    """The reference quoting agrees with repr() on ASCII text, as FORMAT.md states."""
    for text in ["", "a'b", 'a"b', "a'\"b", "\\", "\x00\x1f\x7f\n\t\r", "plain"]:
        assert reference_quote(text) == repr(text)


def _with_one(text: str, char: str, where: int) -> str:
    where %= len(text) + 1
    return text[:where] + char + text[where:]


# Plain long text (digests, base64), alone or with one character that needs quoting
# otherwise, anywhere in it.
long_ascii = st.builds(
    _with_one,
    st.text("abcXYZ019+/=-_ .,:;", min_size=256, max_size=2000),
    st.sampled_from(["", "'", '"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "'\""]),
    st.integers(0, 2000),
)


@settings(max_examples=200)
@given(long_ascii)
def test_long_ascii_strings_follow_the_format(text: str) -> None:
    """Long ASCII text (quoted without repr's scan when nothing needs escaping) is spelled
    as FORMAT.md says, alone, in a dict and in a resource field."""
    assert digest_of(text) == reference_commit_digest(text)
    assert digest_of({"k": text}) == reference_commit_digest({"k": text})
    node = golden_vectors.LinkedList(text, None)
    assert digest_of(node) == hashlib.sha256(reference_resource_tokens(node)).hexdigest()


cross_process_values = st.lists(
    field_values
    | st.sets(all_text, max_size=6)
    | st.frozensets(st.integers() | st.text(max_size=5), max_size=6)
    | st.tuples(field_values, field_values),
    min_size=1,
    max_size=12,
)


@settings(max_examples=3, deadline=None)
@given(cross_process_values, st.integers(0, 2**32 - 1))
def test_digests_are_stable_across_processes_and_hash_seeds(values: list[Any], seed: int) -> None:
    """A fresh process with a random PYTHONHASHSEED computes the same digests, sets included."""
    expected = [digest_of(value) for value in values]
    actual = run_helper(
        "digest_worker.py", "values", stdin=pickle.dumps(values), hash_seed=str(seed)
    )
    assert actual == expected


def test_set_digests_ignore_insertion_order_and_hash_seed() -> None:
    """A set's digest depends neither on the order of insertion nor on PYTHONHASHSEED."""
    words = [f"word-{i}-é" for i in range(60)]
    forwards, backwards = set(words), set(reversed(words))
    assert digest_of(forwards) == digest_of(backwards)
    assert digest_of({"s": forwards}) == digest_of({"s": backwards})
    values = [forwards, frozenset(words), {"nested": [forwards]}]
    expected = [digest_of(value) for value in values]
    for seed in ("1", "2"):
        actual = run_helper(
            "digest_worker.py", "values", stdin=pickle.dumps(values), hash_seed=seed
        )
        assert actual == expected
    assert digest_of(forwards) != digest_of(frozenset(words))
    assert digest_of(forwards) != digest_of(sorted(words))
