"""InvocationGenerator: the program waits in place at each request, and stays a durable run.

Each answer continues the program from its `request_input` call (the code
before it does not run again), while the store holds, at every moment, the
same waiting or running run that a stopped run would leave: another
connection or process can read it, answer it, or resume it after a crash.
"""

from __future__ import annotations

import collections
import gc
import os
import pathlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

import enact
from enact.stores.base import NameQuery

HELPERS = pathlib.Path(__file__).parent / "helpers"
WORKER = HELPERS / "generator_worker.py"

entered: collections.Counter[str] = collections.Counter()
"""How many times each body ran in this process."""


@enact.register
def label(i: int) -> str:
    entered["label"] += 1
    return f"item {i}"


@enact.register
def ask_each(n: int) -> int:
    entered["ask_each"] += 1
    total = 0
    for i in range(n):
        total += enact.request_input(int, for_value=label(i), context="How many?")
    return total


@enact.register
def confirm(i: int) -> str:
    entered["confirm"] += 1
    return str(enact.request_input(str, for_value=i, context="Confirm?"))


@enact.register
def nested_asks(n: int) -> list[str]:
    entered["nested_asks"] += 1
    return [confirm(label(i)[-1:] and i) for i in range(n)]


@enact.register
async def async_ask(n: int) -> int:
    return sum([enact.request_input(int, for_value=i) for i in range(n)])


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    entered.clear()
    yield


@pytest.fixture
def url(tmp_path: pathlib.Path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


@pytest.fixture
def store(url: str) -> Iterator[enact.Store]:
    opened = enact.open_store(url)
    with opened:
        yield opened
    opened.close()


_EARLIER: set[threading.Thread] = set()


@pytest.fixture(autouse=True)
def _earlier_program_threads() -> None:
    """Program threads that earlier tests left (still ending) do not count for this one."""
    _EARLIER.clear()
    _EARLIER.update(t for t in threading.enumerate() if t.name == "enact-program")


def program_threads() -> list[threading.Thread]:
    """The program threads this test started that are still alive."""
    return [
        thread
        for thread in threading.enumerate()
        if thread.name == "enact-program" and thread not in _EARLIER
    ]


def wait_for_program_threads_to_end() -> None:
    """Waits (up to 30 s on a loaded machine) until this test's program threads have ended."""
    for thread in program_threads():
        thread.join(timeout=30)


def test_answers_continue_the_program_where_it_waits(store: enact.Store) -> None:
    """The body runs once for all its answers; journaled calls before a request run once."""
    generator = enact.InvocationGenerator.from_callable(ask_each, (5,), run_id="once")
    answers = iter(range(10, 15))
    for request in generator:
        assert request.context == "How many?"
        generator.set_input(next(answers))
    assert generator.invocation.get_output() == sum(range(10, 15))
    assert entered == {"ask_each": 1, "label": 5}
    run = enact.get_run("once")
    assert run.status == "complete"
    # One state per request (waiting) and per answer (running), then the end.
    events = [state.event for _, state in run.history()]
    assert events[0] == "finished" and events.count("answered") == 5
    assert store.list_names(NameQuery("enact/journal/once/")) == []  # deleted at the end
    assert enact.verify(store).ok


def test_the_tree_is_the_one_answering_by_replay_makes(store: enact.Store) -> None:
    """Waiting in place and stopping-then-replaying journal the same content-addressed tree."""
    generator = enact.InvocationGenerator.from_callable(nested_asks, (3,), run_id="live")
    for request in generator:
        generator.set_input(f"ok {request.for_value()}")
    enact.invoke(nested_asks, (3,), run_id="replayed")
    for i in range(3):
        enact.answer("replayed", f"ok {i}", run_now=True)
    live, replayed = enact.get_run("live"), enact.get_run("replayed")
    assert (live.status, replayed.status) == ("complete", "complete")
    assert live.state.tree is not None and replayed.state.tree is not None
    assert live.state.tree.digest == replayed.state.tree.digest
    assert generator.invocation.get_output() == ["ok 0", "ok 1", "ok 2"]


def test_a_waiting_run_reads_the_same_from_another_connection(url: str, store: enact.Store) -> None:
    """While the program waits, another store object sees a waiting run and its nested request."""
    generator = enact.InvocationGenerator.from_callable(nested_asks, (2,), run_id="seen")
    next(generator)
    generator.set_input("first")
    request = next(generator)
    assert request.for_value() == 1
    other = enact.open_store(url)
    with other:
        run = enact.get_run("seen")
        assert run.status == "waiting"
        ((path, pending),) = enact.pending_input_requests(run)
        assert path == (3, 0) and pending.context == "Confirm?" and pending.for_value() == 1
        tree = run.invocation()
        assert tree is not None
        # The open callers are in the tree as unwinding would have recorded them.
        assert [child.get_output() for child in tree.get_children()][:3] == [
            "item 0",
            "first",
            "item 1",
        ]
    other.close()
    generator.set_input("second")
    with pytest.raises(StopIteration):
        next(generator)
    assert generator.invocation.get_output() == ["first", "second"]


def test_an_answer_from_elsewhere_wins_and_the_waiting_program_writes_nothing(
    url: str, store: enact.Store
) -> None:
    """Another process's answer moves the head: this generator's answer is refused."""
    generator = enact.InvocationGenerator.from_callable(ask_each, (2,), run_id="raced")
    next(generator)
    other = enact.open_store(url)
    with other:
        enact.answer("raced", 7, run_now=False)  # recorded elsewhere: the run is answered
    other.close()
    generator.set_input(1)
    with pytest.raises(enact.RunConflictError) as raised:
        next(generator)
    assert raised.value.run_id == "raced" and raised.value.status == "answered"
    wait_for_program_threads_to_end()  # the abandoned program ends without writing
    assert program_threads() == []
    run = enact.get_run("raced")
    assert run.status == "answered" and run.state.answer is not None
    done = enact.resume("raced")
    assert done.status == "waiting"  # its second request
    done = enact.answer("raced", 3, run_now=True)
    invocation = done.invocation()
    assert invocation is not None and invocation.get_output() == 10


def test_dropping_a_waiting_generator_ends_its_program(store: enact.Store) -> None:
    """A generator that is thrown away while waiting leaves a waiting run, and no thread."""
    generator = enact.InvocationGenerator.from_callable(ask_each, (3,), run_id="dropped")
    next(generator)
    assert len(program_threads()) == 1
    del generator
    gc.collect()
    wait_for_program_threads_to_end()
    assert program_threads() == []
    run = enact.get_run("dropped")
    assert run.status == "waiting"
    resumed = enact.InvocationGenerator.from_run(run)
    for request in resumed:
        resumed.set_input(int(request.for_value()[-1:]))
    assert resumed.invocation.get_output() == 0 + 1 + 2


def test_from_run_continues_a_stopped_run_then_waits_in_place(store: enact.Store) -> None:
    """A run started without a generator is replayed once, then answered in place."""
    enact.invoke(ask_each, (4,), run_id="stopped")
    entered.clear()
    generator = enact.InvocationGenerator.from_run("stopped")
    for _request in generator:
        generator.set_input(1)
    assert generator.invocation.get_output() == 4
    # One replay to reach the first request; the later answers continue in place.
    assert entered == {"ask_each": 1, "label": 3}


def test_asynchronous_programs_stop_and_replay(store: enact.Store) -> None:
    """An async invokable cannot wait in a thread of its own: it is replayed per answer."""
    generator = enact.InvocationGenerator.from_callable(async_ask, (3,), run_id="async")
    for request in generator:
        generator.set_input(request.for_value() * 2)
    assert generator.invocation.get_output() == 6
    assert program_threads() == []


def test_wrong_answers_are_refused_before_anything_moves(store: enact.Store) -> None:
    """set_input checks the type; the run stays waiting and the program keeps waiting."""
    generator = enact.InvocationGenerator.from_callable(ask_each, (1,), run_id="typed")
    next(generator)
    with pytest.raises(enact.InputTypeError):
        generator.set_input("three")
    assert enact.get_run("typed").status == "waiting"
    generator.set_input(3)
    with pytest.raises(StopIteration):
        next(generator)
    assert generator.invocation.get_output() == 3


# Real processes -----------------------------------------------------------------


def start_driver(url: str, ledger: pathlib.Path, topics: str = "a,b,c") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, "doc", str(ledger), "drive", topics],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ran(ledger: pathlib.Path) -> collections.Counter[str]:
    return collections.Counter(ledger.read_text().splitlines())


def test_kill_9_while_waiting_then_answer_from_another_process(
    url: str, tmp_path: pathlib.Path
) -> None:
    """The waiting run a killed driver leaves is answered and finished by other processes."""
    ledger = tmp_path / "ledger"
    driver = start_driver(url, ledger)
    assert driver.stdin is not None and driver.stdout is not None
    assert driver.stdout.readline() == "waiting a draft on a\n"
    driver.stdin.write("1\n")
    driver.stdin.flush()
    assert driver.stdout.readline() == "waiting a draft on b\n"
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    for value in ("2", "3"):
        answered = subprocess.run(
            [sys.executable, str(WORKER), url, "doc", str(ledger), "answer", value],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert answered.returncode == 0, answered.stderr
    assert answered.stdout == "complete 6\n"
    # Finished calls ran once; the calls that were waiting for an answer given by a
    # replaying process (approve and section of b and of c) ran again when it came.
    assert ran(ledger) == {
        "section a": 1,
        "draft a": 1,
        "approve a draft on a": 1,
        "section b": 2,
        "draft b": 1,
        "approve a draft on b": 2,
        "section c": 2,
        "draft c": 1,
        "approve a draft on c": 2,
    }
    checked = enact.open_store(url)
    assert enact.verify(checked).ok
    checked.close()


def test_ctrl_c_while_the_program_runs_marks_the_run_interrupted(
    url: str, tmp_path: pathlib.Path
) -> None:
    """SIGINT reaches the program's thread: the run is interrupted, and resume goes on."""
    ledger = tmp_path / "ledger"
    driver = start_driver(url, ledger, "a,slow")
    assert driver.stdin is not None and driver.stdout is not None
    assert driver.stdout.readline() == "waiting a draft on a\n"
    driver.stdin.write("1\n")
    driver.stdin.flush()
    for _ in range(600):  # the program is now drafting "slow" in its own thread
        if "draft slow" in ledger.read_text():
            break
        threading.Event().wait(0.05)
    os.kill(driver.pid, signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode != 0
    assert err.rstrip().endswith("KeyboardInterrupt")
    with enact.open_store(url):
        run = enact.get_run("doc")
        assert run.status == "interrupted"
        # The answer given before the interrupt is in the journal: nothing is pending.
        assert enact.pending_input_requests(run) == []
        answered = enact.commit(enact.Response(enact.Output(1), None, False, []))
        assert answered.digest in [entry.response for entry in run.entries()]


def test_the_program_thread_closes_its_connection(tmp_path: pathlib.Path) -> None:
    """A finished generator leaves no open connection: closing the store removes its WAL."""
    path = tmp_path / "own.db"
    own = enact.SQLiteStore(path)
    with own:
        generator = enact.InvocationGenerator.from_callable(ask_each, (20,), run_id="closed")
        for _request in generator:
            generator.set_input(1)
        assert generator.invocation.get_output() == 20
    own.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own.db"]
