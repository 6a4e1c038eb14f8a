"""Real processes against every shared backend: crashes, concurrent writers, concurrent creation.

The backends come from `BACKENDS` in tests/conftest.py; ``memory:`` is skipped
because other processes cannot reach an in-memory store. The worker processes
are tests/helpers/store_worker.py.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from helpers.store_worker import value

import enact

WORKER = pathlib.Path(__file__).parent / "helpers" / "store_worker.py"


@pytest.fixture
def url(backend_kind: Any, new_store_url: Callable[[], str]) -> str:
    """The URL of a new, empty store that other processes can open."""
    if not backend_kind.shared:
        pytest.skip(
            f"{backend_kind.name} stores live in one process; other processes cannot reach them"
        )
    return new_store_url()


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_during_commits_loses_no_reported_ref(url: str) -> None:
    """kill -9 in the middle of thousands of commits: every reported ref is intact."""
    worker = start("commit-loop", url, "1000000")
    assert worker.stdout is not None
    reported: list[str] = []
    for line in worker.stdout:
        reported.append(line.strip())
        if len(reported) >= 2000:
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.read() if worker.stderr else ""
    assert len(reported) >= 2000
    store = enact.open_store(url)
    try:
        for index, digest in enumerate(reported):
            assert store.checkout(enact.Ref.from_digest(digest)) == value(index)
        assert enact.verify(store).ok
    finally:
        store.close()


def test_four_writers_with_overlapping_content(url: str) -> None:
    """Four processes commit overlapping values and race on one name; nothing is lost."""
    workers = [start("overlap", url, str(n * 150), "400", "15") for n in range(4)]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
    store = enact.open_store(url)
    try:
        for n, (out, _) in enumerate(results):
            digests = json.loads(out)
            assert len(digests) == 400
            for index, digest in zip(range(n * 150, n * 150 + 400), digests, strict=True):
                assert store.checkout(enact.Ref.from_digest(digest)) == value(index)
        counter = store.get_name("counter")
        assert counter is not None and store.checkout(counter) == 60
        assert enact.verify(store).ok
        distinct_values = 3 * 150 + 400
        assert len(list(store.backend.iter_digests())) == distinct_values + 60
    finally:
        store.close()


def test_eight_processes_open_a_new_store_at_once(url: str, tmp_path: pathlib.Path) -> None:
    """Eight processes that create the same brand-new store at the same moment all succeed."""
    go = tmp_path / "go"
    workers = [start("open", url, str(go), str(n)) for n in range(8)]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.strip() == "done"
    store = enact.open_store(url)
    try:
        names = store.names()
        assert sorted(names) == sorted(f"worker-{n}" for n in range(8))
        assert [store.checkout(names[f"worker-{n}"]) for n in range(8)] == [
            {"worker": n} for n in range(8)
        ]
        assert enact.verify(store).ok
        assert len(list(store.backend.iter_digests())) == 9
    finally:
        store.close()
