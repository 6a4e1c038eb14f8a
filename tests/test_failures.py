"""Failed calls in journals (issue 11): tracebacks, cause chains, old records, exit codes.

A failed call's exception is recorded as an `enact.TracedException`: type, message,
notes, frames (file, line, function, source line) and its cause/context chain, all
plain text, so another process reads it without the program's modules or sources.
Journals written before hold `RecordedException` objects of the old shape; they read,
show and replay as before. The processes here are real: the journal is written by one
Python process and read by another (and by the installed ``enact`` command).
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import enact
from enact.invocations.exceptions import HEAD_FRAMES, MAX_FRAMES, format_traceback

TESTS = pathlib.Path(__file__).parent
DOC = TESTS.parent / "docs" / "FORMAT.md"

DEEP_MODULE = """\
import enact


@enact.register
def parse(text: str) -> int:
    table = {"one": 1}
    try:
        return table[text]
    except KeyError as missing:
        raise ValueError(f"cannot parse {text!r}") from missing


@enact.register
def level2(text: str) -> int:
    return parse(text) + 1


@enact.register
def level1(text: str) -> int:
    return level2(text) * 2


@enact.register
def root(texts: list[str]) -> int:
    total = 0
    for text in texts:
        total += level1(text)
    return total


@enact.register
def ask_then_fail() -> str:
    answer = enact.request_input(str, context="Say something")
    raise RuntimeError(f"refused: {answer}")
"""


def _line_of(text: str) -> int:
    """The line number of the line of DEEP_MODULE that holds `text`."""
    (number,) = [n for n, line in enumerate(DEEP_MODULE.splitlines(), 1) if text in line]
    return number


def _env(*paths: pathlib.Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ENACT_STORE", "ENACT_IMPORT", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
    }
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return env


def _python(code: str, cwd: pathlib.Path, *paths: pathlib.Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=_env(*paths),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _enact(
    url: str, *args: str, cwd: pathlib.Path, paths: tuple[pathlib.Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = shutil.which("enact", path=str(pathlib.Path(sys.executable).parent))
    assert command is not None, "the enact console script is not installed"
    return subprocess.run(
        [command, "--store", url, *args],
        cwd=cwd,
        env=_env(*paths),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def deep_journal(tmp_path: pathlib.Path) -> tuple[str, pathlib.Path]:
    """A store whose run 'deep' failed three calls below its root, written by another process.

    Returns the store URL and the directory of the module (deep_mod.py) that wrote it.
    """
    code = tmp_path / "code"
    code.mkdir()
    (code / "deep_mod.py").write_text(DEEP_MODULE)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _python(
        f"""
        import enact, deep_mod
        with enact.open_store({url!r}):
            enact.invoke(deep_mod.root, (["one", "two"],), run_id="deep")
            enact.invoke(deep_mod.ask_then_fail, run_id="ask")
        """,
        code,
        code,
    )
    return url, code


# Recording -------------------------------------------------------------------------------


def test_traceback_at_depth_3_reads_in_another_process(
    deep_journal: tuple[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    """Frames, source lines and the cause chain come back in a process that has neither
    the module nor its source: the journal holds them as text."""
    url, code = deep_journal
    module = str(code / "deep_mod.py")
    (code / "deep_mod.py").unlink()  # nothing may need it now
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _python(
        f"""
        import json, enact
        with enact.open_store({url!r}) as store:
            run = enact.get_run("deep")
            response = store.checkout(run.state.tree).response()
            def record(raised):
                exception = raised()
                cause = exception.cause
                return {{
                    "type": type(exception).__name__,
                    "type_name": exception.type_name,
                    "message": exception.message,
                    "frames": [
                        [f.filename, f.lineno, f.name, f.line] for f in exception.frames
                    ],
                    "cause": None if cause is None else [
                        cause.type_name, cause.message,
                        [[f.filename, f.lineno, f.name, f.line] for f in cause.frames],
                    ],
                    "context": exception.context is not None,
                }}
            deepest = response.children[1].response().children[0].response().children[0]
            print(json.dumps({{
                "root": record(response.raised),
                "depth3": record(deepest.response().raised),
                "here": [response.raised_here, deepest.response().raised_here],
            }}))
        """,
        elsewhere,
    )
    found = json.loads(out)
    assert found["here"] == [False, True]
    deepest = found["depth3"]
    assert deepest["type"] == "TracedException"
    assert (deepest["type_name"], deepest["message"]) == (
        "builtins.ValueError",
        "cannot parse 'two'",
    )
    raise_line = _line_of("raise ValueError")
    assert deepest["frames"] == [
        [module, raise_line, "parse", 'raise ValueError(f"cannot parse {text!r}") from missing']
    ]
    assert deepest["cause"] == [
        "builtins.KeyError",
        "'two'",
        [[module, _line_of("return table[text]"), "parse", "return table[text]"]],
    ]
    assert deepest["context"] is False  # the cause is shown, as Python shows it
    # The root's record is the exception as the root saw it: every frame from the root
    # down, and none of enact's own call machinery in between.
    assert found["root"]["frames"] == [
        [module, _line_of("total += level1(text)"), "root", "total += level1(text)"],
        [module, _line_of("return level2(text) * 2"), "level1", "return level2(text) * 2"],
        [module, _line_of("return parse(text) + 1"), "level2", "return parse(text) + 1"],
        deepest["frames"][0],
    ]


def test_enact_tree_and_show_print_the_frames(deep_journal: tuple[str, pathlib.Path]) -> None:
    """tree: the failed call's innermost frames under it; show: the whole traceback."""
    url, code = deep_journal
    tree = _enact(url, "--import", "deep_mod", "tree", "deep", cwd=code, paths=(code,))
    assert tree.returncode == 0, tree.stderr
    raise_line = _line_of("raise ValueError")
    assert tree.stdout.splitlines() == [
        "root(['one', 'two']) raised ValueError: cannot parse 'two' (from a child call)",
        "├── level1('one') = 4",
        "│   └── level2('one') = 2",
        "│       └── parse('one') = 1",
        "└── level1('two') raised ValueError: cannot parse 'two' (from a child call)",
        "    └── level2('two') raised ValueError: cannot parse 'two' (from a child call)",
        "        └── parse('two') raised ValueError: cannot parse 'two'",
        f"                at deep_mod.py:{raise_line} in parse",
    ]
    raw = _enact(url, "tree", "--raw", "deep", cwd=code)  # no --import: read as stored
    assert raw.stdout == tree.stdout
    cut = _enact(
        url, "--import", "deep_mod", "tree", "deep", "--depth", "1", cwd=code, paths=(code,)
    )
    lines = cut.stdout.splitlines()
    at = lines.index("└── level1('two') raised ValueError: cannot parse 'two' (from a child call)")
    assert lines[at + 1 : at + 4] == [
        f"        at deep_mod.py:{_line_of('return level2(text) * 2')} in level1",
        f"        at deep_mod.py:{_line_of('return parse(text) + 1')} in level2",
        f"        at deep_mod.py:{raise_line} in parse",
    ]
    show = _enact(url, "--import", "deep_mod", "show", "deep", cwd=code, paths=(code,))
    assert show.returncode == 0, show.stderr
    module = code / "deep_mod.py"
    expected = f"""\
The call raised:
Traceback (most recent call last):
  File "{module}", line {_line_of("return table[text]")}, in parse
    return table[text]
KeyError: 'two'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "{module}", line {_line_of("total += level1(text)")}, in root
    total += level1(text)
  File "{module}", line {_line_of("return level2(text) * 2")}, in level1
    return level2(text) * 2
  File "{module}", line {_line_of("return parse(text) + 1")}, in level2
    return parse(text) + 1
  File "{module}", line {raise_line}, in parse
    raise ValueError(f"cannot parse {{text!r}}") from missing
ValueError: cannot parse 'two'
"""
    assert show.stdout.endswith("\n\n" + expected), show.stdout
    raw_show = _enact(url, "show", "--raw", "deep", cwd=code)
    assert raw_show.stdout.endswith("\n\n" + expected), raw_show.stdout


def test_context_notes_and_suppressed_context(store: enact.Store) -> None:
    """``__context__`` is recorded when Python would show it; ``from None`` hides it."""

    @enact.register
    def handles_badly() -> None:
        try:
            raise KeyError("first")
        except KeyError:
            error = TypeError("second")
            error.add_note("a note")
            if enact_hide["hide"]:
                raise error from None
            raise error  # noqa: B904  (on purpose: the KeyError is its context)

    enact_hide = {"hide": False}
    shown = enact.invoke(handles_badly).get_raised()
    assert isinstance(shown, enact.TracedException)
    assert shown.notes == ["a note"]
    assert shown.cause is None
    assert isinstance(shown.context, enact.TracedException)
    assert (shown.context.type_name, shown.context.message) == ("builtins.KeyError", "'first'")
    text = shown.format_traceback()
    assert "During handling of the above exception, another exception occurred:" in text
    assert text.endswith("TypeError: second\na note\n")
    enact_hide["hide"] = True
    hidden = enact.invoke(handles_badly).get_raised()
    assert hidden.context is None and hidden.cause is None
    assert "During handling" not in hidden.format_traceback()


def test_a_cycle_in_the_chain_is_recorded_once(store: enact.Store) -> None:
    """An exception that is its own cause's cause does not loop."""

    @enact.register
    def cyclic() -> None:
        first, second = ValueError("a"), ValueError("b")
        first.__cause__, second.__cause__ = second, first
        raise first

    raised = enact.invoke(cyclic).get_raised()
    assert raised.message == "a"
    assert raised.cause.message == "b"
    assert raised.cause.cause is None


def test_long_tracebacks_keep_their_ends(store: enact.Store) -> None:
    """A traceback longer than MAX_FRAMES keeps the outermost and innermost frames."""

    def recurse(n: int) -> None:
        if n == 0:
            raise ValueError("bottom")
        recurse(n - 1)

    @enact.register
    def deep_plain() -> None:
        recurse(200)

    raised = enact.invoke(deep_plain).get_raised()
    assert len(raised.frames) == MAX_FRAMES
    assert raised.omitted_frames == 202 - MAX_FRAMES
    assert raised.frames[0].name == "deep_plain"
    assert raised.frames[-1].line == 'raise ValueError("bottom")'
    text = raised.format_traceback()
    assert f"  [... {raised.omitted_frames} more frames not recorded ...]\n" in text
    assert text.index("more frames not recorded") > text.index("in deep_plain")
    assert text.count("in recurse") == MAX_FRAMES - 1
    assert HEAD_FRAMES < MAX_FRAMES


def test_enact_frames_where_enact_raised_are_kept(store: enact.Store) -> None:
    """An output that cannot be stored: the frames are enact's own, where it was found."""

    @enact.register
    def returns_object() -> Any:
        return object()

    raised = enact.invoke(returns_object).get_raised()
    assert raised.type_name == "enact.errors.UnsupportedValueError"
    assert raised.frames and all("enact" in frame.filename for frame in raised.frames)


# Old journals ----------------------------------------------------------------------------

OLD_RECORD = (
    b'res[{"digest": "f9eb2f46501b3f7298c8dca791eebe0d5c01f91f97d2150f730862c9c54c35b4", '
    b"\"name\": \"enact.invocations.RecordedException\"}'message's'x''type_name's'"
    b"builtins.ValueError']"
)
"""RecordedException('builtins.ValueError', 'x') as enact wrote it before tracebacks."""


@pytest.fixture
def store() -> Any:
    with enact.InMemoryStore() as opened:
        yield opened


@enact.register
def fails_once(x: int) -> int:
    if FAIL["now"]:
        raise ValueError("x")
    return x


@enact.register
def calls_fails_once(x: int) -> int:
    try:
        return fails_once(x)
    except ValueError:
        return -1


FAIL = {"now": True}


def _old_journal(store: enact.Store) -> enact.Invocation:
    """An invocation whose child raised, with the child's exception in the old shape."""
    FAIL["now"] = True
    invocation = enact.invoke(calls_fails_once, (5,))
    old = store.commit_tokens(OLD_RECORD, [], enact.Ref)
    child = invocation.get_child(0)
    with child.response.modify() as response:
        response.raised = old
    response = invocation.get_response()
    response.children = [child]
    new = enact.Invocation(invocation.request, store.commit(response))
    store.commit(new)
    return new


def test_the_old_record_shape_is_unchanged(store: enact.Store) -> None:
    """RecordedException still writes the bytes old journals hold, and reads them back."""
    ref = enact.commit(enact.RecordedException("builtins.ValueError", "x"))
    assert store.read_tokens(ref) == OLD_RECORD
    old = store.checkout(ref)
    assert type(old) is enact.RecordedException
    assert str(old) == "builtins.ValueError: x"
    assert (
        format_traceback(old)
        == old.format_traceback()
        == ("ValueError: x\n(no traceback was recorded for this exception)\n")
    )
    assert old.last_frames(3) == []


def test_an_old_journal_reads_and_replays(store: enact.Store) -> None:
    """A journal holding an old-shape record: tree, traceback, replay, all as before."""
    old = _old_journal(store)
    raised = old.get_child(0).get_raised()
    assert type(raised) is enact.RecordedException
    FAIL["now"] = False
    # The recorded exception is raised again, as a ValueError the program catches.
    replayed = old.rewind(0).replay()
    assert replayed.get_output() == -1
    assert replayed.get_child(0) == old.get_child(0)  # the old record, kept as it is
    # Rewound, the call runs again.
    assert old.rewind(1).replay().get_output() == 5
    FAIL["now"] = True
    again = old.rewind(1).replay().get_child(0).get_raised()
    assert isinstance(again, enact.TracedException)  # new records have the new shape
    assert (again.type_name, again.message) == (raised.type_name, raised.message)


def test_an_old_journal_in_the_cli(tmp_path: pathlib.Path) -> None:
    """enact tree shows an old record without frames; enact show says none was recorded."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with enact.open_store(url) as sqlite:
        old = _old_journal(sqlite)
        sqlite.set_name("old", sqlite.commit(old))
        raised = old.get_child(0).response().raised
    assert raised is not None
    tree = _enact(url, "--import", "test_failures", "tree", "old", cwd=tmp_path, paths=(TESTS,))
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines() == [
        "calls_fails_once(5) = -1",
        "└── fails_once(5) raised ValueError: x",
    ]
    raw = _enact(url, "tree", "--raw", "old", cwd=tmp_path)
    assert raw.stdout == tree.stdout
    show = _enact(url, "show", raised.digest, cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert show.stdout.endswith(
        "\n\nValueError: x\n(no traceback was recorded for this exception)\n"
    )


def test_format_doc_vectors_of_exception_records() -> None:
    """docs/FORMAT.md's exception-record lines are what the code writes."""
    text = DOC.read_text()
    block = text.split("<!-- exception-vectors:begin -->")[1].split(
        "<!-- exception-vectors:end -->"
    )[0]
    lines = [line for line in block.splitlines() if line and not line.startswith("```")]
    vectors = [(line[:64], ast.literal_eval(line[65:])) for line in lines]
    values = [
        enact.RecordedException("builtins.ValueError", "x"),
        enact.TracedException(
            "builtins.ValueError",
            "x",
            [],
            [enact.TracebackFrame("a.py", 3, "f", "raise ValueError('x')")],
            0,
            None,
            None,
        ),
    ]
    assert len(vectors) == len(values)
    with enact.InMemoryStore() as store:
        for (digest, tokens), value in zip(vectors, values, strict=True):
            ref = store.commit(value)
            assert (ref.digest, store.read_tokens(ref)) == (digest, tokens)


# Exit codes ------------------------------------------------------------------------------


def test_resume_and_answer_of_a_run_that_raises_exit_with_3(
    deep_journal: tuple[str, pathlib.Path],
) -> None:
    """The run they produce raised: its tree, then one line with the exception and where."""
    url, code = deep_journal
    where = f"(at deep_mod.py:{_line_of('raise RuntimeError')} in ask_then_fail)"
    recorded = _enact(
        url,
        "--import",
        "deep_mod",
        "answer",
        "ask",
        "--record-only",
        "--input",
        "no",
        cwd=code,
        paths=(code,),
    )
    assert recorded.returncode == 0, recorded.stderr
    resumed = _enact(url, "--import", "deep_mod", "resume", "ask", cwd=code, paths=(code,))
    assert resumed.returncode == 3, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == "run ask (raised)"
    assert resumed.stderr.strip().splitlines() == [
        f"enact: Run 'ask' raised RuntimeError: refused: no {where}"
    ]
    _python(
        f"""
        import enact, deep_mod
        with enact.open_store({url!r}):
            enact.invoke(deep_mod.ask_then_fail, run_id="ask-2")
        """,
        code,
        code,
    )
    answered = _enact(
        url,
        "--import",
        "deep_mod",
        "answer",
        "ask-2",
        "--input",
        "maybe",
        "--no-strict",
        cwd=code,
        paths=(code,),
    )
    assert answered.returncode == 3, answered.stderr
    assert (
        answered.stderr.strip() == f"enact: Run 'ask-2' raised RuntimeError: refused: maybe {where}"
    )
    replayed = _enact(
        url,
        "--import",
        "deep_mod",
        "replay",
        "deep",
        "--rewind",
        "0",
        "--no-strict",
        cwd=code,
        paths=(code,),
    )
    assert replayed.returncode == 3, replayed.stderr
    line = replayed.stderr.strip()
    assert re.fullmatch(
        r"enact: Run '\S+' raised ValueError: cannot parse 'two' "
        rf"\(at deep_mod.py:{_line_of('raise ValueError')} in parse\)",
        line,
    ), line
    complete = _enact(url, "--import", "deep_mod", "replay", "ask", cwd=code, paths=(code,))
    assert complete.returncode == 3  # a replay of a run that raised raises again


def test_every_replaying_command_takes_no_strict(tmp_path: pathlib.Path) -> None:
    """replay, answer and resume offer --strict/--no-strict."""
    url = f"sqlite:///{tmp_path / 'help.db'}"
    for command in ("replay", "answer", "resume"):
        result = _enact(url, command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "--strict / --no-strict" in result.stdout, command


def test_a_damaged_record_does_not_fail_tree_or_show(store: enact.Store) -> None:
    """A record whose frames are not frames (a hostile or broken store) still prints."""
    from enact.cli import _render

    damaged = enact.TracedException("m.Boom", "bad", [], 5, 0, None, None)  # type: ignore[arg-type]
    assert repr(damaged) == "TracedException(type_name='m.Boom', message='bad', raised_at=?)"
    assert _render.raised_at(damaged) == ""
    ref = enact.commit(damaged)
    text = _render.traceback_text(store, ref)
    assert (
        text
        == f"(the exception record {ref.digest} cannot be shown: 'int' object is not iterable)\n"
    )
