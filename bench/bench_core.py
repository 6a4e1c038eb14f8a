"""Core speed benchmarks: our enact against the old PyPI enact==0.4.12.

    bash bench/setup_baseline.sh && python bench/bench_core.py    # full run, a few minutes
    python bench/bench_core.py --quick                            # smoke run, seconds
    python bench/bench_core.py --json                             # one JSON document
    python bench/bench_core.py --only commit_small,invoke_children
    python bench/bench_core.py --profile replay_rewind            # cProfile of our side

For each workload this script runs our implementation in this process, then
the same workload with the old release in its own virtualenv
(``bench/.baseline-venv/bin/python bench/baseline_workloads.py WORKLOAD SIZE
--repeats R``; the venv is created with ``bench/setup_baseline.sh`` if it is
missing), and alternates the two sides for a second round (``--rounds``).
Both sides do the same work on the same sizes, with the same method: one
warm-up run, then R timed repeats, gc enabled, ``gc.collect()`` before each
repeat, inputs built outside the timed region, best (minimum) of all repeats
reported. It prints: workload, ours, baseline, speed-up, target, pass/fail.

Every repeat is timed twice: wall clock (``time.perf_counter``) and CPU time
of the process (``time.process_time``). The work is single-threaded and does
no I/O, so on an idle machine the two agree; on a busy one (2 cores, other
processes running) wall time also counts the time spent waiting for a core,
which varies by 2x between runs. Speed-ups and pass/fail therefore use CPU
time by default; the wall-clock speed-up is shown next to it (``--clock
wall`` swaps them). Speed results are ratios measured in one run of one
script, never timed assertions in tests.

The workload bodies mirror ``bench/baseline_workloads.py`` one to one (same
resource shapes, same values, same fresh store per repeat); only the API
spellings differ (``Ref.from_digest``, ``store.backend``).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import enact

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE_PYTHON = os.path.join(HERE, ".baseline-venv", "bin", "python")
BASELINE_SCRIPT = os.path.join(HERE, "baseline_workloads.py")
SETUP_SCRIPT = os.path.join(HERE, "setup_baseline.sh")
IMPL = f"enact-{getattr(enact, '__version__', 'dev')} (this repo)"


import bench_common  # noqa: E402  (imported after the enact to measure is chosen)
from bench_common import Small, Stamp, Wide, asker, parent, plain_parent  # noqa: E402

_now = bench_common.now
_best = bench_common.best
_time_repeats = bench_common.time_repeats


def _result(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return bench_common.result(IMPL, *args, **kwargs)


# --- our side of each workload ------------------------------------------------


def commit_small(size: int, repeats: int) -> dict[str, Any]:
    """Commit `size` distinct small resources into a fresh in-memory store."""

    def run(rep: int) -> Stamp:
        resources = [Small(f"name-{rep}-{i}", rep * 1_000_000 + i) for i in range(size)]
        store = enact.InMemoryStore()
        with store:
            t0 = _now()
            for r in resources:
                enact.commit(r)
            elapsed = _now() - t0
        assert len(store.backend) == size  # type: ignore[arg-type]
        return elapsed

    run(0)  # warm-up (the baseline warms up on 200 resources)
    times = _time_repeats(lambda rep: run(rep + 1), repeats)
    return _result("commit_small", size, repeats, times, size, "commit")


def checkout_fresh(size: int, repeats: int) -> dict[str, Any]:
    """Check out one committed small resource `size` times, each through a fresh Ref."""
    store = enact.InMemoryStore()
    with store:
        digest = enact.commit(Small("hello", 42)).digest

        def run(_rep: int) -> Stamp:
            r: Any = None
            t0 = _now()
            for _ in range(size):
                r = enact.Ref.from_digest(digest)()
            elapsed = _now() - t0
            assert r == Small("hello", 42)
            return elapsed

        run(0)
        times = _time_repeats(run, repeats)

        # For information: the same with the store's verified-object cache
        # emptied before every checkout, so each one reads the backend and
        # re-hashes the bytes (what the first checkout of an object costs).
        cache = store._cache

        def run_uncached(_rep: int) -> Stamp:
            t0 = _now()
            for _ in range(size):
                cache.clear()
                enact.Ref.from_digest(digest)()
            return _now() - t0

        uncached = _time_repeats(run_uncached, repeats)
    return _result(
        "checkout_fresh",
        size,
        repeats,
        times,
        size,
        "checkout",
        ref_constructor="enact.Ref.from_digest(digest)()",
        uncached_seconds_per_op=_best(uncached, size),
    )


def _make_wide(k: int) -> Wide:
    return Wide(
        ints=list(range(k, k + 10_000)),
        mapping={f"key{j}": f"val{j + k}" for j in range(1_000)},
    )


def commit_wide(size: int, repeats: int) -> dict[str, Any]:
    """Commit `size` wide resources (10k-int list + 1k str->str dict) per repeat.

    Every committed resource has different content, so no cache can help.
    """

    def run(rep: int) -> Stamp:
        resources = [_make_wide(rep * 1000 + i) for i in range(size)]
        with enact.InMemoryStore():
            t0 = _now()
            for r in resources:
                enact.commit(r)
            return _now() - t0

    run(999)
    times = _time_repeats(run, repeats)
    return _result(
        "commit_wide", size, repeats, times, size, "commit", list_len=10_000, dict_len=1_000
    )


def memory_small(size: int, repeats: int) -> dict[str, Any]:
    """Bytes retained per committed small resource (tracemalloc difference).

    Same method as the baseline: resources are created inside the measured
    region, the refs are dropped (bytes_per_resource) or kept by the caller
    (bytes_per_resource_with_refs).
    """
    del repeats
    with enact.InMemoryStore():
        for i in range(100):
            enact.commit(Small(f"warm-{i}", i))

    def measure(keep_refs: bool, offset: int) -> float:
        store = enact.InMemoryStore()
        refs = []
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            with store:
                for i in range(size):
                    ref = enact.commit(Small(f"name-{offset + i}", offset + i))
                    if keep_refs:
                        refs.append(ref)
            del ref
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(store.backend) == size  # type: ignore[arg-type]
        return (after - before) / size

    per_resource = measure(False, 1_000_000)
    per_resource_refs = measure(True, 2_000_000)
    return {
        "impl": IMPL,
        "workload": "memory_small",
        "size": size,
        "repeats": 1,
        "unit": "byte/resource",
        "bytes_per_resource": per_resource,
        "bytes_per_resource_with_refs": per_resource_refs,
        "python": sys.version.split()[0],
        "gc": "enabled",
    }


def invoke_children(size: int, repeats: int) -> dict[str, Any]:
    """enact.invoke(parent, (size,)); parent calls the registered child `size` times."""

    def run(_rep: int) -> Stamp:
        with enact.InMemoryStore(durability="end"):
            t0 = _now()
            inv = enact.invoke(parent, (size,))
            elapsed = _now() - t0
            assert inv.get_output() == size * (size + 1) // 2
            assert len(list(inv.get_children())) == size
        return elapsed

    with enact.InMemoryStore():
        enact.invoke(parent, (min(size, 50),))
    times = _time_repeats(run, repeats)

    # Unjournaled: the same function as plain Python, and the registered
    # function called directly (no enact.invoke) inside a store.
    plain_times = []
    for _ in range(max(repeats, 5)):
        gc.collect()
        t0 = _now()
        plain_parent(size)
        plain_times.append(_now() - t0)
    reg_times = []
    with enact.InMemoryStore():
        parent(min(size, 10))
        for _ in range(max(repeats, 3)):
            gc.collect()
            t0 = _now()
            assert parent(size) == size * (size + 1) // 2
            reg_times.append(_now() - t0)
    return _result(
        "invoke_children",
        size,
        repeats,
        times,
        size,
        "child call",
        plain_per_child=_best(plain_times, size),
        registered_unjournaled_per_child=_best(reg_times, size),
    )


def replay_rewind(size: int, repeats: int) -> dict[str, Any]:
    """Record invoke(parent, (size,)), then time rewind(num_calls=1) + replay()."""
    with enact.InMemoryStore(durability="end"):
        recorded = enact.invoke(parent, (size,))
        expected = recorded.get_output()
        recorded.rewind(num_calls=1).replay()
        rewind_times: list[Stamp] = []
        replay_times: list[Stamp] = []

        def run(_rep: int) -> Stamp:
            t0 = _now()
            rewound = recorded.rewind(num_calls=1)
            t1 = _now()
            replayed = rewound.replay()
            t2 = _now()
            assert replayed.get_output() == expected
            assert len(list(replayed.get_children())) == size
            rewind_times.append(t1 - t0)
            replay_times.append(t2 - t1)
            return t2 - t0

        times = _time_repeats(run, repeats)
    return _result(
        "replay_rewind",
        size,
        repeats,
        times,
        1,
        "rewind(num_calls=1)+replay()",
        seconds_per_recorded_child=_best(times, size),
        rewind_seconds=_best(rewind_times),
        replay_seconds=_best(replay_times),
    )


def input_requests(size: int, repeats: int) -> dict[str, Any]:
    """Drive asker(size) (`size` request_input calls) with an InvocationGenerator."""
    expected = sum(7 if i % 2 == 0 else 3 for i in range(size))

    def drive(n: int) -> tuple[enact.InvocationGenerator, int]:
        gen = enact.InvocationGenerator.from_callable(asker, args=(n,))
        count = 0
        for req in gen:
            gen.set_input(7 if req.requested_type is int else "abc")
            count += 1
        return gen, count

    def run(_rep: int) -> Stamp:
        with enact.InMemoryStore():
            t0 = _now()
            gen, count = drive(size)
            elapsed = _now() - t0
            assert count == size, count
            assert gen.invocation.get_output() == expected
        return elapsed

    with enact.InMemoryStore():
        drive(min(size, 5))
    times = _time_repeats(run, repeats)
    return _result(
        "input_requests",
        size,
        repeats,
        times,
        1,
        f"whole run with {size} request_input calls",
        request_count=size,
        seconds_per_request=_best(times, size),
    )


# --- the suite -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the table: a workload at a size, and its target."""

    workload: str
    fun: Callable[[int, int], dict[str, Any]]
    size: int
    repeats: int
    quick_size: int
    quick_repeats: int
    target: float | None  # speed-up >= target; memory: ours/baseline <= 1/target; None: info
    baseline_repeats: int | None = None  # None: same as ours
    slow_baseline: bool = False  # skipped with --quick and --no-slow-baseline


# Sizes are those of baseline_workloads.py's defaults; repeats are at least
# its defaults (more where the old release is fast enough to afford it).
CASES = [
    Case("commit_small", commit_small, 2000, 7, 200, 3, 20),
    Case("checkout_fresh", checkout_fresh, 2000, 7, 200, 3, 5),
    Case("commit_wide", commit_wide, 3, 7, 1, 2, 40),
    Case("memory_small", memory_small, 20_000, 1, 2000, 1, 4),
    Case("invoke_children", invoke_children, 1000, 5, 100, 2, 50),
    Case("replay_rewind", replay_rewind, 1000, 5, 100, 2, 200),
    # The old release is quadratic here (each answer replays the whole run):
    # its script defaults to 50 requests. We compare at 50 (same count, for
    # information), and at 200 (the target's count) with one baseline run
    # (about 50 s) per round.
    Case("input_requests", input_requests, 50, 3, 10, 2, None),
    Case(
        "input_requests",
        input_requests,
        200,
        3,
        40,
        1,
        100,
        baseline_repeats=1,
        slow_baseline=True,
    ),
]


# --- the baseline subprocess ------------------------------------------------------


def baseline_env() -> dict[str, str]:
    """This process's environment without PYTHONPATH: run with ``PYTHONPATH=src`` (a
    checkout or worktree), the baseline's interpreter would import this enact, not 0.4.12."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def ensure_baseline(log: Callable[[str], None]) -> str | None:
    """Returns None if the baseline venv is usable, else why it is not."""
    if os.path.exists(BASELINE_PYTHON):
        return None
    log("bench: baseline venv missing, running bench/setup_baseline.sh ...")
    try:
        proc = subprocess.run(
            ["bash", SETUP_SCRIPT],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env=baseline_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"setup_baseline.sh could not run: {err}"
    if proc.returncode != 0 or not os.path.exists(BASELINE_PYTHON):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return f"setup_baseline.sh failed (exit {proc.returncode}): {' | '.join(tail)}"
    log(f"bench: {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else 'ok'}")
    return None


def run_baseline(workload: str, size: int, repeats: int) -> dict[str, Any]:
    """Runs one workload with the old release; returns its JSON result."""
    proc = subprocess.run(
        [BASELINE_PYTHON, BASELINE_SCRIPT, workload, str(size), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(HERE),
        check=False,
        env=baseline_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"baseline {workload} {size} failed (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-500:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- formatting -----------------------------------------------------------------------


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def _key(name: str, clock: str) -> str:
    """The result key of a time for `clock` ("cpu" or "wall")."""
    if clock == "wall":
        return name
    return "cpu_" + name if name.startswith("seconds_per_op") else name + "_cpu"


def _headline(result: dict[str, Any], clock: str) -> float:
    if result["workload"] == "memory_small":
        return float(result["bytes_per_resource"])
    return float(result[_key("seconds_per_op", clock)])


def _fmt_value(result: dict[str, Any], clock: str) -> str:
    if result["workload"] == "memory_small":
        return f"{result['bytes_per_resource']:.0f} B/resource"
    unit = {
        "commit": "/commit",
        "checkout": "/checkout",
        "child call": "/child",
    }.get(result["unit"], " total")
    return _fmt_seconds(result[_key("seconds_per_op", clock)]) + unit


def _compare(
    case: Case, ours: dict[str, Any], base: dict[str, Any] | None, clock: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "workload": case.workload,
        "size": int(ours["size"]),
        "ours": ours,
        "baseline": base,
        "target": case.target,
        "clock": clock,
    }
    if case.target is None:
        row["target_text"] = "(none at this size)"
    elif case.workload == "memory_small":
        row["target_text"] = f"<= 1/{case.target:g} of 0.4.12"
    else:
        row["target_text"] = f">= {case.target:g}x"
    if base is None:
        row.update(ratio=None, ratio_cpu=None, ratio_wall=None, passed=None)
        return row
    # > 1: ours is faster (or smaller, for memory).
    ratios = {c: _headline(base, c) / _headline(ours, c) for c in ("cpu", "wall")}
    ratio = ratios[clock]
    row.update(
        ratio=ratio,
        ratio_cpu=ratios["cpu"],
        ratio_wall=ratios["wall"],
        passed=None if case.target is None else ratio >= case.target,
    )
    return row


def _fmt_ratio(row: dict[str, Any], ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    if row["ours"]["workload"] == "memory_small":
        return f"1/{ratio:.1f}"
    return f"{ratio:.1f}x"


def _fmt_result(row: dict[str, Any]) -> str:
    if row["passed"] is None:
        return "info" if row["target"] is None else "n/a"
    return "PASS" if row["passed"] else "FAIL"


def format_table(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    """The result table, as aligned text or as a Markdown table."""
    clock = rows[0]["clock"] if rows else "cpu"
    other = "wall" if clock == "cpu" else "cpu"
    header = [
        "workload",
        "size",
        "ours",
        "baseline 0.4.12",
        "speed-up",
        f"({other} clock)",
        "target",
        "result",
    ]
    body = []
    for row in rows:
        base = row["baseline"]
        memory = row["ours"]["workload"] == "memory_small"
        base_text = _fmt_value(base, clock) if base else row.get("baseline_note", "unavailable")
        if base and base["repeats"] < 3 and not memory:
            base_text += f" ({base['repeats']} run{'s' if base['repeats'] > 1 else ''})"
        body.append(
            [
                row["workload"],
                str(row["size"]),
                _fmt_value(row["ours"], clock),
                base_text,
                _fmt_ratio(row, row["ratio"]),
                "" if memory else _fmt_ratio(row, row[f"ratio_{other}"]),
                row["target_text"],
                _fmt_result(row),
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def format_notes(rows: list[dict[str, Any]]) -> str:
    notes = []
    for row in rows:
        ours, base, clock = row["ours"], row["baseline"], row["clock"]

        def t(result: dict[str, Any], name: str, clock: str = clock) -> str:
            return _fmt_seconds(result[_key(name, clock)])

        name = ours["workload"]
        if name == "invoke_children":
            overhead = ours[_key("seconds_per_op", clock)] - ours[_key("plain_per_child", clock)]
            line = (
                f"invoke_children: plain Python call of the same function "
                f"{t(ours, 'plain_per_child')}/child; registered function called outside "
                f"invoke {t(ours, 'registered_unjournaled_per_child')}/child; journaling "
                f"overhead {_fmt_seconds(overhead)}/child"
            )
            if base:
                line += (
                    f" (0.4.12: outside invoke {t(base, 'registered_unjournaled_per_child')}/child)"
                )
            notes.append(line)
        elif name == "checkout_fresh":
            notes.append(
                f"checkout_fresh: served from the store's verified-object cache; with the cache "
                f"emptied before each checkout (backend read + SHA-256 check): "
                f"{t(ours, 'uncached_seconds_per_op')}/checkout"
            )
        elif name == "replay_rewind":
            line = (
                f"replay_rewind: ours rewind {t(ours, 'rewind_seconds')} + replay "
                f"{t(ours, 'replay_seconds')}"
            )
            if base:
                line += (
                    f"; 0.4.12 rewind {t(base, 'rewind_seconds')} + replay "
                    f"{t(base, 'replay_seconds')}"
                )
            notes.append(line)
        elif name == "memory_small":
            line = (
                f"memory_small: ours {ours['bytes_per_resource_with_refs']:.0f} B/resource "
                f"if the caller keeps the refs"
            )
            if base:
                line += f" (0.4.12: {base['bytes_per_resource_with_refs']:.0f} B)"
            notes.append(line)
    return "\n".join(notes)


# --- running a case ----------------------------------------------------------------------


def merge_rounds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Combines the results of several rounds of one side: best of all repeats."""
    merged = dict(results[0])
    for key, value in results[0].items():
        if key in ("size", "request_count", "list_len", "dict_len") or not isinstance(
            value, int | float
        ):
            continue
        values = [r[key] for r in results]
        if key == "repeats":
            merged[key] = sum(values)
        elif key.endswith("_median"):
            merged[key] = statistics.median(values)
        else:
            merged[key] = min(values)
    merged["rounds"] = len(results)
    return merged


def run_case(
    case: Case,
    args: argparse.Namespace,
    rounds: int,
    unavailable: str | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Runs both sides of one case, alternating them `rounds` times; returns a table row."""
    size = case.quick_size if args.quick else case.size
    repeats = args.repeats or (case.quick_repeats if args.quick else case.repeats)
    note = None
    if unavailable:
        note = "unavailable"
    elif case.slow_baseline and (args.quick or args.no_slow_baseline):
        note = "skipped (slow)"
    base_repeats = case.baseline_repeats or repeats
    if args.repeats:
        base_repeats = min(base_repeats, args.repeats)
    if case.workload == "memory_small":
        rounds = 1  # tracemalloc counts bytes, which the machine's load does not change

    ours_results: list[dict[str, Any]] = []
    base_results: list[dict[str, Any]] = []

    def ours() -> None:
        log(f"bench: {case.workload} {size}: ours, {repeats} repeats ...")
        ours_results.append(case.fun(size, repeats))

    def base() -> None:
        nonlocal note
        if note:
            return
        log(f"bench: {case.workload} {size}: 0.4.12, {base_repeats} repeats ...")
        try:
            base_results.append(run_baseline(case.workload, size, base_repeats))
        except RuntimeError as err:
            log(f"bench: {err}")
            note = "failed"

    for round_index in range(rounds):
        # Alternate the order, so that neither side always runs right after the other.
        first, second = (ours, base) if round_index % 2 == 0 else (base, ours)
        first()
        second()
    merged_base = merge_rounds(base_results) if base_results and not note else None
    row = _compare(case, merge_rounds(ours_results), merged_base, args.clock)
    if note:
        row["baseline_note"] = note
    return row


# --- main -------------------------------------------------------------------------------


def profile(workload: str, size: int | None, repeats: int | None) -> None:
    """Prints a cProfile of our side of one workload.

    One unprofiled run first (imports, compiled patterns, caches), then a
    profiled run with its warm-up, setup and timed repeats; with several
    repeats the timed part dominates.
    """
    case = next(c for c in CASES if c.workload == workload)
    n = size or case.size
    reps = repeats or max(case.repeats, 5)
    case.fun(n, 1)
    profiler = cProfile.Profile()
    profiler.enable()
    case.fun(n, reps)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"# cProfile of our {case.workload} at size {n}, {reps} repeats (+ warm-up, setup)")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


def report(
    machine: dict[str, Any],
    unavailable: str | None,
    rows: list[dict[str, Any]],
    as_json: bool,
    markdown: bool,
) -> None:
    """Prints the results: one JSON document, or the table and notes."""
    if as_json:
        print(json.dumps({"machine": machine, "baseline": unavailable, "rows": rows}, indent=1))
        return
    print(
        f"enact core benchmarks vs enact 0.4.12 ({machine['mode']} run; "
        f"Python {machine['python']}, {machine['cpus']} cores; {machine['clock']} time, best of "
        f"all repeats over {machine['rounds']} alternating round(s); load average at start "
        f"{machine['load_average']})"
    )
    print(format_table(rows, markdown=markdown))
    notes = format_notes(rows)
    if notes:
        print()
        print(notes)
    if unavailable:
        print(f"\nbaseline unavailable: {unavailable}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time that decides speed-up and pass/fail (default cpu: process CPU time, "
        "which waiting for a core on a busy machine does not inflate; the other is shown too)",
    )
    parser.add_argument(
        "--render", metavar="FILE", help="print the table of a saved --json output, run nothing"
    )
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument(
        "--no-baseline", action="store_true", help="run our side only (no subprocess)"
    )
    parser.add_argument(
        "--no-slow-baseline",
        action="store_true",
        help="skip the ~50 s baseline run of input_requests at 200 requests",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats per round (both sides)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="alternate ours/baseline this many times per workload (default 2; --quick 1)",
    )
    parser.add_argument("--profile", metavar="WORKLOAD", help="cProfile our side of WORKLOAD")
    parser.add_argument("--size", type=int, default=None, help="size for --profile")
    # (--repeats also sets the profiled repeats of --profile)
    args = parser.parse_args(argv)

    if args.profile:
        profile(args.profile, args.size, args.repeats)
        return 0
    if args.render:
        with open(args.render, encoding="utf-8") as f:
            saved = json.load(f)
        report(saved["machine"], saved["baseline"], saved["rows"], False, args.markdown)
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {c.workload for c in CASES}
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    cases = [c for c in CASES if not wanted or c.workload in wanted]

    unavailable = "not run (--no-baseline)" if args.no_baseline else ensure_baseline(log)
    if unavailable:
        log(f"bench: baseline unavailable: {unavailable}; printing our numbers only")

    load_average = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rounds = args.rounds or (1 if args.quick else 2)
    rows = [run_case(case, args, rounds, unavailable, log) for case in cases]

    machine = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "mode": "quick" if args.quick else "full",
        "rounds": rounds,
        "clock": args.clock,
        "load_average": load_average,
    }
    report(machine, unavailable, rows, as_json=args.json, markdown=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
