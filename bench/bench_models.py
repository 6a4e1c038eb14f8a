"""Commit and checkout of a 10-field pydantic model and attrs class against a dataclass resource.

    python bench/bench_models.py            # prints one line per kind, with its ratio
    python bench/bench_models.py --quick    # smoke run

Each kind holds the same data (10 fields: str, int, float, bool, None, a list
and a dict); each repeat commits N distinct instances into a fresh in-memory
store and checks each out again through a fresh Ref (no cache hit). The best
CPU time of the repeats is reported per instance; the target is a ratio of
at most 2x against the dataclass resource. A ratio, never a timed test.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import time
from collections.abc import Callable
from typing import Any

import attrs
import pydantic

import enact


@enact.register
@dataclasses.dataclass
class DataclassRecord(enact.Resource):
    name: str
    role: str
    count: int
    score: float
    active: bool
    parent: str | None
    tags: list[str]
    meta: dict[str, int]
    first: int
    last: int


@enact.register
class PydanticRecord(pydantic.BaseModel):
    name: str
    role: str
    count: int
    score: float
    active: bool
    parent: str | None
    tags: list[str]
    meta: dict[str, int]
    first: int
    last: int


@enact.register
@attrs.define
class AttrsRecord:
    name: str
    role: str
    count: int
    score: float
    active: bool
    parent: str | None
    tags: list[str]
    meta: dict[str, int]
    first: int
    last: int


def fields(i: int) -> dict[str, Any]:
    return {
        "name": f"user-{i}",
        "role": "assistant",
        "count": i,
        "score": i / 7,
        "active": i % 2 == 0,
        "parent": None,
        "tags": ["a", "b", str(i)],
        "meta": {"tokens": i * 3, "turn": 2},
        "first": i - 1,
        "last": i + 1,
    }


def workload(cls: Callable[..., Any], size: int) -> Callable[[], None]:
    values = [cls(**fields(i)) for i in range(size)]

    def run() -> None:
        with enact.InMemoryStore():
            digests = [enact.commit(value).digest for value in values]
            for digest in digests:
                enact.Ref.from_digest(digest)()

    return run


def best_cpu(run: Callable[[], None], repeats: int) -> float:
    run()  # warm-up: generated spellers and readers, type lookups
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    size, repeats = (200, 3) if args.quick else (5_000, 7)
    kinds = [("dataclass", DataclassRecord), ("pydantic", PydanticRecord), ("attrs", AttrsRecord)]
    baseline = None
    print(f"commit + checkout of one 10-field record ({size} per repeat, best of {repeats}, CPU)")
    for label, cls in kinds:
        seconds = best_cpu(workload(cls, size), repeats) / size
        baseline = baseline or seconds
        ratio = seconds / baseline
        verdict = "" if cls is DataclassRecord else ("pass" if ratio <= 2 else "FAIL (> 2x)")
        print(f"{label:10} {seconds * 1e6:8.2f} µs  {ratio:5.2f}x the dataclass  {verdict}")


if __name__ == "__main__":
    main()
