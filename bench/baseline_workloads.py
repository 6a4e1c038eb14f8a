"""Speed/memory baseline workloads for the OLD enact (PyPI enact==0.4.12).

Run ONLY with the baseline virtualenv's interpreter (see setup_baseline.sh):

    bench/.baseline-venv/bin/python bench/baseline_workloads.py WORKLOAD [SIZE]
        [--repeats R]

WORKLOAD is one of the names in WORKLOADS below, or `all` (runs each with its
default size; SIZE is then ignored). Each workload prints exactly one JSON
line to stdout. Common keys:

    impl, workload, size, repeats, python, gc   (the measurement setup)
    seconds_per_op        headline number, best (minimum) over repeats
    seconds_per_op_median median over repeats
    cpu_seconds_per_op    the same in CPU time of this process (time.process_time),
                          which waiting for a core on a busy machine does not inflate
    cpu_seconds_per_op_median
    unit                  what one "op" is

Method: one warm-up run at a small size first, then `repeats` timed runs with
time.perf_counter() and time.process_time(); gc stays enabled (as for a user), gc.collect() runs
before each repeat, outside the timed region. Inputs are built outside the
timed region.

This script must never import our project: it strips /work/main/src-like
entries from sys.path and checks that the imported enact is 0.4.12 from the
venv's site-packages.
"""

import argparse
import gc
import json
import os
import sys
import tracemalloc
from typing import Any

# --- make sure we import the OLD enact, never our project -----------------
_HERE = os.path.dirname(os.path.abspath(__file__))
_PROJECT_SRC = os.path.join(os.path.dirname(_HERE), "src")
sys.path[:] = [
    p
    for p in sys.path
    if os.path.abspath(p or os.getcwd()) not in (_PROJECT_SRC, os.path.dirname(_HERE))
]

import enact  # noqa: E402  (old enact, baseline only)

if enact.__version__ != "0.4.12" or "site-packages" not in enact.__file__:
    sys.exit(
        f"baseline_workloads.py: wrong enact imported: {enact.__version__} from {enact.__file__}"
    )

IMPL = f"enact-{enact.__version__} (PyPI baseline)"


import bench_common  # noqa: E402  (imported after the enact to measure is chosen)
from bench_common import Small, Wide, asker, parent, plain_parent  # noqa: E402

_now = bench_common.now
_best = bench_common.best
_time_repeats = bench_common.time_repeats


def _result(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return bench_common.result(IMPL, *args, **kwargs)


# --- workloads -----------------------------------------------------------------


def commit_small(size: int, repeats: int, warmup: bool = True):
    """Commit `size` distinct small resources into a fresh in-memory store."""

    def run(rep):
        resources = [Small(f"name-{rep}-{i}", rep * 1_000_000 + i) for i in range(size)]
        store = enact.InMemoryStore()
        with store:
            t0 = _now()
            for r in resources:
                enact.commit(r)
            elapsed = _now() - t0
        assert len(store._backend) == size  # pylint: disable=protected-access
        return elapsed

    if warmup:
        commit_small(min(size, 200), 1, warmup=False)
    times = _time_repeats(lambda rep: run(rep + 1), repeats)
    return _result("commit_small", size, repeats, times, size, "commit")


def checkout_fresh(size: int, repeats: int, warmup: bool = True):
    """Check out one committed small resource `size` times via fresh Refs."""
    with enact.InMemoryStore():
        ref = enact.commit(Small("hello", 42))
        digest = ref.digest
        # Sanity: a fresh Ref has no cache, so checkout hits the store.
        assert not enact.Ref(digest).is_cached()

        def run(_rep):
            t0 = _now()
            for _ in range(size):
                r = enact.Ref(digest)  # what a user does with a stored digest
                r.checkout()
            elapsed = _now() - t0
            assert r.checkout() == Small("hello", 42)
            return elapsed

        if warmup:
            run(0)
        times = _time_repeats(run, repeats)
    return _result(
        "checkout_fresh",
        size,
        repeats,
        times,
        size,
        "checkout",
        ref_constructor="enact.Ref(digest)",
    )


def _make_wide(k: int) -> Wide:
    return Wide(
        ints=list(range(k, k + 10_000)), mapping={f"key{j}": f"val{j + k}" for j in range(1_000)}
    )


def commit_wide(size: int, repeats: int, warmup: bool = True):
    """Commit `size` wide resources (10k-int list + 1k str->str dict) per repeat.

    Every committed resource has different content (k differs) so no cache
    can help.
    """

    def run(rep):
        resources = [_make_wide(rep * 1000 + i) for i in range(size)]
        with enact.InMemoryStore():
            t0 = _now()
            for r in resources:
                enact.commit(r)
            return _now() - t0

    if warmup:
        run(999)
    times = _time_repeats(run, repeats)
    return _result(
        "commit_wide", size, repeats, times, size, "commit", list_len=10_000, dict_len=1_000
    )


def memory_small(size: int, repeats: int, warmup: bool = True):
    """Bytes retained per committed small resource (tracemalloc difference).

    bytes_per_resource: resources are created inside the measured region and
    the returned refs are dropped, so this is what the store itself retains
    per resource (including its copy/reference of the field data).
    bytes_per_resource_with_refs: same, but the caller keeps all returned refs.
    """
    del repeats
    if warmup:
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
        assert len(store._backend) == size  # pylint: disable=protected-access
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


def invoke_children(size: int, repeats: int, warmup: bool = True):
    """enact.invoke(parent, (size,)); parent calls registered child size times."""

    def run(_rep):
        store = enact.InMemoryStore()
        with store:
            t0 = _now()
            inv = enact.invoke(parent, (size,))
            elapsed = _now() - t0
            assert inv.get_output() == size * (size + 1) // 2
            assert len(list(inv.get_children())) == size
        return elapsed

    if warmup:
        with enact.InMemoryStore():
            enact.invoke(parent, (min(size, 50),))
    times = _time_repeats(run, repeats)

    # Unjournaled baselines.
    plain_times = []
    for _ in range(max(repeats, 5)):
        t0 = _now()
        plain_parent(size)
        plain_times.append(_now() - t0)
    # The registered function called directly (no enact.invoke), in a store.
    reg_times = []
    with enact.InMemoryStore():
        parent(min(size, 10))
        for _ in range(max(repeats, 3)):
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


def replay_rewind(size: int, repeats: int, warmup: bool = True):
    """Record invoke(parent, (size,)), then time rewind(num_calls=1)+replay()."""
    with enact.InMemoryStore():
        recorded = enact.invoke(parent, (size,))
        expected = recorded.get_output()
        if warmup:
            recorded.rewind(num_calls=1).replay()
        rewind_times, replay_times = [], []

        def run(_rep):
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


def input_requests(size: int, repeats: int, warmup: bool = True):
    """Drive asker(size) (size request_input calls) with InvocationGenerator."""
    expected = sum(7 if i % 2 == 0 else 3 for i in range(size))

    def drive(n):
        gen = enact.InvocationGenerator.from_callable(asker, args=(n,))
        count = 0
        for req in gen:
            gen.set_input(7 if req.requested_type is int else "abc")
            count += 1
        return gen, count

    def run(_rep):
        with enact.InMemoryStore():
            t0 = _now()
            gen, count = drive(size)
            elapsed = _now() - t0
            assert count == size, count
            assert gen.invocation.get_output() == expected
        return elapsed

    if warmup:
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


# name -> (function, default size, default repeats)
WORKLOADS = {
    "commit_small": (commit_small, 2000, 5),
    "checkout_fresh": (checkout_fresh, 2000, 5),
    "commit_wide": (commit_wide, 3, 5),
    "memory_small": (memory_small, 20_000, 1),
    "invoke_children": (invoke_children, 1000, 3),
    "replay_rewind": (replay_rewind, 1000, 3),
    # Cost is quadratic in the request count in 0.4.12 (every set_input
    # replays the whole invocation): 200 requests take ~40 s, so the default is
    # 50. Always compare at the same count (reported as request_count).
    "input_requests": (input_requests, 50, 3),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=[*sorted(WORKLOADS), "all"])
    parser.add_argument("size", nargs="?", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    for name in names:
        fun, default_size, default_repeats = WORKLOADS[name]
        size = default_size if args.size is None or args.workload == "all" else args.size
        repeats = args.repeats or default_repeats
        print(json.dumps(fun(size, repeats)), flush=True)


if __name__ == "__main__":
    main()
