"""Meta-invocations: an invokable that invokes another and studies the journal.

Invokables are usually *called*. But an invokable may also *invoke* another
one, getting back the `enact.Invocation` (the full execution trace) as an
ordinary value, which it can inspect, compare, or return. This is how a
program can judge other programs by how they ran, for example generated
code whose trace becomes feedback for the next attempt.

Here two strategies for guessing a secret number are scored by the number of
questions they ask: the trace tells us, without the strategies reporting
anything themselves.

Run: python 07_meta_invocations.py
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import enact


@enact.register
@dataclasses.dataclass
class Oracle(enact.Invokable):
    """Answers whether the secret is lower, higher or equal to a guess."""

    secret: int

    def call(self, guess: int) -> str:
        if guess == self.secret:
            return "equal"
        return "lower" if self.secret < guess else "higher"


@enact.register
def count_up(oracle: Oracle) -> int:
    """Guesses 1, 2, 3, ... until right."""
    guess = 1
    while oracle(guess) != "equal":
        guess += 1
    return guess


@enact.register
def bisect(oracle: Oracle) -> int:
    """Halves the range 1..100 with each question."""
    low, high = 1, 100
    while True:
        guess = (low + high) // 2
        answer = oracle(guess)
        if answer == "equal":
            return guess
        if answer == "lower":
            high = guess - 1
        else:
            low = guess + 1


@enact.register
def trace_of(strategy: Any, oracle: Oracle) -> enact.Invocation:
    """Invokes (rather than calls) a strategy: the result is its journal."""
    return enact.invoke(strategy, (oracle,))


@enact.register
def score(strategies: list[Any], secret: int) -> dict[str, int]:
    """The number of questions each strategy needed, read from its trace."""
    scores = {}
    for strategy in strategies:
        trace = trace_of(strategy, Oracle(secret))
        assert trace.get_output() == secret
        scores[strategy.__name__] = len(list(trace.get_children()))
    return scores


if __name__ == "__main__":
    random.seed(6)
    secret = random.randint(1, 100)
    with enact.InMemoryStore():
        invocation = enact.invoke(score, ([count_up, bisect], secret))
        print("secret:", secret)
        print("questions asked:", invocation.get_output())
        bisect_trace = invocation.get_child(1).get_output()
        print("the trace is a value, an", type(bisect_trace).__name__, "- bisect asked:")
        for question in bisect_trace.get_children():
            print(f"  {question.get_input():>3} -> {question.get_output()}")
        again = invocation.rewind(num_calls=0).replay()
        same = again.get_output() == invocation.get_output()
        print("a replay returns the recorded traces:", same)
