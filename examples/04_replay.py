"""Replay and rewind: using a journal as a template for the next run.

``invocation.replay()`` runs an invocation again, but every child call whose
request matches the journal (same invokable, same input, same position) and
that has a recorded output returns that output without running. Only calls
without a recorded output run. So to redo part of a run, remove outputs:
``invocation.rewind(num_calls)`` returns a copy without the final output
and without its last `num_calls` children; the original never changes.

Replay matches calls by position, so a program must make the same calls
given the same earlier results. If it does not, replay raises
`enact.ReplayError` (or, with ``strict=False``, runs the mismatched call).

Run: python 04_replay.py
"""

from __future__ import annotations

import dataclasses
import itertools
import random

import enact


@enact.register
@dataclasses.dataclass
class Card(enact.Invokable):
    """Draws a card value from 1 to 13."""

    def call(self) -> int:
        return random.randint(1, 13)


@enact.register
def deal(players: list[str]) -> dict[str, int]:
    return {player: Card()() for player in players}


def replay_after_editing_the_journal(store: enact.Store) -> enact.Invocation:
    print("== Replay re-runs only what has no recorded output ==")
    with store:
        first = enact.invoke(deal, (["ann", "bob", "cyd"],))
        print(enact.invocation_summary(first))
        edited = first.rewind(num_calls=0)  # a copy without the final output
        with edited.response.modify() as response:
            response.children.pop()  # forget cyd's card
        second = edited.replay()
        print("after dropping cyd's card and replaying:")
        print(enact.invocation_summary(second))
        kept = [second.get_output()[p] == first.get_output()[p] for p in ("ann", "bob")]
        print("ann and bob kept their cards:", all(kept))
    return first


def rewind(store: enact.Store, first: enact.Invocation) -> None:
    print()
    print("== rewind(n) drops the last n calls ==")
    with store:
        before = enact.commit(first)
        for n in (1, 2):
            replayed = first.rewind(num_calls=n).replay()
            print(f"rewind({n}).replay():", replayed.get_output())
        print("the original is unchanged:", enact.commit(first) == before)
        print("original output:", first.get_output())


CLOCK = itertools.count(1000)


@enact.register
def stamp(moment: int) -> str:
    return f"T+{moment}"


@enact.register
def log_event(name: str) -> str:
    # Not deterministic: the argument of the journaled call depends on the clock.
    return f"{name} at {stamp(next(CLOCK))}"


def non_determinism(store: enact.Store) -> None:
    print()
    print("== A program that is not deterministic cannot be replayed strictly ==")
    with store:
        recorded = enact.invoke(log_event, ("start",))
        print("recorded:", recorded.get_output())
        try:
            recorded.rewind(num_calls=0).replay()
        except enact.ReplayError as error:
            # The message says where (the call's path and source line), what differs
            # (field by field) and how to fix it. The source file is shown by its
            # name here, so that this output is the same on every machine.
            assert error.location is not None
            message = str(error).replace(error.location.filename, "04_replay.py")
            print("ReplayError:", message)
            print("  at child path:", error.path, "| what differs:", error.differing_fields)
            print("  called at line", error.location.lineno, "in", error.location.function)
        lenient = recorded.rewind(num_calls=0).replay(strict=False)
        print("with strict=False the mismatched call runs again:", lenient.get_output())


@enact.register
def read_clock() -> int:
    return next(CLOCK)


@enact.register
def log_event_fixed(name: str) -> str:
    # Fixed: reading the clock is itself a journaled call, so its value is replayed.
    return f"{name} at {stamp(read_clock())}"


def the_fix(store: enact.Store) -> None:
    print()
    print("== The fix: journal the source of non-determinism ==")
    with store:
        recorded = enact.invoke(log_event_fixed, ("start",))
        replayed = recorded.rewind(num_calls=0).replay()
        print("recorded:", recorded.get_output(), "| replayed:", replayed.get_output())


if __name__ == "__main__":
    random.seed(7)
    memory = enact.InMemoryStore()
    first_deal = replay_after_editing_the_journal(memory)
    rewind(memory, first_deal)
    non_determinism(memory)
    the_fix(memory)
