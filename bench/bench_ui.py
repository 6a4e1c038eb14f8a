"""`enact ui` page loads on a store of 100,000 runs, against raw SQLite and `enact log`.

Builds (once, then reuses) a SQLite store with N runs: most complete (``total``
of one number, written with ``durability="end"`` to build faster), every
500th waiting for input, every 1,000th raised. Starts the real ``enact ui``
in a subprocess and times each page over HTTP (one kept-alive connection,
best and median of R loads). Baselines on the same store: the raw SQLite
query behind the first page of runs (the 50 newest run-index names plus their
50 heads), and ``enact log -n 50`` (a whole process, as a user runs it).
Target: every page under 200 ms.

    python bench/bench_ui.py               # 100,000 runs (building takes a few minutes)
    python bench/bench_ui.py --runs 5000   # smaller
    python bench/bench_ui.py --json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import enact  # noqa: E402

TARGET_MS = 200.0


@enact.register
def square(x: int) -> int:
    return x * x


@enact.register
def total(xs: list[int]) -> int:
    return sum(square(x) for x in xs)


@enact.register
def ask(topic: str) -> str:
    return f"{topic}: " + enact.request_input(str, for_value=topic, context="Reply?")


@enact.register
def fail(n: int) -> int:
    raise ValueError(f"boom {n}")


def build(path: pathlib.Path, runs: int) -> None:
    """Writes `runs` runs into the SQLite store at `path` (skipped if it has them).

    The first 1,000 runs, and every waiting one, are real `enact.invoke` runs.
    The others are what the same programs on the same inputs record: a copy
    of the head state of run ``i % 1000`` under a new run id and start time,
    its request and tree shared by content address, and its two names (head
    and run index) inserted in one SQLite transaction -- about 50 times
    faster to build than 100,000 invocations on a busy 2-core machine.
    """
    marker = path.with_suffix(".built")
    if marker.exists() and marker.read_text() == str(runs):
        return
    path.unlink(missing_ok=True)
    # The journaled functions by their module's name (not __main__), for `--import bench_ui`.
    from bench_ui import ask, fail, total

    started = time.perf_counter()
    names: list[tuple[str, str, float]] = []
    store = enact.open_store(f"sqlite:///{path}")
    templates: dict[int, enact.RunState] = {}
    with store:
        for i in range(runs):
            run_id = f"bench-{i:06d}"
            if i % 500 == 250:
                enact.invoke(ask, (f"topic {i}",), run_id=run_id)
            elif i >= 1000:
                now = time.time()
                copy = dataclasses.replace(
                    templates[i % 1000], run_id=run_id, created=now, updated=now, previous=None
                )
                digest = store.commit(copy).digest
                names.append((f"runs/{run_id}", digest, now))
                names.append((f"enact/run-index/{int(now * 1e9):020d}/{run_id}", digest, now))
            elif i % 1000 == 999:
                with contextlib.suppress(ValueError):
                    enact.invoke(fail, (i,), run_id=run_id, durability="end")
            else:
                enact.invoke(total, ([i % 97, 3],), run_id=run_id, durability="end")
            if i < 1000 and i % 500 != 250:
                templates[i] = enact.get_run(run_id).state
            if i and i % 10_000 == 0:
                print(f"  {i:,} runs ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    store.close()
    connection = sqlite3.connect(path)
    with connection:
        connection.executemany("INSERT INTO names VALUES (?, ?, ?)", names)
    connection.close()
    marker.write_text(str(runs))


def baseline_sql(path: pathlib.Path) -> float:
    """The raw SQLite reads of the first page: 50 newest index names, then their 50 heads."""
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    rows = connection.execute(
        "SELECT name FROM names WHERE name >= 'enact/run-index/' AND name < 'enact/run-index0' "
        "ORDER BY name DESC LIMIT 50"
    ).fetchall()
    for (name,) in rows:
        (digest,) = connection.execute(
            "SELECT digest FROM names WHERE name = ?", ("runs/" + name.rsplit("/", 1)[1],)
        ).fetchone()
        connection.execute(
            "SELECT data FROM objects WHERE digest = ?", (bytes.fromhex(digest),)
        ).fetchone()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }


def baseline_log(url: str) -> float:
    env = _env()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, "log", "-n", "50"],
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - started


def time_pages(base: str, pages: dict[str, str], repeat: int) -> dict[str, list[float]]:
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    results: dict[str, list[float]] = {}
    for label, path in pages.items():
        times = []
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            connection.request("GET", path, headers={"Host": f"127.0.0.1:{parts.port}"})
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise SystemExit(f"{label}: HTTP {response.status}: {body[:300]!r}")
            if attempt:  # the first load warms caches
                times.append(elapsed)
        results[label] = times
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "enact-bench-ui"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    directory = pathlib.Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"store-{args.runs}.db"
    build(path, args.runs)
    url = f"sqlite:///{path}"
    env = _env()
    command = [sys.executable, "-m", "enact", "--store", url, "--import", "bench_ui"]
    server = subprocess.Popen(
        [*command, "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().split(" at ", 1)[1].strip().rstrip("/")
        newest = f"bench-{args.runs - 1:06d}"
        waiting = f"bench-{(args.runs - 1 - 250) // 500 * 500 + 250:06d}"
        middle = f"bench-{args.runs // 2:06d}"
        with enact.open_store(url) as store:
            head = enact.get_run(newest, store=store).head.digest
            created = enact.get_run(middle, store=store).created
        cursor = f"enact/run-index/{int(created * 1e9):020d}/{middle}"
        pages = {
            "runs (first page)": "/runs",
            "runs (page in the middle)": "/runs?before=" + urllib.parse.quote(cursor, safe=""),
            "runs ?status=waiting": "/runs?status=waiting",
            "runs ?function=ask": "/runs?function=ask",
            "runs ?since=": "/runs?since=2000-01-01",
            "live poll": "/runs/live?after=" + urllib.parse.quote(cursor, safe=""),
            "run page (complete)": f"/runs/{newest}",
            "run page (waiting)": f"/runs/{waiting}",
            "answer form": f"/runs/{waiting}/answer",
            "inbox": "/inbox",
            "diff of two runs": f"/diff?a={newest}&b={middle}",
            "object by digest": f"/objects?ref={head}",
            "object JSON": f"/objects/{head}.json",
        }
        results = time_pages(base, pages, args.repeat)
    finally:
        server.terminate()
        server.wait(timeout=30)
    sql = min(baseline_sql(path) for _ in range(args.repeat))
    log = min(baseline_log(url) for _ in range(3))
    rows: list[dict[str, Any]] = []
    for label, times in results.items():
        best, median = min(times), statistics.median(times)
        rows.append(
            {
                "page": label,
                "best_ms": best * 1e3,
                "median_ms": median * 1e3,
                "x_raw_sql": median / sql,
                "enact_log_x_slower": log / median,
                "pass": median * 1e3 < TARGET_MS,
            }
        )
    if args.json:
        summary = {"runs": args.runs, "raw_sql_ms": sql * 1e3, "enact_log_ms": log * 1e3}
        print(json.dumps({**summary, "pages": rows}, indent=2))
        return
    print(f"enact ui on {args.runs:,} runs (SQLite), {args.repeat} loads per page")
    print(
        f"baselines: raw SQLite first page {sql * 1e3:.2f} ms; `enact log -n 50` {log * 1e3:.0f} ms"
    )

    print()
    print("| page | best | median | / raw SQL | `enact log` is slower by | < 200 ms |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['page']} | {row['best_ms']:.1f} ms | {row['median_ms']:.1f} ms | "
            f"{row['x_raw_sql']:.1f}x | {row['enact_log_x_slower']:.0f}x | "
            f"{'pass' if row['pass'] else 'FAIL'} |"
        )


if __name__ == "__main__":
    main()
