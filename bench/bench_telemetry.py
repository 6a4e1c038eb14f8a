"""What timings and logging cost: `enact.invoke` with timings on against timings off.

    python bench/bench_telemetry.py            # about a minute
    python bench/bench_telemetry.py --quick    # smoke run, seconds
    python bench/bench_telemetry.py --json

Both sides run in this process on the same workload, in blocks of four
repeats (off, on, on, off), one warm-up each, gc enabled and `gc.collect()`
before each repeat. The table gives the best CPU time per call of each side
over all repeats (30 pairs by default), the median of the per-pair ratios on
/ off (each "on" repeat against the "off" repeat next to it; this decides
pass or fail) and the ratio of the bests. ``--run-by-run`` measures the
workloads made of many runs a second way, the sides alternating run by run in
one store (`run_by_run`), whose null ratio stays within 0.1 % of 1.00 where
the blocks' moves by up to 6 %. ``--null`` adds pairs of "off"
with "off" again: their median ratio is the bench's own bias (1.00 when the
order of the sides is fair; a rotating order of off, on and DEBUG read 1.055
there, which is why the blocks are symmetric). The logger ``enact`` keeps its default
(no handler configured: disabled), as in an application that does not
configure logging. The target (issue 15): timing records and logging off
cost under 5 % of invoke's per-call time, i.e. a ratio below 1.05, for runs
of many calls and for runs of one call alike.

Workloads:

- ``memory_end``: an `InMemoryStore` with ``durability="end"``, the store
  where enact's own overhead is the whole cost (the same as bench_core's
  invoke_children).
- ``sqlite_call``: a SQLite file with per-call durability (the default),
  each call a small transaction.
- ``small_runs``: many runs of one child call each, in memory.
- ``single_call``: many runs of a single call with no children
  (``enact.invoke(child, (i,))``, the most common way to call invoke), in
  memory: what a run's own timing record costs.
- ``single_call_sqlite``: the same in a SQLite file.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, Final

import enact
from enact.invocations import telemetry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_common import Stamp, child, now, parent


def memory_end(size: int) -> Callable[[], Stamp]:
    def run() -> Stamp:
        with enact.InMemoryStore(durability="end"):
            t0 = now()
            enact.invoke(parent, (size,))
            return now() - t0

    return run


def sqlite_call(size: int) -> Callable[[], Stamp]:
    directory = tempfile.mkdtemp(prefix="enact-bench-telemetry-")
    counter = [0]

    def run() -> Stamp:
        counter[0] += 1
        store = enact.SQLiteStore(os.path.join(directory, f"store-{counter[0]}.db"))
        with store:
            t0 = now()
            enact.invoke(parent, (size,))
            elapsed = now() - t0
        store.close()
        return elapsed

    return run


def single_call(size: int) -> Callable[[], Stamp]:
    """`size` runs of one call with no children (``enact.invoke(child, (i,))``), in memory."""

    def run() -> Stamp:
        with enact.InMemoryStore():
            t0 = now()
            for i in range(size):
                enact.invoke(child, (i,))
            return now() - t0

    return run


def single_call_sqlite(size: int) -> Callable[[], Stamp]:
    """`size` runs of one call with no children, each in a SQLite file (default durability)."""
    directory = tempfile.mkdtemp(prefix="enact-bench-telemetry-")
    counter = [0]

    def run() -> Stamp:
        counter[0] += 1
        store = enact.SQLiteStore(os.path.join(directory, f"single-{counter[0]}.db"))
        with store:
            t0 = now()
            for i in range(size):
                enact.invoke(child, (i,))
            elapsed = now() - t0
        store.close()
        return elapsed

    return run


def small_runs(size: int) -> Callable[[], Stamp]:
    def run() -> Stamp:
        with enact.InMemoryStore(durability="end"):
            t0 = now()
            for _ in range(size):
                enact.invoke(parent, (1,))
            return now() - t0

    return run


WORKLOADS: dict[str, tuple[Callable[[int], Callable[[], Stamp]], int, int]] = {
    # name: (factory, size, calls per repeat)
    "memory_end": (memory_end, 1000, 1000),
    "sqlite_call": (sqlite_call, 200, 200),
    "small_runs": (small_runs, 300, 300),
    "single_call": (single_call, 100, 100),
    "single_call_sqlite": (single_call_sqlite, 100, 100),
}


def _memory_end() -> enact.Store:
    return enact.InMemoryStore(durability="end")


def _sqlite_file() -> enact.Store:
    directory = tempfile.mkdtemp(prefix="enact-bench-telemetry-")
    return enact.SQLiteStore(os.path.join(directory, "store.db"))


RUN_BY_RUN: dict[str, tuple[Callable[[], enact.Store], Callable[[int], Any], int]] = {
    # name: (a fresh store per repeat, one run, runs per repeat)
    "small_runs": (_memory_end, lambda i: enact.invoke(parent, (1,)), 300),
    "single_call": (enact.InMemoryStore, lambda i: enact.invoke(child, (i,)), 300),
    "single_call_sqlite": (_sqlite_file, lambda i: enact.invoke(child, (i,)), 300),
}
"""The workloads made of many runs, measured run by run (`run_by_run`)."""


def run_by_run(name: str, repeats: int, null: bool = False) -> float:
    """The median over `repeats` of on / off CPU time, the sides alternating run by run.

    Each repeat is a fresh store in which every other run has timings on (which
    runs, alternates between repeats; one untimed run comes first); each run is
    timed on its own (process CPU time in ns) and the ratio is of the two sides'
    sums. Both sides share the
    machine's state at every moment, which blocks of repeats cannot: with
    `null`, both sides have timings off and the ratio is the method's bias.
    """
    make_store, one_run, runs = RUN_BY_RUN[name]
    clock = time.process_time_ns
    ratios = []
    for repeat in range(repeats):
        sums = [0, 0]
        store = make_store()
        with store:
            one_run(-1)  # untimed: a fresh file's first write also creates its WAL
            gc.collect()
            for i in range(runs):
                side = (i + repeat) % 2
                telemetry.configure_telemetry(timings=side == 1 and not null)
                t0 = clock()
                one_run(i)
                sums[side] += clock() - t0
        store.close()
        ratios.append(sums[1] / sums[0])
    telemetry.configure_telemetry(timings=True)
    return statistics.median(ratios)


SIDES: Final = ("off", "on", "on+debug", "null")
"""``null`` runs with timings off, like ``off``: its ratio to ``off`` is the bench's own bias."""


def measure(run: Callable[[], Stamp], side: str) -> Stamp:
    """One repeat of `run` with timings off, on, or on with DEBUG logging to a NullHandler."""
    telemetry.configure_telemetry(timings=side in ("on", "on+debug"))
    logger = logging.getLogger("enact")
    handler = logging.NullHandler()
    if side == "on+debug":
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        gc.collect()
        return run()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        telemetry.configure_telemetry(timings=True)


def paired(run: Callable[[], Stamp], side: str) -> list[tuple[float, float]]:
    """Four repeats, ``off``, `side`, `side`, ``off``: two (off, side) pairs of CPU times,
    each `side` repeat with the ``off`` repeat next to it. Each side comes first and
    last once: a fixed order of sides biased the ratios by 5 % (see bench/README.md)."""
    first, a, b, last = (measure(run, one).cpu for one in ("off", side, side, "off"))
    return [(first, a), (last, b)]


def median_ratio(pairs: list[tuple[float, float]]) -> float | None:
    """The median of the (off, side) pairs' ratios side / off; None without pairs."""
    return statistics.median(b / a for a, b in pairs) if pairs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--pairs", type=int, default=30, help="on/off pairs per workload")
    parser.add_argument(
        "--null", action="store_true", help="also pair off with off: the bench's own bias"
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(WORKLOADS), help="run only this workload"
    )
    parser.add_argument(
        "--run-by-run",
        action="store_true",
        help="also measure the workloads of many runs with the sides alternating run by run",
    )
    args = parser.parse_args()
    blocks = 1 if args.quick else max(args.pairs // 2, 1)
    results: list[dict[str, Any]] = []
    for name, (factory, size, calls) in WORKLOADS.items():
        if args.only and name not in args.only:
            continue
        if args.quick:
            size, calls = max(size // 10, 1), max(calls // 10, 1)
        run = factory(size)
        for side in SIDES:
            measure(run, side)  # warm-up
        # Blocks of off, on, on, off, so that a busy moment of the machine hits
        # both sides alike and neither always follows the other; DEBUG logging
        # (and the null check) get a block every third block.
        pairs: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES[1:]}
        for number in range(blocks):
            pairs["on"] += paired(run, "on")
            if number % 3 == 0:
                pairs["on+debug"] += paired(run, "on+debug")
                if args.null:
                    pairs["null"] += paired(run, "null")

        best_off = min(a for a, _ in pairs["on"]) / calls
        best_on = min(b for _, b in pairs["on"]) / calls
        ratio = median_ratio(pairs["on"])
        assert ratio is not None
        results.append(
            {
                "workload": name,
                "size": size,
                "off_us": best_off * 1e6,
                "on_us": best_on * 1e6,
                "debug_us": min(b for _, b in pairs["on+debug"]) / calls * 1e6,
                "ratio": ratio,
                "best_ratio": best_on / best_off,
                "debug_ratio": median_ratio(pairs["on+debug"]),
                "null_ratio": median_ratio(pairs["null"]),
                "pass": ratio < 1.05,
            }
        )
    by_run: list[dict[str, Any]] = []
    if args.run_by_run:
        repeats = 3 if args.quick else 40
        for name in RUN_BY_RUN:
            if args.only and name not in args.only:
                continue
            ratio = run_by_run(name, repeats)
            by_run.append(
                {
                    "workload": name,
                    "ratio": ratio,
                    "null_ratio": run_by_run(name, repeats, null=True),
                    "pass": ratio < 1.05,
                }
            )
    if args.json:
        print(json.dumps({"blocks": results, "run_by_run": by_run}, indent=2))
        return
    null = any(row["null_ratio"] is not None for row in results)
    print(
        "| workload | size | timings off | timings on | on / off (median) | on / off (best) "
        "| target | result | on + DEBUG logging | on+debug / off |"
        + (" off / off (null) |" if null else "")
    )
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if null else ""))
    for row in results:
        print(
            f"| {row['workload']} | {row['size']} | {row['off_us']:.2f} µs | "
            f"{row['on_us']:.2f} µs | {row['ratio']:.3f} | {row['best_ratio']:.3f} | < 1.05 | "
            f"{'pass' if row['pass'] else 'FAIL'} | {row['debug_us']:.2f} µs | "
            f"{row['debug_ratio']:.2f} |" + (f" {row['null_ratio']:.3f} |" if null else "")
        )
    if by_run:
        print()
        print("| workload (run by run) | on / off (median) | target | result | off / off (null) |")
        print("|---|---|---|---|---|")
        for row in by_run:
            print(
                f"| {row['workload']} | {row['ratio']:.3f} | < 1.05 | "
                f"{'pass' if row['pass'] else 'FAIL'} | {row['null_ratio']:.3f} |"
            )


if __name__ == "__main__":
    main()
