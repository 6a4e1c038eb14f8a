"""What bench_core.py (this project) and baseline_workloads.py (enact 0.4.12) share.

Both scripts import this module after choosing which `enact` they run, so the
two sides define the very same resources and functions, and time them the
same way. It uses only the parts of enact's API that both versions have.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import enact

# --- resources and functions: the same shapes on both sides ------------------


@enact.register
@dataclasses.dataclass
class Small(enact.Resource):
    name: str
    value: int


@enact.register
@dataclasses.dataclass
class Wide(enact.Resource):
    ints: list[int]
    mapping: dict[str, str]


@enact.register
def child(x: int) -> int:
    return x + 1


@enact.register
def parent(n: int) -> int:
    total = 0
    for i in range(n):
        total += child(i)
    return total


def plain_child(x: int) -> int:
    return x + 1


def plain_parent(n: int) -> int:
    total = 0
    for i in range(n):
        total += plain_child(i)
    return total


@enact.register
def asker(n: int) -> int:
    """Calls request_input n times, alternating requested types int / str."""
    total = 0
    for i in range(n):
        if i % 2 == 0:
            total += enact.request_input(requested_type=int, for_value=i, context="give an int")
        else:
            total += len(enact.request_input(requested_type=str, for_value=i, context="give a str"))
    return total


# --- measurement helpers ------------------------------------------------------


class Stamp(NamedTuple):
    """Wall-clock and CPU time; differences of stamps are durations."""

    wall: float
    cpu: float

    def __sub__(self, other: tuple[Any, ...]) -> Stamp:
        return Stamp(self.wall - other[0], self.cpu - other[1])


def now() -> Stamp:
    return Stamp(time.perf_counter(), time.process_time())


def best(durations: list[Stamp], divisor: int = 1) -> dict[str, float]:
    """Best wall-clock and best CPU duration (each the minimum over the list)."""
    return {
        "wall": min(d.wall for d in durations) / divisor,
        "cpu": min(d.cpu for d in durations) / divisor,
    }


def time_repeats(run: Callable[[int], Stamp], repeats: int) -> list[Stamp]:
    """run(rep) -> elapsed Stamp (it times itself); gc.collect() before each."""
    times = []
    for rep in range(repeats):
        gc.collect()
        times.append(run(rep))
    return times


def result(
    impl: str,
    workload: str,
    size: int,
    repeats: int,
    times: list[Stamp],
    divisor: int,
    unit: str,
    **extra: Any,
) -> dict[str, Any]:
    per_op = [t.wall / divisor for t in times]
    cpu_per_op = [t.cpu / divisor for t in times]
    out = {
        "impl": impl,
        "workload": workload,
        "size": size,
        "repeats": repeats,
        "unit": unit,
        "seconds_per_op": min(per_op),
        "seconds_per_op_median": statistics.median(per_op),
        "cpu_seconds_per_op": min(cpu_per_op),
        "cpu_seconds_per_op_median": statistics.median(cpu_per_op),
        "python": sys.version.split()[0],
        "gc": "enabled",
    }
    for key, value in extra.items():
        if isinstance(value, dict):  # a _best(): key (wall) and key_cpu
            out[key] = value["wall"]
            out[key + "_cpu"] = value["cpu"]
        else:
            out[key] = value
    return out
