"""enact's side of bench_workers.py: the registered functions its worker processes import."""

from __future__ import annotations

import enact

STEPS = 10


@enact.register
def step(seed: int, i: int) -> str:
    """One journaled call with a small payload (about 100 bytes)."""
    return f"payload {seed:08d} {i:04d} " + "x" * 80


@enact.register
def steps(n: int, seed: int) -> int:
    """A run of `n` journaled calls, one after the other."""
    return sum(len(step(seed, i)) for i in range(n))


@enact.register
def asks(seed: int) -> int:
    """One journaled call, an input request, then one more call (answer-to-continue)."""
    first = len(step(seed, 0))
    answer = enact.request_input(int, for_value=seed)
    return first + answer + len(step(seed, 1))
