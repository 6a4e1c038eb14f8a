"""What a user's type checker sees: mypy --strict and pyright --strict over typed uses of enact.

The first half of this file is a typed program written as a user would write it;
`typing.assert_type` states the type each call must have (an annotated variable
would not do: `Any` satisfies every annotation). The tests run it, and run both
checkers over this file and over a program that misuses enact.
"""

# pyright: strict

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, assert_type

import pydantic
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


@enact.register
@dataclasses.dataclass
class Greet(enact.Invokable[str, str]):
    """An invokable whose types are stated as Invokable[I, O]."""

    greeting: str

    def call(self, name: str) -> str:
        return f"{self.greeting}, {name}"


@enact.register
@dataclasses.dataclass
class Ask(enact.Invokable):
    """A bare Invokable (Invokable[Any, Any]) that asks for typed input."""

    def call(self) -> str:
        approved = enact.request_input(bool, context="approve?")
        assert_type(approved, bool)
        tags = enact.request_input(list[str])
        assert_type(tags, list[str])
        resource = enact.request_input(MyResource)
        assert_type(resource, MyResource)
        tool = enact.request_input(ToolCall)
        assert_type(tool, ToolCall)
        return f"{approved} {tags} {resource.my_field} {tool.name}"


@enact.register
class ToolCall(pydantic.BaseModel):
    """A pydantic model requested by its concrete class."""

    name: str


@enact.register
def repeat(text: str, times: int = 1) -> str:
    """A registered function keeps its signature."""
    return text.upper() * times


def use_invokables() -> None:
    """Calls, invocations and outputs are typed by Invokable[I, O]."""
    greet = Greet("Hello")
    assert_type(greet("Ada"), str)
    invocation = greet.invoke("Ada")
    assert_type(invocation, enact.Invocation[str])
    assert_type(invocation.get_output(), str | None)
    assert_type(invocation.replay().get_output(), str | None)
    assert_type(invocation.rewind().replay(), enact.Invocation[str])
    assert_type(Ask().invoke(), enact.Invocation[Any])
    assert_type(repeat("a", times=2), str)
    assert Greet.get_input_type() is str and Greet.get_output_type() is str
    assert invocation.get_output() == "Hello, Ada"


@enact.register
async def shout_later(text: str) -> str:
    """A user's asynchronous registered function."""
    return text.upper()


@enact.register
@dataclasses.dataclass
class CountLater(enact.AsyncInvokable[str, int]):
    """An asynchronous invokable whose types are stated as AsyncInvokable[I, O]."""

    async def call(self, text: str) -> int:
        return len(text)


def use_invoke() -> None:
    """enact.invoke types the invocation by what the function or invokable returns."""
    invocation = enact.invoke(repeat, ("a",), {"times": 2})
    assert_type(invocation, enact.Invocation[str])
    assert_type(invocation.get_output(), str | None)
    assert_type(enact.invoke(shout, ("a",)).replay(), enact.Invocation[str])
    assert_type(enact.invoke(Greet("Hi"), ("Ada",)), enact.Invocation[str])
    assert_type(enact.invoke(Ask()), enact.Invocation[Any])
    assert_type(enact.invoke(shout, ("a",), run_id=None, durability="call"), enact.Invocation[str])
    resource = MyResource("a", 1)
    assert_type(enact.invoke(resource_label, (resource,)), enact.Invocation[str])
    assert invocation.get_output() == "AA"


@enact.register
def resource_label(resource: MyResource) -> str:
    """A registered function of a resource."""
    return resource.my_field


async def use_invoke_async() -> None:
    """enact.invoke_async types the invocation by what the coroutine (or call) returns."""
    later = await enact.invoke_async(shout_later, ("a",))
    assert_type(later, enact.Invocation[str])
    counted = await enact.invoke_async(CountLater(), ("abc",))
    assert_type(counted, enact.Invocation[int])
    assert_type(await enact.invoke_async(repeat, ("a",)), enact.Invocation[str])
    assert_type(
        await enact.invoke_async(shout_later, ("a",), durability="end"), enact.Invocation[str]
    )
    assert_type(await enact.invoke_async(Greet("Hi"), ("Ada",)), enact.Invocation[str])
    assert (later.get_output(), counted.get_output()) == ("A", 3)


def typed_program() -> None:
    """The user's program: enter a store and use it."""
    with enact.InMemoryStore() as store:
        assert_type(store, enact.Store)
        use_store(store, (1, "x"))
        use_invokables()
        use_invoke()
        asyncio.run(use_invoke_async())


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


@dataclasses.dataclass
class Greet(enact.Invokable[str, str]):
    def call(self, name: str) -> str:
        return name


def wrong_input() -> str:
    return Greet()(3)


def wrong_output() -> int:
    return Greet().invoke("a").get_output() or 0


def wrong_invoke_output() -> int:
    return enact.invoke(Greet(), ("a",)).get_output() or 0
"""

# The line of each error above, and a word of the message both checkers print.
MISUSE_ERRORS = {
    11: "int",
    15: "no_such_field",
    19: "MyResource",
    29: "str",
    33: "str",
    37: "str",
}


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
    """mypy reports a wrong checkout type, attribute, ref, invokable input and output."""
    report, status = mypy_errors(write_misuse(tmp_path), pytestconfig, tmp_path)
    errors = [line for line in report.splitlines() if "error:" in line]
    assert status == 1
    assert len(errors) == len(MISUSE_ERRORS), report
    for error, (line, word) in zip(errors, MISUSE_ERRORS.items(), strict=True):
        assert f"misuse.py:{line}: error:" in error and word in error, report


def test_pyright_reports_misuse(tmp_path: Path) -> None:
    """pyright reports the same mistakes, on the same lines."""
    errors = pyright_errors(write_misuse(tmp_path))
    assert {line for line, _ in errors} == set(MISUSE_ERRORS), errors
    for line, word in MISUSE_ERRORS.items():
        assert any(word in message for at, message in errors if at == line), errors
