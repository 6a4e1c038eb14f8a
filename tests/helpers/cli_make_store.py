"""Writes a journal for the `enact` command tests into the store at argv[1].

Prints a JSON object with the refs it wrote (digests), by role. Run with
``tests`` on PYTHONPATH, so that the types are those of `helpers.cli_types`.
"""

from __future__ import annotations

import json
import random
import sys

from helpers.cli_types import Greeting, RollDie, ask_greeting, confirm_rolls, fail, roll_dice

import enact


def main() -> None:
    random.seed(7)
    store = enact.open_store(sys.argv[1])
    refs: dict[str, str] = {}
    with store:
        runs = {
            "roll": (roll_dice, ([RollDie(), RollDie(20)],)),
            "confirm": (confirm_rolls, (2,)),
            "fail": (fail, (1,)),
            "greet": (ask_greeting, ("Ada",)),
        }
        for role, (function, args) in runs.items():
            refs[role] = store.commit(enact.invoke(function, args, run_id=role)).digest
        greeting = store.commit(Greeting("Hello", 2))
        store.set_name("greeting", greeting)
        refs["greeting"] = greeting.digest
        refs["seven"] = store.commit(7).digest
    store.close()
    print(json.dumps(refs))


if __name__ == "__main__":
    main()
