"""Workers in one process: submit, wait, answers recorded for workers, retries, call keys.

Runs against real SQLite files and the PostgreSQL test server. The agent is
tests/helpers/worker_agent.py; executions are counted with its ledger file
(one line per execution of a journaled call's body), never with the journal.
The tests across processes (kill -9, SIGTERM, races) are in
tests/test_workers_processes.py.
"""

from __future__ import annotations

import collections
import logging
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.postgres import fresh_schema, postgres_dsn

import enact
from enact.invocations.runs import DEFAULT_QUEUE, Worker
from enact.stores.ready import ReadyItem

HELPERS = pathlib.Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))  # the agent is `worker_agent` here and in the workers

import worker_agent as agent  # noqa: E402
from worker_stores import ledger_file, opened, store_url  # noqa: E402


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


def lines(ledger: pathlib.Path, event: str = "run") -> list[str]:
    """The call keys of the ledger's lines for `event`, in order."""
    return [line.split()[1] for line in ledger.read_text().splitlines() if line.split()[0] == event]


def drain(store: enact.Store, **options: Any) -> enact.WorkerStats:
    """Runs a worker until nothing is ready or running."""
    return Worker(store, lease_seconds=5, **options).run(until_idle=True)


def test_submit_records_a_queued_run_and_a_worker_runs_it(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    run_id = enact.submit(agent.job, (3,), run_id="job-1")
    assert run_id == "job-1"
    run = enact.get_run(run_id)
    assert (run.status, run.state.queue, run.function) == (
        "queued",
        "default",
        "worker_agent.job",
    )
    assert lines(ledger) == []  # nothing ran at submit
    stats = drain(store)
    assert (stats.claimed, stats.finished, stats.failed) == (1, 1, 0)
    assert enact.wait(run_id, timeout=5).status == "complete"
    assert enact.get_run(run_id).result() == 30
    assert lines(ledger) == ["job-1/0", "job-1/1", "job-1/2"]
    events = [state.event for _, state in enact.get_run(run_id).history()]
    assert events == ["finished", "claimed", "started"]
    assert store.backend.ready_count() == 0  # type: ignore[attr-defined]


def test_submit_refuses_a_taken_run_id_before_writing_anything(store: enact.Store) -> None:
    enact.submit(agent.job, (1,), run_id="taken")
    with pytest.raises(enact.RunConflictError, match="'taken' exists already") as caught:
        enact.submit(agent.job, (2,), run_id="taken")
    assert caught.value.run_id == "taken"
    assert store.backend.ready_count() == 1  # type: ignore[attr-defined]
    request = store.checkout(enact.get_run("taken").state.request)
    assert list(request.input.args) == [1]


def test_submit_checks_the_queue_name(store: enact.Store) -> None:
    with pytest.raises(ValueError, match="Queue name '' is not valid"):
        enact.submit(agent.job, (1,), queue="")


def test_wait_gives_up_with_the_run_status(store: enact.Store) -> None:
    run_id = enact.submit(agent.job, (1,))
    with pytest.raises(enact.RunTimeoutError, match=r"not ended after 0.05 s \(it is queued\)"):
        enact.wait(run_id, timeout=0.05)
    with pytest.raises(TimeoutError):  # also a builtin TimeoutError
        enact.get_run(run_id).result(timeout=0)


def test_runs_are_served_only_by_workers_of_their_queue(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    emails = enact.submit(agent.job, (1,), queue="emails")
    other = enact.submit(agent.job, (1,))
    assert drain(store, queues=["emails"]).claimed == 1
    assert (enact.get_run(emails).status, enact.get_run(other).status) == ("complete", "queued")


def test_an_answer_recorded_without_running_is_continued_by_a_worker(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    run_id = enact.submit(agent.approval, ("order-7",), run_id="approve-1")
    assert drain(store).waiting == 1
    assert enact.get_run(run_id).status == "waiting"
    assert store.backend.ready_count() == 0  # type: ignore[attr-defined]
    answered = enact.answer(run_id, "yes")  # records only
    assert answered.status == "answered"
    assert lines(ledger) == ["approve-1/0"]
    assert store.backend.ready_count() == 1  # type: ignore[attr-defined]
    assert drain(store).finished == 1
    assert enact.get_run(run_id).result() == "order-7: yes"
    assert lines(ledger) == ["approve-1/0", "approve-1/2"]  # the finished call never ran again


def test_answering_a_run_that_was_never_submitted_queues_it_in_default(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    enact.invoke(agent.approval, ("order-8",), run_id="direct")
    enact.answer("direct", "no")
    assert store.backend.ready_next([DEFAULT_QUEUE]) is not None  # type: ignore[attr-defined]
    drain(store)
    assert enact.get_run("direct").result() == "order-8: no"


def test_a_failed_run_stays_failed_without_declared_retries(
    store: enact.Store, ledger: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = enact.submit(agent.broken, (4,), run_id="broken-1")
    with caplog.at_level(logging.INFO, logger="enact"):
        stats = drain(store)
    assert (stats.claimed, stats.failed, stats.retried) == (1, 1, 0)
    assert enact.get_run(run_id).status == "raised"
    assert lines(ledger, "attempt") == ["broken-1/root"]
    assert store.backend.ready_count() == 0  # type: ignore[attr-defined]
    assert drain(store).claimed == 0  # nothing is left to retry
    with pytest.raises(enact.RecordedException, match="ValueError: broken 4"):
        enact.get_run(run_id).result()
    failed = [r.getMessage() for r in caplog.records if "failed run broken-1" in r.getMessage()]
    assert len(failed) == 1 and "broken 4" in failed[0]


def test_declared_retries_continue_a_raised_run_without_rerunning_finished_calls(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    assert enact.retries(2, backoff=0.01)(agent.flaky) is agent.flaky
    run_id = enact.submit(agent.flaky, (2,), run_id="flaky-1")
    stats = drain(store)
    assert (stats.claimed, stats.retried, stats.finished, stats.failed) == (3, 2, 1, 0)
    assert enact.get_run(run_id).result() == "ok after 3"
    assert lines(ledger) == ["flaky-1/0"]  # the call that finished ran once
    assert len(lines(ledger, "attempt")) == 3
    events = [state.event for _, state in enact.get_run(run_id).history()]
    assert events.count("retried") == 2


def test_retries_give_up_after_the_declared_attempts(
    store: enact.Store, ledger: pathlib.Path
) -> None:
    run_id = enact.submit(agent.flaky, (5,), run_id="flaky-2")
    stats = drain(store)
    assert (stats.claimed, stats.retried, stats.failed) == (3, 2, 1)
    assert enact.get_run(run_id).status == "raised"
    assert len(lines(ledger, "attempt")) == 3


def test_retries_are_checked() -> None:
    with pytest.raises(ValueError, match="must be an int >= 0"):
        enact.retries(-1)
    with pytest.raises(enact.InvocationError, match="cannot be declared on"):
        enact.retries(1)(3)


def test_a_worker_drops_items_of_runs_that_need_nothing(store: enact.Store) -> None:
    backend: Any = store.backend
    backend.ready_put("no-such-run", DEFAULT_QUEUE)
    enact.invoke(agent.job, (1,), run_id="done-already")
    backend.ready_put("done-already", DEFAULT_QUEUE)
    stats = drain(store)
    assert stats.claimed == 0
    assert backend.ready_count() == 0


def test_an_item_put_again_is_not_dropped_by_the_worker_that_took_it(store: enact.Store) -> None:
    backend: Any = store.backend
    enact.invoke(agent.job, (1,), run_id="again")
    backend.ready_put("again", DEFAULT_QUEUE)
    taken = backend.ready_take([DEFAULT_QUEUE], "me", 30.0)
    backend.ready_put("again", DEFAULT_QUEUE)  # e.g. an answer arrived meanwhile
    backend.ready_drop(taken)
    assert backend.ready_count() == 1
    assert backend.ready_take([DEFAULT_QUEUE], "me", 30.0).token != taken.token


def test_a_run_held_by_a_live_process_is_looked_at_again_when_its_lease_ends(
    store: enact.Store,
) -> None:
    run_id = enact.submit(agent.job, (1,))
    handle, _ = enact.invocations.runs.claim(run_id, lease_seconds=60)
    backend: Any = store.backend
    item = backend.ready_take([DEFAULT_QUEUE], "me", 1.0)
    Worker(store).process(item)
    assert enact.get_run(run_id).status == "running"  # not claimed twice
    assert backend.ready_count() == 1
    assert backend.ready_next([DEFAULT_QUEUE]) > 30  # deferred to the end of the lease
    handle.interrupted(KeyboardInterrupt())


def test_call_key_names_the_run_and_the_call_path(store: enact.Store, ledger: pathlib.Path) -> None:
    with pytest.raises(enact.InvocationError, match="outside a journaled call"):
        enact.call_key()

    @enact.register
    def keyed() -> list[str]:
        return [enact.call_key(), enact.call_key("charge"), agent_key()]

    @enact.register
    def agent_key() -> str:
        return enact.call_key()

    enact.invoke(keyed, run_id="keys")
    assert enact.get_run("keys").result() == ["keys/root", "keys/root/charge", "keys/0"]
    enact.invoke(keyed, durability="end", run_id="keys-end")
    assert enact.get_run("keys-end").result() == [
        "keys-end/root",
        "keys-end/root/charge",
        "keys-end/0",
    ]


def test_call_key_is_stable_across_a_crash_with_durability_end(store: enact.Store) -> None:
    """durability="end": a crash makes every call run again, with the same keys."""
    seen: list[str] = []
    crash = [True]

    @enact.register
    def charge(amount: int) -> int:
        seen.append(enact.call_key("charge"))
        return amount

    @enact.register
    def checkout_order() -> int:
        total = charge(1) + charge(2)
        if crash[0]:
            crash[0] = False
            raise KeyboardInterrupt  # the process "dies" after both charges
        return total + charge(3)

    with pytest.raises(KeyboardInterrupt):
        enact.invoke(checkout_order, durability="end", run_id="order-1")
    assert enact.get_run("order-1").status == "interrupted"
    first = list(seen)
    assert first == ["order-1/0/charge", "order-1/1/charge"]
    assert enact.resume("order-1").result() == 6
    assert seen == [*first, *first, "order-1/2/charge"]  # ran again, under the same keys


def test_per_queue_limits_run_one_at_a_time(store: enact.Store, ledger: pathlib.Path) -> None:
    for index in range(3):
        enact.submit(agent.slow_job, (0.05,), run_id=f"slow-{index}", queue="one")
    stats = Worker(store, queues={"one": 1}, concurrency=3, lease_seconds=5).run(until_idle=True)
    assert stats.finished == 3
    slow = [
        line.split()[0]
        for line in ledger.read_text().splitlines()
        if line.split()[1].endswith("/1")
    ]
    assert slow == ["start", "run"] * 3  # never two slow calls at once


def test_log_lines_name_each_claimed_and_finished_run(
    store: enact.Store, ledger: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    enact.submit(agent.job, (1,), run_id="logged")
    with caplog.at_level(logging.INFO, logger="enact"):
        drain(store)
    messages = [record.getMessage() for record in caplog.records if record.name == "enact"]
    assert any(
        "claimed run logged (worker_agent.job, queued, queue default)" in m for m in messages
    )
    assert any("finished run logged" in m and m.endswith("complete") for m in messages)


def test_submit_and_workers_need_a_store_with_a_ready_queue(tmp_path: pathlib.Path) -> None:
    for url in ("memory:", f"file://{tmp_path}/files"):
        with enact.open_store(url) as store:
            with pytest.raises(enact.UnsupportedOperationError, match="keeps no ready queue"):
                enact.submit(agent.job, (1,))
            with pytest.raises(enact.UnsupportedOperationError, match="PostgreSQL store"):
                Worker(store)


def test_worker_arguments_are_checked(store: enact.Store) -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        Worker(store, concurrency=0)
    with pytest.raises(ValueError, match="needs at least one queue"):
        Worker(store, queues=[])
    with pytest.raises(ValueError, match="limit of queue 'a' must be an int >= 1"):
        Worker(store, queues={"a": 0})


def test_workers_are_silent_by_default(url: str, tmp_path: pathlib.Path) -> None:
    """Without logging configured, a worker prints nothing (and the log lines exist)."""
    script = (
        "import enact, worker_agent as a\n"
        f"with enact.open_store({url!r}) as s:\n"
        "    enact.submit(a.broken, (1,))\n"
        "    enact.submit(a.job, (1,))\n"
        "    print(enact.Worker(s).run(until_idle=True))\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])
    )
    env[agent.LEDGER_VARIABLE] = str(tmp_path / "ledger.txt")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "finished=1" in done.stdout and "failed=1" in done.stdout


def test_enact_worker_command_runs_submitted_runs(
    url: str, store: enact.Store, ledger: pathlib.Path
) -> None:
    ids = [enact.submit(agent.job, (2,)) for _ in range(3)]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "enact", "--store", url, "worker"),
            *("--import", "worker_agent", "--until-idle", "--concurrency", "2"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [enact.get_run(run_id).result() for run_id in ids] == [10, 10, 10]
    for run_id in ids:
        assert f"claimed run {run_id}" in done.stderr
        assert f"finished run {run_id}" in done.stderr
    counts = collections.Counter(lines(ledger))
    assert sorted(counts.values()) == [1] * 6


def test_enact_worker_refuses_a_store_without_a_ready_queue(tmp_path: pathlib.Path) -> None:
    (tmp_path / "files").mkdir()
    with enact.open_store(f"file://{tmp_path}/files") as store:
        store.commit(1)
    done = subprocess.run(
        [sys.executable, "-m", "enact", "--store", f"file://{tmp_path}/files", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Cannot start a worker on store file://" in done.stderr
    assert "keeps no ready queue" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "enact", "worker", "--queue", "a=x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "write Q or Q=N" in bad.stderr


def test_ready_items_carry_their_queue(store: enact.Store) -> None:
    backend: Any = store.backend
    backend.ready_put("a-run", "q1")
    assert backend.ready_take(["q2"], "me", 1.0) is None
    item = backend.ready_take(["q1", "q2"], "me", 1.0)
    assert isinstance(item, ReadyItem) and (item.run_id, item.queue) == ("a-run", "q1")
    assert backend.ready_take(["q1"], "me", 1.0) is None  # taken: invisible for its lease
    backend.ready_defer(item, 0)
    assert backend.ready_take(["q1"], "me", 1.0) == item


def test_a_postgres_store_of_schema_version_2_gets_the_ready_queue() -> None:
    """Opening a store made before workers existed adds the ready queue table (version 3)."""
    import psycopg
    from psycopg import sql

    from enact.stores.postgres import SCHEMA_VERSION, PostgresBackend

    dsn = postgres_dsn()
    with fresh_schema(dsn) as schema:
        PostgresBackend(dsn, schema=schema).close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}.enact_ready").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("UPDATE {}.enact_schema_version SET version = 2").format(
                    sql.Identifier(schema)
                )
            )
        backend = PostgresBackend(dsn, schema=schema)
        try:
            backend.ready_put("old-store-run", DEFAULT_QUEUE)
            assert backend.ready_count() == 1
        finally:
            backend.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(
                sql.SQL("SELECT version FROM {}.enact_schema_version").format(
                    sql.Identifier(schema)
                )
            ).fetchone()
        assert row == (SCHEMA_VERSION,)
