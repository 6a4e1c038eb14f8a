# ruff: noqa
"""The spec's examples (enact_concepts.txt) for resources, stores, storage and modify.

Code cells of the sections "Resources and Resource Wrappers", "Stores and
References", "Storage model" and "Modifying references", in order, unchanged
except for layout (ruff format) and one line: the notebook displayed the
result of `to_resource_dict()`, which is printed here with `pprint.pformat`.
Run as a script (module `__main__`, as in the notebook); the test compares
its output with the spec's.
"""

# In [5]:
import enact

import dataclasses


@enact.register
@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int


# In [6]:
print(f"TypeID of MyResource: {repr(MyResource.type_id())}")
print(f"Fields of my_resource: {list(MyResource.field_names())}")

my_resource = MyResource("hello", 42)
print(f"Value of my_field: {my_resource.my_field}")
print(f"Value of my_other_field: {my_resource.my_other_field}")
print(f"Field values of the resource: {list(my_resource.field_values())}")
print(f"Field items: {list(my_resource.field_items())}")

# In [7]:
from typing import Dict, List, Union, Type


@dataclasses.dataclass
class ComplexResource(enact.Resource):
    primitives: List[Union[int, float, bool, str, bytes, bool, type(None)]]
    map_value: Dict[str, MyResource]
    nested_resource: MyResource
    resource_type: Type[MyResource]


import pprint

print(
    pprint.pformat(
        ComplexResource(
            primitives=[1, 2.0, False, None, "test", b"bytes"],
            map_value={"hello": MyResource("hello", 69)},
            nested_resource=MyResource("hola", 42),
            resource_type=MyResource,
        ).to_resource_dict(),
        sort_dicts=False,
    )
)


# In [8]:
class MyCounter:
    def __init__(self):
        self._i = 0

    def add(self) -> int:
        self._i += 1
        return self._i


@enact.register
@dataclasses.dataclass
class MyCounterWrapper(enact.ResourceWrapper):
    count: int

    @classmethod
    def wrapped_type(cls):
        return MyCounter

    @classmethod
    def wrap(cls, value):
        return MyCounterWrapper(value._i)

    def unwrap(self):
        counter = MyCounter()
        counter._i = self.count
        return counter


counter = MyCounter()
counter.add()
wrapped = enact.wrap(counter)
print(wrapped)


# In [9]:
@enact.register
@dataclasses.dataclass
class Nested(enact.Resource):
    counter: MyCounter


print(list(Nested(MyCounter()).field_values()))

# In [10]:
with enact.InMemoryStore() as store:
    # Enter the context of the store.
    my_resource = MyResource("hello", 42)
    ref = enact.commit(my_resource)  # commits the resource to the active store.
    print(ref)
    print(ref.checkout())

# In [11]:
with store:
    print(ref())

# In [12]:
from typing import Optional


@enact.register
@dataclasses.dataclass
class LinkedList(enact.Resource):
    """A linked list of resources."""

    value: enact.FieldValue
    next: Optional[enact.Ref["LinkedList"]] = None


with store:
    # Create a linked list with two nodes.
    l = enact.commit(LinkedList(value=my_resource))
    l = enact.commit(LinkedList(value=MyResource("hola", 69), next=l))
    # Iterate through the list.
    while l != None:
        print(l().value)
        l = l().next

# In [18]:
with store:
    r1 = enact.commit(MyResource("hello", 42))
    r2 = enact.commit(MyResource("hello", 42))
    print(r1 == r2)

# In [19]:
with store:
    l1 = LinkedList(value=1, next=None)
    l2 = LinkedList(value=2, next=enact.commit(l1))

    # This does not create a cycle, since l2 points at the previously committed
    # version of l1.
    l1.next = enact.commit(l2)

    # We now have list of length 3 instead of a cycle:
    enact.pprint(enact.commit(l1))

# In [23]:
with store:
    ref = enact.commit(MyResource("hello", 42))
    ref_copy = ref.deepcopy_resource()
    with ref.modify() as my_resource:
        my_resource.my_other_field = 69
    print(f"ref points at new resource:\n  {ref()}")
    print(f"but the old resource is still intact:\n  {ref_copy()}")
