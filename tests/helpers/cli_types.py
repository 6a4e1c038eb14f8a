"""Types and journaled functions for the `enact` command tests (imported by name: --import)."""

from __future__ import annotations

import dataclasses
import random

import enact


@enact.register
@dataclasses.dataclass
class RollDie(enact.Invokable):
    """A die; rolls differ from run to run, so a re-run call shows in the journal."""

    sides: int = 6

    def call(self) -> int:
        return random.randint(1, self.sides)


@enact.register
@dataclasses.dataclass
class Greeting(enact.Resource):
    """A user resource, for `show` and for answers of a resource type."""

    text: str
    times: int


@enact.register
def roll_dice(dice: list[RollDie]) -> int:
    """Rolls each die once and adds the rolls."""
    return sum(die() for die in dice)


@enact.register
def confirm_rolls(num_rolls: int) -> int:
    """The spec's example: rolls dice, asking after each roll whether to roll it again."""
    die = RollDie()
    total = 0
    for i in range(num_rolls):
        while True:
            score = die()
            answer = enact.request_input(str, for_value=score, context=f"Should I reroll die #{i}?")
            if answer != "yes":
                break
        total += score
    return total


@enact.register
def ask_greeting(name: str) -> str:
    """Asks for a `Greeting` and an int, then uses both."""
    greeting = enact.request_input(Greeting, for_value=name, context="Greet how?")
    extra = enact.request_input(int, context="Extra exclamation marks?")
    return f"{greeting.text}, {name}" * greeting.times + "!" * extra


@enact.register
def fail(x: int) -> int:
    """Rolls a die, then raises."""
    RollDie()()
    raise ValueError(f"bad input {x}")
