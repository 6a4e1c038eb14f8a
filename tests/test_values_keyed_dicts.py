"""Dicts whose keys are not all str: stored in a built-in wrapper, in one fixed order."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import itertools
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enact
from enact.encoding import DECODE, decode, encode, read_back
from enact.encoding._writer import walk


@enact.register
class Color(enum.Enum):
    """An enum used as a dict key."""

    RED = 1
    BLUE = 2


@enact.register
@dataclasses.dataclass(frozen=True)
class Point(enact.Resource):
    """A frozen (hashable) resource used as a dict key."""

    x: int
    y: int = 0


@enact.register
@dataclasses.dataclass(eq=False)
class ByIdentity(enact.Resource):
    """A resource hashed and compared by identity."""

    x: int


@enact.register
@dataclasses.dataclass
class Scores(enact.Resource):
    """A resource whose fields are dicts keyed by other types than str."""

    by_id: dict[int, str]
    by_color: dict[Color, list[int]]
    by_pair: dict[tuple[int, int], str] | None = None


KEYED_DICTS: list[dict[Any, Any]] = [
    {2: "b", 1: "a", 10: "c"},
    {(1, 2): 3, (0, 5): 4},
    {Color.BLUE: 1, Color.RED: 2},
    {uuid.UUID(int=5): 1, uuid.UUID(int=3): 2},
    {Point(2): "two", Point(1, 1): "one"},
    {"a": 1, 2: "b", (3,): None},
    {True: 1, None: 2, 1.5: 3},
    {datetime.date(2024, 1, 2): 1, datetime.date(2023, 1, 1): 2},
    {decimal.Decimal("1.50"): "x", decimal.Decimal("-2"): "y"},
    {frozenset({"x", "y"}): 1, b"k": 2},
    {1: {2: {(3, 4): [5]}}},
]


@pytest.mark.parametrize("value", KEYED_DICTS, ids=repr)
def test_keyed_dicts_round_trip(value: dict[Any, Any]) -> None:
    """Each dict checks out equal, with keys of the same types, in any resource or list."""
    with enact.InMemoryStore() as store:
        back = store.checkout(store.commit(value))
        assert back == value
        assert [type(key) for key in sorted(back, key=repr)] == [
            type(key) for key in sorted(value, key=repr)
        ]
        assert store.checkout(store.commit([value, {"s": value}])) == [value, {"s": value}]


@pytest.mark.parametrize("value", KEYED_DICTS, ids=repr)
def test_digest_is_independent_of_insertion_order(value: dict[Any, Any]) -> None:
    """Every insertion order gives the same digest and checks out in the same order."""
    with enact.InMemoryStore() as store:
        digests, orders = set(), set()
        for items in itertools.islice(itertools.permutations(value.items()), 24):
            ref = store.commit(dict(items))
            digests.add(ref.digest)
            orders.add(tuple(map(repr, store.checkout(ref))))
        assert len(digests) == 1 and len(orders) == 1


@pytest.mark.parametrize("value", KEYED_DICTS, ids=repr)
def test_fast_writers_agree_with_the_general_walk(value: dict[Any, Any]) -> None:
    """The spellers give the bytes of the reference walk, inside a resource too."""
    with enact.InMemoryStore():
        for v in (value, [value], Point(1, 2), {"k": value}):
            assert encode(v) == walk(v)
        scores = Scores({1: "a"}, {Color.RED: [1]}, {(1, 2): "p"})
        assert encode(scores) == walk(scores)


def test_checkout_order_is_sorted_for_keys_python_orders() -> None:
    """ints, tuples, dates come back sorted by key; mixed keys in their stored order."""
    with enact.InMemoryStore() as store:

        def order(value: dict[Any, Any]) -> list[Any]:
            return list(store.checkout(store.commit(value)))

        assert order({10: "c", 2: "b", 1: "a", 1.5: "d"}) == [1, 1.5, 2, 10]
        assert order({(2, 1): 0, (1, 9): 0, (1, 10): 0}) == [(1, 9), (1, 10), (2, 1)]
        assert order({datetime.date(2024, 1, 2): 1, datetime.date(2023, 5, 1): 2}) == [
            datetime.date(2023, 5, 1),
            datetime.date(2024, 1, 2),
        ]
        # Keys of several types: the stored order (by their token streams: i < s).
        assert order({"a": 1, 2: "b"}) == [2, "a"]
        assert order({Color.RED: 1, Color.BLUE: 2}) == [Color.BLUE, Color.RED]  # by name


def test_str_keyed_dicts_keep_their_format() -> None:
    """A dict of str keys is still map[...]; the empty dict too (no wrapper)."""
    with enact.InMemoryStore() as store:
        assert store.read_tokens(store.commit(Point(1, 2))).count(b"KeyedDictWrapper") == 0
        tokens = store.read_tokens(store.commit({"b": 1, "a": 2}))
        assert tokens.endswith(b"'wrapped'map['a'i2'b'i1]]")
        assert b"'wrapped'map[]]" in store.read_tokens(store.commit({}))
        tokens = store.read_tokens(store.commit({"a": {1: "x"}}))
        assert b"map['a'res[" in tokens and b"enact.wrappers.KeyedDictWrapper" in tokens
        assert b"'keys'seq[i1]'values'seq[s'x']" in tokens


def test_bool_and_int_keys_are_different_values() -> None:
    """{True: 1} and {1: 1} are equal to Python but stored apart, as True and 1 always are."""
    with enact.InMemoryStore() as store:
        as_bool, as_int = store.commit({True: 1}), store.commit({1: 1})
        assert as_bool.digest != as_int.digest
        assert type(next(iter(store.checkout(as_bool)))) is bool
        assert type(next(iter(store.checkout(as_int)))) is int


def test_resource_fields_annotated_with_keyed_dicts() -> None:
    """A resource with dict[int, ...], dict[Enum, ...], dict[tuple, ...] fields checks out."""
    scores = Scores({3: "x", 1: "y"}, {Color.RED: [1], Color.BLUE: []}, {(1, 2): "p"})
    with enact.InMemoryStore() as store:
        back = store.checkout(store.commit(scores))
    assert back == scores
    assert list(back.by_id) == [1, 3]
    assert enact.pformat(back) == enact.pformat(
        Scores({1: "y", 3: "x"}, {Color.BLUE: [], Color.RED: [1]}, {(1, 2): "p"})
    )


def test_keys_stored_alike_are_refused() -> None:
    """Two distinct keys with one stored form (NaNs, identity resources) are refused, not merged."""
    with enact.InMemoryStore():
        for value in ({float("nan"): 1, float("nan"): 2}, {ByIdentity(1): 1, ByIdentity(1): 2}):
            with pytest.raises(enact.UnsupportedValueError) as info:
                enact.commit(value)
            assert "they are stored alike" in str(info.value)
        with pytest.raises(enact.UnsupportedValueError, match="stored alike"):
            enact.commit([{"ok": {ByIdentity(1): 1, ByIdentity(1): 2}}])


def test_a_dict_inside_its_own_key_or_value_is_a_cycle() -> None:
    """A keyed dict holding itself, as a value or inside a key, raises CycleError with a path."""
    as_value: dict[Any, Any] = {1: None}
    as_value[1] = as_value
    holder = ByIdentity(0)
    in_key: dict[Any, Any] = {holder: 1}
    holder.x = in_key  # type: ignore[assignment]
    with enact.InMemoryStore():
        with pytest.raises(enact.CycleError) as info:
            enact.commit(as_value)
        assert info.value.path == "$[1]"
        with pytest.raises(enact.CycleError) as info:
            enact.commit(in_key)
        assert info.value.path == "$.keys()[0].x"


def test_stored_keys_that_cannot_be_dict_keys_are_a_corrupt_object() -> None:
    """A stored pair list whose keys check out unhashable, or equal, is reported, not used."""
    from enact.wrappers import KeyedDictWrapper

    with enact.InMemoryStore() as store:
        forged = store.commit(KeyedDictWrapper([[1]], [2]))
        with pytest.raises(enact.CorruptObjectError) as info:
            store.checkout(forged)
        assert "checked out unhashable" in str(info.value.__cause__)
        equal = store.commit(KeyedDictWrapper([1, 1.0], ["a", "b"]))
        with pytest.raises(enact.CorruptObjectError) as info:
            store.checkout(equal)
        assert "two keys" in str(info.value.__cause__)


def test_pretty_printing_shows_the_dict() -> None:
    """pformat prints a keyed dict as a dict, in a resource and behind a ref."""
    with enact.InMemoryStore():
        ref = enact.commit(Scores({2: "b", 1: "a"}, {Color.RED: [1]}))
        shown = enact.pformat(ref)
    assert "by_id={1: 'a', 2: 'b'}" in shown
    assert "by_color={<Color.RED: 1>: [1]}" in shown
    assert "KeyedDictWrapper" not in shown


MODULE = """
import enum
import enact


@enact.register
class Color(enum.Enum):
    RED = 1
    BLUE = 2


@enact.register
def tally(counts: dict) -> dict:
    return {(key, 1): value + 1 for key, value in counts.items()}


@enact.register
def agent() -> list:
    return sorted(map(repr, tally({Color.BLUE: 2, Color.RED: 1, 3: 4})))
"""


ENACT = (sys.executable, "-m", "enact")


def test_journaled_calls_and_the_command_line(tmp_path: Path) -> None:
    """Calls that take and return keyed dicts replay strictly; enact show and tree print them."""
    (tmp_path / "keyed_tools.py").write_text(MODULE)
    program = (
        "import enact, keyed_tools\n"
        "with enact.SQLiteStore('store.db'):\n"
        "    invocation = enact.invoke(keyed_tools.agent, run_id='keyed')\n"
        "    replayed = invocation.rewind(0).replay()\n"
        "    assert replayed.get_output() == invocation.get_output(), replayed\n"
        "    print(invocation.get_output())\n"
    )
    env = {"PYTHONPATH": f"{Path(enact.__file__).parents[1]}:{tmp_path}", "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert "(3, 1)" in ran.stdout
    for command in ("tree", "show"):
        shown = subprocess.run(
            [*ENACT, "--store", "sqlite:///store.db", "--import", "keyed_tools", command, "keyed"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "{3: 4, <Color.BLUE: 2>: 2, <Color.RED: 1>: 1}" in shown.stdout
        assert "{(3, 1): 5, (<Color.BLUE: 2>, 1): 3, (<Color.RED: 1>, 1): 2}" in shown.stdout
        assert "KeyedDictWrapper" not in shown.stdout


# Properties (white-box: the codec's fast paths against the reference walk and decode).

_keys = (
    st.integers()
    | st.text(max_size=4)
    | st.tuples(st.integers(), st.text(max_size=3))
    | st.sampled_from(list(Color))
    | st.builds(Point, st.integers(), st.integers())
)
_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=4), children, max_size=6)
    ),
    max_leaves=30,
)
_keyed = st.recursive(
    _plain,
    lambda children: (
        st.dictionaries(_keys, children, max_size=6)
        | st.lists(children, max_size=4)
        | st.builds(lambda k: Scores({k: "x", k + 1: "y"}, {Color.RED: [k]}), st.integers())
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(_keyed, st.randoms(use_true_random=False))
def test_any_insertion_order_gives_one_digest_and_one_checkout_order(
    value: Any, random: Any
) -> None:
    """Shuffling every dict gives the same tokens; checkout order is the same; fast = walk."""

    def shuffled(v: Any) -> Any:
        if type(v) is dict:
            items = list(v.items())
            random.shuffle(items)
            return {key: shuffled(item) for key, item in items}
        if type(v) is list:
            return [shuffled(item) for item in v]
        return v

    def order(v: Any) -> Any:
        if type(v) is dict:
            return [(repr(key), order(item)) for key, item in v.items()]
        if type(v) is list:
            return [order(item) for item in v]
        return repr(v)

    other = shuffled(value)
    assert encode(value) == encode(other) == walk(other)
    with enact.InMemoryStore() as store:
        assert order(store.checkout(store.commit(value))) == order(
            store.checkout(store.commit(other))
        )


_read_back_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=4)
    | st.sampled_from([*Color, uuid.UUID(int=7), decimal.Decimal("-1.50"), Path("/tmp/a")])
    | st.builds(enact.Ref.from_digest, st.text("0123456789abcdef", min_size=64, max_size=64)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=4), children, max_size=5)
        | st.tuples(children, children)
        | st.builds(lambda x, y: Point(x, y), st.integers(), st.integers())
        | st.builds(
            lambda a, b: Scores({1: str(a)}, {}, None) if b else Box(a), children, st.booleans()
        )
    ),
    max_leaves=30,
)


@enact.register
@dataclasses.dataclass
class Box(enact.Resource):
    """A resource holding any value."""

    inner: enact.FieldValue


@settings(max_examples=300, deadline=None)
@given(_read_back_values)
def test_read_back_is_what_decoding_gives(value: Any) -> None:
    """read_back copies a value exactly as decoding its tokens does: types and order included."""

    def shape(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return (type(v), [shape(x) for x in v])
        if isinstance(v, dict):
            return (dict, [(shape(k), shape(x)) for k, x in v.items()])
        if isinstance(v, enact.Resource):
            return (type(v), [shape(x) for x in vars(v).values()])
        return (type(v), repr(v))

    with enact.InMemoryStore():
        back = read_back(value)
        decoded = decode(encode(value)[0])
        if back is DECODE:
            return
        assert shape(back) == shape(decoded)
        if isinstance(value, (list, dict, enact.Resource)):
            assert back is not value  # a copy of its own


def test_read_back_leaves_sets_and_keyed_dicts_to_the_decoder() -> None:
    """Values whose read-back only the decoder knows: sets, non-str keys, user wrappers."""
    assert read_back([{1, 2}]) is DECODE
    assert read_back({1: 2}) is DECODE
    assert read_back(Box({"k": [frozenset()]})) is DECODE
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    assert read_back(deep) is DECODE
