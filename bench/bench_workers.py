"""enact workers against DBOS queues on the same PostgreSQL server, in one script (issue 14).

    bash bench/setup_peers.sh                  # once (DBOS 3.4.0 in bench/.peers-venv/dbos)
    ENACT_BENCH_POSTGRES_DSN=postgresql://user@host/db python bench/bench_workers.py
    python bench/bench_workers.py --quick      # fewer runs
    python bench/bench_workers.py --json       # one JSON object instead of the table

Throughput: N runs of 10 journaled calls (``steps(10, seed)``: ten calls
returning ~100-byte payloads) are queued first; then W worker processes
(1, 2, 4) serve the queue, one run at a time each. The driver polls the
count of finished runs and measures the rate between 10 % and 90 % of them
finished, so neither side's process start or last straggler counts. enact:
``enact.run_worker`` in each process, with per-call durability; DBOS:
``DBOS.launch()`` with ``Queue("bench", worker_concurrency=1,
polling_interval_sec=0.01)`` (DBOS's default polling is 1 s; 10 ms favours it)
and each ``@DBOS.step`` output recorded as the step returns. The cost of a
global queue limit: enact's rate with the most workers, with and without
``enact.set_queue_limit("default", W)`` (a limit that does not bind, so the
ratio is the price of claiming under the limit's row lock). Each side gets a
fresh database on the same server (ENACT_BENCH_POSTGRES_DSN, else
ENACT_TEST_POSTGRES_DSN).

Answer to continue: one idle enact worker; a run waits for input; the driver
records an answer (``enact.answer(run, value)``, no run_now) and the latency
is the time from its return (the answer is durable and the run in the
queue) until the worker claims the run (the ``claimed`` state's time), median
and p99 over the samples.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.path.join(HERE, "peers")
SRC = os.path.join(os.path.dirname(HERE), "src")
sys.path.insert(0, PEERS_DIR)
sys.path.insert(0, SRC)

import enact_queue_jobs as jobs  # noqa: E402

import enact  # noqa: E402

DBOS_PYTHON = os.path.join(HERE, ".peers-venv", "dbos", "bin", "python")
DBOS_SCRIPT = os.path.join(PEERS_DIR, "dbos_queue_workers.py")
STEPS = 10


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PEERS_DIR, SRC, env.get("PYTHONPATH", "")])
    return env


@contextlib.contextmanager
def fresh_database(dsn: str) -> Iterator[str]:
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _url(conninfo: str) -> str:
    """A postgresql:// URL for a conninfo made by make_conninfo (both sides take URLs)."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = params.get("user") or "postgres"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    password = f":{params['password']}" if params.get("password") else ""
    return f"postgresql://{user}{password}@{host}:{port}/{params['dbname']}"


def _rate(done: Callable[[], int], total: int, timeout: float = 900.0) -> float:
    """Runs per second between 10 % and 90 % of `total` finished (polled every 10 ms)."""
    low, high = max(1, total // 10), total - total // 10
    t_low = t_high = None
    deadline = time.monotonic() + timeout
    while t_high is None:
        count = done()
        now = time.monotonic()
        if t_low is None and count >= low:
            t_low = now
        if count >= high:
            t_high = now
        if now > deadline:
            raise RuntimeError(f"only {count} of {total} runs finished in {timeout:g} s")
        time.sleep(0.01)
    assert t_low is not None
    return (high - low) / max(t_high - t_low, 1e-9)


def _stop(processes: list[subprocess.Popen[Any]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# enact ------------------------------------------------------------------------------

ENACT_WORKER = (
    "import sys, enact, enact_queue_jobs\n"
    "print('ready', flush=True)\n"
    "enact.run_worker(sys.argv[1], grace=5)\n"
)


def enact_throughput(dsn: str, workers: int, runs: int, limit: int | None = None) -> float:
    with fresh_database(dsn) as conninfo:
        url = _url(conninfo)
        store = enact.open_store(url)
        try:
            with store:
                if limit is not None:  # every claim then takes the limit's row lock
                    enact.set_queue_limit("default", limit)
                for seed in range(runs):
                    enact.submit(jobs.steps, (STEPS, seed))
            backend: Any = store.backend
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", ENACT_WORKER, url], env=_env(), stdout=subprocess.PIPE
                )
                for _ in range(workers)
            ]
            try:
                rate = _rate(lambda: runs - backend.ready_count(), runs)
            finally:
                _stop(processes)
        finally:
            store.close()
    return rate


def enact_latency(dsn: str, samples: int) -> list[float]:
    """Seconds from recording an answer to the worker's claim of the run."""
    with fresh_database(dsn) as conninfo:
        url = _url(conninfo)
        store = enact.open_store(url)
        worker = subprocess.Popen(
            [sys.executable, "-c", ENACT_WORKER, url], env=_env(), stdout=subprocess.PIPE
        )
        latencies = []
        try:
            assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
            with store:
                for seed in range(samples + 3):
                    run_id = enact.submit(jobs.asks, (seed,))
                    while enact.get_run(run_id).status != "waiting":
                        time.sleep(0.002)
                    enact.answer(run_id, 1)
                    answered = time.time()  # the answer is recorded (durable) now
                    run = enact.wait(run_id, timeout=60)
                    claimed = next(s for _, s in run.history() if s.event == "claimed" and s.answer)
                    if seed >= 3:  # the first ones warm the worker up
                        latencies.append(claimed.updated - answered)
        finally:
            _stop([worker])
            store.close()
    return latencies


# DBOS -------------------------------------------------------------------------------


def dbos_throughput(dsn: str, workers: int, runs: int) -> float:
    with fresh_database(dsn) as conninfo:
        url = _url(conninfo)
        # The first worker creates DBOS's tables; the runs are enqueued once it is up.
        first = subprocess.Popen([DBOS_PYTHON, DBOS_SCRIPT, "worker", url], stdout=subprocess.PIPE)
        processes = [first]
        try:
            assert first.stdout is not None and first.stdout.readline() == b"ready\n"
            _stop([first])
            processes = []
            subprocess.run(
                [DBOS_PYTHON, DBOS_SCRIPT, "enqueue", url, str(runs), str(STEPS)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            processes = [
                subprocess.Popen([DBOS_PYTHON, DBOS_SCRIPT, "worker", url], stdout=subprocess.PIPE)
                for _ in range(workers)
            ]
            with psycopg.connect(conninfo, autocommit=True) as conn:

                def done() -> int:
                    row = conn.execute(
                        "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'"
                    ).fetchone()
                    return 0 if row is None else int(row[0])

                rate = _rate(done, runs)
        finally:
            _stop(processes)
    return rate


# Report -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and samples")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    options = parser.parse_args()
    dsn = os.environ.get("ENACT_BENCH_POSTGRES_DSN") or os.environ.get("ENACT_TEST_POSTGRES_DSN")
    if not dsn:
        sys.exit("bench_workers: set ENACT_BENCH_POSTGRES_DSN (or ENACT_TEST_POSTGRES_DSN)")
    if not os.path.exists(DBOS_PYTHON):
        subprocess.run(["bash", os.path.join(HERE, "setup_peers.sh")], check=True)
    runs = 100 if options.quick else 200
    samples = 20 if options.quick else 60
    results: dict[str, Any] = {"runs": runs, "steps": STEPS, "throughput": []}
    for count in (int(part) for part in options.workers.split(",")):
        ours = enact_throughput(dsn, count, runs)
        theirs = dbos_throughput(dsn, count, runs)
        results["throughput"].append(
            {"workers": count, "enact": ours, "dbos": theirs, "ratio": ours / theirs}
        )
        print(
            f"{count} worker(s): enact {ours:.1f} runs/s, DBOS {theirs:.1f} runs/s, "
            f"ratio {ours / theirs:.2f}",
            file=sys.stderr,
        )
    most = max(row["workers"] for row in results["throughput"])
    free = next(row["enact"] for row in results["throughput"] if row["workers"] == most)
    limited = enact_throughput(dsn, most, runs, limit=most)
    results["queue_limit"] = {"workers": most, "limited": limited, "ratio": limited / free}
    print(
        f"{most} worker(s), queue limit {most}: enact {limited:.1f} runs/s, "
        f"{limited / free:.2f}x without a limit",
        file=sys.stderr,
    )
    latencies = enact_latency(dsn, samples)
    ordered = sorted(latencies)
    results["answer_to_continue_ms"] = {
        "median": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
        "samples": len(ordered),
    }
    if options.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{runs} runs of {STEPS} journaled calls each, queued first:\n")
    print("| workers | enact runs/s | DBOS runs/s | enact / DBOS |")
    print("|---|---|---|---|")
    for row in results["throughput"]:
        print(f"| {row['workers']} | {row['enact']:.1f} | {row['dbos']:.1f} | {row['ratio']:.2f} |")
    row = results["queue_limit"]
    print(
        f"\nwith a global queue limit of {row['workers']} (every claim under its row lock): "
        f"{row['limited']:.1f} runs/s, {row['ratio']:.2f}x the rate without a limit"
    )
    latency = results["answer_to_continue_ms"]
    print(
        f"\nanswer -> continue (enact, LISTEN/NOTIFY): median {latency['median']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms ({latency['samples']} samples)"
    )


if __name__ == "__main__":
    main()
