"""The SQLite store's call log: per-call records appended to a file, folded into the tables.

White box where the file is the point: what is on disk while a run runs,
after it ends, and after a process that wrote a log was killed.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import enact
from enact.stores import _call_log
from enact.stores.base import NameQuery, PackedResource

JOURNAL = "enact/journal/"
seen: dict[str, Any] = {}


def journal_names(path: pathlib.Path) -> list[str]:
    """The journal entries in the file's tables, read with sqlite3 alone (no enact)."""
    raw = sqlite3.connect(path)
    try:
        rows = raw.execute("SELECT name FROM names WHERE name LIKE 'enact/journal/%'").fetchall()
    finally:
        raw.close()
    return sorted(str(name) for (name,) in rows)


def logs(path: pathlib.Path) -> list[pathlib.Path]:
    directory = pathlib.Path(_call_log.log_directory(str(path)))
    return sorted(directory.glob("*.log")) if directory.exists() else []


@enact.register
def leaf(x: int) -> int:
    return x * 10


@enact.register
def look(path: str) -> int:
    """Inside a run, after two calls returned: what the file holds, and what a reader sees."""
    database = pathlib.Path(path)
    seen["logs"] = [(log.name, log.stat().st_size) for log in logs(database)]
    seen["tables"] = journal_names(database)
    with enact.SQLiteStore(database) as other:  # another store object: another reader
        seen["entries"] = [entry.path for entry in enact.get_run("looked", store=other).entries()]
        other.close()
    seen["tables_after_read"] = journal_names(database)
    return 0


@enact.register
def watched(path: str) -> int:
    return leaf(1) + leaf(2) + look(path)


def test_calls_go_to_the_log_and_a_reader_folds_them(tmp_path: pathlib.Path) -> None:
    """A finished call is in the process's log (one file, not the tables) until a read or
    write folds it; a second store object sees it; closing leaves only the database."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path)
    with store:
        enact.invoke(watched, (str(path),), run_id="looked")
        assert enact.get_run("looked").status == "complete"
    ((name, size),) = seen["logs"]
    assert name.startswith(f"{os.getpid()}-") and name.endswith(".log") and size > 0
    assert seen["tables"] == []  # nothing of the calls in the tables yet: the log has them
    assert seen["entries"] == [(0,), (1,)]  # the other reader folded the log first
    assert len(seen["tables_after_read"]) == 2
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]


def test_a_durable_store_keeps_no_log(tmp_path: pathlib.Path) -> None:
    """durable=True: each call is a transaction of its own (the log is not fsynced)."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path, durable=True)
    with store:
        enact.invoke(watched, (str(path),), run_id="looked")
    assert seen["logs"] == []
    assert len(seen["tables"]) == 2
    store.close()


_KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import enact

    @enact.register
    def step(i: int) -> int:
        with open(sys.argv[2], "a") as ledger:
            ledger.write(f"{i}\\n")
        if i == 3 and not os.environ.get("RESUMED"):
            os.kill(os.getpid(), signal.SIGKILL)
        return i

    @enact.register
    def steps(n: int) -> int:
        return sum(step(i) for i in range(n))

    if __name__ == "__main__":
        with enact.SQLiteStore(sys.argv[1]):
            if os.environ.get("RESUMED"):
                print(enact.resume("killed").invocation().get_output())
            else:
                enact.invoke(steps, (6,), run_id="killed")
    """
)


def test_the_log_of_a_killed_process_is_folded_by_the_next_opener(tmp_path: pathlib.Path) -> None:
    """kill -9 mid-run: the calls that returned are in its log; the next process that opens
    the store folds them into the tables and removes the log; resume runs only the rest."""
    path, ledger, program = tmp_path / "store.db", tmp_path / "ledger", tmp_path / "killed.py"
    program.write_text(_KILLED)
    killed = subprocess.run([sys.executable, str(program), str(path), str(ledger)])
    assert killed.returncode == -signal.SIGKILL
    (log,) = logs(path)
    assert log.stat().st_size > 0
    assert journal_names(path) == []
    resumed = subprocess.run(
        [sys.executable, str(program), str(path), str(ledger)],
        env={**os.environ, "RESUMED": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert resumed.stdout.strip() == str(sum(range(6)))
    # Calls 0-2 returned before the kill and ran once; call 3 was in flight and ran again.
    assert ledger.read_text().split() == ["0", "1", "2", "3", "3", "4", "5"]
    assert logs(path) == []
    with enact.SQLiteStore(path) as store:
        assert enact.verify(store).ok
        assert enact.get_run("killed").status == "complete"
        store.close()


def test_a_record_cut_short_ends_the_log(tmp_path: pathlib.Path) -> None:
    """A log left by a dead process whose last record is torn: the whole records before it
    are folded, the torn one is not, and the log is removed."""
    path = tmp_path / "store.db"
    enact.SQLiteStore(path).close()
    kept = PackedResource("ab" * 32, b"kept bytes", None)
    torn = PackedResource("cd" * 32, b"torn bytes", None)
    whole = _call_log.encode_record([kept], [("kept-name", "ab" * 32)])
    cut = _call_log.encode_record([torn], [("torn-name", "cd" * 32)])[:-5]
    directory = pathlib.Path(_call_log.log_directory(str(path)))
    directory.mkdir()
    (directory / "999999-dead.log").write_bytes(whole + cut)
    backend = enact.SQLiteBackend(path)  # opening folds logs no process holds
    assert backend.get_name("kept-name") == "ab" * 32
    assert backend.get_name("torn-name") is None
    raw = sqlite3.connect(path)
    rows = raw.execute("SELECT hex(digest), data FROM objects").fetchall()
    raw.close()
    assert rows == [(("AB" * 32), b"kept bytes")]
    assert not directory.exists()
    backend.close()


def test_damaged_bytes_end_the_records() -> None:
    """decode_records reads whole records up to the first with a wrong checksum or head."""
    one = _call_log.encode_record([PackedResource("01" * 32, b"x", None)], [("n", "01" * 32)])
    two = _call_log.encode_record([], [("m", "02" * 32)])
    assert [names for _, names in _call_log.decode_records(one + two)] == [
        [("n", "01" * 32)],
        [("m", "02" * 32)],
    ]
    flipped = bytearray(one + two)
    flipped[len(one) + 20] ^= 0xFF
    assert len(list(_call_log.decode_records(bytes(flipped)))) == 1
    assert list(_call_log.decode_records(b"JUNK" + one)) == []


@enact.register
def forks(path: str) -> int:
    """After a call is in this process's log: a forked child lets go of the log."""
    backend = seen["store"]._backend
    assert isinstance(backend, enact.SQLiteBackend) and backend._log.fd >= 0
    pid = os.fork()
    if pid == 0:  # the child: no log of its own yet, none of the parent's calls pending
        os._exit(0 if backend._log.fd == -1 and not backend._log_rows else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@enact.register
def forked(path: str) -> int:
    return leaf(1) + forks(path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_write_its_parents_log(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "store.db"
    store = seen["store"] = enact.SQLiteStore(path)
    with store:
        assert enact.invoke(forked, (str(path),)).get_output() == 10
    store.close()
    assert logs(path) == []


_READER = textwrap.dedent(
    """
    import sys
    import enact

    with enact.SQLiteStore(sys.argv[1]) as store:
        run = enact.get_run(sys.argv[2])
        print(run.status, len(run.entries()))
        store.close()
    """
)


@enact.register
def asks_another_process(path: str, program: str) -> str:
    """Inside a run, after two calls returned: what a separate reader process sees."""
    reader = subprocess.run(
        [sys.executable, program, path, "watched-live"], capture_output=True, text=True, check=True
    )
    return reader.stdout.strip()


@enact.register
def live(path: str, program: str) -> str:
    leaf(1)
    leaf(2)
    return asks_another_process(path, program)


def test_another_process_sees_the_calls_of_a_live_run(tmp_path: pathlib.Path) -> None:
    """A reader process folds the live writer's log (not emptying it) and sees both calls;
    the writer's own log is still its own afterwards, and is removed when it closes."""
    path, program = tmp_path / "store.db", tmp_path / "reader.py"
    program.write_text(_READER)
    store = enact.SQLiteStore(path)
    with store:
        result = enact.invoke(live, (str(path), str(program)), run_id="watched-live")
        assert result.get_output() == "running 2"
        assert enact.get_run("watched-live").status == "complete"
    store.close()
    assert logs(path) == []


tallied: list[int] = []


@enact.register
def tally(x: int) -> int:
    tallied.append(x)
    return x * 10


@enact.register
def pooled(n: int) -> int:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sum(pool.map(tally, range(n)))


def test_calls_from_eight_threads_are_all_logged_and_folded(tmp_path: pathlib.Path) -> None:
    """Eight worker threads append to one log at once: every call is folded, none twice
    run on resume of the finished journal (replay runs none of them)."""
    path = tmp_path / "store.db"
    store = enact.SQLiteStore(path)
    with store:
        done = enact.invoke(pooled, (64,), run_id="pooled")
        assert done.get_output() == sum(x * 10 for x in range(64))
        assert len(list(done.get_children())) == 64
        assert sorted(tallied) == list(range(64))
    store.close()
    raw = sqlite3.connect(path)
    (count,) = raw.execute("SELECT count(*) FROM objects").fetchone()
    raw.close()
    assert count > 128  # each call's request and response, in the tables
    with enact.SQLiteStore(path) as again:
        recorded = enact.get_run("pooled").invocation()
        assert recorded is not None
        replayed = recorded.replay()
        assert replayed.get_output() == done.get_output()
        assert len(tallied) == 64  # every call came from the journal
        again.close()


_FULL_DISK = textwrap.dedent(
    """
    import os, resource, signal, sys
    import enact
    from enact.stores import _call_log
    from enact.stores.base import PackedResource

    backend = enact.SQLiteBackend(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, hard))
    big = PackedResource("ab" * 32, b"x" * 1000, None)
    try:
        backend.commit_call([big], [("big", "ab" * 32)])
    except enact.StorageError as err:
        print("refused:", "cannot record a call in its call log" in str(err))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print("left:", os.path.getsize(backend._log.path))
    small = PackedResource("cd" * 32, b"y", None)
    backend.commit_call([small], [("small", "cd" * 32)])
    with open(backend._log.path, "rb") as log:
        records = list(_call_log.decode_records(log.read()))
    print("records:", [names for _, names in records])
    os._exit(0)  # as a crash: the log stays for the next opener
    """
)


def test_a_record_that_cannot_be_written_whole_leaves_no_part(tmp_path: pathlib.Path) -> None:
    """A full disk mid-record (a file size limit here): the call fails with StorageError and
    the log is cut back, so the next record is readable after a crash."""
    path, program = tmp_path / "store.db", tmp_path / "full.py"
    program.write_text(_FULL_DISK)
    enact.SQLiteStore(path).close()
    out = subprocess.run(
        [sys.executable, str(program), str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["refused: True", "left: 0", "records: [[('small', '" + "cd" * 32 + "')]]"]
    backend = enact.SQLiteBackend(path)  # folds the log of the process that is gone
    assert backend.get_name("small") == "cd" * 32
    assert backend.get_name("big") is None
    assert logs(path) == []
    backend.close()


_WRITER = textwrap.dedent(
    """
    import sys
    import enact

    @enact.register
    def part(i: int) -> int:
        return i

    @enact.register
    def many(n: int) -> int:
        return sum(part(i) for i in range(n))

    store = enact.SQLiteStore(sys.argv[1])
    with store:
        for k in range(int(sys.argv[3])):
            enact.invoke(many, (200,), run_id=f"{sys.argv[2]}-{k}")
    store.close()
    """
)


def test_two_writers_and_a_reader_share_one_file(tmp_path: pathlib.Path) -> None:
    """Two processes record runs of 200 calls at once while this one keeps reading (and so
    folding their live logs): every run completes whole, the store verifies, no log stays."""
    path, program = tmp_path / "store.db", tmp_path / "writer.py"
    program.write_text(_WRITER)
    enact.SQLiteStore(path).close()
    writers = [
        subprocess.Popen([sys.executable, str(program), str(path), name, "20"])
        for name in ("a", "b")
    ]
    reader = enact.SQLiteBackend(path)
    folded_live = 0  # the most live logs this reader had folded at one time (white box)
    while any(writer.poll() is None for writer in writers):
        reader.list_names(NameQuery("enact/journal/"))
        folded_live = max(folded_live, len(reader._absorbed))
    assert [writer.wait() for writer in writers] == [0, 0]
    reader.close()
    assert folded_live > 0
    assert logs(path) == []
    with enact.SQLiteStore(path) as store:
        for name in ("a", "b"):
            for k in range(20):
                run = enact.get_run(f"{name}-{k}")
                invocation = run.invocation()
                assert run.status == "complete" and invocation is not None
                assert invocation.get_output() == sum(range(200))
                assert len(list(invocation.get_children())) == 200
        assert enact.verify(store).ok
        store.close()
