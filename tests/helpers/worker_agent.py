"""The agent that worker processes import in tests/test_workers*.py (``--import worker_agent``).

Every journaled call appends ``<event> <enact.call_key()> <pid>`` to the
ledger file named by ``ENACT_TEST_LEDGER`` when its body runs (one
``os.write`` on an ``O_APPEND`` descriptor: nothing a ``kill -9`` could lose
in a buffer). The ledger, not the journal, counts executions.
"""

from __future__ import annotations

import os
import time

import enact

LEDGER_VARIABLE = "ENACT_TEST_LEDGER"
SLOW_VARIABLE = "ENACT_TEST_SLOW_SECONDS"
"""If set, how long `slow_effect` takes instead of its argument (for a restarted worker)."""


def note(event: str, key: str) -> None:
    """Appends one ledger line (nothing if no ledger is set)."""
    path = os.environ.get(LEDGER_VARIABLE)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@enact.register
def effect(i: int) -> int:
    """A side effect: one ledger line per execution."""
    note("run", enact.call_key())
    return i * 10


@enact.register
def job(n: int) -> int:
    """`n` effects one after the other; returns their sum."""
    return sum(effect(i) for i in range(n))


@enact.register
def slow_effect(seconds: float) -> str:
    """A side effect that takes `seconds` (in short sleeps, so it can be interrupted)."""
    note("start", enact.call_key())
    seconds = float(os.environ.get(SLOW_VARIABLE, seconds))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    note("run", enact.call_key())
    return "slept"


@enact.register
def slow_job(seconds: float) -> str:
    """One effect, then a slow one, then one more."""
    effect(0)
    slept = slow_effect(seconds)
    effect(2)
    return slept


@enact.register
def paced(i: int, seconds: float) -> int:
    """A call that takes `seconds` (as a model call would), then notes itself."""
    time.sleep(seconds)
    note("run", enact.call_key())
    return i


@enact.register
def paced_job(n: int, seconds: float) -> int:
    """`n` paced calls one after the other; returns the sum of their indexes."""
    return sum(paced(i, seconds) for i in range(n))


@enact.register
def approval(order: str) -> str:
    """Prepares an order, asks for approval, then ships it."""
    effect(1)
    decision = enact.request_input(str, for_value=order, context="approve?")
    effect(2)
    return f"{order}: {decision}"


@enact.retries(2, backoff=0.01)
@enact.register
def flaky(fail_times: int) -> str:
    """Fails its first `fail_times` attempts (counted in the ledger), then succeeds."""
    effect(0)
    note("attempt", enact.call_key())
    path = os.environ[LEDGER_VARIABLE]
    with open(path) as ledger:
        attempts = sum(1 for line in ledger if line.startswith("attempt "))
    if attempts <= fail_times:
        raise RuntimeError(f"attempt {attempts} fails")
    return f"ok after {attempts}"


@enact.register
def broken(n: int) -> int:
    """Always raises (no retries declared)."""
    note("attempt", enact.call_key())
    raise ValueError(f"broken {n}")


@enact.register
def bounded_effect(seconds: float) -> str:
    """Notes ``begin`` and ``end`` around `seconds` of work (to measure overlapping runs)."""
    note("begin", enact.call_key())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    note("end", enact.call_key())
    return "done"


@enact.register
def bounded_job(seconds: float) -> str:
    """A run whose one call takes `seconds`, between ``begin`` and ``end`` ledger lines."""
    return bounded_effect(seconds)
