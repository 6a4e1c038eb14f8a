"""The call cache across runs: ``@enact.register(cache=...)`` and `enact.CachePolicy`.

Real SQLite stores; an injectable clock instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import pytest

import enact


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_hundred_runs_of_the_same_request_make_one_real_call(tmp_path: pathlib.Path) -> None:
    calls: list[str] = []
    clock = Clock()

    @enact.register(cache=enact.CachePolicy(ttl=3600, clock=clock))
    def model(prompt: str) -> str:
        calls.append(prompt)
        return f"answer to {prompt}"

    @enact.register
    def agent(question: str) -> str:
        return model(question).upper()

    with enact.SQLiteStore(tmp_path / "store.db"):
        trees = [enact.invoke(agent, ("why?",), run_id=f"run-{number}") for number in range(100)]
        assert calls == ["why?"]
        assert {tree.get_output() for tree in trees} == {"ANSWER TO WHY?"}
        # Served calls are journaled with the recorded response: every tree is the
        # same content, so the same digest, as the run that really called.
        assert len({enact.commit(tree).digest for tree in trees}) == 1

        # Hits and misses are marked beside the journal, with the run they came from.
        [miss] = enact.cached_calls("run-0")
        assert (miss.path, miss.served, miss.run_id) == ((0,), False, "run-0")
        [hit] = enact.cached_calls("run-57")
        assert hit.path == (0,)
        assert hit.served
        assert hit.run_id == "run-0"
        assert hit.recorded_at == clock.now
        assert hit.response == trees[0].get_child(0).response
        assert hit.request() == trees[0].get_child(0).get_request()

        # When the entry is older than its time to live, the call runs again...
        clock.now += 3600
        late = enact.invoke(agent, ("why?",), run_id="late")
        assert calls == ["why?", "why?"]
        assert [(call.served, call.run_id) for call in enact.cached_calls("late")] == [
            (False, "late")
        ]
        # ...and its response is what later runs get.
        enact.invoke(agent, ("why?",), run_id="later")
        assert calls == ["why?", "why?"]
        assert [(call.served, call.run_id) for call in enact.cached_calls("later")] == [
            (True, "late")
        ]
        assert late.get_output() == "ANSWER TO WHY?"

        # Other requests are other entries.
        enact.invoke(agent, ("how?",))
        assert calls == ["why?", "why?", "how?"]


def test_the_cache_is_kept_in_the_store_across_processes_and_reopenings(
    tmp_path: pathlib.Path,
) -> None:
    calls: list[int] = []

    @enact.register(cache=True)
    def square(number: int) -> int:
        calls.append(number)
        return number * number

    @enact.register
    def total(numbers: list[int]) -> int:
        return sum(square(number) for number in numbers)

    with enact.SQLiteStore(tmp_path / "store.db"):
        assert enact.invoke(total, ([1, 2, 3],)).get_output() == 14
    with enact.SQLiteStore(tmp_path / "store.db") as store:
        assert enact.invoke(total, ([3, 2, 4],), run_id="second").get_output() == 29
        names = sorted(name for name, _ in store.list_names("enact/cache/"))
        assert len(names) == 4
    assert calls == [1, 2, 3, 4]
    with enact.SQLiteStore(tmp_path / "store.db"):
        assert [(call.path, call.served) for call in enact.cached_calls("second")] == [
            ((0,), True),
            ((1,), True),
            ((2,), False),
        ]


def test_calls_that_raise_are_not_cached() -> None:
    calls: list[str] = []

    @enact.register(cache=True)
    def unreliable(prompt: str) -> str:
        calls.append(prompt)
        raise TimeoutError("the model timed out")

    @enact.register
    def agent(prompt: str) -> str:
        try:
            return unreliable(prompt)
        except TimeoutError:
            return "fallback"

    with enact.InMemoryStore():
        for number in range(3):
            assert enact.invoke(agent, ("x",), run_id=f"r{number}").get_output() == "fallback"
        assert enact.cached_calls("r2") == []
    assert calls == ["x", "x", "x"]


def test_a_cache_in_its_own_store_serves_other_stores(tmp_path: pathlib.Path) -> None:
    calls: list[str] = []
    shared = enact.SQLiteStore(tmp_path / "cache.db")

    @enact.register(cache=enact.CachePolicy(store=shared))
    def embed(text: str) -> list[float]:
        calls.append(text)
        return [float(len(text)), 0.5]

    @enact.register
    def index(texts: list[str]) -> int:
        return len([embed(text) for text in texts])

    with enact.SQLiteStore(tmp_path / "project-a.db"):
        enact.invoke(index, (["alpha", "beta"],))
    with enact.SQLiteStore(tmp_path / "project-b.db"):
        tree = enact.invoke(index, (["beta", "gamma"],), run_id="b")
        # The served response was copied here: the journal of b reads on its own.
        assert tree.get_child(0).get_output() == [4.0, 0.5]
        assert [(call.path, call.served) for call in enact.cached_calls("b")] == [
            ((0,), True),
            ((1,), False),
        ]
    assert calls == ["alpha", "beta", "gamma"]
    with enact.SQLiteStore(tmp_path / "project-b.db") as store:
        assert store.list_names("enact/cache/") == []  # the entries live in the cache's store
    assert len(shared.list_names("enact/cache/")) == 3
    shared.close()


def test_invokable_classes_cache_by_their_fields_and_input() -> None:
    calls: list[tuple[str, str]] = []

    @enact.register(cache=True)
    @dataclasses.dataclass
    class Model(enact.Invokable):
        name: str

        def call(self, prompt: str) -> str:
            calls.append((self.name, prompt))
            return f"{self.name}: {prompt}"

    @enact.register
    def ask(prompt: str) -> list[str]:
        return [Model("small")(prompt), Model("large")(prompt), Model("small")(prompt)]

    with enact.InMemoryStore():
        first = enact.invoke(ask, ("hi",))
        assert first.get_output() == ["small: hi", "large: hi", "small: hi"]
        enact.invoke(ask, ("hi",))
    assert calls == [("small", "hi"), ("large", "hi")]


def test_cache_options_are_checked_when_registering() -> None:
    with pytest.raises(enact.RegistrationError, match=r"cache='yes'.*CachePolicy"):

        @enact.register(cache="yes")
        def model(prompt: str) -> str:
            return prompt

    with pytest.raises(enact.RegistrationError, match="options are for invokables"):

        @enact.register(cache=True)
        @dataclasses.dataclass
        class Plain(enact.Resource):
            value: int

    with pytest.raises(ValueError, match="ttl must be a positive number"):
        enact.CachePolicy(ttl=0)


def test_replay_uses_the_journal_before_the_cache() -> None:
    calls: list[str] = []

    @enact.register(cache=True)
    def model(prompt: str) -> str:
        calls.append(prompt)
        return prompt * 2

    @enact.register
    def agent(prompt: str) -> str:
        return model(prompt) + model(prompt + "!")

    with enact.InMemoryStore():
        invocation = enact.invoke(agent, ("a",), run_id="first")
        replayed = invocation.rewind(1).replay()  # model("a!") is no longer journaled
        assert replayed.get_output() == "aaa!a!"
        assert calls == ["a", "a!"]  # ...and came from the cache


def test_a_top_level_invoke_is_served_from_the_cache_too() -> None:
    calls: list[str] = []

    @enact.register(cache=True)
    def model(prompt: str) -> dict[str, str]:
        calls.append(prompt)
        return {"text": prompt.upper()}

    with enact.InMemoryStore():
        first = enact.invoke(model, ("hello",), run_id="first")
        second = enact.invoke(model, ("hello",), run_id="second")
        assert second.get_output() == {"text": "HELLO"}
        assert enact.commit(second).digest == enact.commit(first).digest
        [miss] = enact.cached_calls("first")
        [hit] = enact.cached_calls("second")
        assert (miss.path, miss.served) == ((), False)
        assert (hit.path, hit.served, hit.run_id) == ((), True, "first")
        assert enact.get_run("second").status == "complete"
        # A replay re-runs its root: the cache is for calls without a record.
        first.rewind(0).replay()
    assert calls == ["hello", "hello"]


_CACHE_TOOLS = """
import enact

@enact.register(cache=True)
def shout(text: str) -> str:
    return text.upper()

@enact.register
def greet(name: str) -> str:
    return shout("hi ") + shout(name)
"""


def test_enact_tree_marks_the_calls_the_cache_served(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`enact tree RUN` says which calls came from the cache and which run recorded them."""
    (tmp_path / "cache_tools.py").write_text(_CACHE_TOOLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import cache_tools  # type: ignore[import-not-found]

    url = f"sqlite:///{tmp_path}/store.db"
    with enact.open_store(url):
        enact.invoke(cache_tools.greet, ("ada",), run_id="first")
        enact.invoke(cache_tools.greet, ("bob",), run_id="second")
        assert [call.path for call in enact.cached_calls("second") if call.served] == [(0,)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }

    def tree(*args: str) -> list[str]:
        command = [sys.executable, "-m", "enact", "--store", url, "tree", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    for options in (["--import", "cache_tools"], ["--raw"]):
        second = tree("second", *options)
        assert "shout('hi ') = 'HI ' (from the cache, run first)" in second[1], second
        assert "shout('bob') = 'BOB'" in second[2] and "cache" not in second[2], second
        assert not any("from the cache" in line for line in tree("first", *options))
