"""Invokables and invocations: journaled calls.

An `enact.Invokable` is a resource with a ``call`` method that takes at most
one input. A plain function decorated with `@enact.register` works too, with
any arguments. Called normally, both behave like ordinary Python.

`enact.invoke` (or ``invokable.invoke(input)``) runs the call inside the
active store and journals it: the result is an `enact.Invocation` holding
the request (what was called, on what input) and the response (the output
or the exception, and one child invocation per journaled call made while
running). `enact.invocation_summary` prints the tree.

Run: python 03_invocations.py
"""

from __future__ import annotations

import dataclasses
import random

import enact


@enact.register
@dataclasses.dataclass
class Thermometer(enact.Invokable):
    """Reads the temperature somewhere (here: a seeded random number)."""

    location: str

    def call(self) -> float:
        if self.location == "attic":
            raise RuntimeError("attic sensor is offline")
        return round(random.uniform(15.0, 25.0), 1)


@enact.typed_invokable(float, float)
@dataclasses.dataclass
class ToFahrenheit(enact.Invokable):
    """A typed invokable: its input and output must be floats."""

    def call(self, celsius: float) -> float:
        return round(celsius * 9 / 5 + 32, 1)


@enact.register
def house_report(rooms: list[str], *, unit: str = "C") -> dict[str, float | str]:
    """A registered function: each call it makes to an invokable becomes a child."""
    report: dict[str, float | str] = {}
    for room in rooms:
        try:
            celsius = Thermometer(room)()
        except RuntimeError as error:
            report[room] = f"error: {error}"
            continue
        report[room] = ToFahrenheit()(celsius) if unit == "F" else celsius
    return report


def plain_calls() -> None:
    print("== Plain calls: no store, no journal ==")
    print("kitchen:", Thermometer("kitchen")())
    print("50 C in F:", ToFahrenheit()(50.0))
    print("report:", house_report(["hall"], unit="F"))


def journaled_calls() -> None:
    print()
    print("== enact.invoke journals the call tree ==")
    with enact.InMemoryStore():
        invocation = enact.invoke(
            house_report, args=(["kitchen", "attic", "cellar"],), kwargs={"unit": "F"}
        )
        print(enact.invocation_summary(invocation))
        print()
        print("output:", invocation.get_output())
        print("number of children:", len(list(invocation.get_children())))
        attic = invocation.get_child(2)
        print("child 2 called:", attic.get_invokable(), "and raised:", attic.get_raised())
        print("the report itself did not raise:", invocation.get_raised())


def invokable_invoke() -> None:
    print()
    print("== Invokable.invoke and typed inputs ==")
    with enact.InMemoryStore():
        good = ToFahrenheit().invoke(100.0)
        print("100.0 ->", good.get_output())
        bad = ToFahrenheit().invoke("hot")
        print("'hot' -> output", bad.get_output(), "| raised:", bad.get_raised())
        failed = Thermometer("attic").invoke()
        print("a failing call is recorded, not raised:", failed.get_raised())


if __name__ == "__main__":
    random.seed(3)
    plain_calls()
    journaled_calls()
    invokable_invoke()
