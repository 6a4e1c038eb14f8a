"""A writer racing gc (for tests/test_gc_race.py): names and links old objects until told to stop.

    python gc_race_writer.py URL WRITER LEDGER STOP PAUSE

Each iteration commits a small fresh tree and names it; every other one also
re-commits leaves of earlier iterations (old objects that gc may be deleting
right then: the re-commit is what acknowledges them) and links them from a new
named parent; every third names an object another of its names still holds,
then moves that name on; old names are deleted, which makes garbage. Every
acknowledged operation is appended to LEDGER as a JSON line (flushed) before
the next starts; PAUSE seconds pass between iterations (so that gc keeps up). It
stops when the file STOP exists.
"""

from __future__ import annotations

import json
import os
import sys
import time

import enact


def main() -> None:
    url, writer, ledger_path, stop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    pause = float(sys.argv[5])
    store = enact.open_store(url)
    named: dict[str, enact.Ref[object]] = {}  # what this writer's names hold now
    print("ready", flush=True)
    with open(ledger_path, "a", encoding="utf-8") as ledger:

        def record(name: str, ref: enact.Ref[object] | None) -> None:
            if ref is None:
                named.pop(name, None)
            else:
                named[name] = ref
            ledger.write(json.dumps([name, None if ref is None else ref.digest]) + "\n")
            ledger.flush()

        iteration = 0
        while not os.path.exists(stop):
            iteration += 1
            leaves = [store.commit({"w": writer, "leaf": iteration, "k": k}) for k in range(2)]
            fresh = store.commit({"w": writer, "it": iteration, "kids": leaves})
            name = f"{writer}/r{iteration}"
            store.set_name(name, fresh)
            record(name, fresh)
            if iteration % 2 == 0 and iteration > 4:
                # Old leaves, unreachable once their names were deleted: committed again.
                old = [store.commit({"w": writer, "leaf": j, "k": 0}) for j in (1, iteration - 4)]
                parent = store.commit({"w": writer, "linked": old, "also": fresh})
                store.set_name(f"{writer}/linked", parent)
                record(f"{writer}/linked", parent)
            if iteration % 3 == 0 and f"{writer}/r{iteration - 1}" in named:
                held = named[f"{writer}/r{iteration - 1}"]  # reachable through that name
                store.set_name(f"{writer}/again", held)
                record(f"{writer}/again", held)
            doomed = f"{writer}/r{iteration - 3}"
            if doomed in named:
                store.set_name(doomed, None)
                record(doomed, None)
            time.sleep(pause)
    store.close()
    print("done", iteration, flush=True)


if __name__ == "__main__":
    main()
