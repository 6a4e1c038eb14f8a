"""gc racing four writer processes that name and link old objects (issue 10).

Each round runs gc with a short grace period while the writers (real
processes, tests/helpers/gc_race_writer.py) keep committing, re-committing old
objects, linking and naming them, and deleting names; after every round the
store must verify clean (no name or link points at a deleted object), and at
the end every name holds what its writer last acknowledged. Also: a gc killed
(SIGKILL, a real process) after each delete batch leaves a store that verifies.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

import enact

HELPERS = pathlib.Path(__file__).parent / "helpers"
WRITERS = 4
ROUNDS = int(os.environ.get("GC_RACE_ROUNDS", "50"))
GRACE = 0.1
PAUSE = 0.03  # seconds between a writer's iterations, so that gc keeps up


def test_gc_racing_four_writers_loses_nothing(
    backend_kind: Any, new_store_url: Callable[[], str], tmp_path: pathlib.Path
) -> None:
    if not backend_kind.shared:
        pytest.skip("an in-process store cannot be shared with writer processes")
    url = new_store_url()
    store = enact.open_store(url)
    store.set_name("warm-up", store.commit("the tables exist before the writers start"))
    stop = tmp_path / "stop"
    ledgers = [tmp_path / f"ledger-{index}.jsonl" for index in range(WRITERS)]
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                str(HELPERS / "gc_race_writer.py"),
                url,
                f"w{i}",
                str(ledger),
                str(stop),
                str(PAUSE),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, ledger in enumerate(ledgers)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready", writer.stderr
        deleted = 0
        for round_number in range(ROUNDS):
            report = enact.gc(store, grace_seconds=GRACE, batch_size=4)
            deleted += report.deleted
            checked = enact.verify(store)
            assert checked.ok, f"after gc round {round_number + 1}: {checked}"
            time.sleep(GRACE / 2)
    finally:
        stop.touch()
        outputs = [writer.communicate(timeout=120) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert int(out.split()[-1]) > 5, out  # the writer kept writing while gc ran
    assert deleted > 0  # gc did delete garbage meanwhile (else the race proved nothing)

    acknowledged: dict[str, str | None] = {}
    operations = collections.Counter[str]()
    for ledger in ledgers:
        for line in ledger.read_text().splitlines():
            name, digest = json.loads(line)
            acknowledged[name] = digest
            operations[name.split("/")[1].rstrip("0123456789")] += 1
    assert {"r", "linked", "again"} <= set(operations), operations
    fresh = enact.open_store(url)
    names = {name: ref.digest for name, ref in fresh.names().items() if name != "warm-up"}
    assert names == {name: digest for name, digest in acknowledged.items() if digest is not None}
    final = enact.verify(fresh)
    assert final.ok, str(final)
    for digest in names.values():
        fresh.checkout(enact.Ref._unchecked(digest))  # whole and readable
    fresh.close()
    store.close()


_KILLED_GC = """
import os, signal, sys
import enact

store = enact.open_store(sys.argv[1])
stop_after = int(sys.argv[2])
batches = 0

def progress(stage, done, total):
    global batches
    if stage == "gc: delete":
        batches += 1
        if batches == stop_after:
            os.kill(os.getpid(), signal.SIGKILL)

enact.gc(store, grace_seconds=0, batch_size=2, progress=progress)
print("finished")
"""


def test_gc_killed_after_each_delete_batch_leaves_a_store_that_verifies(
    backend_kind: Any, new_store_url: Callable[[], str]
) -> None:
    """kill -9 of a gc process after its first, second, ... delete batch: verify is clean
    every time, and what a name reaches is whole."""
    if not backend_kind.shared:
        pytest.skip("an in-process store cannot be shared with the gc process")
    total = 12  # a chain of 10 unnamed objects (garbage), and a named parent and child
    for stop_after in range(1, 7):
        url = new_store_url()
        store = enact.open_store(url)
        ref: enact.Ref[Any] = store.commit({"end": True})
        for i in range(9):
            ref = store.commit({"i": i, "next": ref})
        keep = store.commit({"kept": store.commit({"child": "kept"})})
        store.set_name("keep", keep)
        store.close()
        time.sleep(0.05)  # older than gc's cutoff
        done = subprocess.run(
            [sys.executable, "-c", _KILLED_GC, url, str(stop_after)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        reopened = enact.open_store(url)
        after = enact.verify(reopened)
        reopened.close()
        assert after.ok, f"killed after batch {stop_after}: {after}"
        reopened = enact.open_store(url)
        assert reopened.checkout(reopened.checkout(keep)["kept"]) == {"child": "kept"}
        reopened.close()
        if stop_after == 6:  # five batches of two: it finished first
            assert (done.returncode, done.stdout.strip()) == (0, "finished"), done.stderr
            assert after.checked == 2
        else:
            assert done.returncode == -9, done.stderr
            assert after.checked == total - 2 * stop_after
