"""Worker processes for the PostgreSQL tests; each mode prints one line per reported fact.

Usage:
    python pg_worker.py commit DSN SCHEMA    commit items (one by one, in batches of 10
                                             and of 100)
                                             until killed: "ref DIGEST" once a commit
                                             returned, "name DIGEST" once the name
                                             "last" points at it
    python pg_worker.py overlap DSN SCHEMA SEED   wait for "go" on stdin, then commit
                                             items 0..599 in a shuffled mix of single
                                             commits and batches, and add 1 to the
                                             counter name "count" 10 times; "done"
    python pg_worker.py open DSN INDEX       wait for "go", open the store (creating
                                             its tables), commit two items, "ok DIGEST"

Lines are flushed at once, so a parent that kills the worker knows exactly
what had been reported.
"""

from __future__ import annotations

import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from helpers.workload import item

import enact

OVERLAP_ITEMS = 600
COUNTER_INCREMENTS = 10


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def wait_for_go() -> None:
    say("ready")
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected 'go' on stdin")


def commit_until_killed(dsn: str, schema: str) -> None:
    store = enact.PostgresStore(dsn, schema=schema)
    backend = store.backend
    last: str | None = None
    index = 0
    with store:
        while True:
            ref = enact.commit(item(index))
            say(f"ref {ref.digest}")
            index += 1
            for size in (10, 100):  # below and above the size where batches use COPY
                with store.batch():
                    refs = [enact.commit(item(index + k)) for k in range(size)]
                for ref in refs:
                    say(f"ref {ref.digest}")
                index += size
            backend.set_name("last", refs[-1].digest, expected=last)
            last = refs[-1].digest
            say(f"name {last}")


def overlap(dsn: str, schema: str, seed: int) -> None:
    rng = random.Random(seed)
    indices = list(range(OVERLAP_ITEMS))
    rng.shuffle(indices)
    store = enact.PostgresStore(dsn, schema=schema)
    wait_for_go()
    with store:
        while indices:
            size = rng.choice([1, 7, 100, 250])
            chunk, indices = indices[:size], indices[size:]
            if size == 1:
                enact.commit(item(chunk[0]))
            else:
                with store.batch():
                    for index in chunk:
                        enact.commit(item(index))
        for _ in range(COUNTER_INCREMENTS):
            increment(store)
    store.close()
    say("done")


def increment(store: enact.Store) -> None:
    """Adds 1 to the int the name "count" points at, with compare-and-set."""
    backend = store.backend
    while True:
        current = backend.get_name("count")
        value = 0 if current is None else store.checkout(enact.Ref.from_digest(current))
        new = store.commit(value + 1)
        try:
            backend.set_name("count", new.digest, expected=current)
            return
        except enact.NameConflictError:
            continue


def open_fresh(dsn: str, index: int) -> None:
    wait_for_go()
    with enact.PostgresStore(dsn) as store:
        enact.commit(item(0))
        ref = enact.commit(item(index))
        store.close()
    say(f"ok {ref.digest}")


def main() -> None:
    mode, dsn = sys.argv[1], sys.argv[2]
    if mode == "commit":
        commit_until_killed(dsn, sys.argv[3])
    elif mode == "overlap":
        overlap(dsn, sys.argv[3], int(sys.argv[4]))
    elif mode == "open":
        open_fresh(dsn, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
