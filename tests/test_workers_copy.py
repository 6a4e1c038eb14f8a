"""``enact copy`` hands the runs that wait for a worker to the target's workers.

The copy runs as a real ``python -m enact ... copy`` process between real
stores (SQLite files, a directory, the PostgreSQL test server); workers on
the target then continue the runs. Executions are counted with the agent's
ledger (tests/helpers/worker_agent.py).
"""

from __future__ import annotations

import collections
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import enact
from enact.invocations.runs import Worker

HELPERS = pathlib.Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))  # the agent is `worker_agent` here

import worker_agent as agent  # noqa: E402
from worker_stores import ledger_file, store_url  # noqa: E402


@pytest.fixture(params=["sqlite", "postgres"])
def target_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    with store_url(request.param, tmp_path, "target.db") as new:
        yield new


@pytest.fixture
def ledger(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    return ledger_file(tmp_path, monkeypatch)


def enact_copy(source: str, target: str, *refs: str) -> str:
    paths = [str(HELPERS), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    done = subprocess.run(
        [sys.executable, "-m", "enact", "--store", source, "copy", "--to", target, *refs],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def keys(ledger: pathlib.Path) -> collections.Counter[str]:
    return collections.Counter(
        line.split()[1] for line in ledger.read_text().splitlines() if line.startswith("run ")
    )


def test_copy_all_keeps_queued_and_answered_runs_ready_and_the_limits(
    tmp_path: pathlib.Path, target_url: str, ledger: pathlib.Path
) -> None:
    """Queued and answered runs stay ready on the target; a claim is not copied."""
    source_url = f"sqlite:///{tmp_path}/source.db"
    with enact.open_store(source_url) as source:
        enact.submit(agent.job, (2,), run_id="queued-1", queue="emails")
        enact.submit(agent.job, (1,), run_id="held-1")
        enact.invoke(agent.approval, ("order-1",), run_id="answered-1")
        enact.answer("answered-1", "yes")  # recorded only: ready for a worker
        enact.invoke(agent.approval, ("order-2",), run_id="waiting-1")
        enact.invoke(agent.job, (1,), run_id="done-1")
        enact.set_queue_limit("emails", 2)
        backend: Any = source.backend
        held = backend.ready_take(["default"], "a-source-worker", 600.0)
        assert held is not None and held.run_id in ("held-1", "answered-1")
    source.close()
    out = enact_copy(source_url, target_url, "--all")
    assert "Put 3 run(s) in the target's ready queue for its workers." in out
    before = keys(ledger)
    with enact.open_store(target_url) as target:
        queue: Any = target.backend
        assert queue.ready_count() == 3
        assert queue.ready_count(["emails"]) == 1
        assert enact.queue_limits() == {"emails": 2}
        stats = Worker(target, queues=["default", "emails"], lease_seconds=5).run(until_idle=True)
        assert stats.finished == 3  # the held run too: its source claim stayed behind
        assert enact.get_run("queued-1").result() == 10
        assert enact.get_run("held-1").result() == 0
        assert enact.get_run("answered-1").result() == "order-1: yes"
        assert enact.get_run("waiting-1").status == "waiting"
        assert queue.ready_count() == 0
    target.close()
    ran = keys(ledger) - before
    assert ran == {"queued-1/0": 1, "queued-1/1": 1, "held-1/0": 1, "answered-1/2": 1}


def test_copy_from_a_store_without_a_ready_queue_queues_answered_runs(
    tmp_path: pathlib.Path, target_url: str, ledger: pathlib.Path
) -> None:
    """From a directory store (no ready queue), a copied run that is answered becomes ready."""
    source_url = f"file://{tmp_path}/source"
    with enact.open_store(source_url):
        enact.invoke(agent.approval, ("order-3",), run_id="answered-3")
        assert enact.answer("answered-3", "ship").status == "answered"
        enact.invoke(agent.approval, ("order-4",), run_id="waiting-4")
    out = enact_copy(source_url, target_url, "answered-3", "waiting-4")
    assert "Put 1 run(s) in the target's ready queue" in out
    with enact.open_store(target_url) as target:
        stats = Worker(target, lease_seconds=5).run(until_idle=True)
        assert stats.finished == 1
        assert enact.get_run("answered-3").result() == "order-3: ship"
        assert enact.get_run("waiting-4").status == "waiting"
    target.close()
    assert keys(ledger)["answered-3/2"] == 1


def test_copy_to_a_store_without_a_ready_queue_copies_the_runs_only(
    tmp_path: pathlib.Path,
) -> None:
    source_url = f"sqlite:///{tmp_path}/source.db"
    with enact.open_store(source_url):
        enact.submit(agent.job, (1,), run_id="queued-5")
    out = enact_copy(source_url, f"file://{tmp_path}/target", "queued-5")
    assert "ready queue" not in out
    with enact.open_store(f"file://{tmp_path}/target"):
        assert enact.get_run("queued-5").status == "queued"  # enact resume can run it there
