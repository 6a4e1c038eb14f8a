"""enact.pprint and enact.pformat: the spec's layout, and the same rule for every value."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Any

import pytest
from golden_vectors import LinkedList, MyResource

import enact


@enact.register
@dataclasses.dataclass
class Tree(enact.Resource):
    name: str
    children: list[Any]
    meta: dict[str, Any]


class PlainBackend(enact.StorageBackend):
    """A dict of objects that tests can tamper with."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def commit(self, packed_resource: enact.PackedResource) -> None:
        self.objects.setdefault(packed_resource.digest, packed_resource.data)

    def has(self, ref: enact.Ref[Any]) -> bool:
        return ref.digest in self.objects

    def get(self, ref: enact.Ref[Any]) -> enact.PackedResource | None:
        data = self.objects.get(ref.digest)
        return None if data is None else enact.PackedResource(ref.digest, data)


SPEC_STORAGE_MODEL = """\
-> LinkedList#0b182f:
  value: 1
  next:
    -> LinkedList#0f9059:
      value: 2
      next: -> LinkedList(value=1, next=None)#dd2ab0"""


def test_spec_storage_model_output(capsys: pytest.CaptureFixture[str]) -> None:
    """The spec's three-node linked list prints exactly as the spec shows."""
    with enact.InMemoryStore():
        l1 = LinkedList(value=1, next=None)
        l2 = LinkedList(value=2, next=enact.commit(l1))
        l1.next = enact.commit(l2)
        enact.pprint(enact.commit(l1))
    assert capsys.readouterr().out == SPEC_STORAGE_MODEL + "\n"


def test_values_without_refs_print_as_their_repr() -> None:
    """Primitives, containers and resources that hold no refs print inline as repr."""
    for value in [3, "s", None, [1, {"a": b"x"}], MyResource("a", 1), (1, 2), {"x"}]:
        assert enact.pformat(value) == repr(value)


def test_ref_to_a_ref_free_value_prints_inline() -> None:
    """A ref to a value without refs prints as an arrow, the repr, and the short digest."""
    with enact.InMemoryStore():
        ref = enact.commit(MyResource("hello", 42))
        assert enact.pformat(ref) == "-> MyResource(my_field='hello', my_other_field=42)#947051"
        assert enact.pformat(enact.commit(7)) == "-> 7#fbf3c2"


def test_resources_lists_and_dicts_holding_refs() -> None:
    """Resources list their fields; lists and dicts list items labelled [i] and ['key']."""
    with enact.InMemoryStore():
        leaf = enact.commit(MyResource("a", 1))
        chain = enact.commit(LinkedList(1, enact.commit(LinkedList(2))))
        tree = Tree("root", [leaf, chain, 3, (leaf, 4)], {"x": leaf, "y": [1, 2]})
        expected_body = [
            "  name: 'root'",
            "  children:",
            "    [0]: -> MyResource(my_field='a', my_other_field=1)#95661b",
            "    [1]:",
            f"      -> LinkedList#{chain.digest[:6]}:",
            "        value: 1",
            f"        next: -> LinkedList(value=2, next=None)#{chain().next.digest[:6]}",
            "    [2]: 3",
            "    [3]:",
            "      [0]: -> MyResource(my_field='a', my_other_field=1)#95661b",
            "      [1]: 4",
            "  meta:",
            "    ['x']: -> MyResource(my_field='a', my_other_field=1)#95661b",
            "    ['y']: [1, 2]",
        ]
        assert enact.pformat(tree).splitlines() == ["Tree:", *expected_body]
        ref = enact.commit(tree)
        assert enact.pformat(ref).splitlines() == [f"-> Tree#{ref.digest[:6]}:", *expected_body]
        listed = enact.commit([leaf, {"k": leaf}])
        assert enact.pformat(listed).splitlines() == [
            f"-> list#{listed.digest[:6]}:",
            "  [0]: -> MyResource(my_field='a', my_other_field=1)#95661b",
            "  [1]:",
            "    ['k']: -> MyResource(my_field='a', my_other_field=1)#95661b",
        ]


def test_wrapped_values_holding_refs_print_their_wrapper() -> None:
    """A set holding refs prints as its wrapper resource, in canonical order."""
    with enact.InMemoryStore():
        leaf = enact.commit(MyResource("a", 1))
        assert enact.pformat({"s": {leaf}}).splitlines() == [
            "['s']:",
            "  SetWrapper:",
            "    items:",
            "      [0]: -> MyResource(my_field='a', my_other_field=1)#95661b",
        ]


def test_shared_subgraphs_print_once() -> None:
    """A ref that was already expanded is printed once more as '(shown above)'."""
    with enact.InMemoryStore():
        node = enact.commit(LinkedList(1, enact.commit(LinkedList(2))))
        # 2**30 paths through this DAG, but only 31 distinct nodes.
        for _ in range(30):
            node = enact.commit(LinkedList([node, node]))
        lines = enact.pformat(node).splitlines()
    assert len(lines) < 400
    assert sum("(shown above)" in line for line in lines) == 30


def test_refs_that_cannot_be_followed_say_why() -> None:
    """Missing objects, unregistered types and no active store are shown, not raised."""
    missing = enact.Ref.from_digest("1" * 64)
    assert enact.pformat([missing]) == "[0]: -> ?#111111 (no active store)"
    with enact.InMemoryStore():
        assert enact.pformat(missing) == "-> ?#111111 (not in the active store)"
    backend = PlainBackend()
    data = b'res[{"digest": "' + hashlib.sha256(b"gone.Type").hexdigest().encode()
    data += b'", "name": "gone.Type"}]'
    digest = hashlib.sha256(data).hexdigest()
    backend.objects[digest] = data
    with enact.Store(backend):
        assert enact.pformat(enact.Ref.from_digest(digest)) == (
            f"-> ?#{digest[:6]} (type gone.Type is not registered)"
        )


def test_corrupt_objects_raise() -> None:
    """pformat does not hide damaged data: a corrupt object raises CorruptObjectError."""
    backend = PlainBackend()
    with enact.Store(backend):
        ref = enact.commit(MyResource("a", 1))
    backend.objects[ref.digest] = backend.objects[ref.digest].replace(b"i1", b"i2")
    with enact.Store(backend), pytest.raises(enact.CorruptObjectError):
        enact.pformat(ref)


def test_deep_chains_print_without_recursion_errors() -> None:
    """A chain of 3,000 refs prints one level per ref without RecursionError."""
    with enact.InMemoryStore():
        node = enact.commit(LinkedList(0))
        for index in range(1, 3000):
            node = enact.commit(LinkedList(index, node))
        lines = enact.pformat(node).splitlines()
    assert lines[0] == f"-> LinkedList#{node.digest[:6]}:"
    assert lines[-1].strip().startswith("next: -> LinkedList(value=0, next=None)#")
    assert len(lines) == 1 + 2 * 2999 + 2998  # value and next per node, a header per level


def test_cyclic_values_print_without_looping() -> None:
    """A cyclic (uncommittable) value holding a ref prints <cycle> instead of looping."""
    with enact.InMemoryStore():
        leaf = enact.commit(1)
        loop: list[Any] = [leaf]
        loop.append(loop)
        assert enact.pformat(loop).splitlines() == ["[0]: -> 1#" + leaf.digest[:6], "[1]: <cycle>"]


def test_pprint_writes_to_a_file() -> None:
    """pprint writes pformat's text and a newline to the given file."""
    out = io.StringIO()
    enact.pprint({"a": 1}, file=out)
    assert out.getvalue() == "{'a': 1}\n"
