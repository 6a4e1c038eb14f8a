"""`enact.migrate` and `enact migrate`: old shapes rewritten as new objects, names moved.

Real processes and real SQLite files: a program writes a store with version 1
of a module, version 2 changes a class incompatibly, and the migration runs
as the ``enact`` command, once killed with SIGKILL midway and then again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import enact
from enact.digests import quote, type_id_for

SRC = pathlib.Path(__file__).parent.parent / "src"
BATCHES = 100
PER_BATCH = 100  # 100 x 100 = 10,000 tickets

APP_V1 = """\
import dataclasses
import enact

@enact.register
@dataclasses.dataclass
class Ticket(enact.Resource):
    title: str
    priority: int

@enact.register
def triage(ticket: Ticket) -> list:
    return [ticket, enact.commit(Ticket(ticket.title + " (copy)", ticket.priority))]
"""

APP_V2 = """\
import dataclasses, os, signal
import enact

@enact.register
@dataclasses.dataclass
class Ticket(enact.Resource):
    title: str
    severity: str

@enact.register
def triage(ticket: Ticket) -> list:
    return [ticket, enact.commit(Ticket(ticket.title + " (copy)", ticket.severity))]

calls = 0

def upgrade(type_name, fields):
    global calls
    if type_name != "app.Ticket" or "priority" not in fields:
        return None
    calls += 1
    if calls == int(os.environ.get("KILL_AT", "0")) and not os.path.exists("killed"):
        open("killed", "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return Ticket(fields["title"], "high" if fields["priority"] < 2 else "low")
"""

WRITE_V1 = f"""\
import sys, enact, app
with enact.open_store(sys.argv[1]) as store:
    for b in range({BATCHES}):
        with store.batch():
            refs = [enact.commit(app.Ticket(f"t{{b}}-{{i}}", i % 3)) for i in range({PER_BATCH})]
            batch = enact.commit(refs)
        store.set_name(f"batch/{{b:03d}}", batch)
    enact.invoke(app.triage, (app.Ticket("printer", 1),), run_id="run-1")
"""

READ_V2 = """\
import json, sys, enact, app
with enact.open_store(sys.argv[1]) as store:
    seen = {}
    for name, ref in store.names().items():
        if name.startswith("batch/"):
            for ticket_ref in ref():
                ticket = ticket_ref()
                seen[ticket.title] = ticket.severity
    output = enact.get_run("run-1").invocation().get_output()
    print(json.dumps({"tickets": len(seen), "t7-1": seen["t7-1"], "t7-2": seen["t7-2"],
                      "run": [output[0].severity, output[1]().title, output[1]().severity]}))
"""


def _env(root: pathlib.Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(root)]), **extra}


def _python(root: pathlib.Path, source: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), url],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _enact(
    root: pathlib.Path, url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, "--import", "app", *args],
        cwd=root,
        env=_env(root, **env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _write_app(root: pathlib.Path, source: str) -> None:
    (root / "app.py").write_text(source)
    for cached in (root / "__pycache__").glob("app.*"):
        cached.unlink()


def _names(url: str) -> dict[str, str]:
    with enact.open_store(url) as store:
        return {name: ref.digest for name, ref in store.names().items()}


def test_migrate_killed_midway_then_rerun_completes(tmp_path: pathlib.Path) -> None:
    """10,000 objects: a dry run changes nothing; a migration killed with SIGKILL midway
    leaves a consistent store; the rerun finishes it, verify is clean, every name and the
    run head point at migrated objects, a third run changes nothing, and gc drops the old."""
    url = f"sqlite:///{tmp_path}/store.db"
    _write_app(tmp_path, APP_V1)
    written = _python(tmp_path, WRITE_V1, url)
    assert written.returncode == 0, written.stderr
    before = _names(url)
    _write_app(tmp_path, APP_V2)
    unreadable = _python(tmp_path, READ_V2, url)
    assert "IncompatibleTypeError" in unreadable.stderr

    dry = _enact(tmp_path, url, "migrate", "--using", "app:upgrade", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "(dry run)" in dry.stdout and "(10003 by the upgrade function)" in dry.stdout
    assert _names(url) == before

    killed = _enact(tmp_path, url, "migrate", "--using", "app:upgrade", KILL_AT="5000")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    midway = _names(url)
    moved = [name for name in before if midway[name] != before[name]]
    assert 0 < len(moved) < BATCHES  # some batches done, the rest and the run not yet
    assert midway["runs/run-1"] == before["runs/run-1"]
    assert _enact(tmp_path, url, "verify").returncode == 0

    rerun = _enact(tmp_path, url, "migrate", "--using", "app:upgrade", KILL_AT="5000")
    assert rerun.returncode == 0, rerun.stderr
    after = _names(url)
    assert all(after[name] != before[name] for name in before if name.startswith("batch/"))
    assert after["runs/run-1"] != before["runs/run-1"]
    assert {name for name in after} == set(before)
    verified = _enact(tmp_path, url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    read = _python(tmp_path, READ_V2, url)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {
        "tickets": BATCHES * PER_BATCH,
        "t7-1": "high",
        "t7-2": "low",
        "run": ["high", "printer (copy)", "high"],
    }

    again = _enact(tmp_path, url, "migrate", "--using", "app:upgrade")
    assert again.returncode == 0, again.stderr
    assert "0 rewritten (0 by the upgrade function); 0 name(s) moved" in again.stdout
    assert _names(url) == after

    collected = _enact(tmp_path, url, "gc", "--grace", "0")
    assert collected.returncode == 0, collected.stderr
    assert _enact(tmp_path, url, "verify").returncode == 0
    assert json.loads(_python(tmp_path, READ_V2, url).stdout)["t7-1"] == "high"


@enact.register
@dataclasses.dataclass
class Note(enact.Resource):
    text: str
    stars: int = 0


def _old_note(store: enact.Store, text: str) -> enact.Ref[Any]:
    """Commits a Note as the version without `stars` and with `author` wrote it."""
    name = f"{__name__}.Note"
    tokens = f"res[{type_id_for(name, ['author', 'text'])}'author's'ann''text's{quote(text)}]"
    digest = store.commit_tokens(tokens.encode(), [], enact.Ref).digest
    return enact.Ref.from_digest(digest)


def test_migrate_api_one_run_and_errors(tmp_path: pathlib.Path) -> None:
    """enact.migrate with run= moves only that run; without an upgrade function an
    incompatible object is an error and nothing is moved for its name."""
    with enact.SQLiteStore(tmp_path / "store.db") as store:
        old = _old_note(store, "hi")
        store.set_name("note", old)
        holder = enact.commit([old])
        store.set_name("holder", holder)
        with pytest.raises(enact.IncompatibleTypeError, match="'author'"):
            enact.migrate()
        assert store.get_name("note") == old

        def upgrade(type_name: str, fields: dict[str, Any]) -> Any:
            return Note(f"{fields['text']} by {fields['author']}") if "author" in fields else None

        report = enact.migrate(upgrade, dry_run=True)
        assert (report.rewritten, report.upgraded, report.moved) == (2, 1, ("holder", "note"))
        assert store.get_name("note") == old
        report = enact.migrate(upgrade)
        assert report.complete and report.moved == ("holder", "note")
        note = store.get_name("note")
        assert note is not None and note() == Note("hi by ann", 0)
        new_holder = store.get_name("holder")
        assert new_holder is not None and new_holder()[0] == note
        assert store.has(old)  # old objects stay for gc
        assert enact.migrate(upgrade).moved == ()


def test_migrate_one_run_leaves_other_names(tmp_path: pathlib.Path) -> None:
    """--run RUN migrates the run's names only."""
    with enact.SQLiteStore(tmp_path / "store.db") as store:
        old = _old_note(store, "x")
        store.set_name("note", old)

        @enact.register
        def echo(value: Any) -> Any:
            return value

        enact.invoke(echo, (old,), run_id="r1")
        head = store.get_name("runs/r1")

        def upgrade(type_name: str, fields: dict[str, Any]) -> Any:
            return Note(fields["text"]) if "author" in fields else None

        report = enact.migrate(upgrade, run="r1")
        assert "runs/r1" in report.moved and "note" not in report.moved
        assert store.get_name("note") == old
        assert store.get_name("runs/r1") != head
        output = enact.get_run("r1").invocation().get_output()
        assert output() == Note("x")


def test_migrate_of_an_unknown_run_names_it(tmp_path: pathlib.Path) -> None:
    """run= naming no run is a RunNotFoundError; nothing is read or written."""
    with enact.SQLiteStore(tmp_path / "store.db"), pytest.raises(enact.RunNotFoundError) as info:
        enact.migrate(run="nope")
    assert info.value.run_id == "nope"
    assert "'nope'" in str(info.value)


INTERRUPTED_V1 = """\
import dataclasses, os, signal
import enact

def _ran(name):
    with open("ledger.txt", "a") as ledger:
        ledger.write(name + "\\n")

@enact.register
@dataclasses.dataclass
class Ticket(enact.Resource):
    title: str
    priority: int

@enact.register
def triage(ticket: Ticket) -> Ticket:
    _ran("triage")
    return Ticket(ticket.title.upper(), ticket.priority)

@enact.register
def close(ticket: Ticket) -> str:
    _ran("close")
    if os.environ.get("CRASH"):
        os.kill(os.getpid(), signal.SIGKILL)
    return "closed"

@enact.register
def handle(title: str) -> str:
    ticket = triage(Ticket(title, 1))
    return f"{ticket.title}: {close(ticket)}"
"""


def test_migrated_interrupted_run_resumes_without_running_finished_calls(
    tmp_path: pathlib.Path,
) -> None:
    """A run killed midway keeps journal entries named by request digest; migrating renames
    them to the new requests' digests, and resuming with the new code after gc does not
    run the finished call again."""
    url = f"sqlite:///{tmp_path}/store.db"
    _write_app(tmp_path, INTERRUPTED_V1)
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, enact, app\nwith enact.open_store(sys.argv[1]):\n"
            "    enact.invoke(app.handle, ('printer',), run_id='crash-1')\n",
            url,
        ],
        cwd=tmp_path,
        env=_env(tmp_path, CRASH="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == -signal.SIGKILL, started.stderr
    entries = [name for name in _names(url) if name.startswith("enact/journal/crash-1/")]
    assert len(entries) == 1  # triage finished; close did not
    v2 = (
        INTERRUPTED_V1.replace("    priority: int\n", "    severity: str\n")
        .replace("ticket.priority", "ticket.severity")
        .replace("Ticket(title, 1)", "Ticket(title, 'high')")
    )
    _write_app(tmp_path, v2 + UPGRADE_PRIORITY)
    migrated = _enact(tmp_path, url, "migrate", "--using", "app:upgrade", "--run", "crash-1")
    assert migrated.returncode == 0, migrated.stderr
    new_entries = [name for name in _names(url) if name.startswith("enact/journal/crash-1/")]
    assert len(new_entries) == 1 and new_entries != entries
    assert _enact(tmp_path, url, "gc", "--grace", "0").returncode == 0
    resumed = _python(
        tmp_path,
        "import json, sys, enact, app\nwith enact.open_store(sys.argv[1]):\n"
        "    run = enact.resume('crash-1')\n"
        "    print(json.dumps([run.status, run.invocation().get_output()]))\n",
        url,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == ["complete", "PRINTER: closed"]
    assert (tmp_path / "ledger.txt").read_text().split() == ["triage", "close", "close"]


UPGRADE_PRIORITY = """
def upgrade(type_name, fields):
    if type_name == "app.Ticket" and "priority" in fields:
        return Ticket(fields["title"], "high" if fields["priority"] < 2 else "low")
    return None
"""
