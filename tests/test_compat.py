"""Journals that survive code changes: a store written by one version of a module, read by another.

Each test writes version 1 of a module ``app`` to a directory, runs a program
that imports it in a subprocess against a real SQLite file, then replaces the
module with version 2 and reads the store in a second subprocess. The
programs print JSON, which the tests assert on (values, errors, digests).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import enact

SRC = pathlib.Path(__file__).parent.parent / "src"

PRELUDE = """\
import dataclasses, json, sys
import enact
"""


class Program:
    """Writes module versions and runs programs against one SQLite store."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.url = f"sqlite:///{root}/store.db"

    def module(self, source: str, name: str = "app") -> None:
        """Writes (or replaces) module `name` and drops its cached bytecode."""
        path = self.root / f"{name}.py"
        path.write_text(PRELUDE + textwrap.dedent(source))
        for cached in (self.root / "__pycache__").glob(f"{name}.*"):
            cached.unlink()

    def run(self, source: str) -> Any:
        """Runs `source` in a new process inside the store; returns the JSON it prints last."""
        program = PRELUDE + f"store = enact.open_store({self.url!r})\nstore.__enter__()\n"
        program += textwrap.dedent(source)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(self.root)])}
        done = subprocess.run(
            [sys.executable, "-c", program],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def cli(self, *args: str, imports: bool = False) -> subprocess.CompletedProcess[str]:
        """Runs the ``enact`` command on the store (with the module importable if `imports`)."""
        path = [str(SRC)] + ([str(self.root)] if imports else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "enact", "--store", self.url, *args],
            cwd=self.root if imports else self.root.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stored(self, digest: str) -> bytes:
        """The bytes the SQLite file holds for `digest` (to show they never change)."""
        with sqlite3.connect(self.root / "store.db") as db:
            row = db.execute(
                "SELECT data FROM objects WHERE digest = ?", (bytes.fromhex(digest),)
            ).fetchone()
        assert row is not None, f"{digest} not in the SQLite file"
        return bytes(row[0])


@pytest.fixture
def program(tmp_path: pathlib.Path) -> Program:
    """A directory for the module versions, and a SQLite store."""
    return Program(tmp_path)


TICKET_V1 = """\
@enact.register
@dataclasses.dataclass
class Ticket(enact.Resource):
    title: str
    priority: int
"""

COMMIT_TICKET = """\
import app
ref = enact.commit(app.Ticket("printer on fire", 1))
print(json.dumps(ref.digest))
"""

READ_TICKET = """\
import app
ref = enact.Ref.from_digest(sys.argv[1] if len(sys.argv) > 1 else {digest!r})
try:
    value = ref()
except enact.EnactError as err:
    print(json.dumps({{"error": type(err).__name__, "message": str(err),
                      "stored": list(getattr(err, "stored_fields", ())),
                      "current": list(getattr(err, "current_fields", ()))}}))
else:
    again = enact.commit(value)
    print(json.dumps({{"type": type(value).__qualname__, "fields": value.to_resource_dict(),
                      "type_id": type(value).type_id(), "new_digest": again.digest}}))
"""


def _type_id(name: str, fields: list[str]) -> str:
    digest = hashlib.sha256(
        (name + "".join(repr(field) for field in sorted(fields))).encode()
    ).hexdigest()
    return json.dumps({"digest": digest, "name": name}, sort_keys=True)


def test_field_added_with_a_default_takes_the_default(program: Program) -> None:
    """An object written before a field with a default was added checks out with the default;
    its stored bytes are unchanged and a new commit gets the new type id."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    before = program.stored(digest)
    program.module(
        TICKET_V1
        + "    latency_ms: float = 0.0\n    tags: list = dataclasses.field(default_factory=list)\n"
    )
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["fields"] == {
        "title": "printer on fire",
        "priority": 1,
        "latency_ms": 0.0,
        "tags": [],
    }
    assert read["type_id"] == _type_id("app.Ticket", ["title", "priority", "latency_ms", "tags"])
    assert read["new_digest"] != digest
    assert program.stored(digest) == before
    with enact.open_store(program.url) as store:
        tokens = store.read_tokens(enact.Ref.from_digest(digest))
        assert tokens.startswith(b"res[" + _type_id("app.Ticket", ["title", "priority"]).encode())
        assert not enact.verify(store).problems


def test_fields_reordered_change_nothing(program: Program) -> None:
    """Declaring the fields in another order reads the same object, with the same digest."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    program.module(
        TICKET_V1.replace(
            "    title: str\n    priority: int\n", "    priority: int\n    title: str\n"
        )
    )
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["fields"] == {"priority": 1, "title": "printer on fire"}
    assert read["new_digest"] == digest


def test_class_renamed_with_an_alias_checks_out_as_the_new_class(program: Program) -> None:
    """A class moved and renamed, registered with the old name as an alias, reads old objects
    (a field added with a default at the same time), and new objects get the new name."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    program.module(
        """\
        @enact.register(name="helpdesk.Issue", aliases=("app.Ticket",))
        @dataclasses.dataclass
        class Issue(enact.Resource):
            title: str
            priority: int
            owner: str | None = None

        Ticket = Issue
        """
    )
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["type"] == "Issue"
    assert read["fields"] == {"title": "printer on fire", "priority": 1, "owner": None}
    assert read["type_id"] == _type_id("helpdesk.Issue", ["title", "priority", "owner"])
    assert read["new_digest"] != digest


def test_alias_with_the_same_fields_reads_at_full_speed(program: Program) -> None:
    """A renamed class with unchanged fields reads its old objects (and lists of them)."""
    program.module(TICKET_V1)
    digest = program.run(
        "import app\n"
        "print(json.dumps(enact.commit([app.Ticket('a', 1), app.Ticket('b', 2)]).digest))\n"
    )
    program.module(
        """\
        @enact.register(name="helpdesk.Issue", aliases=("app.Ticket",))
        @dataclasses.dataclass
        class Issue(enact.Resource):
            priority: int
            title: str
        """
    )
    read = program.run(
        f"import app\nvalues = enact.Ref.from_digest({digest!r})()\n"
        "print(json.dumps([[type(v).__name__, v.title, v.priority] for v in values]))\n"
    )
    assert read == [["Issue", "a", 1], ["Issue", "b", 2]]


FUNCTIONS_V1 = """\
import pathlib

def _ran(name):
    with open("ledger.txt", "a") as ledger:
        ledger.write(name + "\\n")

@enact.register
def greet(name: str) -> str:
    _ran("greet")
    return f"Hello, {name}!"

@enact.register
def parent(name: str) -> str:
    _ran("parent")
    return child(name).upper()

@enact.register
def child(name: str) -> str:
    _ran("child")
    return name * 2

@enact.register
def main(name: str) -> list[str]:
    _ran("main")
    return [greet(name), parent(name)]
"""

RECORD_MAIN = """\
import app
invocation = enact.invoke(app.main, ("Ada",), run_id="first")
print(json.dumps(enact.commit(invocation).digest))
"""

REPLAY_MAIN = """\
import app
invocation = enact.Ref.from_digest({digest!r})()
replayed = invocation.rewind(0).replay()
print(json.dumps({{"output": replayed.get_output(),
                  "ledger": open("ledger.txt").read().split()}}))
"""


def test_function_renamed_with_an_alias_replays_from_the_journal(program: Program) -> None:
    """A registered function renamed with its old name as an alias: a replay of a run that
    called it returns the recorded output without running the function again."""
    program.module(FUNCTIONS_V1)
    digest = program.run(RECORD_MAIN)
    (program.root / "ledger.txt").write_text("")
    program.module(
        FUNCTIONS_V1.replace(
            '@enact.register\ndef greet(name: str) -> str:\n    _ran("greet")',
            '@enact.register(aliases=("app.greet",))\ndef say_hello(name: str) -> str:\n'
            '    _ran("say_hello")',
        ).replace("[greet(name)", "[say_hello(name)")
    )
    read = program.run(REPLAY_MAIN.format(digest=digest))
    assert read == {"output": ["Hello, Ada!", "ADAADA"], "ledger": ["main"]}


REPLAY_RUN = """\
import app
invocation = enact.Ref.from_digest({digest!r})()
replayed = invocation.rewind(0).replay()
run = enact.list_runs(limit=1)[0]
print(json.dumps({{"recorded": invocation.request.digest, "run": run.state.request.digest,
                  "tree": replayed.request.digest, "ledger": open("ledger.txt").read().split()}}))
"""


def test_a_replay_refers_to_the_recorded_request_while_it_spells_the_same(
    program: Program,
) -> None:
    """A replay's run and tree refer to the recorded request, which is not written again;
    after the root function was renamed with an alias, to the request as it is spelled now."""
    program.module(FUNCTIONS_V1)
    digest = program.run(RECORD_MAIN)
    (program.root / "ledger.txt").write_text("")
    recorded = program.run(f"print(json.dumps(enact.Ref.from_digest({digest!r})().request.digest))")
    with sqlite3.connect(program.root / "store.db") as db:
        query = "SELECT committed_at FROM objects WHERE digest = ?"
        (before,) = db.execute(query, (bytes.fromhex(recorded),)).fetchone()
    read = program.run(REPLAY_RUN.format(digest=digest))
    assert read["recorded"] == read["run"] == read["tree"] == recorded
    with sqlite3.connect(program.root / "store.db") as db:
        assert db.execute(query, (bytes.fromhex(recorded),)).fetchone() == (before,)

    program.module(
        FUNCTIONS_V1.replace(
            "@enact.register\ndef main(name: str)",
            '@enact.register(aliases=("app.main",))\ndef entry(name: str)',
        )
    )
    read = program.run(REPLAY_RUN.format(digest=digest).replace("app.main", "app.entry"))
    assert read["recorded"] == recorded
    assert read["run"] == read["tree"] != recorded  # today's spelling, committed
    assert read["ledger"] == ["main", "main"]  # only the root ran, each time


def test_renamed_function_below_a_recorded_call_needs_no_registration(program: Program) -> None:
    """A function renamed without an alias is never decoded when its parent's recorded output
    is used: the replay succeeds, and only the root runs again."""
    program.module(FUNCTIONS_V1)
    digest = program.run(RECORD_MAIN)
    (program.root / "ledger.txt").write_text("")
    program.module(
        FUNCTIONS_V1.replace("def child(", "def renamed_child(").replace(
            "return child(name)", "return renamed_child(name)"
        )
    )
    read = program.run(REPLAY_MAIN.format(digest=digest))
    assert read == {"output": ["Hello, Ada!", "ADAADA"], "ledger": ["main"]}
    # Inspecting the new run needs the program's modules neither.
    shown = program.cli("tree", "first")
    assert shown.returncode == 0, shown.stderr
    assert "child('Ada') = 'AdaAda'" in shown.stdout
    # The command replays the same way, and shows the old call as stored.
    replayed = program.cli("--import", "app", "replay", "first", "--rewind", "0", imports=True)
    assert replayed.returncode == 0, replayed.stderr
    assert "child('Ada') = 'AdaAda'" in replayed.stdout
    assert (program.root / "ledger.txt").read_text().split() == ["main", "main"]


def test_field_removed_is_a_clear_error(program: Program) -> None:
    """An object holding a field the class no longer has: IncompatibleTypeError naming the
    object, the stored and the current fields, and how to migrate."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    program.module(TICKET_V1.replace("    priority: int\n", ""))
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["error"] == "IncompatibleTypeError"
    assert read["stored"] == ["priority", "title"]
    assert read["current"] == ["title"]
    assert read["message"] == (
        f"Object {digest}: A stored app.Ticket does not fit the class defined here (it was "
        "written by another version of it): the stored field(s) ['priority'] are not fields "
        "of the class any more. Stored fields: ['priority', 'title']; fields of the class "
        "here: ['title']. Make the change compatible (give a new field a default; keep a "
        "removed field, with a default; or keep the old type name as an alias: "
        "@enact.register(name=..., aliases=(...))), or convert the stored objects to the new "
        "shape with enact.migrate or `enact migrate` (README: Code changes and migration)."
    )
    shown = program.cli("--import", "app", "show", digest, imports=True)
    assert shown.returncode == 0, shown.stderr
    assert "Ticket(priority=1, title='printer on fire')" in shown.stdout
    assert "Shown as stored: the stored field(s) ['priority'] are not fields" in shown.stderr


def test_field_added_without_a_default_is_a_clear_error(program: Program) -> None:
    """A new field without a default cannot be filled in: the error names it."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    program.module(TICKET_V1 + "    owner: str\n")
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["error"] == "IncompatibleTypeError"
    assert "the class's field(s) ['owner'] have no default" in read["message"]
    assert read["current"] == ["title", "priority", "owner"]


def test_type_changed_is_a_clear_error(program: Program) -> None:
    """A field whose annotation no longer fits the stored value (same name, so the same type
    id): an error naming the field, the value and the annotation, not a wrong value."""
    program.module(TICKET_V1)
    digest = program.run(COMMIT_TICKET)
    program.module(TICKET_V1.replace("priority: int", "priority: list[str]"))
    read = program.run(READ_TICKET.format(digest=digest))
    assert read["error"] == "IncompatibleTypeError"
    assert (
        f"Object {digest}: A stored app.Ticket does not fit the class defined here (it was "
        "written by another version of it): field 'priority' holds a int (1), which does not "
        "fit its annotation list[str]." in read["message"]
    )
    assert "enact migrate" in read["message"]


def test_inspecting_needs_no_import(program: Program) -> None:
    """show, tree and log read a store without the program's modules: types as stored."""
    program.module(FUNCTIONS_V1 + TICKET_V1)
    program.run(RECORD_MAIN)
    digest = program.run(COMMIT_TICKET)
    shown = program.cli("show", digest)
    assert shown.returncode == 0, shown.stderr
    assert "app.Ticket" in shown.stdout and "printer on fire" in shown.stdout
    tree = program.cli("tree", "first")
    assert tree.returncode == 0, tree.stderr
    assert "main('Ada') = ['Hello, Ada!', 'ADAADA']" in tree.stdout
    assert "greet('Ada') = 'Hello, Ada!'" in tree.stdout
    log = program.cli("log")
    assert log.returncode == 0, log.stderr
    assert "main('Ada')" in log.stdout


def test_register_name_and_aliases_are_checked() -> None:
    """A str for aliases, or a name with braces, is refused with the fix."""
    with pytest.raises(enact.RegistrationError, match=r"write aliases=\('old.Name',\)"):
        enact.register(aliases="old.Name")
    with pytest.raises(enact.RegistrationError, match="without braces"):

        @enact.register(name="bad{name}")
        def nothing() -> None: ...


def test_enum_alias_reads_members_stored_under_the_old_name() -> None:
    """An enum registered with an alias checks out members stored under the old name."""
    import enum

    @enact.register(name="compat_tests.Colour", aliases=("compat_tests.Color",))
    class Colour(enum.Enum):
        RED = 1

    from enact.digests import type_id_for

    wrapper = "enact.wrappers.EnumWrapper"
    tokens = (
        f"res[{type_id_for(wrapper, ['enum', 'name'])}'enum's'compat_tests.Color''name's'RED']"
    ).encode()
    with enact.InMemoryStore() as store:
        ref = store.commit_tokens(tokens, [], enact.Ref)
        assert ref() is Colour.RED
        assert enact.commit(Colour.RED) != ref  # new objects get the new name


TRIAGE_V1 = (
    FUNCTIONS_V1
    + TICKET_V1
    + """\

@enact.register
def open_ticket(title: str) -> Ticket:
    _ran("open_ticket")
    return Ticket(title, 2)

@enact.register
def triage(title: str) -> str:
    _ran("triage")
    ticket = open_ticket(title)
    return f"{ticket.title}: {ticket.priority}"
"""
)

RECORD_TRIAGE = """\
import app
invocation = enact.invoke(app.triage, ("printer on fire",), run_id="triage")
print(json.dumps(enact.commit(invocation).digest))
"""

REPLAY_TRIAGE = """\
import app
invocation = enact.Ref.from_digest({digest!r})()
try:
    replayed = invocation.rewind(0).replay(strict={strict})
except enact.ReplayError as err:
    result = {{"error": str(err), "difference": err.difference, "path": list(err.path),
              "cause": type(err.__cause__).__name__}}
else:
    result = {{"output": replayed.get_output()}}
run = enact.list_runs(limit=1)[0]
result.update(status=run.status, ledger=open("ledger.txt").read().split())
print(json.dumps(result))
"""


def test_a_recorded_result_of_a_renamed_class_stops_the_replay(program: Program) -> None:
    """A replay that meets a recorded output whose class was renamed without an alias stops
    with a ReplayError naming the call, the type and the fixes: the run is left interrupted,
    not recorded as raising the decoder's error, and the call is not run. Non-strict, the
    call runs again; with the old name as an alias, the record is reused."""
    program.module(TRIAGE_V1)
    digest = program.run(RECORD_TRIAGE)
    renamed = (
        TRIAGE_V1.replace("class Ticket(", "class Issue(")
        .replace("-> Ticket:\n", "-> Issue:\n")
        .replace("return Ticket(", "return Issue(")
    )
    program.module(renamed)

    (program.root / "ledger.txt").write_text("")
    read = program.run(REPLAY_TRIAGE.format(digest=digest, strict=True))
    assert read["difference"] == "unreadable record"
    assert read["path"] == [0]
    assert read["cause"] == "UnknownTypeError"
    assert read["status"] == "interrupted"
    assert read["ledger"] == ["triage"]  # open_ticket did not run
    message = read["error"]
    assert message.startswith(
        "Cannot replay open_ticket(CallArgs(args=['printer on fire'], kwargs={})): its "
        "recorded result cannot be read in this process.\n"
        "Replay stopped at call [0] (child 0 of the root invocation): it holds a "
        "app.Ticket, a type that is not registered in this process.\n"
        "  invokable: app.open_ticket\n"
    )
    assert "ticket = open_ticket(title)" in message
    assert "@enact.register(aliases=('app.Ticket',))" in message
    assert "--no-strict" in message

    (program.root / "ledger.txt").write_text("")
    read = program.run(REPLAY_TRIAGE.format(digest=digest, strict=False))
    assert read == {
        "output": "printer on fire: 2",
        "status": "complete",
        "ledger": ["triage", "open_ticket"],
    }

    program.module(
        renamed.replace(
            "@enact.register\n@dataclasses.dataclass\nclass Issue(",
            "@enact.register(aliases=('app.Ticket',))\n@dataclasses.dataclass\nclass Issue(",
        )
    )
    (program.root / "ledger.txt").write_text("")
    read = program.run(REPLAY_TRIAGE.format(digest=digest, strict=True))
    assert read == {"output": "printer on fire: 2", "status": "complete", "ledger": ["triage"]}


def test_a_recorded_result_of_a_changed_class_stops_the_replay(program: Program) -> None:
    """A recorded output whose class lost a field: the replay stops with the class's own
    incompatibility and points to migrating; nothing runs."""
    program.module(TRIAGE_V1)
    digest = program.run(RECORD_TRIAGE)
    program.module(
        TRIAGE_V1.replace("    priority: int\n", "").replace("Ticket(title, 2)", "Ticket(title)")
    )
    (program.root / "ledger.txt").write_text("")
    read = program.run(REPLAY_TRIAGE.format(digest=digest, strict=True))
    assert read["cause"] == "IncompatibleTypeError"
    assert read["status"] == "interrupted"
    assert read["ledger"] == ["triage"]
    assert "the stored field(s) ['priority'] are not fields of the class any more" in read["error"]
    assert "or migrate the stored objects: enact migrate." in read["error"]


APPROVAL_V1 = (
    TRIAGE_V1
    + """\

@enact.register
def approve(title: str) -> str:
    _ran("approve")
    ticket = open_ticket(title)
    if enact.request_input(bool, context=f"close {ticket.title}?"):
        return f"closed {ticket.title}"
    return "kept"
"""
)

WAIT_FOR_APPROVAL = """\
import app
enact.invoke(app.approve, ("printer on fire",), run_id="approval")
print(json.dumps(enact.get_run("approval").status))
"""

ANSWER_APPROVAL = """\
import app
requests = [list(path) for path, _ in enact.pending_input_requests(enact.get_run("approval"))]
try:
    run = enact.answer("approval", True, run_now=True)
except enact.ReplayError as err:
    result = {"error": str(err), "difference": err.difference, "path": list(err.path),
              "notes": err.__notes__}
else:
    result = {"output": run.invocation().get_output()}
result.update(requests=requests, status=enact.get_run("approval").status,
              ledger=open("ledger.txt").read().split())
print(json.dumps(result))
"""

RESUME_APPROVAL = """\
import app
run = enact.resume("approval")
print(json.dumps({"status": run.status, "output": run.invocation().get_output(),
                  "ledger": open("ledger.txt").read().split()}))
"""


def test_a_waiting_run_whose_earlier_result_changed_class_keeps_its_answer(
    program: Program,
) -> None:
    """A run waits for a person; a deploy changes the class of an earlier call's result
    incompatibly. Its request is still listed (the inbox does not decode finished calls'
    outputs), answering stops at that call with a ReplayError naming it (nothing runs),
    and the run is left interrupted with the answer kept: after the code is fixed, a
    resume finishes it with that answer, running no recorded call again."""
    program.module(APPROVAL_V1)
    (program.root / "ledger.txt").write_text("")
    assert program.run(WAIT_FOR_APPROVAL) == "waiting"
    program.module(
        APPROVAL_V1.replace("    priority: int\n", "").replace("Ticket(title, 2)", "Ticket(title)")
    )
    inbox = program.cli("inbox", imports=True)
    assert inbox.returncode == 0, inbox.stderr
    assert "close printer on fire?" in inbox.stdout

    read = program.run(ANSWER_APPROVAL)
    assert read["requests"] == [[1]]
    assert read["difference"] == "unreadable record"
    assert read["path"] == [0]
    assert read["error"].startswith("Cannot replay open_ticket(")
    assert read["status"] == "interrupted"
    assert read["notes"] == [
        "The answer is recorded: run 'approval' is interrupted, and `enact resume approval` "
        "(enact.resume) continues it with this answer once the program replays its journal "
        "again."
    ]
    # The first run, then the root again up to the call it could not replay.
    assert read["ledger"] == ["approve", "open_ticket", "approve"]

    program.module(APPROVAL_V1)
    (program.root / "ledger.txt").write_text("")
    assert program.run(RESUME_APPROVAL) == {
        "status": "complete",
        "output": "closed printer on fire",
        "ledger": ["approve"],
    }


def test_answering_from_the_command_line_after_an_incompatible_change_says_it_kept_it(
    program: Program,
) -> None:
    """`enact answer` shows the ReplayError and that the answer is kept (exit status 1)."""
    program.module(APPROVAL_V1)
    (program.root / "ledger.txt").write_text("")
    assert program.run(WAIT_FOR_APPROVAL) == "waiting"
    program.module(
        APPROVAL_V1.replace("    priority: int\n", "").replace("Ticket(title, 2)", "Ticket(title)")
    )
    done = program.cli("--import", "app", "answer", "approval", "--input", "yes", imports=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Cannot replay open_ticket(" in done.stderr
    assert "The answer is recorded: run 'approval' is interrupted, and `enact resume" in (
        " ".join(done.stderr.split())
    )
    assert program.cli("log", imports=True).stdout.count("interrupted") == 1


SCRIPT_WAITING = """\
import enact

@enact.register
def review(text: str) -> str:
    return text if enact.request_input(bool, context="publish?") else ""

if __name__ == "__main__":
    with enact.open_store({url!r}):
        enact.invoke(review, ("draft",), run_id="from-script")
"""


def test_a_run_started_by_a_script_says_how_to_continue_it_elsewhere(program: Program) -> None:
    """A function defined in a script run as __main__ is registered under that module name,
    which no other process has: answering its run elsewhere names the cause and the fix
    (a stable name, with the old one as an alias)."""
    script = program.root / "review_script.py"
    script.write_text(SCRIPT_WAITING.format(url=program.url))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=120)
    done = program.cli("answer", "from-script", "--input", "yes")
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert (
        "Type __main__.review is not registered in this process: it was registered by a "
        "program run as a script (its module was __main__), which no other process can "
        "import. Continue with that script, or move the definition into a module, naming it "
        "so that how the program is started does not change it and keeping this name as an "
        "alias: @enact.register(name='myapp.review', aliases=('__main__.review',)); then "
        "import that module here (--import MODULE)."
    ) in message
    # Resuming says first what the run's status allows, before any type is read.
    resumed = program.cli("resume", "from-script")
    assert resumed.returncode == 1
    assert "Run 'from-script' is waiting; it cannot be continued now" in resumed.stderr
    assert "It waits for input: answer it" in " ".join(resumed.stderr.split())
