"""What a user's type checker sees: mypy --strict and pyright --strict over typed uses of enact.

The first half of this file is a typed program written as a user would write it;
`typing.assert_type` states the type each call must have (an annotated variable
would not do: `Any` satisfies every annotation). The tests run it, and run both
checkers over this file and over a program that misuses enact.
"""

# pyright: strict

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, assert_type

import pytest
from mypy import api

import enact


@enact.register
@dataclasses.dataclass
class MyResource(enact.Resource):
    """A user's resource."""

    my_field: str
    my_other_field: int


@enact.register(name="typing_tests.Renamed", aliases=("typing_tests.Old",))
@dataclasses.dataclass
class Renamed(enact.Resource):
    """A user's resource with a stable type name and an old name."""

    text: str = ""


@enact.register(aliases=("typing_tests.old_shout",))
def shout(text: str) -> str:
    """A user's registered function, renamed."""
    return text.upper()


class Counter:
    """A user's class that is not a resource."""

    def __init__(self) -> None:
        self.count = 0


@enact.register
@dataclasses.dataclass
class CounterWrapper(enact.ResourceWrapper[Counter]):
    """Stores a `Counter` by its count."""

    count: int

    @classmethod
    def wrapped_type(cls) -> type[Counter]:
        return Counter

    @classmethod
    def wrap(cls, value: Counter) -> CounterWrapper:
        return cls(value.count)

    def unwrap(self) -> Counter:
        counter = Counter()
        counter.count = self.count
        return counter


def use_ref(ref: enact.Ref[MyResource]) -> None:
    """Everything a Ref[MyResource] gives back is typed MyResource, not Any."""
    assert_type(ref(), MyResource)
    assert_type(ref.checkout(), MyResource)
    assert_type(enact.checkout(ref), MyResource)
    assert_type(ref.digest, str)
    assert_type(ref.deepcopy_resource(), enact.Ref[MyResource])
    with ref.modify() as resource:
        assert_type(resource, MyResource)
        resource.my_other_field += 1


def use_store(store: enact.Store, pair: tuple[int, str]) -> None:
    """commit returns a ref typed by the value; checkout returns the value's type."""
    ref = enact.commit(MyResource("hello", 42))
    assert_type(ref, enact.Ref[MyResource])
    assert_type(store.commit(MyResource("a", 1)), enact.Ref[MyResource])
    assert_type(store.checkout(ref), MyResource)
    assert_type(enact.checkout(enact.commit(3)), int)
    assert_type(store.checkout(store.commit([1, 2])), list[int])
    assert_type(enact.commit(pair), enact.Ref[tuple[int, str]])
    assert_type(enact.commit(Counter()), enact.Ref[Counter])
    use_ref(ref)
    # A ref_type picks the ref class; the class cannot carry the value's type along.
    compressed = enact.commit(MyResource("a", 1), enact.CompressedRef)
    assert_type(compressed, enact.CompressedRef[Any])
    # A ref rebuilt from a digest is Ref[Any] unless the caller says what it holds.
    assert_type(enact.Ref.from_digest(ref.digest), enact.Ref[Any])
    assert_type(enact.Ref[MyResource].from_digest(ref.digest), enact.Ref[MyResource])
    assert_type(store.get_name("latest"), enact.Ref[Any] | None)
    assert_type(MyResource.type_id(), str)
    assert_type(MyResource.field_names(), Iterator[str])
    assert_type(enact.register(MyResource), type[MyResource])
    assert_type(Renamed("x"), Renamed)
    assert_type(shout("x"), str)
    assert_type(enact.migrate(dry_run=True), enact.MigrateReport)
    assert_type(enact.unwrap(CounterWrapper(1)), Counter)
    assert_type(enact.pformat(ref), str)


def typed_program() -> None:
    """The user's program: enter a store and use it."""
    with enact.InMemoryStore() as store:
        assert_type(store, enact.Store)
        use_store(store, (1, "x"))


MISUSE = """
import dataclasses
import enact
@enact.register
@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str


def wrong_return(ref: enact.Ref[MyResource]) -> int:
    return ref()


def wrong_attribute(ref: enact.Ref[MyResource]) -> object:
    return enact.checkout(ref).no_such_field


def wrong_ref(store: enact.Store) -> enact.Ref[int]:
    return store.commit(MyResource("a"))
"""

# The line of each error above, and a word of the message both checkers print.
MISUSE_ERRORS = {11: "int", 15: "no_such_field", 19: "MyResource"}


def test_typed_program_runs() -> None:
    """The typed program runs: each checkout returns what its static type says."""
    typed_program()
    with enact.InMemoryStore():
        assert enact.checkout(enact.commit(MyResource("x", 1))) == MyResource("x", 1)
        assert enact.commit((1, "x"))() == (1, "x")
        assert enact.commit([1, 2])() == [1, 2]


def mypy_errors(path: Path, config: pytest.Config, tmp_path: Path) -> tuple[str, int]:
    """Runs mypy --strict on `path`; returns its report and exit status."""
    cache = getattr(config, "cache", None)  # a cold run takes seconds; keep the cache
    cache_dir = cache.mkdir("mypy") if cache is not None else tmp_path / "mypy-cache"
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(cache_dir), str(path)]
    )
    return stdout + stderr, status


def pyright_errors(path: Path) -> list[tuple[int, str]]:
    """Runs pyright --strict on `path`; returns (line, message) of each error."""
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable, path],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    return [
        (d["range"]["start"]["line"] + 1, d["message"])
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]


def test_mypy_strict_accepts_typed_use(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """mypy --strict agrees with every assert_type of the typed program in this file."""
    assert mypy_errors(Path(__file__), pytestconfig, tmp_path) == ("", 0)


def test_pyright_strict_accepts_typed_use() -> None:
    """pyright --strict agrees with every assert_type of the typed program in this file."""
    assert pyright_errors(Path(__file__)) == []


def write_misuse(tmp_path: Path) -> Path:
    """Writes the misusing program."""
    program = tmp_path / "misuse.py"
    program.write_text("# pyright: strict\n" + MISUSE.removeprefix("\n"))
    return program


def test_mypy_reports_misuse(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """mypy reports a checkout used as the wrong type, a wrong attribute and a wrong ref."""
    report, status = mypy_errors(write_misuse(tmp_path), pytestconfig, tmp_path)
    errors = [line for line in report.splitlines() if "error:" in line]
    assert status == 1
    assert len(errors) == len(MISUSE_ERRORS), report
    for error, (line, word) in zip(errors, MISUSE_ERRORS.items(), strict=True):
        assert f"misuse.py:{line}: error:" in error and word in error, report


def test_pyright_reports_misuse(tmp_path: Path) -> None:
    """pyright reports the same three mistakes, on the same lines."""
    errors = pyright_errors(write_misuse(tmp_path))
    assert {line for line, _ in errors} == set(MISUSE_ERRORS), errors
    for line, word in MISUSE_ERRORS.items():
        assert any(word in message for at, message in errors if at == line), errors
