# ruff: noqa
"""Every code cell of the spec (enact_concepts.txt), in order, as one script.

The cells are unchanged except for layout (ruff format) and three harness
details, each marked with a ``# harness:`` comment:

* a ``### In [N]`` line is printed before each cell's output, so that the test
  can compare the output cell by cell;
* the notebook displayed the result of ``to_resource_dict()`` in cell 7; it
  is printed here with ``pprint.pformat``;
* a notebook runs top-level ``await`` in one event loop that keeps running
  between cells. Here one loop plays that part: each awaited expression of
  cells 32, 33 and the last runs with ``loop.run_until_complete``, and at the
  end the loop finishes the background tasks that cell 33 left running (a
  notebook's loop would have finished them after the cell).

Run as a script (module ``__main__``, as in the notebook). ``random`` is
seeded from the first command line argument if one is given.
"""

import sys

import random as _harness_random

if len(sys.argv) > 1:  # harness: reproducible dice
    _harness_random.seed(int(sys.argv[1]))

print("### In [5]")  # harness
# In [5]:
import enact

import dataclasses


@enact.register
@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int


print("### In [6]")  # harness
# In [6]:
print(f"TypeID of MyResource: {repr(MyResource.type_id())}")
print(f"Fields of my_resource: {list(MyResource.field_names())}")

my_resource = MyResource("hello", 42)
print(f"Value of my_field: {my_resource.my_field}")
print(f"Value of my_other_field: {my_resource.my_other_field}")
print(f"Field values of the resource: {list(my_resource.field_values())}")
print(f"Field items: {list(my_resource.field_items())}")

print("### In [7]")  # harness
# In [7]:
from typing import Dict, List, Union, Type


@dataclasses.dataclass
class ComplexResource(enact.Resource):
    primitives: List[Union[int, float, bool, str, bytes, bool, type(None)]]
    map_value: Dict[str, MyResource]
    nested_resource: MyResource
    resource_type: Type[MyResource]


import pprint  # harness: the notebook displayed the value

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

print("### In [8]")  # harness


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

print("### In [9]")  # harness


# In [9]:
@enact.register
@dataclasses.dataclass
class Nested(enact.Resource):
    counter: MyCounter


print(list(Nested(MyCounter()).field_values()))

print("### In [10]")  # harness
# In [10]:
with enact.InMemoryStore() as store:
    # Enter the context of the store.
    my_resource = MyResource("hello", 42)
    ref = enact.commit(my_resource)  # commits the resource to the active store.
    print(ref)
    print(ref.checkout())

print("### In [11]")  # harness
# In [11]:
with store:
    print(ref())

print("### In [12]")  # harness
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

print("### In [13]")  # harness
# In [13]:
import random


@enact.register
@dataclasses.dataclass
class RollDie(enact.Invokable):
    sides: int = 6

    def call(self):
        return random.randint(1, 6)


print("### In [14]")  # harness
# In [14]:
from typing import Callable


@enact.register
def roll_dice(dice: List[Callable[[], int]]):
    return sum(die() for die in dice)


print("### In [15]")  # harness
# In [15]:
with store:
    invocation = enact.invoke(roll_dice, args=([RollDie(), RollDie(), RollDie()],))
    print(enact.invocation_summary(invocation))

print("### In [16]")  # harness
# In [16]:
with store:
    with invocation.response.modify() as response:
        # Delete the output.
        response.output = None
        # Remove the last die roll.
        response.children.pop()
    # Replay last die roll.
    invocation = invocation.replay()
    print(enact.invocation_summary(invocation))

print("### In [17]")  # harness
# In [17]:
with store:
    print(enact.invocation_summary(invocation.rewind().replay()))

print("### In [18]")  # harness
# In [18]:
with store:
    r1 = enact.commit(MyResource("hello", 42))
    r2 = enact.commit(MyResource("hello", 42))
    print(r1 == r2)

print("### In [19]")  # harness
# In [19]:
with store:
    l1 = LinkedList(value=1, next=None)
    l2 = LinkedList(value=2, next=enact.commit(l1))

    # This does not create a cycle, since l2 points at the previously committed
    # version of l1.
    l1.next = enact.commit(l2)

    # We now have list of length 3 instead of a cycle:
    enact.pprint(enact.commit(l1))

print("### In [20]")  # harness
# In [20]:
import datetime
import time


@enact.register
def format_timestamp(timestamp: float) -> str:
    return str(datetime.datetime.fromtimestamp(timestamp))


@enact.register
class FormatCurrentTime(enact.Invokable):
    """Return the current time as a string."""

    def call(self) -> str:
        now = time.time()
        # ERROR: Non-deterministic call argument to subinvokable:
        return format_timestamp(now)


with store:
    invocation = FormatCurrentTime().invoke()
    # Delete only the output to force reexecution.
    invocation = invocation.rewind(num_calls=0)
    try:
        invocation.replay()
    except enact.ReplayError as e:
        print(f"Got error: {e}")

print("### In [21]")  # harness


# In [21]:
@enact.register
def call_dice_confirm_with_user(num_calls: int) -> int:
    roll_die = RollDie()
    total = 0
    for i in range(num_calls):
        while True:
            score = roll_die()
            if (
                enact.request_input(
                    requested_type=str, for_value=score, context=f"Should I reroll die #{i}?"
                )
                == "yes"
            ):
                continue
            break
        total += score
    return total


print("### In [22]")  # harness
# In [22]:
with store:
    inv_gen = enact.InvocationGenerator.from_callable(call_dice_confirm_with_user, args=(3,))

    for input_request in inv_gen:
        roll = input_request.for_value()
        if roll < 5:
            inv_gen.set_input("yes")
        else:
            inv_gen.set_input("no")

    # Print invocation history:
    invocation = inv_gen.invocation
    print("Total score:", invocation.get_output())
    for child in invocation.get_children():
        output = child.get_output()
        if isinstance(output, int):
            print("  Die roll:", output)
        else:
            print("   -Rerolled?", output)

print("### In [23]")  # harness
# In [23]:
with store:
    ref = enact.commit(MyResource("hello", 42))
    ref_copy = ref.deepcopy_resource()
    with ref.modify() as my_resource:
        my_resource.my_other_field = 69
    print(f"ref points at new resource:\n  {ref()}")
    print(f"but the old resource is still intact:\n  {ref_copy()}")

print("### In [29]")  # harness


# In [29]:
@enact.register
def roll_until_prime(die: RollDie):
    """Rolls a die until the sum of the rolls is prime."""
    total = 0

    def is_prime(n):
        return n > 1 and all(n % i for i in range(2, n))

    while not is_prime(total):
        total += die()
    return total


@enact.register
def meta_invoke(fun, args=(), kwargs=None) -> enact.Invocation:
    """Register a function that invokes another."""
    return enact.invoke(fun, args, kwargs)


@enact.register
def count_rolls(die: RollDie) -> int:
    invocation = meta_invoke(roll_until_prime, (die,))
    return len(list(invocation.get_children()))


with store:
    invocation = enact.invoke(count_rolls, (RollDie(6),))
    print(f"Rolls until prime: {invocation.get_output()}")
    # Get output of call to invoke(...)
    meta_invocation = invocation.get_child(0).get_output()
    print(f"The prime that was rolled: {meta_invocation.get_output()}")

print("### In [32]")  # harness
# In [32]:
import asyncio

loop = asyncio.new_event_loop()  # harness: the notebook's event loop
asyncio.set_event_loop(loop)  # harness


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class AsyncDieRoll(enact.AsyncInvokable):
    """Asynchronously rolls a die and returns the result."""

    dice_nr: int

    async def api_call(self) -> int:
        """Mimic calling into an API to obtain roll result."""
        print(f"Rolling die nr {self.dice_nr}.")
        await asyncio.sleep(random.random() * 0.1)
        result = random.randint(1, 6)
        print(f"Got result for die nr {self.dice_nr}: {result}")
        return result

    async def call(self) -> int:
        return await self.api_call()


@enact.typed_invokable(int, int)
class AsyncDiceRoll(enact.AsyncInvokable):
    """Asynchronously rolls the requested number of dice."""

    async def call(self, num_dice: int) -> int:
        """Roll the requested number of dice concurrently."""
        dice = [AsyncDieRoll(i) for i in range(num_dice)]
        rolls = [die() for die in dice]
        return sum(await asyncio.gather(*rolls))


with store:
    # Jupyter notebooks have their own event loop, so we can use await rather than
    # asyncio.run:
    num_rolls = enact.commit(3)
    invocation = loop.run_until_complete(AsyncDiceRoll().invoke(num_rolls))  # harness: await
    print(f"Sum: {invocation.get_output()}")

    print(f"\nReplay last roll:")
    invocation = invocation.rewind()  # Rewind the last call.
    invocation = loop.run_until_complete(invocation.replay_async())  # harness: await
    print(f"Sum: {invocation.get_output()}")

print("### In [33]")  # harness


# In [33]:
@enact.typed_invokable(int, int)
class WaitForFirstResult(enact.AsyncInvokable):
    """Rolls the requested number of dice and waits on the first result."""

    async def call(self, num_dice: int) -> int:
        """Roll the requested number of dice concurrently."""
        loop = asyncio.get_running_loop()
        # Create background tasks for each die roll.
        tasks = [loop.create_task(AsyncDieRoll(i)()) for i in range(num_dice)]
        # Wait for the first result.
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # Leave pending tasks running.
        return await done[0]


with store:
    try:
        invocation = loop.run_until_complete(
            WaitForFirstResult().invoke(num_rolls)
        )  # harness: await
    except enact.IncompleteSubinvocationError as e:
        print(f"Invocation failed: {e}")

print("### In [None]")  # harness


# In [None]:
@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class AsyncUserRoll(enact.AsyncInvokable):
    roll_id: int

    async def call(self):
        # We provide the roll ID so that we can later distinguish between different
        # input requests.
        return enact.request_input(int, for_value=self.roll_id)


@enact.typed_invokable(type(None), int)
class CrowdSourcedDiceRoll(enact.AsyncInvokable):
    """Generates a batch of input requests for each dice roll."""

    async def call(self):
        rolls = [AsyncUserRoll(roll_id=i) for i in range(10)]
        # Wait for all rolls to complete
        results = await asyncio.gather(*[r() for r in rolls], return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                raise r
        return sum(results)


with store:
    invocation = loop.run_until_complete(CrowdSourcedDiceRoll().invoke())  # harness: await
    assert isinstance(invocation.get_raised(), enact.InputRequest)

    def provide_input(exception_ref):
        """Resolves an InputRequest exception by providing a dice roll."""
        input_request = exception_ref()
        assert isinstance(input_request, enact.InputRequest)
        roll_id = input_request.for_value()
        roll = (roll_id % 7) + 1
        print(f"injecting input {roll} for roll {input_request.for_value()}")
        return roll

    invocation = loop.run_until_complete(
        invocation.replay_async(exception_override=provide_input)
    )  # harness: await
    print(f"result: {invocation.get_output()}")

# harness: the notebook's loop keeps running; let it finish what cell 33 left behind.
print("### background")
_leftover = asyncio.all_tasks(loop)
if _leftover:
    loop.run_until_complete(asyncio.wait(_leftover))
loop.close()
