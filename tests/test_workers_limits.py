"""Global queue limits: kept in the store, enforced across worker processes.

Worker processes run ``python -m enact worker --import worker_agent`` against
the PostgreSQL test server and an SQLite file. Each run's one call writes a
``begin`` and an ``end`` ledger line with its pid (one ``O_APPEND`` write
each), so the ledger shows how many runs ran at once.
"""

from __future__ import annotations

import collections
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import enact
from enact.invocations.runs import Worker

HELPERS = pathlib.Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))  # the agent is `worker_agent` here and in the workers

import worker_agent as agent  # noqa: E402
from worker_stores import ledger_file, opened, stop_all, store_url  # noqa: E402


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A new, empty store that keeps a ready queue."""
    with store_url(request.param, tmp_path) as new:
        yield new


@pytest.fixture
def store(url: str) -> Iterator[enact.Store]:
    with opened(url) as store:
        yield store


@pytest.fixture
def ledger(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    return ledger_file(tmp_path, monkeypatch)


_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test() -> Iterator[None]:
    yield
    stop_all(_started)


def start_worker(url: str, ledger: pathlib.Path, log: pathlib.Path, *args: str) -> Any:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]),
        **{agent.LEDGER_VARIABLE: str(ledger)},
    )
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "enact", "--store", url, "worker"),
                *("--import", "worker_agent", "--lease", "4", *args),
            ],
            env=env,
            stdout=out,
            stderr=out,
        )
    _started.append(process)
    return process


def ledger_lines(ledger: pathlib.Path) -> list[tuple[str, str, int]]:
    return [
        (event, key, int(pid))
        for event, key, pid in (line.split() for line in ledger.read_text().splitlines())
    ]


def running(ledger: pathlib.Path) -> dict[str, int]:
    """Call key -> pid of the calls that began and neither ended nor were killed."""
    active: dict[str, int] = {}
    for event, key, pid in ledger_lines(ledger):
        if event == "begin":
            active[key] = pid
        elif event == "end":
            active.pop(key, None)
        elif event == "killed":
            active = {k: p for k, p in active.items() if p != pid}
    return active


def most_at_once(ledger: pathlib.Path) -> int:
    """The most calls that ran at the same time, by the ledger's order."""
    active: dict[str, int] = {}
    most = 0
    for event, key, pid in ledger_lines(ledger):
        if event == "begin":
            active[key] = pid
            most = max(most, len(active))
        elif event == "end":
            active.pop(key, None)
        elif event == "killed":  # its calls stopped when it died
            active = {k: p for k, p in active.items() if p != pid}
    return most


def append_line(ledger: pathlib.Path, line: str) -> None:
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def wait_for(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


# Across processes ----------------------------------------------------------------------


def test_a_queue_limit_binds_all_worker_processes_and_dead_claims_expire(
    url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Limit 2, 4 workers allowing 4 each: never more than 2 at once; killed claims expire."""
    ids = [f"bounded-{index:02d}" for index in range(12)]
    with enact.open_store(url) as store:
        enact.set_queue_limit("bounded", 2)
        for run_id in ids:
            enact.submit(agent.bounded_job, (0.8,), run_id=run_id, queue="bounded")
    workers = [
        start_worker(
            url,
            ledger,
            tmp_path / f"w{i}.log",
            *("--queue", "bounded", "--concurrency", "4", "--queue-limit", "bounded=2"),
        )
        for i in range(4)
    ]
    # Kill -9 the workers of the runs in progress once two run: their claims hold
    # both slots until their leases expire, then other workers take the runs again.
    wait_for(lambda: len(running(ledger)) == 2, "two runs to run at once")
    victims = set(running(ledger).values())
    for process in workers:
        if process.pid in victims:
            process.send_signal(signal.SIGKILL)
            process.wait()
            append_line(ledger, f"killed - {process.pid}")
    with enact.open_store(url) as store:
        for run_id in ids:
            assert enact.wait(run_id, timeout=180).result() == "done"
        backend: Any = store.backend
        wait_for(lambda: backend.ready_count(["bounded"]) == 0, "the queue to empty")
        assert enact.queue_limits() == {"bounded": 2}
    for process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    assert most_at_once(ledger) == 2  # the limit held, and was reached
    ends = collections.Counter(key for event, key, _ in ledger_lines(ledger) if event == "end")
    assert ends == {f"{run_id}/0": 1 for run_id in ids}  # every run finished once
    begins = collections.Counter(key for event, key, _ in ledger_lines(ledger) if event == "begin")
    again = {key for key, count in begins.items() if count > 1}
    assert again and len(again) <= 2  # only the calls of the killed workers ran again


def test_without_a_global_limit_each_worker_runs_its_own_share(
    url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The control: two workers allowing 2 each together run more than 2 at once."""
    with enact.open_store(url):
        for index in range(8):
            enact.submit(agent.bounded_job, (0.5,), run_id=f"free-{index}", queue="free")
    workers = [
        start_worker(
            url,
            ledger,
            tmp_path / f"w{i}.log",
            *("--queue", "free", "--concurrency", "2", "--until-idle"),
        )
        for i in range(2)
    ]
    assert [process.wait(timeout=120) for process in workers] == [0, 0]
    assert 2 < most_at_once(ledger) <= 4


# In one process ------------------------------------------------------------------------


def test_set_queue_limit_is_kept_in_the_store(url: str, store: enact.Store) -> None:
    """Limits are read back by other store objects; None removes one; rows are no runs."""
    assert enact.queue_limits() == {}
    enact.set_queue_limit("emails", 3)
    enact.set_queue_limit("reports", 1)
    enact.set_queue_limit("emails", 5)
    backend: Any = store.backend
    assert backend.ready_count() == 0  # a limit is not an item
    assert backend.ready_next(["emails"]) is None
    with enact.open_store(url) as other:
        assert enact.queue_limits(store=other) == {"emails": 5, "reports": 1}
        other.close()
    enact.set_queue_limit("reports", None)
    assert enact.queue_limits() == {"emails": 5}


def test_set_queue_limit_checks_its_arguments(store: enact.Store) -> None:
    for bad in (0, -1, 1.5, True, "2", 2**31):
        with pytest.raises(ValueError, match="limit of queue 'q' must be an int from 1 to"):
            enact.set_queue_limit("q", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Queue name '' is not valid"):
        enact.set_queue_limit("", 1)
    with pytest.raises(ValueError, match="limit of queue 'q' must be an int"):
        Worker(store, queue_limits={"q": 0})
    assert enact.queue_limits() == {}


def test_set_queue_limit_needs_a_store_with_a_ready_queue() -> None:
    with enact.open_store("memory:"):
        with pytest.raises(enact.UnsupportedOperationError, match="keeps no ready queue"):
            enact.set_queue_limit("q", 1)
        assert enact.queue_limits() == {}


def test_a_worker_records_its_queue_limits_and_obeys_them(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    """Worker(queue_limits=...) records them; its 3 threads then run one run at a time."""
    for index in range(3):
        enact.submit(agent.bounded_job, (0.05,), run_id=f"one-{index}", queue="one")
    worker = Worker(store, queues=["one"], concurrency=3, queue_limits={"one": 1}, lease_seconds=5)
    assert worker.run(until_idle=True).finished == 3
    assert enact.queue_limits() == {"one": 1}
    assert most_at_once(ledger) == 1


def test_a_claim_is_renewed_while_its_run_runs_longer_than_the_lease(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    """Runs of 2.5 s under a 1.5 s lease: the renewed claim keeps the only slot taken."""
    for index in range(2):
        enact.submit(agent.bounded_job, (2.5,), run_id=f"long-{index}", queue="long")
    enact.set_queue_limit("long", 1)
    worker = Worker(store, queues=["long"], concurrency=2, lease_seconds=1.5)
    assert worker.run(until_idle=True).finished == 2
    assert most_at_once(ledger) == 1
    begins = [key for event, key, _ in ledger_lines(ledger) if event == "begin"]
    assert sorted(begins) == ["long-0/0", "long-1/0"]  # neither ran twice


def test_a_full_queue_gives_no_item_and_an_expired_claim_frees_its_slot(
    store: enact.Store,
) -> None:
    backend: Any = store.backend
    for run_id in ("a", "b", "c"):
        backend.ready_put(run_id, "q")
    backend.ready_put("x", "free")
    enact.set_queue_limit("q", 1)
    first = backend.ready_take(["q"], "w1", 0.3)
    assert first is not None and first.queue == "q"
    assert backend.ready_take(["q"], "w2", 30) is None  # full
    other = backend.ready_take(["q", "free"], "w2", 30)
    assert other is not None and other.run_id == "x"  # other queues are still served
    assert backend.ready_renew([first], "w2", 30) == 0  # only its owner renews a claim
    time.sleep(0.4)
    assert backend.ready_renew([first], "w1", 30) == 0  # an expired claim is not revived
    second = backend.ready_take(["q"], "w2", 30)
    assert second is not None  # the expired claim no longer counts
    assert backend.ready_renew([second], "w2", 30) == 1
    assert backend.ready_take(["q"], "w3", 30) is None
    backend.ready_drop(second)  # finished: its slot is free
    assert backend.ready_take(["q"], "w3", 30) is not None


def test_enact_worker_queue_limit_option(url: str, store: enact.Store) -> None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])
    )
    command = [sys.executable, "-m", "enact", "--store", url, "worker", "--until-idle"]
    done = subprocess.run(
        [*command, "--queue-limit", "a=2", "--queue-limit", "b=3", "--queue", "a"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "queue a: at most 2 run(s) at once in all workers" in done.stderr
    assert enact.queue_limits() == {"a": 2, "b": 3}
    done = subprocess.run(
        [*command, "--queue-limit", "b=none"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert enact.queue_limits() == {"a": 2}
    bad = subprocess.run(
        [*command, "--queue-limit", "a"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "write Q=N with N a number" in bad.stderr
