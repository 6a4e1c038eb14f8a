"""The pytest plugin of enact (loaded through the ``pytest11`` entry point).

- The ``enact_store`` fixture: a fresh `enact.InMemoryStore`, active for the test.
- ``--enact-record``: record every cassette again (`enact.cassette`); their
  external calls run for real. Without it a cassette that exists is replayed
  and one that does not is recorded.
- The ``enact_cassette(NAME, external=[...])`` marker: the same as decorating
  the test with ``enact.cassette(NAME, external=[...])``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from enact.stores.memory import InMemoryStore
from enact.stores.store import Store
from enact.testing import cassettes


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("enact")
    group.addoption(
        "--enact-record",
        action="store_true",
        default=False,
        help="Record enact cassettes again: their external calls run for real and the "
        "cassettes are rewritten.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "enact_cassette(name, external=(), allow_unused=False): record the test's external "
        "enact calls into cassettes/NAME next to the test, then replay them (enact.cassette).",
    )
    if config.getoption("enact_record", default=False):
        cassettes.set_default_mode("record")


def pytest_unconfigure(config: pytest.Config) -> None:
    cassettes.set_default_mode("auto")


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def enact_store() -> Iterator[Store]:
    """A fresh in-memory store, active during the test (``enact.invoke`` journals into it)."""
    with InMemoryStore() as store:
        yield store


@pytest.fixture(autouse=True)
def _enact_cassette_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    callspec = getattr(request.node, "callspec", None)
    cassettes.set_test_case(None if callspec is None else callspec.id)
    try:
        yield from _with_marked_cassette(request)
    finally:
        cassettes.set_test_case(None)


def _with_marked_cassette(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("enact_cassette")
    if marker is None:
        yield
        return
    if "enact_store" in request.fixturenames:  # the cassette journals into the test's store
        request.getfixturevalue("enact_store")
    kwargs = dict(marker.kwargs)
    kwargs.setdefault("directory", Path(str(request.node.path)).parent / "cassettes")
    name, *rest = marker.args
    cassette = cassettes.cassette(cassettes.case_name(name), *rest, **kwargs)
    cassette.__enter__()
    try:
        yield
    finally:
        # A test that failed reports its own error (often the refused call) once,
        # and records nothing.
        cassette.close(failed=request.node.stash.get(_CALL_FAILED, True))
