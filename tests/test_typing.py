"""What a user's type checker sees: mypy --strict over a small typed program using enact."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

PROGRAM = """
import dataclasses
from collections.abc import Iterator
from typing import Any, assert_type

import enact


@enact.register
@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int


class Counter:
    def __init__(self) -> None:
        self.count = 0


@enact.register
@dataclasses.dataclass
class CounterWrapper(enact.ResourceWrapper[Counter]):
    count: int

    @classmethod
    def wrapped_type(cls) -> type[Counter]:
        return Counter

    @classmethod
    def wrap(cls, value: Counter) -> "CounterWrapper":
        return cls(value.count)

    def unwrap(self) -> Counter:
        counter = Counter()
        counter.count = self.count
        return counter


def use(ref: enact.Ref[MyResource]) -> None:
    assert_type(ref(), MyResource)
    assert_type(ref.checkout(), MyResource)
    assert_type(ref.digest, str)
    assert_type(ref.deepcopy_resource(), enact.Ref[MyResource])
    with ref.modify() as resource:
        assert_type(resource, MyResource)
    # The checked-out value is typed, not Any: a wrong attribute is an error.
    ref().no_such_field  # type: ignore[attr-defined]


with enact.InMemoryStore() as store:
    assert_type(store, enact.Store)
    typed: enact.Ref[MyResource] = enact.commit(MyResource("hello", 42))
    from_hex: enact.Ref[MyResource] = enact.Ref.from_digest(typed.digest)
    use(typed)
    assert_type(enact.commit(MyResource("a", 1), enact.CompressedRef), enact.CompressedRef[Any])
    assert_type(MyResource.type_id(), str)
    assert_type(MyResource.field_names(), Iterator[str])
    assert_type(enact.register(MyResource), type[MyResource])
    assert_type(enact.unwrap(CounterWrapper(1)), Counter)
    assert_type(enact.pformat(typed), str)
    enact.pprint(typed)
"""


def mypy_cache(config: pytest.Config, tmp_path: Path) -> Path:
    """mypy's cache: kept between runs in pytest's cache (a cold run takes seconds)."""
    cache = getattr(config, "cache", None)
    return cache.mkdir("mypy") if cache is not None else tmp_path / "mypy-cache"


def test_mypy_strict_accepts_typed_use_of_enact(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """mypy --strict sees Ref[T] checkouts as T and accepts the typed program."""
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    cache = mypy_cache(pytestconfig, tmp_path)
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(cache), str(program)]
    )
    assert (stdout, stderr, status) == ("", "", 0)


def test_mypy_reports_misuse(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """mypy rejects a checkout used as the wrong type and a malformed register call."""
    program = tmp_path / "misuse.py"
    program.write_text(
        PROGRAM.split("\n\ndef use(")[0]
        + "\n\ndef misuse(ref: enact.Ref[MyResource]) -> int:\n    return ref()\n"
    )
    cache = mypy_cache(pytestconfig, tmp_path)
    stdout, _, status = api.run(["--strict", "--cache-dir", str(cache), str(program)])
    assert status == 1
    assert 'Incompatible return value type (got "MyResource", expected "int")' in stdout
