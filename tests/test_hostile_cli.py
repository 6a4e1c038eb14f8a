"""What the command line writes for hostile or huge stored values (issue 10).

Checked on the bytes the CLI writes: to a pipe, and to a pseudo-terminal for
the answer prompt (click writes the prompt itself, past rich's console).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import subprocess
import sys

from helpers.cli_hostile_label import ask
from helpers.terminal import run_in_terminal

import enact
from enact.stores.base import PackedResource

TESTS = pathlib.Path(__file__).parent
ANSI_SGR = re.compile(rb"\x1b\[[0-9;]*m")
"""The only escape sequences the command may write itself: colours."""


def _env() -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


def enact_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "enact", *args],
        capture_output=True,
        env=_env(),
        timeout=600,
        check=False,
    )


def in_terminal(*args: str, typed: bytes) -> bytes:
    """Runs the command in a pseudo-terminal, types `typed`; returns every byte it wrote."""
    command = [sys.executable, "-m", "enact", *args]
    return run_in_terminal(command, _env(), typed=typed, type_after=b"Answer (")


def test_the_answer_prompt_escapes_the_requested_class_name(tmp_path: pathlib.Path) -> None:
    """A class name with escape sequences and markup is shown escaped in the request,
    the prompt and the error after a wrong answer: nothing but colours reaches the terminal."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = enact.open_store(url)
    with store:
        enact.invoke(ask, (), run_id="evil-label")
    store.close()
    shown = in_terminal(
        "--store",
        url,
        "--import",
        "helpers.cli_hostile_label",
        "answer",
        "evil-label",
        typed=b"nope\r\x04",
    )
    without_colours = ANSI_SGR.sub(b"", shown)
    for raw in (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()):
        assert raw not in without_colours, shown
    text = without_colours.decode()
    escaped = "Evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e[bold]b[/bold]"
    assert f"Answer ({escaped})" in text, text
    assert f"type:    {escaped}" in text, text
    assert "Not a valid answer" in text and escaped in text.split("Not a valid answer")[1], text


def test_show_of_a_huge_int_prints_its_digit_count_and_ends(tmp_path: pathlib.Path) -> None:
    """A stored 3,000,000-digit int: converting it to decimal text is quadratic (minutes);
    show prints its length and first and last digits instead."""
    digits = "1234567890" * 300_000
    wrapper = b'res[{"name": "enact.resource_registry.IntWrapper"}\'wrapped\'i'
    data = wrapper + digits.encode() + b"]"
    digest = hashlib.sha256(data).hexdigest()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = enact.open_store(url)
    store.backend.commit(PackedResource(digest, data))
    store.set_name("huge", enact.Ref._unchecked(digest))
    store.close()
    expected = f"<int of 3,000,000 digits: {digits[:12]}…{digits[-12:]}>"
    for args in (("show", "huge"), ("show", "--raw", "huge")):
        result = enact_cli("--store", url, *args)
        assert result.returncode == 0, result.stderr.decode()
        lines = result.stdout.decode().splitlines()
        assert lines[0].startswith(digest), lines
        assert expected in lines[1], lines[1][:200]
        assert len(result.stdout) < 1000
