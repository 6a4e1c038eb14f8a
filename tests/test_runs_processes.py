"""Runs across real processes: kill -9, Ctrl-C, resume, and racing answers.

Every test runs tests/helpers/run_worker.py in subprocesses against real
stores (a directory, a SQLite file, the PostgreSQL test server; see
`BACKENDS` in tests/conftest.py). Executions are counted with the worker's
side-effect ledger file, never with the journal: a journaled call appends
``run <key> <pid>`` when its body runs, and its caller appends
``seen <key> <pid>`` once the call has returned to it. Per-call durability
promises that a call whose caller saw its result never runs again, and that
only calls still in flight at a crash run again on resume.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.run_worker import GROUPS, WIDTH, gathered_total

import enact

WORKER = pathlib.Path(__file__).parent / "helpers" / "run_worker.py"
RUN_ID = "crash-1"


@pytest.fixture
def url(backend_kind: Any, new_store_url: Callable[[], str]) -> str:
    """The URL of a new, empty store that other processes can open."""
    if not backend_kind.shared:
        pytest.skip(f"{backend_kind.name} stores live in one process; workers cannot reach them")
    url = new_store_url()
    # A kill -9 does not lose what the OS has been given; fsync guards against power loss only.
    return f"{url}?fsync=false" if backend_kind.name == "file" else url


@pytest.fixture
def sqlite_url(tmp_path: pathlib.Path) -> str:
    """A new SQLite store, for the tests that one backend stands for."""
    return f"sqlite:///{tmp_path}/store.db"


@contextlib.contextmanager
def opened(url: str) -> Iterator[enact.Store]:
    """The test's own connection to the store the workers use."""
    store = enact.open_store(url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def store(url: str) -> Iterator[enact.Store]:
    """The test's own connection to the store at `url`."""
    with opened(url) as store:
        yield store


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[enact.Store]:
    """The test's own connection to the store at `sqlite_url`."""
    with opened(sqlite_url) as store:
        yield store


@dataclasses.dataclass(frozen=True)
class Line:
    """One ledger line: a call's body ran (``run``) or its caller saw its result (``seen``)."""

    kind: str
    key: str
    pid: int


def read_ledger(path: pathlib.Path) -> list[Line]:
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        kind, key, pid = text.split(" ")
        lines.append(Line(kind, key, int(pid)))
    return lines


def count_lines(path: pathlib.Path) -> int:
    try:
        with path.open("rb") as ledger:
            return ledger.read().count(b"\n")
    except FileNotFoundError:
        return 0


def start(command: str, url: str, ledger: pathlib.Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), command, url, RUN_ID, str(ledger), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen[str]) -> dict[str, Any]:
    """Waits for a worker that should succeed; returns its JSON outcome."""
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def stop_at(
    worker: subprocess.Popen[str], ledger: pathlib.Path, lines: int, sig: signal.Signals
) -> str:
    """Sends `sig` to the worker once the ledger has `lines` lines; returns its stderr."""
    while count_lines(ledger) < lines and worker.poll() is None:
        time.sleep(0.0005)
    assert worker.poll() is None, f"the worker ended before the signal: {worker.communicate()}"
    worker.send_signal(sig)
    _, err = worker.communicate(timeout=60)
    return err


def check_interrupted(store: enact.Store) -> enact.Run:
    """The store is intact, and the run shows as interrupted (listed so, too)."""
    report = enact.verify(store)
    assert report.ok, report.problems
    run = enact.get_run(RUN_ID, store=store)
    assert run.status == "interrupted", run
    assert [listed.id for listed in enact.list_runs(status="interrupted", store=store)] == [RUN_ID]
    return run


def check_no_finished_call_ran_again(before: list[Line], segment: list[Line]) -> set[str]:
    """Checks one attempt's ledger lines against all earlier ones; returns the calls run again.

    A call whose result its caller saw must not run again; a call may run
    again only if it had started and not been seen, i.e. it was in flight.
    """
    seen = {line.key for line in before if line.kind == "seen"}
    ran = {line.key for line in before if line.kind == "run"}
    executed = [line.key for line in segment if line.kind == "run"]
    assert len(executed) == len(set(executed)), "a call ran twice in one process"
    assert not seen.intersection(executed), sorted(seen.intersection(executed))
    return ran.intersection(executed)


def check_gathered_reruns(again: set[str]) -> None:
    """At a crash at most this was in flight: the root, one group, its leaves, one inner."""
    kinds = collections.Counter(key.split(".")[0] for key in again)
    assert kinds["root"] <= 1 and kinds["group"] <= 1 and kinds["inner"] <= 1, sorted(again)
    groups = {key.split(".")[1] for key in again if key.startswith(("leaf.", "group."))}
    assert len(groups) <= 1 and kinds["leaf"] <= WIDTH, sorted(again)


def test_kill_9_at_random_moments_then_resume(
    url: str, store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """kill -9 three times at random moments of a gathered, nested 1,000-call run, then resume.

    After each kill the store verifies clean and the run shows as interrupted;
    each resume runs only calls that had not finished.
    """
    seed = random.randrange(1 << 32)
    print(f"random seed {seed}")  # shown when the test fails
    rng = random.Random(seed)
    ledger = tmp_path / "ledger"
    worker = start("gathered", url, ledger)
    for attempt in range(3):
        before = read_ledger(ledger)
        err = stop_at(worker, ledger, len(before) + rng.randint(20, 450), signal.SIGKILL)
        assert worker.returncode == -signal.SIGKILL, err
        check_interrupted(store)
        after = read_ledger(ledger)
        again = check_no_finished_call_ran_again(before, after[len(before) :])
        if attempt:
            check_gathered_reruns(again)
        worker = start("resume", url, ledger)
    before = read_ledger(ledger)
    outcome = finish(worker)
    after = read_ledger(ledger)
    check_gathered_reruns(check_no_finished_call_ran_again(before, after[len(before) :]))
    assert outcome["status"] == "complete", outcome
    assert outcome["output"] == gathered_total()
    executed = collections.Counter(line.key for line in after if line.kind == "run")
    assert len(executed) == 1 + GROUPS * (1 + 2 * WIDTH)
    assert enact.verify(store).ok
    assert enact.get_run(RUN_ID, store=store).status == "complete"


def test_kill_9_during_thread_pool_calls_then_resume(
    sqlite_url: str, sqlite_store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """kill -9 while 8 threads make 1,000 journaled calls: resume runs only the unfinished ones."""
    ledger = tmp_path / "ledger"
    lines = random.randint(200, 1400)
    print(f"kill -9 after {lines} ledger lines")
    err = stop_at(start("pooled", sqlite_url, ledger), ledger, lines, signal.SIGKILL)
    assert "Traceback" not in err, err
    check_interrupted(sqlite_store)
    before = read_ledger(ledger)
    outcome = finish(start("resume", sqlite_url, ledger))
    after = read_ledger(ledger)
    again = check_no_finished_call_ran_again(before, after[len(before) :])
    assert len(again - {"root"}) <= 8, sorted(again)  # at most one call in flight per thread
    assert outcome["output"] == sum(range(1, 1001))
    assert {line.key for line in after if line.kind == "run"} == {"root"} | {
        f"work.{index}" for index in range(1000)
    }


def interrupt_then_resume(
    command: str, url: str, store: enact.Store, ledger: pathlib.Path, *args: str
) -> set[str]:
    """Ctrl-C mid-run, checks the run was recorded as interrupted, resumes it.

    Returns the calls that ran again (each must have been in flight).
    """
    lines = random.randint(100, 1200)
    print(f"SIGINT after {lines} ledger lines")
    worker = start(command, url, ledger, *args)
    err = stop_at(worker, ledger, lines, signal.SIGINT)
    assert worker.returncode != 0 and "KeyboardInterrupt" in err, err
    run = check_interrupted(store)
    assert (run.state.status, run.state.event) == ("interrupted", "interrupted")
    history = subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, "log", "--history", run.id],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=True,
    )
    # asyncio.run turns Ctrl-C into the cancellation of its task (then KeyboardInterrupt).
    cause = "KeyboardInterrupt" if command == "sequential" else "asyncio.exceptions.CancelledError"
    assert f"interrupted  interrupted by {cause}" in history.stdout, history.stdout
    before = read_ledger(ledger)
    outcome = finish(start("resume", url, ledger))
    after = read_ledger(ledger)
    assert outcome["status"] == "complete"
    total = 3 * sum(range(1000)) if command == "sequential" else gathered_total()
    assert outcome["output"] == total
    return check_no_finished_call_ran_again(before, after[len(before) :])


def test_ctrl_c_mid_run_then_resume(url: str, store: enact.Store, tmp_path: pathlib.Path) -> None:
    """SIGINT mid-run: the run is recorded as interrupted; resuming runs no finished call again."""
    again = interrupt_then_resume("sequential", url, store, tmp_path / "ledger", "1000", "-1")
    assert len(again - {"root"}) <= 1, sorted(again)


def test_ctrl_c_in_gathered_calls_then_resume(
    sqlite_url: str, sqlite_store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """SIGINT while asyncio.gather children run: interrupted, and resume runs no finished call."""
    again = interrupt_then_resume("gathered", sqlite_url, sqlite_store, tmp_path / "ledger")
    check_gathered_reruns(again)


def test_kill_at_call_500_keeps_499_calls(
    url: str, store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """kill -9 inside call 500 of 1,000: 499 calls are kept, resume runs only the one in flight."""
    ledger = tmp_path / "ledger"
    worker = start("sequential", url, ledger, "1000", "499")
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL, err
    run = check_interrupted(store)
    assert len(run.entries()) >= 499
    before = read_ledger(ledger)
    assert [line.key for line in before if line.kind == "run"][-1] == "step.499"
    outcome = finish(start("resume", url, ledger))
    after = read_ledger(ledger)
    again = check_no_finished_call_ran_again(before, after[len(before) :])
    assert again <= {"root", "step.499"}
    assert outcome["status"] == "complete"
    assert outcome["output"] == 3 * sum(range(1000))


def test_durability_end_loses_the_calls_of_a_killed_run(
    sqlite_url: str, sqlite_store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """durability="end" writes the calls only when the run ends: a kill loses all of them."""
    ledger = tmp_path / "ledger"
    worker = start("sequential", sqlite_url, ledger, "1000", "499", "end")
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL, err
    run = check_interrupted(sqlite_store)
    assert run.entries() == []
    before = read_ledger(ledger)
    outcome = finish(start("resume", sqlite_url, ledger))
    after = read_ledger(ledger)
    again = {line.key for line in after[len(before) :] if line.kind == "run"}
    assert again >= {f"step.{index}" for index in range(500)}
    assert outcome["output"] == 3 * sum(range(1000))


@pytest.mark.parametrize("answerers", [2, 8])
def test_racing_answers_continue_the_run_once(
    answerers: int, url: str, store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """N processes answer the same pending request at once: one continues, the others fail first.

    The losers get RunConflictError naming the run, its head and status,
    before running any program code: the ledger shows each effect once.
    """
    ledger = tmp_path / "ledger"
    waiting = finish(start("wait", url, ledger))
    assert waiting["status"] == "waiting"
    go = tmp_path / "go"
    workers = [start("answer", url, ledger, str(go), f"yes-{n}") for n in range(answerers)]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    results = [finish(worker) for worker in workers]
    winners = [result for result in results if "error" not in result]
    losers = [result for result in results if "error" in result]
    assert len(winners) == 1, results
    assert len(losers) == answerers - 1
    winner_pid = workers[results.index(winners[0])].pid
    final = enact.get_run(RUN_ID, store=store)
    assert final.status == "complete"
    assert winners[0]["output"].startswith("sent prepared order-7: yes-")
    for loser in losers:
        assert loser["error"] == "RunConflictError"
        assert loser["run_id"] == RUN_ID
        assert loser["status"] in ("answered", "running", "complete")
        assert loser["head"] is not None
        assert RUN_ID in loser["message"] and loser["head"] in loser["message"]
        # the head the loser named is a state of this run
        assert loser["head"] in {ref.digest for ref, _ in final.history()}
    lines = read_ledger(ledger)
    effects = collections.Counter(line.key for line in lines if line.kind == "run")
    assert effects == {"root": 2, "prepare": 1, "send_email": 1}
    loser_pids = {worker.pid for worker in workers} - {winner_pid}
    assert not loser_pids.intersection(line.pid for line in lines)
    assert enact.verify(store).ok


def test_racing_resumes_continue_the_run_once(
    sqlite_url: str, sqlite_store: enact.Store, tmp_path: pathlib.Path
) -> None:
    """Four processes resume one interrupted run at once: one continues, the others fail first.

    (The racing answers above cover every backend; the claim is the same compare-and-set.)
    """
    resumers, url, store = 4, sqlite_url, sqlite_store
    ledger = tmp_path / "ledger"
    killed = start("sequential", url, ledger, "1000", "499")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    check_interrupted(store)
    before = read_ledger(ledger)
    go = tmp_path / "go"
    workers = [start("race-resume", url, ledger, str(go)) for _ in range(resumers)]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    results = [finish(worker) for worker in workers]
    winners = [result for result in results if "error" not in result]
    assert len(winners) == 1, results
    assert winners[0]["output"] == 3 * sum(range(1000))
    for loser in results:
        if loser is not winners[0]:
            assert (loser["error"], loser["run_id"]) == ("RunConflictError", RUN_ID), loser
    after = read_ledger(ledger)[len(before) :]
    assert {line.pid for line in after} == {workers[results.index(winners[0])].pid}
    executed = [line.key for line in after if line.kind == "run"]
    assert executed == ["root"] + [f"step.{index}" for index in range(499, 1000)]


def test_ledger_lines_are_written_by_one_call_each(sqlite_url: str, tmp_path: pathlib.Path) -> None:
    """The ledger format the tests rely on: one line per body run, parsed back exactly."""
    ledger = tmp_path / "ledger"
    outcome = finish(start("sequential", sqlite_url, ledger, "3", "-1"))
    assert outcome["output"] == 9
    assert [(line.kind, line.key) for line in read_ledger(ledger)] == [
        ("run", "root"),
        ("run", "step.0"),
        ("seen", "step.0"),
        ("run", "step.1"),
        ("seen", "step.1"),
        ("run", "step.2"),
        ("seen", "step.2"),
    ]
