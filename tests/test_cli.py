"""The `enact` command, driven as installed: subprocesses against real SQLite stores.

Stores are written by tests/helpers/cli_make_store.py with the types of
tests/helpers/cli_types.py, imported by the command with ``--import
helpers.cli_types`` (``tests`` is on PYTHONPATH). The interactive prompt of
``enact answer`` and the colours are driven through a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import enact

TESTS = pathlib.Path(__file__).parent
HELPERS = TESTS / "helpers"
TYPES = "helpers.cli_types"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _enact_command() -> list[str]:
    found = shutil.which("enact", path=str(pathlib.Path(sys.executable).parent))
    if found is None:
        pytest.fail("The enact console script is not installed: pip install -e '.[test]'")
    return [found]


def _env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ENACT_STORE", "ENACT_IMPORT", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def enact_cli(
    store: str | None, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the installed ``enact`` with ``--store`` `store` (None: leave it out)."""
    command = [*_enact_command(), *(["--store", store] if store else []), *args]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env=_env() if env is None else env,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Asserts success; returns standard output."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Asserts a failure reported as one ``enact:`` line naming `fragments`."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("enact: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, str]]:
    """A store written once per module: its file and the digests by role."""
    path = tmp_path_factory.mktemp("journal") / "store.db"
    result = subprocess.run(
        [sys.executable, str(HELPERS / "cli_make_store.py"), f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return path, json.loads(result.stdout)


@pytest.fixture
def store(journal: tuple[pathlib.Path, dict[str, str]], tmp_path: pathlib.Path) -> str:
    """The URL of a private copy of the journal store (tests may change it)."""
    source, _ = journal
    for suffix in ("", "-wal", "-shm"):
        if pathlib.Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", tmp_path / f"store.db{suffix}")
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def refs(journal: tuple[pathlib.Path, dict[str, str]]) -> dict[str, str]:
    """The digests the journal holds, by role (roll, confirm, fail, greet, greeting, seven)."""
    return journal[1]


def _path(url: str) -> pathlib.Path:
    return pathlib.Path(url.removeprefix("sqlite:///"))


def _last_run(output: str) -> str:
    match = re.search(r"^run (\S+) \((.*)\)$", output, re.M)
    assert match is not None, output
    return match.group(1)


def _last_ref(output: str) -> str:
    match = re.search(r"^ref ([0-9a-f]{64}) \((.*)\)$", output, re.M)
    assert match is not None, output
    return match.group(1)


# The command itself ------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    """``enact --help`` lists the nine commands and the store option."""
    out = ok(enact_cli(None, "--help"))
    commands = ("log", "show", "tree", "replay", "answer", "resume", "fork", "tag", "copy", "gc")
    for command in (*commands, "verify"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    assert "--store URL" in out and "--import MODULE" in out
    assert "Exit status: 0 success; 1 an error" in " ".join(out.split())


def test_python_dash_m_runs_the_same_command(store: str) -> None:
    """``python -m enact`` and ``python -m enact.cli`` are the same command as the script."""
    for module in ("enact", "enact.cli"):
        result = subprocess.run(
            [sys.executable, "-m", module, "--store", store, "log"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
        assert ok(result) == ok(enact_cli(store, "log"))


# log -----------------------------------------------------------------------------------


def test_log_lists_names_and_runs_newest_first_with_status(
    store: str, refs: dict[str, str]
) -> None:
    """Runs show time, call and status (complete, raised, waiting for input), newest first,
    apart from user names; no --import is needed."""
    out = ok(enact_cli(store, "log"))
    names, runs = out.split("Runs (4)")
    assert re.search(
        r"^greeting\s+" + refs["greeting"][:12] + r"\s+helpers\.cli_types\.Greeting$", names, re.M
    )
    assert "runs/" not in out
    rows = [line.split() for line in runs.strip().splitlines()[1:]]
    assert [row[0] for row in rows] == ["@1", "@2", "@3", "@4"]
    assert [row[-1] for row in rows] == ["greet", "fail", "confirm", "roll"]  # run ids
    by_run = {row[-1]: " ".join(row[3:-1]) for row in rows}
    assert by_run["greet"] == "waiting for input ask_greeting('Ada')"
    assert by_run["fail"] == "raised fail(1)"
    assert by_run["confirm"] == "waiting for input confirm_rolls(2)"
    assert by_run["roll"] == "complete roll_dice([RollDie(sides=6), RollDie(sides=20)])"
    assert "enact/" not in out  # the run index and journal entries are enact's own
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", row[1]) for row in rows)


def test_log_limit_and_empty_store(store: str, tmp_path: pathlib.Path) -> None:
    """--limit shows the newest runs and says how many are left out; an empty store says so."""
    out = ok(enact_cli(store, "log", "-n", "1"))
    assert "@1" in out and "@2" not in out
    assert "3 older run(s) not shown" in out
    enact.open_store(f"sqlite:///{tmp_path}/empty.db").close()
    assert "no names and no runs" in ok(enact_cli(f"sqlite:///{tmp_path}/empty.db", "log"))


def test_default_store_is_enact_store_or_dot_enact(store: str, tmp_path: pathlib.Path) -> None:
    """Without --store, ENACT_STORE is used, else .enact/store.db in the working directory."""
    out = ok(enact_cli(None, "log", env=_env(ENACT_STORE=store)))
    assert "Runs (4)" in out
    work = tmp_path / "work"
    (work / ".enact").mkdir(parents=True)
    shutil.copy(_path(store), work / ".enact" / "store.db")
    result = subprocess.run(
        [*_enact_command(), "log"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=work,
        timeout=120,
        check=False,
    )
    assert "Runs (4)" in ok(result)


# show ----------------------------------------------------------------------------------


def test_show_by_digest_prefix_name_and_run_index(store: str, refs: dict[str, str]) -> None:
    """REF is a full digest, a unique prefix, a name, or @N; the first line names the object."""
    greeting = refs["greeting"]
    for ref in (greeting, greeting[:8], greeting[:8].upper(), "greeting"):
        out = ok(enact_cli(store, "--import", TYPES, "show", ref))
        assert out.splitlines()[0] == f"{greeting}  helpers.cli_types.Greeting"
        assert "Greeting(text='Hello', times=2)" in out
    out = ok(enact_cli(store, "show", "@2"))
    assert out.splitlines()[0] == f"{refs['fail']}  enact.invocations.Invocation"
    assert ok(enact_cli(store, "show", refs["seven"][:6])).splitlines()[1] == "7"


def test_show_import_per_command_or_from_the_environment(store: str) -> None:
    """--import works on the group, on the command, and as ENACT_IMPORT."""
    for args, env in (
        (["show", "greeting", "--import", TYPES], _env()),
        (["show", "greeting"], _env(ENACT_IMPORT=TYPES)),
    ):
        assert "Greeting(text='Hello', times=2)" in ok(enact_cli(store, *args, env=env))


def test_store_and_import_may_follow_the_command(store: str, tmp_path: pathlib.Path) -> None:
    """--store and --import after the command name override those before it."""
    missing = f"sqlite:///{tmp_path}/missing.db"
    out = ok(enact_cli(missing, "show", "greeting", "--store", store, "--import", TYPES))
    assert "Greeting(text='Hello', times=2)" in out


def test_show_unregistered_type_is_shown_as_stored(store: str) -> None:
    """Without --import, a user type is shown as stored, with a note naming the type and
    the fix on standard error (issue 11: inspecting never needs the program's modules)."""
    result = enact_cli(store, "show", "greeting")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "Greeting(text='Hello', times=2)"
    assert "helpers.cli_types.Greeting is not registered here" in result.stderr
    assert "--import MODULE" in result.stderr


def test_show_raw_needs_no_import(store: str, refs: dict[str, str]) -> None:
    """--raw prints type names and fields as stored, without importing anything."""
    out = ok(enact_cli(store, "show", "--raw", "greeting"))
    assert out.splitlines()[1] == "Greeting(text='Hello', times=2)"
    out = ok(enact_cli(store, "show", "--raw", refs["roll"]))
    assert "<Ref: " in out


def test_import_of_a_missing_module_is_one_line(store: str) -> None:
    """A module that cannot be imported is named, with the fix."""
    one_line_error(
        enact_cli(store, "--import", "no_such_module_here", "log"),
        "Cannot import module 'no_such_module_here'",
        "PYTHONPATH",
    )


# REF errors -----------------------------------------------------------------------------


def test_unknown_ref_prefix_and_digest_are_one_line(store: str) -> None:
    """Unknown names, prefixes, digests and run numbers are one line with what to do."""
    one_line_error(enact_cli(store, "show", "nosuchname"), "No name 'nosuchname'", "enact log")
    one_line_error(
        enact_cli(store, "show", "ffffffffff"), "No object or name matches 'ffffffffff'", store
    )
    one_line_error(enact_cli(store, "show", "f" * 64), "No object " + "f" * 64, store)
    one_line_error(enact_cli(store, "tree", "@9"), "No run @9", "it has 4 run(s)")


def test_ambiguous_prefix_lists_candidates(tmp_path: pathlib.Path) -> None:
    """A prefix of several digests is an error listing them; a longer one resolves."""
    url = f"sqlite:///{tmp_path}/many.db"
    with enact.open_store(url) as many:
        digests = [many.commit(i).digest for i in range(1000)]
    many.close()
    seen: dict[str, str] = {}
    for digest in digests:
        if digest[:4] in seen:
            other = seen[digest[:4]]
            break
        seen[digest[:4]] = digest
    else:
        pytest.fail("1000 digests without a shared 4-digit prefix")
    line = one_line_error(enact_cli(url, "show", digest[:4]), "ambiguous", url)
    assert digest[:16] in line and other[:16] in line
    assert ok(enact_cli(url, "show", digest[:20])).startswith(digest)


def test_names_win_over_digest_prefixes(store: str, refs: dict[str, str]) -> None:
    """A name that looks like hex names the object it points at, not a prefix."""
    prefix = refs["roll"][:6]
    ok(enact_cli(store, "tag", prefix, "greeting"))
    out = ok(enact_cli(store, "show", "--raw", prefix))
    assert out.startswith(refs["greeting"])


def test_tree_of_something_else_than_an_invocation(store: str) -> None:
    """tree, replay and answer need an invocation, and say what REF is instead."""
    for command in ("tree", "replay", "answer"):
        one_line_error(
            enact_cli(store, command, "greeting"),
            "is a helpers.cli_types.Greeting, not an invocation",
            "enact show greeting",
        )


# Unreachable stores and damaged objects -------------------------------------------------


def test_unreachable_stores_are_one_line(tmp_path: pathlib.Path) -> None:
    """A missing file, a directory, a non-database file or a bad URL: one line, no file made."""
    missing = tmp_path / "missing.db"
    one_line_error(enact_cli(f"sqlite:///{missing}", "log"), f"No store at {missing}", "--store")
    assert not missing.exists()
    (tmp_path / "dir.db").mkdir()
    one_line_error(enact_cli(f"sqlite:///{tmp_path}/dir.db", "log"), "Cannot open store")
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    one_line_error(enact_cli(f"sqlite:///{tmp_path}/text.db", "log"), "Cannot open store")
    one_line_error(enact_cli("nosuch://x", "log"), "unknown URL scheme", "sqlite:///")
    one_line_error(enact_cli(f"file://{tmp_path}/nodir", "log"), "No store at")


def test_unreachable_postgres_is_one_line() -> None:
    """A PostgreSQL server that refuses connections is one line naming the server."""
    pytest.importorskip("psycopg")
    one_line_error(
        enact_cli("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2", "log"),
        "Cannot open store",
        "127.0.0.1:9",
    )


def _corrupt(url: str, digest: str) -> None:
    with sqlite3.connect(_path(url)) as db:
        key = bytes.fromhex(digest)
        (data,) = db.execute("SELECT data FROM objects WHERE digest = ?", (key,)).fetchone()
        db.execute("UPDATE objects SET data = ? WHERE digest = ?", (data + b" ", key))
    db.close()


def test_corrupt_object_is_one_line_and_verify_reports_it(store: str, refs: dict[str, str]) -> None:
    """A damaged object: one line naming it and the fix; verify lists it and exits 1."""
    ok(enact_cli(store, "verify"))
    _corrupt(store, refs["greeting"])
    one_line_error(
        enact_cli(store, "--import", TYPES, "show", "greeting"),
        f"Object {refs['greeting']}",
        "is corrupt",
        "Restore it",
    )
    result = enact_cli(store, "verify")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"corrupt: {refs['greeting']}" in result.stdout
    assert "1 corrupt, 0 dangling" in result.stdout
    log = ok(enact_cli(store, "log"))
    assert re.search(r"^greeting\s+\S+\s+\(corrupt\)$", log, re.M)


# tree ------------------------------------------------------------------------------------


def test_tree_shows_inputs_outputs_errors_and_waiting(store: str, refs: dict[str, str]) -> None:
    """Calls with their inputs and outputs, exceptions, and pending input requests."""
    out = ok(enact_cli(store, "--import", TYPES, "tree", refs["roll"]))
    lines = out.splitlines()
    assert re.fullmatch(r"roll_dice\(\[RollDie\(sides=6\), RollDie\(sides=20\)\]\) = \d+", lines[0])
    assert re.fullmatch(r"├── RollDie\(sides=6\)\(\) = [1-6]", lines[1])
    assert re.fullmatch(r"└── RollDie\(sides=20\)\(\) = \d+", lines[2])
    total = int(lines[0].rpartition("= ")[2])
    assert total == sum(int(line.rpartition("= ")[2]) for line in lines[1:])
    out = ok(enact_cli(store, "--import", TYPES, "tree", refs["fail"]))
    assert out.splitlines()[0] == "fail(1) raised ValueError: bad input 1"
    out = ok(enact_cli(store, "--import", TYPES, "tree", refs["confirm"]))
    assert out.splitlines()[0] == "confirm_rolls(2) waiting for input"
    pending = r"request_input\(str, for_value=\d, context='Should I reroll die #0\?'\)"
    assert re.search(pending + " waiting for input$", out)
    assert "\x1b[" not in out


def test_tree_raw_needs_no_import_and_matches(store: str, refs: dict[str, str]) -> None:
    """tree --raw reads journals without their types and prints the same tree."""
    for role in ("roll", "fail", "confirm", "greet"):
        raw = ok(enact_cli(store, "tree", "--raw", refs[role]))
        assert raw == ok(enact_cli(store, "--import", TYPES, "tree", refs[role])), role


def test_types_of_a_script_run_as_main(tmp_path: pathlib.Path) -> None:
    """Types defined in __main__ cannot be imported: replaying says so; tree reads them as
    stored."""
    script = tmp_path / "script.py"
    script.write_text(
        "import dataclasses, sys, enact\n"
        "@enact.register\n"
        "@dataclasses.dataclass\n"
        "class Double(enact.Invokable):\n"
        "    def call(self, x: int) -> int:\n"
        "        return 2 * x\n"
        "with enact.open_store(sys.argv[1]):\n"
        "    enact.invoke(Double(), (21,))\n"
    )
    url = f"sqlite:///{tmp_path}/main.db"
    subprocess.run([sys.executable, str(script), url], env=_env(), check=True)
    one_line_error(
        enact_cli(url, "replay", "@1", "--rewind", "0"),
        "__main__.Double",
        "run as a script (its module was __main__)",
        "aliases=('__main__.Double',)",
        "--raw",
    )
    assert ok(enact_cli(url, "tree", "@1")) == "Double(21) = 42\n"
    # Stored, a resource without fields looks like a registered function: no "()".
    assert ok(enact_cli(url, "tree", "--raw", "@1")) == "Double(21) = 42\n"


def test_tree_depth_collapses_and_full_keeps_long_values(tmp_path: pathlib.Path) -> None:
    """--depth N shows N levels and counts the rest; long values are cut unless --full."""
    script = tmp_path / "deep.py"
    script.write_text(
        "import sys, enact, helpers.cli_types as t\n"
        "with enact.open_store(sys.argv[1]) as s:\n"
        "    print(s.commit(enact.invoke(t.roll_dice, ([t.RollDie(i + 1) for i in range(60)],)))"
        ".digest)\n"
    )
    url = f"sqlite:///{tmp_path}/deep.db"
    made = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, env=_env(), check=True
    )
    digest = made.stdout.strip()
    out = ok(enact_cli(url, "--import", TYPES, "tree", digest, "--depth", "0"))
    assert out.splitlines()[1] == "└── … 60 child calls not shown (raise --depth to see them)"
    assert "…" in out.splitlines()[0] and len(out.splitlines()[0]) < 260
    full = ok(enact_cli(url, "--import", TYPES, "tree", digest, "--full"))
    assert "RollDie(sides=60)]" in full.splitlines()[0]
    assert len(full.splitlines()) == 61


# replay ----------------------------------------------------------------------------------


def test_replay_rewind_prints_new_tree_and_ref_and_logs_it(
    store: str, refs: dict[str, str]
) -> None:
    """--rewind 1 re-runs the last call, keeps the first; the new run is logged and named."""
    before = ok(enact_cli(store, "--import", TYPES, "tree", refs["roll"])).splitlines()
    out = ok(enact_cli(store, "replay", refs["roll"][:10], "--rewind", "1", "--import", TYPES))
    lines = out.splitlines()
    assert lines[1] == before[1]  # the first roll was replayed from the journal
    assert re.fullmatch(r"└── RollDie\(sides=20\)\(\) = \d+", lines[2])
    new = _last_ref(out)
    assert lines[-2] == f"ref {new} (complete)"
    run_id = _last_run(out)
    assert lines[-1] == f"run {run_id} (complete)"
    log = ok(enact_cli(store, "log"))
    assert re.search(rf"^@1 .* complete\s+roll_dice\(.*\)\s+{run_id}$", log, re.M)
    assert "Runs (5)" in log  # a replay is a new run; the replayed one is unchanged
    assert ok(enact_cli(store, "--import", TYPES, "tree", new)).splitlines() == lines[:-2]
    assert ok(enact_cli(store, "--import", TYPES, "tree", run_id)).splitlines() == lines[:-2]


def test_replay_of_a_complete_run_says_how_to_rerun(store: str, refs: dict[str, str]) -> None:
    """Replaying a complete invocation returns it and points at --rewind."""
    result = enact_cli(store, "--import", TYPES, "replay", refs["roll"])
    assert _last_ref(ok(result)) == refs["roll"]
    assert "--rewind N" in result.stderr


def test_replay_without_import_is_one_line(store: str, refs: dict[str, str]) -> None:
    """Replaying needs the invokable's module; without it, one line says which."""
    one_line_error(
        enact_cli(store, "replay", "@4", "--rewind", "1"),
        f"@4 ({refs['roll'][:12]})",
        "helpers.cli_types.",
        "--import helpers.cli_types",
    )


def test_replay_of_nondeterministic_code_says_where_and_how_to_fix(tmp_path: pathlib.Path) -> None:
    """A ReplayError: its first line is an ``enact:`` line, then the call, the diff, the fixes."""
    module = tmp_path / "drifting.py"
    module.write_text(
        "import enact, helpers.cli_types as t\n"
        "import os\n"
        "@enact.register\n"
        "def drift() -> int:\n"
        "    return t.RollDie(int(os.environ.get('SIDES', '6')))() + t.RollDie(2)()\n"
    )
    url = f"sqlite:///{tmp_path}/drift.db"
    env = _env()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import enact, drifting\nwith enact.open_store({url!r}):\n"
            "    enact.invoke(drifting.drift)",
        ],
        env=env,
        check=True,
        cwd=tmp_path,
    )
    env["SIDES"] = "8"
    result = enact_cli(url, "--import", "drifting", "replay", "@1", "--rewind", "1", env=env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("enact: @1 (") and "Expected invocation" in lines[0], lines
    assert "RollDie(sides=8)" in lines[0]
    assert lines[2].startswith("Replay stopped at call [0] (child 0 of the root invocation)")
    assert "    invokable.sides:" in lines
    assert "      recorded: 6" in lines and "      new:      8" in lines
    called = [line for line in lines if line.startswith("  called at: ")]
    assert len(called) == 1 and called[0].endswith("drifting.py:5 in drift"), lines
    assert any("--no-strict" in line for line in lines)


# answer ------------------------------------------------------------------------------------


def test_answer_with_inputs_continues_to_the_end(store: str, refs: dict[str, str]) -> None:
    """--input answers the requests in order (JSON objects for resources), then the run ends."""
    out = ok(
        enact_cli(
            store,
            "--import",
            TYPES,
            "answer",
            refs["greet"][:8],
            "--input",
            '{"text": "Hi", "times": 2}',
            "--input",
            "3",
        )
    )
    assert "context: Greet how?" in out and "type:    Greeting" in out
    assert "context: Extra exclamation marks?" in out and "type:    int" in out
    assert out.splitlines()[-5] == "ask_greeting('Ada') = 'Hi, AdaHi, Ada!!!'"
    assert out.splitlines()[-1].endswith("(complete)")
    # A digest is an invocation, not a run: answering it continues as a new run.
    new = _last_run(out)
    assert new != "greet"
    log = ok(enact_cli(store, "log"))
    assert re.search(
        r"^@1 .* complete\s+ask_greeting\('Ada'\)\s+" + re.escape(new) + "$", log, re.M
    )
    assert re.search(r"waiting for input\s+ask_greeting\('Ada'\)\s+greet\s*$", log, re.M)


def test_answer_list_and_partial_answers(store: str, refs: dict[str, str]) -> None:
    """--list shows the pending request; too few inputs leave the run waiting, and say so."""
    out = ok(enact_cli(store, "--import", TYPES, "answer", "greet", "--list"))
    assert out.splitlines() == [
        "Input request 1 of 1 (child call [0])",
        "  context: Greet how?",
        "  for:     Ada",
        "  type:    Greeting",
        '  answer:  JSON, e.g. {"text": …, "times": …}',
    ]
    result = enact_cli(
        store, "--import", TYPES, "answer", "greet", "--input", '{"text": "Yo", "times": 1}'
    )
    new = _last_ref(ok(result))
    assert "context: Extra exclamation marks?" not in result.stdout  # not shown: no answer left
    assert result.stdout.splitlines()[-2:] == [
        f"ref {new} (waiting for input)",
        "run greet (waiting for input)",
    ]
    assert "enact answer greet" in result.stderr
    out = ok(enact_cli(store, "--import", TYPES, "answer", "@1", "--input", "0"))
    assert "ask_greeting('Ada') = 'Yo, Ada'" in out
    assert out.splitlines()[-1] == "run greet (complete)"


def test_answer_errors_are_one_line(store: str, refs: dict[str, str]) -> None:
    """A wrong --input, or an invocation waiting for nothing, is one line."""
    one_line_error(
        enact_cli(store, "--import", TYPES, "answer", "greet", "--input", '{"text": "x"}'),
        "does not answer request 1",
        "$.times: missing: a required field of Greeting",
    )
    one_line_error(
        enact_cli(store, "--import", TYPES, "answer", refs["roll"]),
        "waits for no input",
        "complete",
    )
    one_line_error(enact_cli(store, "--import", TYPES, "answer", "roll"), "Run roll", "complete")
    one_line_error(
        enact_cli(store, "answer", "greet", "--input", '{"text": "x", "times": 1}'),
        "helpers.cli_types",
        "--import",
    )


def test_answer_reads_piped_answers_from_standard_input(store: str, refs: dict[str, str]) -> None:
    """Without --input, answers are read from standard input, rounds after rounds."""
    result = enact_cli(store, "--import", TYPES, "answer", "confirm", stdin="yes\nno\nno\n")
    out = ok(result)
    assert out.count("context: Should I reroll die #0?") == 2
    assert out.count("context: Should I reroll die #1?") == 1
    assert re.search(r"^confirm_rolls\(2\) = \d+$", out, re.M)
    assert out.splitlines()[-1].endswith("(complete)")


def _log_row(store: str, run_id: str) -> str:
    rows = [line for line in ok(enact_cli(store, "log")).splitlines() if line.startswith("@")]
    found = [" ".join(row.split()[3:-1]) for row in rows if row.split()[-1] == run_id]
    assert len(found) == 1, rows  # one row per run, however often it was answered
    return found[0]


def test_answering_keeps_one_row_per_run(store: str) -> None:
    """Each answer moves the same run: the log keeps one row for it, with its latest status."""
    ok(enact_cli(store, "--import", TYPES, "answer", "confirm", "--input", "yes"))
    assert _log_row(store, "confirm") == "waiting for input confirm_rolls(2)"
    out = ok(enact_cli(store, "--import", TYPES, "answer", "confirm", "--input", "no"))
    assert out.splitlines()[-1] == "run confirm (waiting for input)"
    out = ok(enact_cli(store, "--import", TYPES, "answer", "@3", "--input", "no"))
    assert out.splitlines()[-1] == "run confirm (complete)"  # @3: runs keep their start order
    assert re.match(r"complete confirm_rolls\(2\)", _log_row(store, "confirm"))
    assert "Runs (4)" in ok(enact_cli(store, "log"))


def test_answering_an_answered_run_is_refused_before_prompting(store: str) -> None:
    """--record-only leaves the run answered; answering it again fails before any prompt;
    resume continues it, keeping its id."""
    greeting = '{"text": "Yo", "times": 1}'
    result = enact_cli(
        store, "--import", TYPES, "answer", "greet", "--record-only", "--input", greeting
    )
    assert ok(result).splitlines()[-1] == "run greet (answered)"
    assert "enact resume greet" in result.stderr
    assert _log_row(store, "greet") == "answered ask_greeting('Ada')"
    refused = enact_cli(store, "--import", TYPES, "answer", "greet", stdin="0\n")
    one_line_error(refused, "Run greet waits for no input", "'answered'", "enact resume")
    assert "Input request" not in refused.stdout and "Answer (" not in refused.stdout
    out = ok(enact_cli(store, "--import", TYPES, "resume", "greet"))
    assert out.splitlines()[-1] == "run greet (waiting for input)"
    out = ok(enact_cli(store, "--import", TYPES, "answer", "greet", "--input", "1"))
    assert "ask_greeting('Ada') = 'Yo, Ada!'" in out
    one_line_error(enact_cli(store, "--import", TYPES, "resume", "greet"), "greet", "complete")


def test_answer_checks_types_before_prompting(store: str) -> None:
    """Without --import the answer fails on the unregistered type, before asking anything."""
    result = enact_cli(store, "answer", "greet", stdin='{"text": "a", "times": 1}\n')
    one_line_error(result, "helpers.cli_types", "--import")
    assert "Answer (" not in result.stdout
    assert _log_row(store, "greet") == "waiting for input ask_greeting('Ada')"


def test_answer_of_a_run_held_by_another_process_is_refused(store: str) -> None:
    """A run another live process holds is refused, naming its status, before any prompt."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, enact, helpers.cli_types\n"
            "from enact.invocations.runs import claim\n"
            f"store = enact.open_store({store!r})\n"
            "claim('greet', store=store)\n"
            "print('claimed', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "claimed\n"
        result = enact_cli(store, "--import", TYPES, "answer", "greet", stdin="x\n")
        one_line_error(result, "Run greet", "'running'", "another process")
        assert "Answer (" not in result.stdout
        assert _log_row(store, "greet") == "running ask_greeting('Ada')"
    finally:
        holder.communicate("", timeout=60)
    assert _log_row(store, "greet") == "interrupted ask_greeting('Ada')"  # the holder is gone


def test_fork_makes_a_new_run_and_leaves_the_old_one(store: str) -> None:
    """A fork starts from the run's head with its status; answering it leaves the original."""
    out = ok(enact_cli(store, "fork", "greet", "--run-id", "greet-2"))
    assert out.strip() == "run greet-2 (waiting for input) forked from greet"
    out = ok(
        enact_cli(
            store,
            "--import",
            TYPES,
            "answer",
            "greet-2",
            "--input",
            '{"text": "A", "times": 1}',
            "--input",
            "0",
        )
    )
    assert out.splitlines()[-1] == "run greet-2 (complete)"
    assert _log_row(store, "greet") == "waiting for input ask_greeting('Ada')"
    assert _log_row(store, "greet-2") == "complete ask_greeting('Ada')"
    one_line_error(enact_cli(store, "fork", "greet", "--run-id", "greet-2"), "greet-2", "exists")
    history = ok(enact_cli(store, "log", "--history", "greet-2")).splitlines()
    assert history[0] == "Run greet-2"
    states = [line.split() for line in history[2:]]
    events = [" ".join(row[-1:] if row[3] != "waiting" else row[6:]) for row in states]
    forked = events.index("forked from greet")  # then the states of greet it came from
    # Each answer claims the waiting state and records the answer in one step.
    assert [row[3] for row in states[:forked]] == ["complete", "running", "waiting", "running"]
    assert events[-1] == "started"
    oldest = states[forked][0]  # the forked state: answer it again, as a third run
    out = ok(enact_cli(store, "fork", "greet-2", "--state", oldest, "--run-id", "greet-3"))
    assert out.strip() == "run greet-3 (waiting for input) forked from greet-2"


def test_replay_and_resume_of_a_raising_run_exit_with_3(store: str) -> None:
    """A replay whose new run raised prints its tree and exits with 3 and the exception."""
    result = enact_cli(store, "--import", TYPES, "replay", "fail")
    assert result.returncode == 3, result.stderr
    assert re.search(r"^run \S+ \(raised\)$", result.stdout, re.M)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enact: Run "), lines
    assert "raised ValueError: bad input 1" in lines[0]
    assert ok(enact_cli(store, "--import", TYPES, "replay", "roll", "--rewind", "0"))
    usage = enact_cli(store, "replay", "roll", "--rewind", "x")
    assert usage.returncode == 2


# The terminal: colours, progress bars, and the interactive prompt ---------------------------


class Terminal:
    """A command running in a pseudo-terminal: read what it shows, type answers."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.fd, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=child, stdout=child, stderr=child, env=env, start_new_session=True
        )
        os.close(child)
        self.seen = ""
        self._read_to = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the command ended and closed the terminal
            return False
        if not chunk:
            return False
        self.seen += chunk.decode("utf-8", "replace")
        return True

    def expect(self, text: str, timeout: float = 60) -> str:
        """Waits until `text` appears (after what earlier calls matched); returns the output."""
        deadline = time.monotonic() + timeout
        while True:
            plain = ANSI.sub("", self.seen)
            found = plain.find(text, self._read_to)
            if found >= 0:
                self._read_to = found + len(text)
                return plain
            if time.monotonic() > deadline or not self._read(0.2):
                if text in ANSI.sub("", self.seen)[self._read_to :]:
                    continue
                raise AssertionError(f"{text!r} not shown; the terminal shows:\n{plain}")

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self, timeout: float = 60) -> int:
        """Reads until the command ends; returns its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.2):
            pass
        os.close(self.fd)
        return self.process.wait(timeout=max(deadline - time.monotonic(), 1))


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for term in started:
        if term.process.poll() is None:
            term.process.kill()
            term.process.wait()


def _in_terminal(started: list[Terminal], store: str, *args: str, **env: str) -> Terminal:
    term = Terminal(
        [*_enact_command(), "--store", store, *args], _env(TERM="xterm-256color", **env)
    )
    started.append(term)
    return term


def test_answer_prompts_in_a_terminal(
    store: str, refs: dict[str, str], terminal: list[Terminal]
) -> None:
    """The prompt shows each request's context, value and type, re-asks after a bad answer,
    and continues the run with the answers typed."""
    term = _in_terminal(terminal, store, "--import", TYPES, "answer", "greet")
    term.expect("context: Greet how?")
    term.expect("for:     Ada")
    term.expect("Answer (Greeting): ")
    term.type('{"text": "Hey"}')
    term.expect("Not a valid answer")
    term.expect("Answer (Greeting): ")
    term.type('{"text": "Hey", "times": 1}')
    term.expect("context: Extra exclamation marks?")
    term.expect("Answer (int): ")
    term.type("2")
    shown = term.expect("(complete)")
    assert term.finish() == 0
    assert "ask_greeting('Ada') = 'Hey, Ada!!'" in shown


def test_answer_prompt_rounds_until_the_run_completes(
    store: str, refs: dict[str, str], terminal: list[Terminal]
) -> None:
    """The spec's reroll loop: each answer continues the run, which asks again."""
    term = _in_terminal(terminal, store, "--import", TYPES, "answer", "confirm")
    term.expect("Should I reroll die #0?")
    term.expect("type:    str")
    term.expect("Answer (str): ")
    term.type("yes")
    term.expect("Should I reroll die #0?")
    term.expect("Answer (str): ")
    term.type("no")
    term.expect("Should I reroll die #1?")
    term.expect("Answer (str): ")
    term.type("no")
    shown = term.expect("(complete)")
    assert term.finish() == 0
    assert re.search(
        r"request_input\(str, for_value=\d, context='Should I reroll die #0\?'\) = 'yes'", shown
    )


def test_answer_prompt_ctrl_d_without_answer_is_one_line(
    store: str, refs: dict[str, str], terminal: list[Terminal]
) -> None:
    """Ending the input before any answer leaves the run as it was and says so."""
    term = _in_terminal(terminal, store, "--import", TYPES, "answer", "confirm")
    term.expect("Answer (str): ")
    os.write(term.fd, b"\x04")
    shown = term.expect("still waits for input")
    assert term.finish() == 1
    assert "Traceback" not in shown


def test_terminal_output_is_coloured_unless_no_color(
    store: str, refs: dict[str, str], terminal: list[Terminal]
) -> None:
    """In a terminal the tree and the log are coloured; NO_COLOR turns colours off."""
    term = _in_terminal(terminal, store, "--import", TYPES, "tree", refs["fail"])
    term.expect("bad input 1")
    assert term.finish() == 0
    assert "\x1b[31m" in term.seen or "\x1b[1;31m" in term.seen or "\x1b[" in term.seen
    assert re.search(r"\x1b\[[0-9;]*31m", term.seen), term.seen
    term = _in_terminal(terminal, store, "--import", TYPES, "tree", refs["fail"], NO_COLOR="1")
    term.expect("bad input 1")
    assert term.finish() == 0
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", term.seen), term.seen


def test_progress_bars_in_a_terminal(store: str, terminal: list[Terminal]) -> None:
    """verify and gc draw progress bars in a terminal, then print their summary."""
    term = _in_terminal(terminal, store, "verify")
    shown = term.expect("0 corrupt, 0 dangling ref(s)")
    assert term.finish() == 0
    assert re.search(r"verify\s+━+ (\d+)/\1 ", shown), shown
    term = _in_terminal(terminal, store, "gc", "--grace", "0")
    shown = term.expect("deleted.")
    assert term.finish() == 0
    assert re.search(r"gc: mark\s+━+ (\d+)/\1 ", shown), shown
    piped = enact_cli(store, "verify")
    assert re.match(r"\d+ object\(s\) checked", ok(piped)) and piped.stderr == ""  # no bars


# tag, copy, gc, verify ----------------------------------------------------------------------


def test_tag_sets_moves_with_force_and_deletes(store: str, refs: dict[str, str]) -> None:
    """tag points a name at a REF; moving it needs --force; --delete removes it."""
    assert ok(enact_cli(store, "tag", "best", "@4")) == f"best -> {refs['roll']}\n"
    one_line_error(enact_cli(store, "tag", "best", "@2"), "already points at", "--force")
    out = ok(enact_cli(store, "tag", "best", "@2", "--force"))
    assert out == f"best -> {refs['fail']} (was {refs['roll'][:12]})\n"
    assert ok(enact_cli(store, "show", "best")).startswith(refs["fail"])
    ok(enact_cli(store, "tag", "--delete", "best"))
    one_line_error(enact_cli(store, "show", "best"), "No name 'best'")
    one_line_error(enact_cli(store, "tag", "--delete", "best"), "No name 'best'")
    one_line_error(enact_cli(store, "tag", "x", "nosuch"), "No name 'nosuch'")


def test_copy_sends_closures_and_names_to_another_store(
    store: str, refs: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """copy writes what REFs reach to the target, sets names given by name, skips what is there."""
    target = f"sqlite:///{tmp_path}/target.db"
    out = ok(enact_cli(store, "copy", "--to", target, "greeting", "@4"))
    assert re.fullmatch(
        r"Copied \d+ object\(s\) \(.+\) to .*target\.db; 0 were already there; "
        r"3 name\(s\) set\.\n",  # greeting, and the run's head and index entry
        out,
    ), out
    out = ok(enact_cli(target, "log"))
    assert "greeting" in out and "Runs (1)" in out
    assert re.search(r"^@1 .* complete\s+roll_dice\(.*\)\s+roll$", out, re.M)
    tree = ok(enact_cli(target, "--import", TYPES, "tree", refs["roll"]))
    assert tree == ok(enact_cli(store, "--import", TYPES, "tree", refs["roll"]))
    out = ok(enact_cli(store, "copy", "--to", target, "--all"))
    assert "6 name(s) set" in out  # the other three runs' heads and index entries
    assert "Runs (4)" in ok(enact_cli(target, "log"))
    assert "0 corrupt, 0 dangling" in ok(enact_cli(target, "verify"))
    one_line_error(enact_cli(store, "copy", "--to", store, "@1"), "is the source store")


def test_gc_deletes_only_what_no_name_reaches(store: str, refs: dict[str, str]) -> None:
    """gc keeps named objects and logged runs; an unnamed object goes once the grace is over."""
    with enact.open_store(store) as opened:
        loose = opened.commit("not named anywhere").digest
    opened.close()
    out = ok(enact_cli(store, "gc", "--dry-run"))
    assert "0 would be deleted" in out
    out = ok(enact_cli(store, "gc", "--grace", "0", "--dry-run"))
    assert "2 would be deleted" in out  # the string, and the 7 the journal left unnamed
    out = ok(enact_cli(store, "gc", "--grace", "0"))
    assert re.search(r"\d+ object\(s\) reachable from names, 0 recent kept, 2 deleted\.", out)
    one_line_error(enact_cli(store, "show", loose), "No object " + loose)
    one_line_error(enact_cli(store, "show", refs["seven"]), "No object " + refs["seven"])
    assert "0 corrupt, 0 dangling" in ok(enact_cli(store, "verify"))
    ok(enact_cli(store, "--import", TYPES, "tree", refs["roll"]))


def test_verify_reports_dangling_refs(store: str, refs: dict[str, str]) -> None:
    """An object deleted behind enact's back shows up as dangling, exit status 1."""
    request = refs["greeting"]
    with sqlite3.connect(_path(store)) as db:
        db.execute("DELETE FROM objects WHERE digest = ?", (bytes.fromhex(request),))
    db.close()
    result = enact_cli(store, "verify")
    assert result.returncode == 1
    assert f"dangling: {request}" in result.stdout and "name 'greeting'" in result.stdout
    one_line_error(enact_cli(store, "show", "greeting"), f"Object {request} is not in the store")


# The prefix lookup behind REF, on every backend ----------------------------------------------


def test_digests_with_prefix_on_every_backend(make_backend: Any) -> None:
    """Backends list the digests with a prefix (database backends from their index)."""
    backend = make_backend()
    with enact.Store(backend) as opened:
        digests = sorted(opened.commit(i).digest for i in range(300))
    prefix = digests[0][:2]
    expected = [digest for digest in digests if digest.startswith(prefix)]
    assert backend.digests_with_prefix(prefix) == expected
    assert backend.digests_with_prefix(prefix, limit=1) == expected[:1]
    assert backend.digests_with_prefix(digests[7]) == [digests[7]]
    assert backend.digests_with_prefix(digests[7][:5]) == [
        digest for digest in digests if digest.startswith(digests[7][:5])
    ]
    assert backend.digests_with_prefix("") == digests
    missing = next(
        f"{i:03x}" for i in range(4096) if not any(d.startswith(f"{i:03x}") for d in digests)
    )
    assert backend.digests_with_prefix(missing) == []
    with pytest.raises(ValueError):
        backend.digests_with_prefix("ABC")
