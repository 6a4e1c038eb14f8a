"""The scripts in examples/ run and print what examples/expected/ shows.

Each example runs in a fresh process, in an empty working directory, with
ENACT_STORE pointing into it. Memory addresses in the output (function
reprs) are normalised to ``0x...`` and main.py's run refs to ``<ref>``;
everything else must match exactly, so the examples seed their random
numbers. Set ENACT_UPDATE_EXPECTED=1 to rewrite the expected files after
changing an example.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
EXPECTED = EXAMPLES / "expected"
SCRIPTS = [*sorted(path.name for path in EXAMPLES.glob("[0-9][0-9]_*.py")), "main.py"]

_ADDRESS = re.compile(r"\b0x[0-9a-f]+\b")
_SHORT_REF = re.compile(r"\b[0-9a-f]{12}\b")


def normalise(text: str) -> str:
    """Masks memory addresses, and the 12-digit refs main.py prints for its runs (their
    digests change whenever the journal's record format does)."""
    return _SHORT_REF.sub("<ref>", _ADDRESS.sub("0x...", text))


def run_example(script: str, workdir: pathlib.Path) -> str:
    env = dict(os.environ, ENACT_STORE=f"sqlite:///{workdir}/store.db", PYTHONHASHSEED="0")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_example_has_an_expected_output() -> None:
    """Each numbered example and main.py has an expected output file, and nothing else does."""
    assert len(SCRIPTS) >= 9
    expected = sorted(path.name for path in EXPECTED.glob("*.txt"))
    assert expected == sorted(script.replace(".py", ".txt") for script in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_prints_the_expected_output(script: str, tmp_path: pathlib.Path) -> None:
    """The example's output matches examples/expected/, addresses aside."""
    output = normalise(run_example(script, tmp_path))
    expected_file = EXPECTED / script.replace(".py", ".txt")
    if os.environ.get("ENACT_UPDATE_EXPECTED") == "1":
        expected_file.write_text(output)
    assert output == expected_file.read_text()


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_has_a_docstring(script: str) -> None:
    """Every example starts with a docstring that says how to run it."""
    source = (EXAMPLES / script).read_text()
    assert source.startswith('"""')
    docstring = source.split('"""')[1]
    assert "Run" in docstring and script in docstring


def test_main_journals_into_the_store_it_is_given(tmp_path: pathlib.Path) -> None:
    """main.py writes its runs to $ENACT_STORE; a second run prints the same refs."""
    first = _ADDRESS.sub("0x...", run_example("main.py", tmp_path))
    second = _ADDRESS.sub("0x...", run_example("main.py", tmp_path))
    assert first == second
    assert re.search(r"journaled as [0-9a-f]{12}\n", first)
    assert (tmp_path / "store.db").exists()
    assert not (tmp_path / ".enact").exists()
    code = (
        "import enact\n"
        f"store = enact.open_store('sqlite:///{tmp_path}/store.db')\n"
        "print(len(enact.list_runs(store=store)))\n"
    )
    count = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert count.stdout.strip() == "6"


def test_main_suggests_commands_that_work(tmp_path: pathlib.Path) -> None:
    """Every command main.py suggests succeeds, run in order with ``python -m enact``."""
    output = run_example("main.py", tmp_path)
    suggested = re.findall(r"^  (enact .+?)\s{2,}", output, re.M)
    assert suggested[:2] == ["enact log", "enact --import agent tree @3"]
    assert any(" answer @1" in command for command in suggested)
    env = dict(os.environ, ENACT_STORE=f"sqlite:///{tmp_path}/store.db")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES), env.get("PYTHONPATH")]))
    shown = {}
    for command in suggested:
        result = subprocess.run(
            [sys.executable, "-m", "enact", *command.split()[1:]],
            cwd=tmp_path,
            env=env,
            input="Yes, dogs are welcome.\n",
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, (command, result.stderr)
        shown[command] = result.stdout
    assert "Where is my order?" in shown["enact --import agent tree @3"]
    answered = shown["enact --import agent answer @1"]
    assert re.search(r"^run \S+ \(complete\)$", answered, re.M), answered
    assert "Yes, dogs are welcome." in answered
