"""The workloads of bench_peers.py, written once for every side (enact, DBOS, LangGraph).

This module uses only the standard library: it is imported by enact's side in
the bench process and by each peer's script inside that peer's own
virtualenv (bench/.peers-venv/<peer>). A side is a module that defines the
few operations below; the workloads here time them in the same way on every
side, so the shapes (sizes, payloads, repeats, what is inside the timed
region) cannot drift apart.

A side module defines:

    NAME, VERSION                       -- for the report
    open_session(path, for_input)       -- set up the framework on the SQLite file `path`
    close_session(session)              -- release it (files flushed and closed)
    record(session, run_id, n, seed)    -- a run of n journaled steps, durable per step;
                                           returns what prepare_replay needs
    prepare_replay(session, recorded, n, keep) -> token   (untimed)
    replay(session, token, n, keep)     -- re-run the recorded run with `keep` of its n
                                           steps taken from the store, the rest re-run
    prepare_resume(session, run_id, n)  -- (optional, untimed) a run of n steps stopped
                                           for input after its last step -> token
    resume(session, token, n)           -- (optional) answer it and run it to its end
    ask(session, run_id, n)             -- a run asking for input n times, answered one
                                           by one with ANSWER each time

A fresh process of the cold-start workload runs `cold_one`: open a session,
record a run of one step, close it.

Each step returns `payload(seed, i)`, a 100-byte string that differs between
runs (`seed`), so that no side can store a repeated run for free.

A cold-start process (`main` with ``cold_one``) imports from here only what
`main` needs (argparse, json): the modules the workloads and `cold_start` use
(statistics, subprocess, tempfile, glob) are imported where they are used, so
the harness does not add their import time to every side's cold start.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

PAYLOAD_BYTES = 100
ANSWER = 7  # every input request is answered with this int


def payload(seed: int, i: int) -> str:
    """The 100-byte result of step `i` of the run numbered `seed`."""
    return f"{seed:06d}-{i:06d}-".ljust(PAYLOAD_BYTES, "x")


def expected_total(n: int) -> int:
    """What a run of n steps returns: the sum of its payloads' lengths."""
    return n * PAYLOAD_BYTES


def store_bytes(path: str) -> int:
    """Bytes on disk of the SQLite file `path` and its -wal / -shm / -journal files."""
    import glob

    return sum(os.path.getsize(f) for f in glob.glob(glob.escape(path) + "*"))


def median(values: Iterable[float]) -> float:
    """`statistics.median` (imported on first use: see the module docstring)."""
    import statistics

    return statistics.median(values)


class Stamp:
    """Wall-clock and process CPU time (all threads); stamps subtract to durations."""

    __slots__ = ("cpu", "wall")

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall = wall
        self.cpu = cpu

    def __sub__(self, other: Stamp) -> Stamp:
        return Stamp(self.wall - other.wall, self.cpu - other.cpu)


def now() -> Stamp:
    return Stamp(time.perf_counter(), time.process_time())


def summary(times: list[Stamp], divisor: int) -> dict[str, float]:
    """Median (the headline) and best of the repeats, per unit, on both clocks."""
    return {
        "cpu": median(t.cpu for t in times) / divisor,
        "wall": median(t.wall for t in times) / divisor,
        "cpu_best": min(t.cpu for t in times) / divisor,
        "wall_best": min(t.wall for t in times) / divisor,
    }


def _timed(fn: Callable[[], Any]) -> Stamp:
    gc.collect()
    t0 = now()
    fn()
    return now() - t0


# --- the workloads -------------------------------------------------------------


def per_call(side: ModuleType, size: int, repeats: int, workdir: str) -> dict[str, Any]:
    """CPU time per journaled step: runs of `size` steps, each durable when it returns."""
    path = os.path.join(workdir, "per_call.sqlite")
    session = side.open_session(path, False)
    try:
        side.record(session, "warmup", 10, 999_999)
        times = [
            _timed(lambda rep=rep: side.record(session, f"run-{rep}", size, rep))
            for rep in range(repeats)
        ]
    finally:
        side.close_session(session)
    return {"unit": "step", **summary(times, size)}


def replay(side: ModuleType, size: int, repeats: int, workdir: str) -> dict[str, Any]:
    """Re-running a recorded run of `size` steps from the store.

    `all`: every step is taken from the store (the finished run resumed);
    `last`: the first size-1 steps come from the store, the last one runs
    again. Both are per recorded step (size, resp. size-1).
    """
    path = os.path.join(workdir, "replay.sqlite")
    session = side.open_session(path, False)
    out: dict[str, Any] = {"unit": "recorded step"}
    try:
        recorded = side.record(session, "recorded", size, 1)
        for label, keep in (("all", size), ("last", size - 1)):
            token = side.prepare_replay(session, recorded, size, keep)
            side.replay(session, token, size, keep)  # warm-up
            times = []
            for _ in range(repeats):
                token = side.prepare_replay(session, recorded, size, keep)
                times.append(_timed(lambda t=token, k=keep: side.replay(session, t, size, k)))
            for key, value in summary(times, keep).items():
                out[f"{label}_{key}" if label != "all" else key] = value
            out[f"{label}_total_cpu"] = median(t.cpu for t in times)
    finally:
        side.close_session(session)
    return out


def resume(side: ModuleType, size: int, repeats: int, workdir: str) -> dict[str, Any]:
    """A run that stopped for input after `size` finished steps, answered and run to its
    end (a resume of the same run): every step comes from the store. Per recorded step.

    Optional: a side offers it with ``prepare_resume(session, run_id, n) -> token``
    (untimed: the run, stopped) and ``resume(session, token, n)``.
    """
    path = os.path.join(workdir, "resume.sqlite")
    session = side.open_session(path, True)
    try:
        side.resume(session, side.prepare_resume(session, "warmup", size), size)
        times = []
        for rep in range(repeats):
            token = side.prepare_resume(session, f"paused-{rep}", size)
            times.append(_timed(lambda t=token: side.resume(session, t, size)))
    finally:
        side.close_session(session)
    return {"unit": "recorded step", **summary(times, size)}


def empty_bytes(side: ModuleType, path: str, for_input: bool) -> int:
    """Bytes of a store that was set up and closed with nothing recorded."""
    side.close_session(side.open_session(path, for_input))
    return store_bytes(path)


def input_requests(side: ModuleType, size: int, repeats: int, workdir: str) -> dict[str, Any]:
    """One run asking for input `size` times, answered one by one; then the store's size."""
    empty = empty_bytes(side, os.path.join(workdir, "ask-empty.sqlite"), True)
    times = []
    sizes = []
    for rep in range(repeats):
        path = os.path.join(workdir, f"ask-{rep}.sqlite")
        session = side.open_session(path, True)
        try:
            side.ask(session, "warmup", 3)
            times.append(_timed(lambda s=session, r=rep: side.ask(s, f"ask-{r}", size)))
        finally:
            side.close_session(session)
        sizes.append(store_bytes(path))
    return {
        "unit": "run",
        **summary(times, 1),
        "per_request_cpu": median(t.cpu for t in times) / size,
        "store_bytes": min(sizes),
        "empty_store_bytes": empty,
        "bytes_per_request": (min(sizes) - empty) / size,
    }


def bytes_per_call(side: ModuleType, size: int, repeats: int, workdir: str) -> dict[str, Any]:
    """Bytes on disk added by one run of `size` steps, per step (the empty store subtracted)."""
    del repeats  # sizes do not vary from run to run
    empty = empty_bytes(side, os.path.join(workdir, "bytes-empty.sqlite"), False)
    path = os.path.join(workdir, "bytes.sqlite")
    session = side.open_session(path, False)
    try:
        side.record(session, "run", size, 1)
    finally:
        side.close_session(session)
    total = store_bytes(path)
    return {
        "unit": "step",
        "bytes_per_step": (total - empty) / size,
        "store_bytes": total,
        "empty_store_bytes": empty,
    }


WORKLOADS: dict[str, Callable[[ModuleType, int, int, str], dict[str, Any]]] = {
    "per_call": per_call,
    "replay": replay,
    "resume": resume,
    "input_requests": input_requests,
    "bytes_per_call": bytes_per_call,
}


def run(side: ModuleType, workload: str, size: int, repeats: int) -> dict[str, Any]:
    """Runs one workload of `side` in a fresh temporary directory; returns its result."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"bench-peers-{side.NAME}-") as workdir:
        result = WORKLOADS[workload](side, size, repeats, workdir)
    return {
        "side": side.NAME,
        "version": side.VERSION,
        "workload": workload,
        "size": size,
        "repeats": repeats,
        "python": sys.version.split()[0],
        **result,
    }


def cold_start(
    command: list[str], repeats: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Wall (and CPU) time of whole fresh processes `command + ["--db", fresh_file]`.

    Every side imports compiled bytecode, as an installed package does: the
    processes share a fresh ``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE``
    removed), and one untimed process fills it first. Without this, a
    checkout on ``PYTHONPATH`` in a shell that sets ``PYTHONDONTWRITEBYTECODE``
    (as this machine's does) compiles all of its source in every process,
    while the peers' virtualenvs read the bytecode pip wrote at install time.
    CPU time is the user + system time of the finished child process, from
    ``resource.getrusage(RUSAGE_CHILDREN)`` before and after it, the same for
    every side: its fields count microseconds (``os.times()`` counts clock
    ticks, 10 ms here). Median of `repeats`.
    """
    import resource
    import subprocess
    import tempfile

    walls = []
    cpus = []
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-peers-cold-") as workdir:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(workdir, "pycache")
        for rep in range(-1, repeats):  # -1: the untimed run that compiles
            db = os.path.join(workdir, f"cold-{rep}.sqlite")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.run(
                [*command, "--db", db], capture_output=True, text=True, env=env, check=False
            )
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"cold start {' '.join(command)} failed (exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-800:]}"
                )
            if rep >= 0:
                walls.append(wall)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        "workload": "cold_start",
        "size": 1,
        "repeats": repeats,
        "unit": "process",
        "wall": median(walls),
        "wall_best": min(walls),
        "cpu": median(cpus),
        "cpu_best": min(cpus),
    }


def cold_one(side: ModuleType, path: str) -> None:
    """What a fresh process of the cold-start workload does: one run of one step."""
    session = side.open_session(path, False)
    try:
        side.record(session, "cold", 1, 0)
    finally:
        side.close_session(session)


def main(side: ModuleType, argv: list[str] | None = None) -> int:
    """The command line of a side's script: one workload, one JSON line on stdout."""
    parser = argparse.ArgumentParser(description=f"bench_peers workloads for {side.NAME}")
    parser.add_argument("workload", choices=[*WORKLOADS, "cold_one"])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", help="the SQLite file for cold_one")
    args = parser.parse_args(argv)
    if args.workload == "cold_one":
        if not args.db:
            parser.error("cold_one needs --db FILE")
        cold_one(side, args.db)
        return 0
    print(json.dumps(run(side, args.workload, args.size, args.repeats)), flush=True)
    return 0
