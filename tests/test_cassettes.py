"""Cassettes and the pytest plugin, on an example agent's own test suite.

tests/helpers/cassette_project/ is a small project: a support agent whose
model and search calls are external, and its tests (one with the
``enact.cassette`` decorator and the ``enact_store`` fixture, one with the
``enact_cassette`` marker). Each test here copies it to a fresh directory and
runs its suite with pytest in a subprocess: the first run records the
cassettes (the external calls really run and are logged), the next runs pass
offline, and a changed agent that makes a new call fails, naming the call.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
import tomllib

import pytest

import enact
from enact.testing import cassettes

PROJECT = pathlib.Path(__file__).parent / "helpers" / "cassette_project"
SRC = pathlib.Path(enact.__file__).resolve().parent.parent


def make_project(directory: pathlib.Path) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "support_agent.py", directory)
    shutil.copy(PROJECT / "agent_tests.py", directory / "test_agent.py")
    return directory


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    return make_project(tmp_path / "project")


def _env(project: pathlib.Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENT_", "ENACT_CASSETTE", "PYTEST_ADDOPTS"))
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(SRC), str(project)]),
        AGENT_CALL_LOG=str(project / "calls.log"),
        # Only the plugin under test (the installed entry point may be another checkout's).
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


PLUGIN_ONLY = ("-p", "enact.testing.pytest_plugin", "-p", "no:cacheprovider")


def run_suite(project: pathlib.Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGIN_ONLY, "-q", "-rA", *args],
        cwd=project,
        env=_env(project, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def real_calls(project: pathlib.Path) -> list[str]:
    log = project / "calls.log"
    return log.read_text("utf-8").splitlines() if log.exists() else []


def files_of(directory: pathlib.Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


RECORDED_CALLS = [
    "Classify this ticket: My printer is on fire",
    "search hardware",
    "Answer the hardware ticket using kb/hardware.md: My printer is on fire",
    "Classify this ticket: I was charged twice",
    "search billing",
    "Answer the billing ticket using kb/billing.md: I was charged twice",
    "Classify this ticket: I was charged twice",
    "Classify this ticket: My printer is on fire",
    "Classify this ticket: I was charged twice",
]


def test_record_then_replay_offline_then_fail_on_a_new_call(project: pathlib.Path) -> None:
    first = run_suite(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "6 passed" in first.stdout
    assert real_calls(project) == RECORDED_CALLS
    printer = project / "cassettes" / "printer"
    assert sorted(path.name for path in (printer / "names").iterdir()) == [
        "cassette%2Fcalls%2F0001",
        "cassette%2Fcalls%2F0002",
        "cassette%2Fcalls%2F0003",
    ]
    assert (project / "cassettes" / "billing" / "names" / "cassette%2Fcalls%2F0004").exists()
    assert sorted(path.name for path in (project / "cassettes").iterdir()) == [
        "billing",
        "classify[b]",
        "classify[p]",
        "printer",
    ]

    # Offline: the model and the search refuse to run, and the suite passes anyway.
    offline = run_suite(project, AGENT_OFFLINE="1")
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "6 passed" in offline.stdout
    assert real_calls(project) == RECORDED_CALLS

    # The agent changes: one more model call, which no cassette holds.
    changed = run_suite(project, AGENT_OFFLINE="1", AGENT_EXTRA_CALL="1")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    out = changed.stdout
    assert "2 failed, 4 passed" in out and "error" not in out.splitlines()[-1]
    assert (
        "UnrecordedCallError: Unrecorded call llm(CallArgs(args=['Summarize for the hardware "
        "team: My printer is on fire'], kwargs={})) at child path [3]: cassette 'printer' "
        f"({project / 'cassettes' / 'printer'}) has no recording of it, so it was not run."
    ) in out
    assert "Recorded calls of llm:" in out
    assert (
        "cassette/calls/0001: llm(CallArgs(args=['Classify this ticket: My printer is on fire']"
        in out
    )
    assert "record the cassette again: pytest --enact-record" in out
    assert "offline: the model was called" not in out  # refused before running
    assert real_calls(project) == RECORDED_CALLS


def test_enact_record_records_again_and_unused_recordings_fail(project: pathlib.Path) -> None:
    assert run_suite(project).returncode == 0
    again = run_suite(project, "--enact-record", AGENT_EXTRA_CALL="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert real_calls(project)[len(RECORDED_CALLS) :] == [
        "Classify this ticket: My printer is on fire",
        "search hardware",
        "Answer the hardware ticket using kb/hardware.md: My printer is on fire",
        "Summarize for the hardware team: My printer is on fire",
        "Classify this ticket: I was charged twice",
        "search billing",
        "Answer the billing ticket using kb/billing.md: I was charged twice",
        "Summarize for the billing team: I was charged twice",
        "Classify this ticket: I was charged twice",
        "Classify this ticket: My printer is on fire",
        "Classify this ticket: I was charged twice",
    ]
    calls_so_far = real_calls(project)
    offline = run_suite(project, AGENT_OFFLINE="1", AGENT_EXTRA_CALL="1")
    assert offline.returncode == 0, offline.stdout + offline.stderr

    # Back to the old agent: the summaries are recorded but no longer asked for.
    old = run_suite(project, AGENT_OFFLINE="1")
    assert old.returncode == 1
    assert (
        f"Cassette 'printer' ({project / 'cassettes' / 'printer'}) holds 1 recorded call(s) "
        "that the test no longer made:\n"
    ) in old.stdout.replace("\nE   ", "\n").replace("E       ", "")
    assert "Summarize for the hardware team" in old.stdout
    assert "allow_unused=True" in old.stdout
    assert real_calls(project) == calls_so_far


def test_cassettes_are_the_same_bytes_whenever_the_same_calls_are_recorded(
    tmp_path: pathlib.Path,
) -> None:
    one = make_project(tmp_path / "one")
    two = make_project(tmp_path / "elsewhere" / "two")
    assert run_suite(one).returncode == 0
    recorded = files_of(one / "cassettes")
    assert recorded  # objects and names, nothing else
    assert {name.split("/")[1] for name in recorded} == {"objects", "names"}
    assert run_suite(one, "--enact-record").returncode == 0
    assert files_of(one / "cassettes") == recorded
    assert run_suite(two).returncode == 0
    assert files_of(two / "cassettes") == recorded
    for content in recorded.values():
        assert b"r2026" not in content and str(one).encode() not in content


def test_a_cassette_is_reviewed_with_the_enact_command(project: pathlib.Path) -> None:
    assert run_suite(project).returncode == 0

    def enact_command(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "enact", "--store", "file:cassettes/printer", *args],
            cwd=project,
            env=_env(project),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    names = enact_command("log")
    for number in ("0001", "0002", "0003"):
        assert f"cassette/calls/{number}" in names
    assert "enact.invocations.Invocation" in names
    tree = enact_command("--import", "support_agent", "tree", "cassette/calls/0002")
    assert "SearchDocs(corpus='kb')('hardware') = ['kb/hardware.md']" in tree


def test_replay_mode_needs_the_cassette(project: pathlib.Path) -> None:
    result = run_suite(project, ENACT_CASSETTE_MODE="replay")
    assert result.returncode == 1
    assert f"Cassette 'printer' does not exist at {project / 'cassettes' / 'printer'}" in (
        result.stdout
    )
    assert real_calls(project) == []


def test_the_plugin_is_an_entry_point_of_the_package() -> None:
    pyproject = tomllib.loads((SRC.parent / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["entry-points"]["pytest11"] == {
        "enact": "enact.testing.pytest_plugin"
    }


# In this process -------------------------------------------------------------------


@enact.register
def fetch(url: str) -> str:
    FETCHED.append(url)
    return f"<html>{url}</html>"


@enact.register
def crawl(urls: list[str]) -> list[int]:
    sizes = []
    for url in urls:
        try:
            sizes.append(len(fetch(url)))
        except enact.EnactError:
            sizes.append(-1)  # code that swallows errors: the cassette still fails
    return sizes


FETCHED: list[str] = []


def test_a_cassette_needs_something_declared_external(tmp_path: pathlib.Path) -> None:
    # In a process of its own: this module registers external invokables.
    script = "import enact\nwith enact.cassette('nothing'):\n    pass\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        "enact.errors.CassetteError: Cassette 'nothing' has no external invokables to record: "
        "list them (enact.cassette(NAME, external=[llm, search])) or register them with "
        "@enact.register(external=True)."
    ) in result.stderr
    assert not (tmp_path / "cassettes").exists()


def test_a_refused_call_that_the_program_catches_still_fails(tmp_path: pathlib.Path) -> None:
    FETCHED.clear()
    with enact.cassette("crawl", external=[fetch], directory=tmp_path) as recording:
        assert recording.recording
        assert enact.invoke(crawl, (["a", "b"],)).get_output() == [14, 14]
    assert FETCHED == ["a", "b"]
    replaying = enact.cassette("crawl", external=[fetch], directory=tmp_path)
    with pytest.raises(enact.UnrecordedCallError, match=r"Unrecorded call fetch\(.*'c'"):  # noqa: SIM117
        with replaying:
            assert not replaying.recording
            # (no store is active: the cassette made an in-memory one)
            assert enact.invoke(crawl, (["a", "c", "b"],)).get_output() == [14, -1, 14]
    assert FETCHED == ["a", "b"]


def test_a_cassette_name_is_one_file_name() -> None:
    with pytest.raises(ValueError, match="one file name"):
        enact.cassette("../elsewhere")
    with pytest.raises(ValueError, match="'auto', 'record' or 'replay'"):
        enact.cassette("ok", mode="sometimes")  # type: ignore[arg-type]
    assert cassettes.default_mode() in ("auto", "record", "replay")


@enact.register
def search_tool(query: str) -> str:
    """An external tool that itself calls an external model."""
    return fetch(f"https://search/{query}") + "!"


@enact.register
def research(topics: list[str]) -> list[str]:
    return [search_tool(topic) for topic in topics]


def test_calls_inside_an_external_call_are_not_recorded(tmp_path: pathlib.Path) -> None:
    FETCHED.clear()
    with enact.cassette("research", external=[fetch, search_tool], directory=tmp_path):
        assert enact.invoke(research, (["x", "y"],)).get_output()[0].endswith("</html>!")
    assert FETCHED == ["https://search/x", "https://search/y"]
    names = sorted(path.name for path in (tmp_path / "research" / "names").iterdir())
    assert names == ["cassette%2Fcalls%2F0001", "cassette%2Fcalls%2F0002"]  # not the fetches
    with enact.cassette("research", external=[fetch, search_tool], directory=tmp_path):
        assert len(enact.invoke(research, (["x", "y"],)).get_output()) == 2
    assert FETCHED == ["https://search/x", "https://search/y"]


@enact.register(external=True)
@dataclasses.dataclass
class Weather(enact.Invokable):
    """An invokable class declared external where it is registered."""

    units: str

    def call(self, city: str) -> dict[str, float]:
        FETCHED.append(f"weather {city}")
        return {"temperature": 21.5 if self.units == "C" else 70.7}


@enact.register
def plan_trip(city: str) -> str:
    forecast = Weather("C")(city)
    forecast["temperature"] += 100  # the caller gets its own copy of a served value
    return f"{city}: {Weather('C')(city)['temperature']}"


def test_invokables_registered_external_come_from_the_cassette(tmp_path: pathlib.Path) -> None:
    FETCHED.clear()
    with enact.cassette("trip", directory=tmp_path):
        assert enact.invoke(plan_trip, ("Oslo",)).get_output() == "Oslo: 21.5"
    assert FETCHED == ["weather Oslo", "weather Oslo"]
    with enact.cassette("trip", directory=tmp_path, mode="replay") as replaying:
        assert replaying.is_external(Weather("F"))
        assert not replaying.is_external(plan_trip)
        assert enact.invoke(plan_trip, ("Oslo",)).get_output() == "Oslo: 21.5"
    # A top-level invoke of an external invokable comes from the cassette too.
    with enact.cassette("trip", directory=tmp_path, mode="replay", allow_unused=True):
        assert enact.invoke(Weather("C"), ("Oslo",)).get_output() == {"temperature": 21.5}
    assert FETCHED == ["weather Oslo", "weather Oslo"]

    replaying = enact.cassette("trip", directory=tmp_path, mode="replay")
    with pytest.raises(enact.UnrecordedCallError) as caught, replaying:
        enact.invoke(plan_trip, ("Oslo",))
        enact.invoke(Weather("F"), ("Oslo",))
    message = str(caught.value)
    assert "Unrecorded call Weather(units='F')('Oslo') at child path []" in message
    assert (
        "Recorded calls of Weather:\n  cassette/calls/0001: Weather(units='C')('Oslo')" in message
    )
    assert FETCHED == ["weather Oslo", "weather Oslo"]


def test_a_cassette_that_recorded_nothing_is_refused(tmp_path: pathlib.Path) -> None:
    empty = enact.cassette("empty", external=[fetch], directory=tmp_path)
    with (
        pytest.raises(enact.CassetteError, match=r"recorded no external call.*fetch") as caught,
        empty,
    ):
        enact.invoke(research, ([],))
    assert caught.value.path == str(tmp_path / "empty")
    assert not (tmp_path / "empty").exists()


@enact.register
def booking(city: str) -> str:
    """Asks which units to show between two external calls."""
    first = Weather("C")(city)
    units = enact.request_input(requested_type=str, for_value=city, context="units?")
    second = Weather(units)(city)
    return f"{city}: {first['temperature']} / {second['temperature']}"


def test_a_run_that_asks_for_input_replays_from_the_cassette_when_answered(
    tmp_path: pathlib.Path,
) -> None:
    """answer and resume run inside the cassette like invoke: no frozen mode is needed."""
    FETCHED.clear()
    with enact.cassette("booking", directory=tmp_path):
        assert enact.invoke(booking, ("Oslo",), run_id="b").get_output() is None
        assert enact.get_run("b").status == "waiting"
        run = enact.answer("b", "F", run_now=True)
        assert run.status == "complete"
        assert run.invocation().get_output() == "Oslo: 21.5 / 70.7"
    assert FETCHED == ["weather Oslo", "weather Oslo"]
    # Offline, in a fresh store: the continued run takes its external call from the
    # cassette too.
    with enact.cassette("booking", directory=tmp_path, mode="replay"):
        enact.invoke(booking, ("Oslo",), run_id="b")
        assert enact.answer("b", "F", run_now=True).status == "complete"
    assert FETCHED == ["weather Oslo", "weather Oslo"]
    # Another answer makes a call the cassette lacks: refused, not run, naming it.
    replaying = enact.cassette("booking", directory=tmp_path, mode="replay", allow_unused=True)
    with pytest.raises(enact.UnrecordedCallError) as caught, replaying:
        enact.invoke(booking, ("Oslo",), run_id="b")
        assert enact.answer("b", "K", run_now=True).status == "raised"
    assert "Unrecorded call Weather(units='K')('Oslo') at child path [2]" in str(caught.value)
    assert FETCHED == ["weather Oslo", "weather Oslo"]
