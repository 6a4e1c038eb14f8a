"""What timings and logging cost: `enact.invoke` with timings on against timings off.

    python bench/bench_telemetry.py            # about a minute
    python bench/bench_telemetry.py --quick    # smoke run, seconds
    python bench/bench_telemetry.py --json

Both sides run in this process on the same workload, alternating repeat by
repeat in a rotating order, one warm-up each, gc enabled and `gc.collect()`
before each repeat. The table gives the best CPU time per call of each side
over all repeats (30 by default), the median of the per-repeat ratios on /
off (each "on" repeat against the "off" repeat next to it; this decides pass
or fail) and the ratio of the bests. The logger ``enact`` keeps its default
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


SIDES: Final = ("off", "on", "on+debug")


def measure(run: Callable[[], Stamp], side: str) -> Stamp:
    """One repeat of `run` with timings off, on, or on with DEBUG logging to a NullHandler."""
    telemetry.configure_telemetry(timings=side != "off")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5, help="repeats per round")
    parser.add_argument(
        "--only", action="append", choices=sorted(WORKLOADS), help="run only this workload"
    )
    args = parser.parse_args()
    rounds, repeats = (1, 2) if args.quick else (args.rounds, args.repeats)
    results: list[dict[str, Any]] = []
    for name, (factory, size, calls) in WORKLOADS.items():
        if args.only and name not in args.only:
            continue
        if args.quick:
            size, calls = max(size // 10, 1), max(calls // 10, 1)
        run = factory(size)
        sides: dict[str, list[Stamp]] = {side: [] for side in SIDES}
        for side in SIDES:
            measure(run, side)  # warm-up
        # The sides alternate repeat by repeat (in a rotating order), so that a
        # busy moment of the machine hits all of them alike; each repeat's
        # ratio compares it with the "off" repeat next to it.
        for number in range(rounds * repeats):
            order = SIDES[number % len(SIDES) :] + SIDES[: number % len(SIDES)]
            for side in order:
                sides[side].append(measure(run, side))
        cpu = {side: [stamp.cpu for stamp in stamps] for side, stamps in sides.items()}
        best = {side: min(times) / calls for side, times in cpu.items()}
        ratio = statistics.median(on / off for on, off in zip(cpu["on"], cpu["off"], strict=True))
        debug_ratio = statistics.median(
            on / off for on, off in zip(cpu["on+debug"], cpu["off"], strict=True)
        )
        results.append(
            {
                "workload": name,
                "size": size,
                "off_us": best["off"] * 1e6,
                "on_us": best["on"] * 1e6,
                "debug_us": best["on+debug"] * 1e6,
                "ratio": ratio,
                "best_ratio": best["on"] / best["off"],
                "debug_ratio": debug_ratio,
                "pass": ratio < 1.05,
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "| workload | size | timings off | timings on | on / off (median) | on / off (best) "
        "| target | result | on + DEBUG logging | on+debug / off |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['workload']} | {row['size']} | {row['off_us']:.2f} µs | "
            f"{row['on_us']:.2f} µs | {row['ratio']:.3f} | {row['best_ratio']:.3f} | < 1.05 | "
            f"{'pass' if row['pass'] else 'FAIL'} | {row['debug_us']:.2f} µs | "
            f"{row['debug_ratio']:.2f} |"
        )


if __name__ == "__main__":
    main()
