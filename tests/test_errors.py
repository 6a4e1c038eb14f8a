"""Bad input gives a clear EnactError and stores nothing; the error tree matches builtins."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import random
import sys
from typing import Any

import pytest

import enact


@enact.register
@dataclasses.dataclass
class Box(enact.Resource):
    inner: enact.FieldValue


@enact.register
@dataclasses.dataclass
class Pair(enact.Resource):
    left: enact.FieldValue
    right: enact.FieldValue


class Opaque:
    """A type with no ResourceWrapper."""


class RecordingBackend(enact.StorageBackend):
    """Keeps objects in a dict and records every call, to show nothing was touched."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls: list[str] = []

    def commit(self, packed_resource: enact.PackedResource) -> None:
        self.calls.append("commit")
        self.objects.setdefault(packed_resource.digest, packed_resource.data)

    def has(self, ref: enact.Ref[Any]) -> bool:
        self.calls.append("has")
        return ref.digest in self.objects

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        self.calls.append("get")
        data = self.objects.get(ref.digest)
        return None if data is None else enact.PackedResource(ref.digest, data)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (enact.RegistrationError, TypeError),
        (enact.UnsupportedValueError, TypeError),
        (enact.CycleError, ValueError),
        (enact.InvalidDigestError, ValueError),
        (enact.NoActiveStoreError, RuntimeError),
        (enact.NotFoundError, LookupError),
        (enact.UnknownTypeError, LookupError),
        (enact.CorruptObjectError, ValueError),
        (enact.StorageError, OSError),
    ],
)
def test_each_error_is_an_enact_error_and_a_builtin(error: type, builtin: type) -> None:
    """Every error derives from EnactError and from the builtin a caller would catch."""
    assert issubclass(error, enact.EnactError)
    assert issubclass(error, builtin)


def test_every_exported_error_derives_from_enact_error() -> None:
    """All exported exception classes (other than raisable resources) are EnactErrors."""
    errors = [
        value
        for value in vars(enact).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and not issubclass(value, enact.Resource)  # InputRequest: raised, and journaled
    ]
    assert enact.EnactError in errors
    assert all(issubclass(error, enact.EnactError) for error in errors)


@pytest.mark.parametrize(
    ("value", "path", "type_name"),
    [
        (Box(Opaque()), "$.inner", f"{__name__}.Opaque"),
        (Box([1, 2, {"k": Opaque()}]), "$.inner[2]['k']", f"{__name__}.Opaque"),
        (Pair(1, Box([b"", 1j])), "$.right.inner[1]", "complex"),
        ([1, Opaque()], "$[1]", f"{__name__}.Opaque"),
        ({"a": {"b": range(2)}}, "$['a']['b']", "range"),
        (Box(collections.OrderedDict(a=1)), "$.inner", "collections.OrderedDict"),
        (Box(lambda: 1), "$.inner", "function"),
        (Box(int), "$.inner", "type"),
        (Box((1, Opaque())), "$.inner.items[1]", f"{__name__}.Opaque"),
    ],
)
def test_unsupported_value_names_path_and_type(value: Any, path: str, type_name: str) -> None:
    """An unsupported value raises UnsupportedValueError naming path and type; stores nothing."""
    backend = RecordingBackend()
    with enact.Store(backend), pytest.raises(enact.UnsupportedValueError) as info:
        enact.commit(value)
    message = str(info.value)
    assert info.value.path == path
    assert f" at {path}:" in message
    assert type_name in message
    assert "ResourceWrapper" in message
    assert backend.calls == []


def test_unsupported_bare_value_suggests_a_wrapper() -> None:
    """Committing a bare value of an unknown type names the type and suggests a wrapper."""
    backend = RecordingBackend()
    with enact.Store(backend), pytest.raises(enact.UnsupportedValueError) as info:
        enact.commit(Opaque())
    assert f"{__name__}.Opaque" in str(info.value)
    assert "ResourceWrapper" in str(info.value)
    assert info.value.value_type is Opaque
    assert backend.calls == []


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({Opaque(): "a"}, "$.keys()[0]"),
        ({"a": 1, 2: {(1, Opaque()): 3}}, "$[2].keys()[0].items[1]"),
        (Box([{"ok": {None: Opaque()}}]), "$.inner[0]['ok'][None]"),
    ],
)
def test_unstorable_dict_keys_are_rejected_with_their_path(value: Any, path: str) -> None:
    """A dict key of a type enact cannot store raises UnsupportedValueError naming where it is."""
    backend = RecordingBackend()
    with enact.Store(backend), pytest.raises(enact.UnsupportedValueError) as info:
        enact.commit(value)
    assert info.value.path == path
    assert f"Cannot commit value of type {__name__}.Opaque at {path}" in str(info.value)
    assert backend.calls == []


def test_cycles_are_rejected_with_their_path() -> None:
    """Values that contain themselves raise CycleError (a ValueError) naming where."""
    backend = RecordingBackend()
    items: list[Any] = [1]
    items.append(items)
    mapping: dict[str, Any] = {}
    mapping["self"] = [mapping]
    box = Box(None)
    box.inner = Pair(1, [box])
    through_tuple: list[Any] = []
    through_tuple.append((through_tuple,))
    cases = [
        (items, "$[1]"),
        (mapping, "$['self'][0]"),
        (box, "$.inner.right[0]"),
        (through_tuple, "$[0].items[0]"),
    ]
    with enact.Store(backend):
        for value, path in cases:
            with pytest.raises(enact.CycleError) as info:
                enact.commit(value)
            assert info.value.path == path
            assert path in str(info.value)
            assert "Ref" in str(info.value)
    assert backend.calls == []


def test_shared_values_are_not_cycles() -> None:
    """The same object twice in a value (a DAG, not a cycle) commits fine."""
    shared = [1, {"a": b"x"}]
    point = Box(shared)
    with enact.InMemoryStore():
        assert enact.commit([shared, shared, {"p": point, "q": point}])() == [
            shared,
            shared,
            {"p": point, "q": point},
        ]


def nest(depth: int, leaf: Any, kind: str) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value} if kind == "dict" else Box(value)
    return value


def unnest(value: Any, kind: str) -> tuple[int, Any]:
    depth = 0
    while isinstance(value, list | dict | Box):
        value = value[0] if kind == "list" else value["k"] if kind == "dict" else value.inner
        depth += 1
    return depth, value


@pytest.mark.parametrize(
    ("kind", "depth"), [("list", 100_000), ("dict", 30_000), ("resource", 30_000)]
)
def test_nesting_far_beyond_the_recursion_limit(kind: str, depth: int) -> None:
    """Values nested 30,000 to 100,000 deep commit and check out without RecursionError."""
    assert depth > 10 * sys.getrecursionlimit()
    with enact.InMemoryStore():
        ref = enact.commit(nest(depth, "leaf", kind))
        assert unnest(ref(), kind) == (depth, "leaf")
        assert enact.commit(nest(depth, "leaf", kind)) == ref


@pytest.mark.parametrize(("kind", "depth"), [("list", 100_000), ("resource", 30_000)])
def test_deep_bad_value_is_reported_with_its_path(kind: str, depth: int) -> None:
    """A bad value or a cycle far down raises its error with the full path; nothing is written."""
    backend = RecordingBackend()
    with enact.Store(backend):
        with pytest.raises(enact.UnsupportedValueError) as info:
            enact.commit(nest(depth, Opaque(), kind))
        step = "[0]" if kind == "list" else ".inner"
        assert info.value.path == "$" + step * depth
        message = str(info.value)
        # The message names the type and the fix, and shows both ends of the path.
        assert f"{Opaque.__module__}.Opaque at ${step * 5}" in message
        assert f"{step * 5}: enact stores" in message
        assert "Register a ResourceWrapper" in message
        looped = nest(depth, None, "list")
        innermost = looped
        while innermost[0] is not None:
            innermost = innermost[0]
        innermost[0] = looped
        with pytest.raises(enact.CycleError) as cycle:
            enact.commit(looped)
        assert cycle.value.path == "$" + "[0]" * depth
    assert backend.calls == []


def test_checkout_of_a_missing_ref() -> None:
    """A ref the store does not hold raises NotFoundError naming the digest and the store."""
    digest = "5" * 64
    with enact.InMemoryStore(), pytest.raises(enact.NotFoundError) as info:
        enact.Ref.from_digest(digest)()
    assert info.value.digest == digest
    assert digest in str(info.value)
    assert info.value.location in str(info.value)


def test_unknown_type_names_the_type() -> None:
    """A stored object of a type this process does not define raises UnknownTypeError naming it."""
    type_id = (
        '{"digest": "' + hashlib.sha256(b"elsewhere.Thing").hexdigest() + '", '
        '"name": "elsewhere.Thing"}'
    )
    data = f"res[{type_id}]".encode()
    backend = RecordingBackend()
    digest = hashlib.sha256(data).hexdigest()
    backend.objects[digest] = data
    with enact.Store(backend), pytest.raises(enact.UnknownTypeError) as info:
        enact.Ref.from_digest(digest)()
    assert info.value.type_name == "elsewhere.Thing"
    assert "elsewhere.Thing" in str(info.value)
    assert "@enact.register" in str(info.value)


def test_changed_fields_of_a_known_type_are_explained() -> None:
    """An object of a known type name but other fields says the fields differ."""
    data = (
        'res[{"digest": "'
        + hashlib.sha256(f"{__name__}.Box'other'".encode()).hexdigest()
        + f'", "name": "{__name__}.Box"}}\'other\'i1]'
    ).encode()
    backend = RecordingBackend()
    digest = hashlib.sha256(data).hexdigest()
    backend.objects[digest] = data
    with enact.Store(backend), pytest.raises(enact.IncompatibleTypeError) as info:
        enact.Ref.from_digest(digest)()
    assert info.value.digest == digest
    assert info.value.stored_fields == ("other",)
    assert info.value.current_fields == ("inner",)
    assert str(info.value).startswith(f"Object {digest}: A stored {__name__}.Box does not fit")
    assert "enact migrate" in str(info.value)


def test_damaged_objects_only_ever_raise_enact_errors() -> None:
    """Truncated or byte-flipped objects raise only CorruptObjectError or UnknownTypeError."""
    values = [
        Box(["x", 1.5, None, True, b"\x00]", {"k": (1, 2)}, {"set"}]),
        Pair(enact.Ref.from_digest("a" * 64), "é'\"\\"),
        [10**50, -3, Box],
    ]
    backend = RecordingBackend()
    with enact.Store(backend):
        originals = [backend.objects[enact.commit(value).digest] for value in values]
    rng = random.Random(1)
    damaged = [data[:cut] for data in originals for cut in range(len(data))]
    for data in originals:
        for _ in range(200):
            flipped = bytearray(data)
            flipped[rng.randrange(len(data))] = rng.randrange(256)
            damaged.append(bytes(flipped))
    for data in damaged:
        digest = hashlib.sha256(data).hexdigest()
        backend.objects[digest] = data
        with (
            enact.Store(backend),
            contextlib.suppress(enact.CorruptObjectError, enact.UnknownTypeError),
        ):
            enact.Ref.from_digest(digest)()
