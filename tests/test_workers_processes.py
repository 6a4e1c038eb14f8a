"""Workers in real processes: kill -9 chaos, SIGTERM, racing workers, answers from elsewhere.

Worker processes run ``python -m enact worker --import worker_agent`` (the
agent is tests/helpers/worker_agent.py) against the PostgreSQL test server
or an SQLite file. Executions are counted with the agent's ledger file: one
``run <call key> <pid>`` line each time a journaled call's body runs.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
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
from enact.invocations.timings import RunTimings

HELPERS = pathlib.Path(__file__).parent / "helpers"
POOL = HELPERS / "worker_pool.py"
sys.path.insert(0, str(HELPERS))  # the agent is `worker_agent` here and in the workers

import worker_agent as agent  # noqa: E402
from worker_stores import ledger_file, opened, postgres_url, stop_all  # noqa: E402


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_url() as url:
        yield url


@pytest.fixture
def ledger(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    return ledger_file(tmp_path, monkeypatch)


def worker_env(ledger: pathlib.Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, **{agent.LEDGER_VARIABLE: str(ledger)}, **extra)


def start_worker(
    url: str, ledger: pathlib.Path, log: pathlib.Path, *args: str, **env: str
) -> subprocess.Popen[bytes]:
    """Starts ``enact worker`` (lease 2 s) logging to `log`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "enact",
                "--store",
                url,
                "worker",
                "--import",
                "worker_agent",
                "--lease",
                "2",
                *args,
            ],
            env=worker_env(ledger, **env),
            stdout=out,
            stderr=out,
        )
    _started.append(process)
    return process


_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test() -> Iterator[None]:
    yield
    stop_all(_started)


def ledger_lines(ledger: pathlib.Path) -> list[tuple[str, str, int]]:
    """(event, call key, pid) of each ledger line, in order."""
    found = []
    for line in ledger.read_text().splitlines():
        event, key, pid = line.split()
        found.append((event, key, int(pid)))
    return found


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


# kill -9 ------------------------------------------------------------------------------

RUNS = 1000
CALLS = 2
WORKERS = 4


def test_killing_workers_loses_no_run_and_repeats_only_calls_in_flight(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """1,000 runs, 4 workers, one killed with SIGKILL (and restarted) every second."""
    ids = [f"chaos-{index:04d}" for index in range(RUNS)]
    with opened(pg_url) as store:

        def submit(run_id: str) -> str:
            with store:
                return enact.submit(agent.job, (CALLS,), run_id=run_id)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert sorted(pool.map(submit, ids)) == ids
    stop_file, killed_file = tmp_path / "stop", tmp_path / "killed.txt"
    pool_process = subprocess.Popen(
        [sys.executable, str(POOL), pg_url, str(WORKERS), str(stop_file), str(killed_file)],
        env=worker_env(ledger),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert pool_process.stdout is not None
        assert pool_process.stdout.readline() == "ready\n"
        with opened(pg_url) as store:
            backend: Any = store.backend
            deadline = time.monotonic() + 900  # against a hang only
            while backend.ready_count() > 0:
                assert time.monotonic() < deadline, f"{backend.ready_count()} runs still queued"
                time.sleep(0.2)
        stop_file.touch()
        out, _ = pool_process.communicate(timeout=120)
    finally:
        if pool_process.poll() is None:
            pool_process.kill()  # its workers die with it
            pool_process.wait()
    report = json.loads(out.splitlines()[-1])
    assert report["exit_codes"] == [0] * WORKERS  # SIGTERM: stopped cleanly
    killed = {int(pid) for pid in killed_file.read_text().split()}
    assert len(killed) == report["kills"] >= 3  # the test did kill workers mid-flight
    with opened(pg_url) as store:
        backend = store.backend
        expected = sum(i * 10 for i in range(CALLS))
        for run_id in ids:
            run = enact.get_run(run_id)
            assert run.status == "complete", (run_id, run.status)
            assert run.result() == expected
            states = [state.status for _, state in run.history()]
            assert states.count("complete") == 1  # completed exactly once
            assert states[-1] == "queued"
        assert backend.ready_count() == 0

    lines = ledger_lines(ledger)
    keys = collections.Counter(key for event, key, _ in lines if event == "run")
    assert set(keys) == {f"{run_id}/{i}" for run_id in ids for i in range(CALLS)}
    # A repeated call ran first in a worker that was killed while running it: its
    # line is the last that worker wrote (each worker runs one call at a time).
    assert {pid for _, _, pid in lines} & killed  # some killed workers had run calls
    last_of: dict[int, int] = {}
    for index, (_, _, pid) in enumerate(lines):
        last_of[pid] = index
    latest: dict[str, int] = {}
    for index, (_, key, _) in enumerate(lines):
        latest[key] = index
    for index, (_, key, pid) in enumerate(lines):
        if latest[key] != index:
            assert pid in killed and last_of[pid] == index, (key, pid)


# Answers from elsewhere ---------------------------------------------------------------


def test_an_answer_recorded_without_the_agent_is_continued_by_another_worker(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with opened(pg_url):
        enact.submit(agent.approval, ("order-9",), run_id="approve-9")
    first = start_worker(pg_url, ledger, tmp_path / "first.log", "--until-idle")
    assert first.wait(timeout=60) == 0
    with opened(pg_url):
        assert enact.get_run("approve-9").status == "waiting"

    # Another "machine": no agent module on its path, its own store URL.
    answerer_url = f"{pg_url}&application_name=answerer"
    env = {key: value for key, value in os.environ.items() if key != agent.LEDGER_VARIABLE}
    env["PYTHONPATH"] = str(pathlib.Path(enact.__file__).parent.parent)
    script = (
        "import sys, enact\n"
        f"with enact.open_store({answerer_url!r}):\n"
        "    run = enact.answer('approve-9', 'ship it')\n"
        "print(run.status, 'worker_agent' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["answered", "False"]

    # And the worker is on a third "machine": a store URL of its own too.
    worker_url = f"{pg_url}&application_name=machine-b"
    second = start_worker(worker_url, ledger, tmp_path / "second.log", "--until-idle")
    assert second.wait(timeout=60) == 0
    assert "claimed run approve-9" in (tmp_path / "second.log").read_text()
    with opened(pg_url):
        assert enact.get_run("approve-9").result() == "order-9: ship it"
    keys = [key for event, key, _ in ledger_lines(ledger) if event == "run"]
    assert keys == ["approve-9/0", "approve-9/2"]


def test_enact_answer_record_only_without_imports_hands_the_run_to_a_worker(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with opened(pg_url):
        enact.invoke(agent.approval, ("order-10",), run_id="approve-10")
    env = {key: value for key, value in os.environ.items() if key != agent.LEDGER_VARIABLE}
    env["PYTHONPATH"] = str(pathlib.Path(enact.__file__).parent.parent)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "enact",
            "--store",
            f"{pg_url}&application_name=cli",
            "answer",
            "approve-10",
            "--input",
            "later",
            "--record-only",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "run approve-10 (answered)"
    assert "a worker (enact worker)" in done.stderr
    worker = start_worker(pg_url, ledger, tmp_path / "worker.log", "--until-idle")
    assert worker.wait(timeout=60) == 0
    with opened(pg_url):
        assert enact.get_run("approve-10").result() == "order-10: later"
    keys = [key for event, key, _ in ledger_lines(ledger) if event == "run"]
    assert keys == ["approve-10/0", "approve-10/2"]  # the first effect ran in this process


# Races ----------------------------------------------------------------------------------

RACE = """
import json, os, sys, time, enact
from enact.invocations.runs import Worker
from enact.stores.ready import ReadyItem
url, run_id, go = sys.argv[1:4]
import worker_agent
with enact.open_store(url) as store:
    worker = Worker(store, lease_seconds=5)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    worker.process(ReadyItem(run_id, "default", 1))
    print(json.dumps(worker.stats.claimed))
"""


def test_two_workers_racing_for_one_run_run_its_code_once(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Both take the same item (bypassing the queue's locks): the head decides."""
    with opened(pg_url):
        enact.submit(agent.slow_job, (0.2,), run_id="raced")
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, pg_url, "raced", str(go)],
            env=worker_env(ledger),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
    go.touch()
    claimed = []
    for racer in racers:
        out, _ = racer.communicate(timeout=60)
        assert racer.returncode == 0
        claimed.append(int(out.split()[-1]))
    assert sorted(claimed) == [0, 1]
    with opened(pg_url):
        run = enact.get_run("raced")
        assert run.status == "complete"
        assert [s.event for _, s in run.history()].count("claimed") == 1
    counts = collections.Counter(key for event, key, _ in ledger_lines(ledger) if event == "run")
    assert counts == {"raced/0": 1, "raced/1": 1, "raced/2": 1}


def test_two_worker_processes_share_one_run_through_the_queue(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    workers = [start_worker(pg_url, ledger, tmp_path / f"w{i}.log") for i in range(2)]
    with opened(pg_url):
        enact.submit(agent.slow_job, (0.3,), run_id="shared")
        assert enact.wait("shared", timeout=60).status == "complete"
    assert [stop(worker) for worker in workers] == [0, 0]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert sum("claimed run shared" in text for text in logs) == 1
    counts = collections.Counter(key for event, key, _ in ledger_lines(ledger) if event == "run")
    assert counts == {"shared/0": 1, "shared/1": 1, "shared/2": 1}


# SIGTERM ------------------------------------------------------------------------------


def started(ledger: pathlib.Path, key: str) -> bool:
    return any(event == "start" and k == key for event, k, _ in ledger_lines(ledger))


def test_sigterm_lets_the_run_in_progress_finish(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(pg_url, ledger, log, "--grace", "60")
    with opened(pg_url):
        enact.submit(agent.slow_job, (1.0,), run_id="finish-me")
    wait_for(lambda: started(ledger, "finish-me/1"), "the slow call to start")
    assert stop(worker) == 0
    with opened(pg_url):
        run = enact.get_run("finish-me")
        assert run.status == "complete"
        assert store_queue_count(pg_url) == 0
    text = log.read_text()
    assert "SIGTERM: finishing the runs in progress" in text
    assert "finished run finish-me" in text


def store_queue_count(url: str) -> int:
    with opened(url) as store:
        backend: Any = store.backend
        return int(backend.ready_count())


def test_sigterm_after_the_grace_period_releases_the_run_for_another_worker(
    pg_url: str, ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(pg_url, ledger, log, "--grace", "0")
    with opened(pg_url):
        enact.submit(agent.slow_job, (600.0,), run_id="release-me")
    wait_for(lambda: started(ledger, "release-me/1"), "the slow call to start")
    assert stop(worker) == 0
    assert "released run release-me" in log.read_text()
    with opened(pg_url) as store:
        run = enact.get_run("release-me")
        assert (run.state.status, run.state.owner) == ("interrupted", None)  # not claimed
        backend: Any = store.backend
        assert backend.ready_next(["default"]) <= 0  # visible to other workers at once
    again = start_worker(
        pg_url, ledger, tmp_path / "again.log", "--until-idle", **{agent.SLOW_VARIABLE: "0"}
    )
    assert again.wait(timeout=60) == 0
    with opened(pg_url):
        assert enact.get_run("release-me").result() == "slept"
    events = [(event, key) for event, key, _ in ledger_lines(ledger)]
    assert events == [
        ("run", "release-me/0"),
        ("start", "release-me/1"),  # interrupted
        ("start", "release-me/1"),
        ("run", "release-me/1"),
        ("run", "release-me/2"),
    ]


# SQLite -------------------------------------------------------------------------------


def test_a_killed_worker_keeps_its_call_timings_up_to_its_last_lease_renewal(
    ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """kill -9 mid-run: the calls timed before the last renewal keep their timings."""
    url = f"sqlite:///{tmp_path}/store.db"
    with opened(url):
        enact.submit(agent.paced_job, (60, 0.05), run_id="paced")
    killed = start_worker(url, ledger, tmp_path / "killed.log", "--lease", "0.9")
    # 30 calls of 50 ms: 1.5 s, about four renewals (every 0.3 s).
    wait_for(lambda: len(ledger_lines(ledger)) >= 30, "30 calls")
    killed.kill()
    killed.wait(timeout=60)
    ran_before_kill = {key for _, key, pid in ledger_lines(ledger) if pid == killed.pid}
    with opened(url) as store:
        run = enact.get_run("paced")
        timings = run.timings()
        # One record per renewal that saw new calls, each of those calls only (so a
        # long run's records grow with its calls, not with its renewals), chained.
        records, ref = [], run.state.timings
        while ref is not None:
            assert isinstance(ref, enact.Ref)
            record = store.checkout(ref)
            assert isinstance(record, RunTimings) and record.status == "running"
            records.append(record)
            ref = record.previous
    (attempt,) = timings.attempts  # the records of one attempt read as one
    assert (attempt.status, attempt.pid, attempt.event) == ("running", killed.pid, "claimed")
    kept = sorted(timing.path for timing in timings)
    assert len(kept) >= 10, kept
    assert len(records) >= 2 and sum(record.count for record in records) == len(kept)
    assert attempt.ran == len(kept)
    assert kept == [(index,) for index in range(len(kept))]  # the first calls, in order
    for path in kept:
        timing = timings.get(path)
        assert timing is not None and timing.pid == killed.pid and timing.attempt == 0
        assert 0.045 < timing.duration < 5, timing
        assert f"paced/{path[0]}" in ran_before_kill

    again = start_worker(url, ledger, tmp_path / "again.log", "--until-idle")
    assert again.wait(timeout=60) == 0
    with opened(url):
        run = enact.get_run("paced")
        assert run.result() == sum(range(60))
        timings = run.timings()
    assert [attempt.status for attempt in timings.attempts] == ["running", "complete"]
    assert [attempt.pid for attempt in timings.attempts] == [killed.pid, again.pid]
    ran_again = {key for _, key, pid in ledger_lines(ledger) if pid == again.pid}
    resumed = {(int(key.split("/")[1]),) for key in ran_again}
    # Calls that ended between the last renewal and the kill are in the journal
    # without a timing: the one thing the kill loses.
    assert {timing.path for timing in timings} == {(), *kept, *resumed}
    for path in kept:  # taken from the journal by the second attempt: the first one's timing
        timing = timings.get(path)
        assert timing is not None and timing.attempt == 0 and not timings.ran(path)
    root = timings.get(())
    assert root is not None and root.attempt == 1 and timings.ran(())


def test_worker_processes_share_an_sqlite_file(
    ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    ids = [f"lite-{index:03d}" for index in range(60)]
    with opened(url):
        for run_id in ids:
            enact.submit(agent.job, (2,), run_id=run_id)
    workers = [start_worker(url, ledger, tmp_path / f"w{i}.log", "--until-idle") for i in range(3)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    with opened(url) as store:
        for run_id in ids:
            run = enact.get_run(run_id)
            assert run.result() == 10
            assert [s.event for _, s in run.history()] == ["finished", "claimed", "started"]
        backend: Any = store.backend
        assert backend.ready_count() == 0
    counts = collections.Counter(key for event, key, _ in ledger_lines(ledger))
    assert counts == {f"{run_id}/{i}": 1 for run_id in ids for i in range(2)}
    claimed = [(tmp_path / f"w{i}.log").read_text().count("claimed run") for i in range(3)]
    assert sum(claimed) == len(ids)


def test_a_worker_paused_past_its_lease_starts_no_call_of_a_run_taken_over(
    ledger: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A worker stopped (SIGSTOP: a laptop asleep, a VM paused) past its lease, while another
    worker takes its run over and finishes it, wakes up, finishes the call it was in (that
    one ran twice: it was in flight) and starts no further call of the run: its lease has
    run out by its own clock, so it renews first, loses that compare-and-set and stops."""
    url = f"sqlite:///{tmp_path}/store.db"
    paused_log = tmp_path / "paused.log"
    paused = start_worker(url, ledger, paused_log)
    with opened(url):
        enact.submit(agent.slow_job, (3.0,), run_id="taken")
    wait_for(lambda: started(ledger, "taken/1"), "the slow call to start")
    paused.send_signal(signal.SIGSTOP)
    try:
        time.sleep(2.5)  # past its 2 s lease, renewed last at most 0.7 s before the stop
        other = start_worker(
            url, ledger, tmp_path / "other.log", "--until-idle", **{agent.SLOW_VARIABLE: "0"}
        )
        assert other.wait(timeout=60) == 0
    finally:
        paused.send_signal(signal.SIGCONT)
    wait_for(lambda: "cannot be continued" in paused_log.read_text(), "the paused worker to stop")
    assert stop(paused) == 0
    assert "moved on" in paused_log.read_text()
    with opened(url):
        assert enact.get_run("taken").result() == "slept"
    events = [(event, key, pid) for event, key, pid in ledger_lines(ledger)]
    assert [(event, key) for event, key, pid in events if pid == paused.pid] == [
        ("run", "taken/0"),
        ("start", "taken/1"),
        ("run", "taken/1"),  # the call it was in when it stopped, finished after it woke
    ]
    assert [(event, key) for event, key, pid in events if pid == other.pid] == [
        ("start", "taken/1"),
        ("run", "taken/1"),
        ("run", "taken/2"),
    ]
