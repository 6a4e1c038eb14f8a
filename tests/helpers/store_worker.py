"""A process that writes to a store, for tests/test_store_processes.py.

python store_worker.py commit-loop URL COUNT
    Commits COUNT values (every fourth group of ten in one batch), printing
    each digest once its commit has returned.
python store_worker.py overlap URL START COUNT INCREMENTS
    Commits values START..START+COUNT (half singly, half in one batch), then
    increments the "counter" name INCREMENTS times by compare-and-set;
    prints the digests as one JSON list.
python store_worker.py open URL GO_FILE WORKER
    Prints "ready", waits until GO_FILE exists, then opens the store, commits
    a value of its own and a value shared by all workers, names its value
    "worker-WORKER", and prints "done".
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import Any

import enact


def value(index: int) -> dict[str, Any]:
    """The value number `index`: the same in every process, a few hundred bytes."""
    return {"index": index, "text": f"value {index} " * 20, "tags": [str(index % 7)]}


def commit_loop(url: str, count: int) -> None:
    store = enact.open_store(url)
    index = 0
    while index < count:
        if (index // 10) % 4 == 3:
            with store.batch():
                refs = [store.commit(value(i)) for i in range(index, index + 10)]
        else:
            refs = [store.commit(value(index))]
        for ref in refs:
            print(ref.digest, flush=True)
        index += len(refs)


def increment(store: enact.Store) -> None:
    """Adds one to the int the "counter" name points at, retrying lost races."""
    while True:
        current = store.get_name("counter")
        if current is None:
            try:
                store.set_name("counter", store.commit(1), expected=None)
                return
            except enact.NameConflictError:
                continue
        following = store.commit(store.checkout(current) + 1)
        try:
            store.set_name("counter", following, expected=current)
            return
        except enact.NameConflictError:
            continue


def overlap(url: str, start: int, count: int, increments: int) -> None:
    store = enact.open_store(url)
    half = start + count // 2
    refs = [store.commit(value(i)) for i in range(start, half)]
    with store.batch():
        refs += [store.commit(value(i)) for i in range(half, start + count)]
    for _ in range(increments):
        increment(store)
    print(json.dumps([ref.digest for ref in refs]), flush=True)


def open_at_once(url: str, go_file: str, worker: int) -> None:
    print("ready", flush=True)
    go = pathlib.Path(go_file)
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.002)
    store = enact.open_store(url)
    own = store.commit({"worker": worker})
    store.commit("shared by every worker")
    store.set_name(f"worker-{worker}", own)
    print("done", flush=True)


def main(argv: list[str]) -> None:
    mode, url, *rest = argv
    if mode == "commit-loop":
        commit_loop(url, int(rest[0]))
    elif mode == "overlap":
        overlap(url, int(rest[0]), int(rest[1]), int(rest[2]))
    elif mode == "open":
        open_at_once(url, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
