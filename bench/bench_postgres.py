"""PostgreSQL batch commit: enact's `store.batch()` against raw psycopg on the same rows.

Usage:
    bash .ci/start_postgres.sh            # prints ENACT_TEST_POSTGRES_DSN=...; export it
    python bench/bench_postgres.py [--size N] [--repeats R] [--dsn DSN]

Workloads (per object; best of R rounds, each round running every workload once
in turn, into emptied tables):
    store_batch       ``with store, store.batch():`` commit N new small resources
                      (encode + hash in Python, then one COPY of the new rows)
    raw_copy          psycopg binary COPY of the very rows enact wrote, into a table
                      of the same shape (digest bytea primary key, data bytea)
    raw_executemany   psycopg executemany INSERT of the same rows (pipelined)
    store_recommit    the same batch again, every object already stored
                      (enact refreshes the commit times gc relies on)
    store_batch_10    the N resources in batches of 10 (a multi-row INSERT each)
    store_single      commits without a batch (one transaction each; first N/10 only)
    memory_batch      store_batch into an InMemoryStore: enact's own share of the work

Prints one JSON line per workload, then the ratios store_batch / raw_*
(the target is at most 3x) and a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

import enact


@enact.register
@dataclasses.dataclass
class Small(enact.Resource):
    """The small resource of the baseline's commit_small workload."""

    name: str
    value: int


def timed(prepare: Callable[[], None], run: Callable[[], None]) -> float:
    """Returns the wall time of `run`, after an untimed `prepare` and a garbage collection."""
    prepare()
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dsn", default=os.environ.get("ENACT_TEST_POSTGRES_DSN", ""))
    args = parser.parse_args()
    if not args.dsn:
        sys.exit(
            "No server: pass --dsn, or export ENACT_TEST_POSTGRES_DSN (.ci/start_postgres.sh)."
        )
    size, repeats = args.size, args.repeats
    schema = f"enact_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(args.dsn, autocommit=True)
    store = enact.PostgresStore(args.dsn, schema=schema)
    objects = sql.Identifier(schema, "enact_objects")
    raw_table = sql.Identifier(schema, "raw_objects")
    admin.execute(
        sql.SQL(
            "CREATE TABLE {} (digest bytea PRIMARY KEY, data bytea NOT NULL, "
            "committed_at timestamptz NOT NULL DEFAULT now())"
        ).format(raw_table)
    )
    raw = psycopg.connect(args.dsn, autocommit=True)
    server = admin.info.server_version
    times: dict[str, list[float]] = {}
    try:
        resources = [Small(f"name-{i}", i) for i in range(size)]

        def empty_store() -> None:
            admin.execute(sql.SQL("TRUNCATE {}").format(objects))

        def empty_raw() -> None:
            admin.execute(sql.SQL("TRUNCATE {}").format(raw_table))

        def commit_batch() -> None:
            with store, store.batch():
                for resource in resources:
                    enact.commit(resource)

        def commit_batch_in_memory() -> None:
            with enact.InMemoryStore() as memory, memory.batch():
                for resource in resources:
                    enact.commit(resource)

        def commit_batches_of_10() -> None:
            with store:
                for start in range(0, size, 10):
                    with store.batch():
                        for resource in resources[start : start + 10]:
                            enact.commit(resource)

        def commit_single() -> None:
            with store:
                for resource in resources[: size // 10]:
                    enact.commit(resource)

        commit_batch()  # warm-up, and the rows the raw workloads write
        rows = admin.execute(
            sql.SQL("SELECT digest, data FROM {} ORDER BY digest").format(objects), binary=True
        ).fetchall()
        assert len(rows) == size, (len(rows), size)
        copy_query = sql.SQL("COPY {} (digest, data) FROM STDIN (FORMAT BINARY)").format(raw_table)
        insert_query = sql.SQL("INSERT INTO {} (digest, data) VALUES (%b, %b)").format(raw_table)

        def raw_copy() -> None:
            with raw.transaction(), raw.cursor().copy(copy_query) as copy:
                copy.set_types(["bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)

        def raw_executemany() -> None:
            with raw.transaction():
                raw.cursor().executemany(insert_query, rows)

        # (name, prepare, run, objects written); store_recommit follows store_batch,
        # so its objects are all stored already.
        workloads: list[tuple[str, Callable[[], None], Callable[[], None], int]] = [
            ("store_batch", empty_store, commit_batch, size),
            ("store_recommit", lambda: None, commit_batch, size),
            ("raw_copy", empty_raw, raw_copy, size),
            ("raw_executemany", empty_raw, raw_executemany, size),
            ("store_batch_10", empty_store, commit_batches_of_10, size),
            ("store_single", empty_store, commit_single, size // 10),
            ("memory_batch", lambda: None, commit_batch_in_memory, size),
        ]
        # Round-robin, so that load from elsewhere on the machine hits all alike.
        for _ in range(repeats):
            for name, prepare, run, count in workloads:
                times.setdefault(name, []).append(timed(prepare, run) / count)
    finally:
        store.close()
        raw.close()
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()

    per = {name: min(values) * 1e6 for name, values in times.items()}
    for name, values in times.items():
        print(
            json.dumps(
                {
                    "workload": name,
                    "size": size,
                    "repeats": repeats,
                    "seconds_per_object": min(values),
                    "seconds_per_object_median": statistics.median(values),
                    "postgres": f"{server // 10000}.{server % 10000}",
                }
            )
        )
    print()
    print(f"store_batch / raw_copy        = {per['store_batch'] / per['raw_copy']:.2f}x")
    print(f"store_batch / raw_executemany = {per['store_batch'] / per['raw_executemany']:.2f}x")
    print()
    print(f"| workload ({size} small resources, best of {repeats}) | µs per object | vs raw COPY |")
    print("|---|---|---|")
    for name, micros in per.items():
        print(f"| {name} | {micros:.2f} | {micros / per['raw_copy']:.2f}x |")


if __name__ == "__main__":
    main()
