"""A call cache across runs, frozen replays, and cassettes for tests.

``@enact.register(cache=...)``: a call whose request (invokable, fields and
input) was recorded before with an output returns that output without
running, in any later run; ``enact.CachePolicy(ttl=...)`` makes entries
expire. ``enact.cached_calls(run_id)`` says which calls were served.

``invocation.replay(new_calls="forbid")`` (``enact replay --frozen``) runs
no call the journal lacks: such a call is an ``enact.UnrecordedCallError``.

``enact.cassette(NAME)`` records the calls of external invokables once and
replays them afterwards, so a test runs offline (see the README's *Testing
with cassettes*; in pytest it is a decorator, with the ``enact_store``
fixture and ``--enact-record``).

Run: python 09_cache_and_cassettes.py
"""

from __future__ import annotations

import tempfile

import enact

REAL_CALLS: list[str] = []


class Clock:
    """A clock the example moves by hand (a cache's TTL is checked against it)."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


@enact.register(cache=enact.CachePolicy(ttl=60, clock=CLOCK))
def translate(text: str) -> str:
    """Stands for a paid model call."""
    REAL_CALLS.append(text)
    return {"hello": "bonjour", "cat": "chat"}.get(text, text)


@enact.register
def translate_all(words: list[str]) -> list[str]:
    return [translate(word) for word in words]


def cache(store: enact.Store) -> None:
    print("== A cached call runs once for the same request ==")
    with store:
        for number in range(3):
            enact.invoke(translate_all, (["hello", "cat"],), run_id=f"run-{number}")
        print("real calls after 3 runs:", REAL_CALLS)
        for call in enact.cached_calls("run-2"):
            print(f"  run-2 call {list(call.path)}: served={call.served} from {call.run_id}")
        CLOCK.now += 61  # past the time to live
        enact.invoke(translate_all, (["hello"],), run_id="run-late")
        print("after the entries expired:", REAL_CALLS)


@enact.register(external=True)
def weather(city: str) -> str:
    """Stands for a web API: external, so a cassette serves it."""
    REAL_CALLS.append(f"weather {city}")
    return "sunny" if city == "Nice" else "rain"


@enact.register
def plan_day(city: str) -> str:
    return "beach" if weather(city) == "sunny" else "museum"


def frozen_replay(store: enact.Store) -> None:
    print()
    print("== A frozen replay never runs a call the journal lacks ==")
    with store:
        invocation = enact.invoke(translate_all, (["cat", "dog"],))
        try:
            invocation.rewind(1).replay(new_calls="forbid")
        except enact.UnrecordedCallError as error:
            print(str(error).splitlines()[0])
            print("  path:", list(error.path))


def cassette() -> None:
    print()
    print("== A cassette records external calls once, then replays them ==")
    REAL_CALLS.clear()
    with tempfile.TemporaryDirectory() as directory:
        for attempt in ("records", "replays"):
            with enact.cassette("day", directory=directory) as recording:
                plans = [enact.invoke(plan_day, (city,)).get_output() for city in ("Nice", "Brest")]
            print(f"{attempt} (recording={recording.recording}):", plans, "real calls:", REAL_CALLS)
        try:
            with enact.cassette("day", directory=directory, allow_unused=True):
                enact.invoke(plan_day, ("Oslo",))
        except enact.UnrecordedCallError as error:
            print(str(error).splitlines()[0].replace(directory, "DIR"))


if __name__ == "__main__":
    cache(enact.InMemoryStore())
    frozen_replay(enact.InMemoryStore())
    cassette()
