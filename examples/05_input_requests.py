"""Input requests: pausing a run until someone answers a question.

Inside an invocation, ``enact.request_input(requested_type, for_value,
context)`` stops the run by raising `enact.InputRequest`, which the journal
records like any other call. To continue, the answer is written into the
journal as the output of that call and the invocation is replayed: the
earlier calls come from the journal and `request_input` now returns the
answer.

`enact.InvocationGenerator` wraps this in a Python generator: iterating
yields each pending request, ``set_input`` (or ``send``) answers it. Since
the whole state is in the store, a run can stop in one process and be
continued in another with ``InvocationGenerator.from_invocation``.

Run: python 05_input_requests.py
"""

from __future__ import annotations

import dataclasses
import random

import enact


@enact.register
@dataclasses.dataclass
class SuggestDish(enact.Invokable):
    """Suggests a dish (here: picks one at random)."""

    menu: list[str]

    def call(self) -> str:
        return random.choice(self.menu)


@enact.register
def plan_dinner(guests: int) -> str:
    suggest = SuggestDish(["soup", "curry", "pasta", "salad", "tacos"])
    rejected: list[str] = []
    while True:
        dish = suggest()
        if dish in rejected:
            continue
        verdict = enact.request_input(str, for_value=dish, context=f"Cook {dish}? (yes/no)")
        if verdict == "yes":
            break
        rejected.append(dish)
    portions = enact.request_input(int, for_value=dish, context=f"Portions per guest ({guests})?")
    return f"{dish} x {guests * portions}"


def with_a_generator(store: enact.Store) -> None:
    print("== Answering requests with an InvocationGenerator ==")
    with store:
        generator = enact.InvocationGenerator.from_callable(plan_dinner, args=(4,))
        for request in generator:
            print(f"asked: {request.context!r} about {request.for_value()!r}")
            if request.requested_type is int:
                try:
                    generator.set_input("two")
                except enact.InputTypeError as error:
                    print("  rejected answer:", error)
                generator.set_input(2)
            else:
                answer = "yes" if request.for_value() == "curry" else "no"
                print("  answer:", answer)
                generator.set_input(answer)
        invocation = generator.invocation
        print("result:", invocation.get_output())
        print("calls in the journal:")
        for child in invocation.get_children():
            kind = "suggested" if isinstance(child.get_invokable(), SuggestDish) else "answered"
            print(f"  {kind:<9} {child.get_output()!r}")


def stop_and_continue_later(store: enact.Store) -> None:
    print()
    print("== Stopping, and continuing from the store later ==")
    with store:
        first = enact.invoke(plan_dinner, (2,))
        request = first.get_raised()
        print("the run stopped with:", type(request).__name__, "-", request)
        store.set_name("dinner/pending", enact.commit(first))

    # ... later, perhaps in another process that opened the same store:
    with store:
        ref = store.get_name("dinner/pending")
        assert ref is not None
        waiting: enact.Invocation = ref()
        generator = enact.InvocationGenerator.from_invocation(waiting)
        request = next(generator)
        print("found it again, still asking:", request.context)
        request = generator.send("yes")
        print("next question:", request.context)
        generator.set_input(3)
        print("any more questions?", next(generator, None))
        print("finished:", generator.invocation.get_output())


def outside_an_invocation() -> None:
    print()
    print("== request_input needs a running invocation ==")
    try:
        enact.request_input(str, context="anyone there?")
    except enact.InvocationError as error:
        print("InvocationError:", error)


if __name__ == "__main__":
    random.seed(5)
    memory = enact.InMemoryStore()
    with_a_generator(memory)
    stop_and_continue_later(memory)
    outside_an_invocation()
