"""`enact log`, `inbox`, `--json`, and terminal safety: the installed command on real stores.

Stores are written in this process with the functions of tests/helpers; the
command runs as a subprocess, piped or in a pseudo-terminal of a given width
(what a person sees), and the bytes it writes are checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.cli_hostile import EVIL, LETTER, approve, explode
from helpers.cli_types import RollDie, confirm_rolls, fail, roll_dice
from helpers.terminal import run_in_terminal

import enact
from enact.digests import type_id_for

TESTS = pathlib.Path(__file__).parent
ANSI_SGR = re.compile(r"\x1b\[[0-9;]*m")
"""The only escape sequences the command may write itself in these tests: colours."""


def _env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ENACT_STORE", "ENACT_IMPORT", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _command() -> list[str]:
    found = shutil.which("enact", path=str(pathlib.Path(sys.executable).parent))
    assert found is not None, "the enact console script is not installed"
    return [found]


def enact_cli(store: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), "--store", store, *args],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=300,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enact: "), result.stderr
    assert "Unexpected error" not in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def in_terminal(store: str, *args: str, columns: int = 80, typed: str = "") -> str:
    """Runs the command in a pseudo-terminal `columns` wide; returns what it wrote."""
    command = [*_command(), "--store", store, *args]
    seen = run_in_terminal(
        command, _env(TERM="xterm-256color"), columns=columns, typed=typed.encode()
    )
    return seen.decode("utf-8", "replace")


def visible(shown: str) -> list[str]:
    """The lines a terminal shows (colours removed, CR LF as newlines)."""
    return ANSI_SGR.sub("", shown).replace("\r\n", "\n").splitlines()


# Stores ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runs with long calls and generated run ids, waiting, raised and complete."""
    path = tmp_path_factory.mktemp("runs") / "store.db"
    url = f"sqlite:///{path}"
    store = enact.open_store(url)
    with store:
        enact.invoke(roll_dice, ([RollDie(sides) for sides in range(2, 40)],))
        enact.invoke(confirm_rolls, (2,))
        enact.invoke(fail, (3,))
        for _ in range(4):
            enact.invoke(roll_dice, ([RollDie()],))
        enact.invoke(approve, (LETTER,), run_id="letter")
    store.close()
    yield url


@pytest.fixture
def hostile_store(tmp_path: pathlib.Path) -> str:
    """Stored text that would drive a terminal: in a context, an exception, a type name, a name."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = enact.open_store(url)
    with store:
        enact.invoke(approve, ("ok?" + EVIL,), run_id="evil-ask")
        enact.invoke(explode, ("!",), run_id="evil-raise")
        data = b"res[" + type_id_for("evil" + EVIL, []).encode() + b"]"
        digest = hashlib.sha256(data).hexdigest()
        store.backend.commit(enact.PackedResource(digest, data, []))
        store.set_name("type [/INST] [bold]x", enact.Ref._unchecked(digest))
        store.set_name("value", store.commit([EVIL, {"k": EVIL}]))
    store.close()
    return url


# log ---------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_log_keeps_number_time_status_and_run_whole_at_any_width(
    runs_store: str, columns: int
) -> None:
    """Only the call text is cut to fit; every other column is shown whole."""
    run_ids = [
        json.loads(line)["id"] for line in ok(enact_cli(runs_store, "log", "--json")).splitlines()
    ]
    assert len(run_ids) == 8
    lines = visible(in_terminal(runs_store, "log", columns=columns))
    rows = [line for line in lines if line.startswith("@")]
    assert len(rows) == 8, lines
    for number, (row, run_id) in enumerate(zip(rows, run_ids, strict=True), 1):
        assert len(row.rstrip()) <= columns, row
        assert row.startswith(f"@{number} "), row
        assert re.search(r"\d\d-\d\d \d\d:\d\d", row), row
        assert re.search(r"\b(complete|raised|waiting)\b", row), row
        assert row.rstrip().endswith(run_id), row
    long_call = rows[-1]  # the first run: roll_dice of 38 dice
    assert "…" in long_call  # the 38 dice do not fit even at 120 columns


def test_log_filters_by_status_function_and_time(runs_store: str) -> None:
    waiting = ok(enact_cli(runs_store, "log", "--status", "waiting", "--json"))
    assert {json.loads(line)["function"].rpartition(".")[2] for line in waiting.splitlines()} == {
        "confirm_rolls",
        "approve",
    }
    raised = [
        json.loads(line)
        for line in ok(enact_cli(runs_store, "log", "--status", "raised", "--json")).splitlines()
    ]
    assert [run["call"] for run in raised] == ["fail(3)"]
    rolls = ok(enact_cli(runs_store, "log", "--function", "roll_dice", "--json")).splitlines()
    assert len(rolls) == 5
    # The numbers are the @N of the unfiltered list: `enact tree @N` shows that run.
    numbers = [json.loads(line)["number"] for line in rolls]
    assert numbers == [2, 3, 4, 5, 8]
    assert ok(enact_cli(runs_store, "log", "--since", "1h", "--json")).count("\n") == 8
    assert ok(enact_cli(runs_store, "log", "--until", "1h")).startswith("No run in store")
    assert ok(enact_cli(runs_store, "log", "--since", "2999-01-01")).startswith("No run")
    assert ok(enact_cli(runs_store, "log", "--until", "2999-01-01T00:00+00:00", "-n", "1"))
    table = ok(enact_cli(runs_store, "log", "--status", "waiting"))
    assert "@1 " in table and "@7 " in table and "raised" not in table
    result = enact_cli(runs_store, "log", "--since", "yesterday")
    assert result.returncode == 2 and "neither a date and time" in result.stderr


def test_log_pages_with_a_cursor(runs_store: str) -> None:
    """A list cut off by -n ends with the command for the next page, which continues it."""
    first = ok(enact_cli(runs_store, "log", "-n", "3"))
    assert "5 older run(s) not shown" in first
    command = re.search(r"the next page: enact log (--before \S+ -n 3)", first)
    assert command is not None, first
    second = ok(enact_cli(runs_store, "log", *command.group(1).split()))
    assert [line.split()[0] for line in second.splitlines() if line.startswith("@")] == [
        "@4",
        "@5",
        "@6",
    ]
    everything = [
        json.loads(line) for line in ok(enact_cli(runs_store, "log", "--json")).splitlines()
    ]
    cursor = everything[2]["cursor"]
    page = [
        json.loads(line)
        for line in ok(
            enact_cli(runs_store, "log", "--json", "--before", cursor, "-n", "2")
        ).splitlines()
    ]
    assert [run["id"] for run in page] == [run["id"] for run in everything[3:5]]
    assert [run["number"] for run in page] == [4, 5]
    one_line_error(enact_cli(runs_store, "log", "--before", "@3"), "is not a cursor")


def test_log_json_lines_follow_the_schema(runs_store: str) -> None:
    lines = ok(enact_cli(runs_store, "log", "--json")).splitlines()
    for line in lines:
        run = json.loads(line)
        assert set(run) >= {
            "number",
            "id",
            "status",
            "function",
            "call",
            "head",
            "created",
            "cursor",
        }
        assert re.fullmatch(r"[0-9a-f]{64}", run["head"])
    history = ok(enact_cli(runs_store, "log", "--history", "letter", "--json")).splitlines()
    states = [json.loads(line) for line in history]
    assert states[0]["status"] == "waiting" and states[-1]["event"] == "started"
    assert all(state["run"] == "letter" for state in states)


# inbox -------------------------------------------------------------------------------


def test_inbox_lists_pending_requests_across_runs(runs_store: str) -> None:
    table = ok(enact_cli(runs_store, "inbox"))
    lines = table.splitlines()
    assert lines[0] == "Inbox (2 request(s))"
    assert re.match(r"run\s+path\s+type\s+context\s+age", lines[1])
    letter = next(line for line in lines if line.startswith("letter"))
    assert re.search(r"letter\s+0\s+bool\s+Send it\? .*\d+[smhd]\s*$", letter)
    assert "\\x1b" in letter and "\x1b" not in table  # the hostile context, escaped
    items = [json.loads(line) for line in ok(enact_cli(runs_store, "inbox", "--json")).splitlines()]
    by_function = {item["function"].rpartition(".")[2]: item for item in items}
    assert by_function["approve"]["path"] == [0]
    assert by_function["approve"]["requested_label"] == "bool"
    assert by_function["approve"]["context"] == "Send it?\n" + EVIL
    assert by_function["confirm_rolls"]["requested_label"] == "str"
    assert by_function["confirm_rolls"]["path"] == [1]
    assert all(item["age_seconds"] >= 0 for item in items)
    narrow = visible(in_terminal(runs_store, "inbox", columns=80))
    assert all(len(line.rstrip()) <= 80 for line in narrow), narrow
    assert ok(enact_cli(runs_store, "inbox", "--function", "fail")).startswith("No run in store")


# --json of show and tree ---------------------------------------------------------------


def test_show_and_tree_json_need_no_import(runs_store: str) -> None:
    shown = json.loads(ok(enact_cli(runs_store, "show", "--json", "letter")))
    assert shown["schema"] == 1 and shown["type"] == "enact.invocations.Invocation"
    tree = json.loads(ok(enact_cli(runs_store, "tree", "--json", "letter")))
    assert tree["status"] == "waiting" and tree["args"] == [LETTER]
    (child,) = tree["children"]
    assert child["status"] == "waiting" and child["path"] == [0]
    assert child["exception"]["request"]["requested_label"] == "bool"
    raised = json.loads(ok(enact_cli(runs_store, "tree", "--json", "--depth", "0", "@6")))
    assert raised["exception"]["type"] == "builtins.ValueError"
    assert raised["children"] is None and raised["child_count"] == 1
    value = enact_cli(runs_store, "show", "--json", raised["exception"]["ref"])
    assert json.loads(ok(value))["value"]["fields"]["message"] == "bad input 3"
    not_a_tree = enact_cli(runs_store, "tree", "--json", raised["exception"]["ref"])
    one_line_error(not_a_tree, "not an invocation")


# Approving text --------------------------------------------------------------------------


def test_a_string_to_approve_is_shown_as_wrapped_text(runs_store: str) -> None:
    """Its lines are kept and long ones wrap under the label; no repr quotes or \\n escapes."""
    lines = visible(
        in_terminal(
            runs_store, "--import", "helpers.cli_hostile", "answer", "letter", "--list", columns=80
        )
    )
    start = next(i for i, line in enumerate(lines) if line.startswith("  for:"))
    assert lines[start] == "  for:     Hi Dana,"
    assert lines[start + 1].strip() == ""
    assert lines[start + 2] == "           enact journals every call."
    assert lines[start + 3] == "             Indented line, kept."
    assert lines[start + 5] == "           Best,"
    wrapped = lines[start + 6 : start + 9]
    assert all(line.startswith("           ") and len(line) <= 80 for line in wrapped), wrapped
    assert "'Hi Dana" not in "\n".join(lines) and "\\n" not in lines[start]


# Terminal safety ---------------------------------------------------------------------------


def _assert_safe(shown: str) -> None:
    """No escape sequence but colours, no C1 control, no bidi override; markup is text."""
    without_colours = ANSI_SGR.sub("", shown)
    assert "\x1b" not in without_colours, without_colours
    assert "\x9b" not in shown and "\u202e" not in shown and "\x07" not in shown


@pytest.mark.parametrize(
    "args",
    [
        ("log",),
        ("inbox",),
        ("tree", "evil-raise", "--raw"),
        ("tree", "evil-ask", "--raw"),
        ("--import", "helpers.cli_hostile", "tree", "evil-raise"),
        ("--import", "helpers.cli_hostile", "tree", "evil-ask"),
        ("--import", "helpers.cli_hostile", "answer", "evil-ask", "--list"),
        ("show", "--raw", "value"),
        ("show", "value"),
        ("show", "--raw", "type [/INST] [bold]x"),
        ("log", "--history", "evil-ask"),
    ],
)
def test_stored_escape_sequences_and_markup_are_shown_as_text(
    hostile_store: str, args: tuple[str, ...]
) -> None:
    shown = in_terminal(hostile_store, *args, columns=200)
    _assert_safe(shown)
    text = "\n".join(visible(shown))
    assert "Unexpected error" not in text and "Traceback" not in text, text
    piped = enact_cli(hostile_store, *args)
    assert piped.returncode == 0, piped.stderr
    _assert_safe(piped.stdout + piped.stderr)
    if args[-1] not in ("inbox",) and "--history" not in args:
        assert "[/INST]" in text or "[/INST]" in piped.stdout, text  # markup printed as text


def test_an_unregistered_hostile_type_name_is_escaped_in_the_note(hostile_store: str) -> None:
    """show without the type's module prints the object as stored, with a note that is safe."""
    result = enact_cli(hostile_store, "show", "type [/INST] [bold]x")
    shown = ok(result)
    _assert_safe(shown)
    _assert_safe(result.stderr)
    (note,) = result.stderr.strip().splitlines()
    assert note.startswith("Shown as stored: type evil\\x1b]0;pwned")
    assert "[/INST]" in note and note.endswith("shows it as the program's classes.")
    log = ok(enact_cli(hostile_store, "log"))
    assert "type [/INST] [bold]x" in log and "\\x1b]0;pwned" in log
    _assert_safe(log)


def test_tag_with_markup_in_the_name(hostile_store: str) -> None:
    """rich markup in a name is a name like any other (it used to exit 1 after setting it)."""
    out = ok(enact_cli(hostile_store, "tag", "[/]", "value"))
    assert out.startswith("[/] -> ")
    assert "[/]" in ok(enact_cli(hostile_store, "log"))
    assert ok(enact_cli(hostile_store, "tag", "--delete", "[/]")).startswith("Deleted name [/]")


# Limits ---------------------------------------------------------------------------------


def test_absurdly_long_refs_are_one_clear_line(hostile_store: str) -> None:
    one_line_error(enact_cli(hostile_store, "show", "a" * 70), "70 hex digits", "a digest has 64")
    one_line_error(enact_cli(hostile_store, "show", "x" * 5000), "5,000 characters long")
    one_line_error(enact_cli(hostile_store, "tree", "@" + "9" * 40), "No run @")


def test_show_raw_of_a_huge_int_reads_it_as_text(tmp_path: pathlib.Path) -> None:
    """A 3-million-digit int (hand-built) is shown by its length and ends, read in linear time."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = enact.open_store(url)
    data = b"seq[i-" + b"7" * 3_000_000 + b"]"
    digest = hashlib.sha256(data).hexdigest()
    with store:
        store.backend.commit(enact.PackedResource(digest, data, []))
        store.set_name("huge", enact.Ref._unchecked(digest))
    store.close()
    out = ok(enact_cli(url, "show", "--raw", "huge"))
    assert "[<int of 3,000,000 digits: -777777777777…777777777777>]" in out
    shown = json.loads(ok(enact_cli(url, "show", "--json", "huge")))
    assert shown["value"] == [{"$int": "-" + "7" * 3_000_000}]


def test_pformat_and_show_of_a_100k_deep_value(tmp_path: pathlib.Path) -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert enact.pformat(deep) == "[" * 100_001 + "]" * 100_001
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = enact.open_store(url)
    with store:
        store.set_name("deep", store.commit(deep))
    store.close()
    shown = ok(enact_cli(url, "show", "deep")).splitlines()
    assert shown[1] == "[" * 100_001 + "]" * 100_001
    raw = ok(enact_cli(url, "show", "--raw", "deep")).splitlines()
    assert raw[1].startswith("ListWrapper(wrapped=[[[[") and "nested too deeply" in raw[1]


def test_the_safe_console_escapes_stored_text_and_keeps_its_own_colours() -> None:
    """Unit check of the last line of defence: every console of the command is a SafeConsole."""
    import io

    from rich.text import Text

    from enact.cli._app import make_console
    from enact.cli._safe import SafeConsole, clean

    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=True, width=100)
    console.print("[bold]x[/bold] [/INST]")  # a str is not markup
    console.print(Text("a\x1b[2Jb\nc\u202ed", style="red"))
    written = buffer.getvalue()
    assert "[bold]x[/bold] [/INST]" in written
    assert "a\\x1b[2Jb" in written and "c\\u202ed" in written
    assert re.search(r"\x1b\[31m", written)  # its own colour, still there
    assert "\x1b[2J" not in written
    assert clean("tab\there\r\n\x00", newlines=True) == "tab\\there\\r\n\\x00"
    assert clean("\U000e0001 ok") == "\\U000e0001 ok"
    assert isinstance(make_console(), SafeConsole)
