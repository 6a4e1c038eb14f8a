"""The JSON view (enact.jsonview, docs/JSON.md): values, objects, runs, call trees, requests."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator

import pytest
from helpers.cli_types import Greeting, ask_greeting, confirm_rolls, fail

import enact
from enact import jsonview
from enact.digests import int_to_decimal
from enact.encoding import decode_raw
from enact.invocations.runs import get_run, list_runs

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "JSON.md"


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[enact.Store]:
    opened = enact.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with opened:
        yield opened
    opened.close()


def _doc_examples() -> list[tuple[str, str]]:
    text = DOC.read_text("utf-8")
    block = re.search(r"<!-- examples:values -->\n```\n(.*?)```", text, re.S)
    assert block is not None
    rows = []
    for line in block.group(1).splitlines():
        python, shown = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        rows.append((python, shown))
    return rows


def test_the_documented_examples_hold(store: enact.Store) -> None:
    examples = _doc_examples()
    assert len(examples) >= 8
    for python, shown in examples:
        data = eval(python, {"Greeting": Greeting})  # the doc's own literals
        assert jsonview.value(data) == json.loads(shown), python
        # Read back raw from the store (no types used): the same JSON.
        assert jsonview.stored_value(store, store.commit(data)) == json.loads(shown), python


@enact.register
def parse_port(text: str) -> int:
    try:
        return int(text)
    except ValueError as err:
        raise LookupError(f"no port in {text!r}") from err


def _matches(documented: object, actual: object) -> bool:
    """`actual` is as `documented`, where a documented ``"<...>"`` stands for any value."""
    if isinstance(documented, str) and documented.startswith("<") and documented.endswith(">"):
        return True
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and list(documented) == list(actual)
            and all(_matches(documented[key], actual[key]) for key in documented)
        )
    if isinstance(documented, list):
        return (
            isinstance(actual, list)
            and len(documented) == len(actual)
            and all(_matches(d, a) for d, a in zip(documented, actual, strict=True))
        )
    return type(documented) is type(actual) and documented == actual


def test_the_documented_exception_example_holds(store: enact.Store) -> None:
    """A failed call's exception has its traceback frames and its cause, as docs/JSON.md shows."""
    text = DOC.read_text("utf-8")
    block = re.search(r"<!-- example:exception -->\n```json\n(.*?)```", text, re.S)
    assert block is not None
    documented = json.loads(block.group(1))
    invocation = enact.invoke(parse_port, ("http",))
    tree = jsonview.call_tree(store, store.commit(invocation))
    exception = tree["exception"]
    assert _matches(documented, exception), json.dumps(exception, indent=1)
    assert exception["frames"][0]["filename"] == __file__
    assert isinstance(exception["frames"][0]["lineno"], int)
    assert exception["value"]["$resource"] == "enact.invocations.TracedException"
    assert not _matches(documented, {**exception, "cause": None})  # the check can fail


def test_exceptions_without_a_traceback_have_empty_frames(store: enact.Store) -> None:
    """An old-shape RecordedException has the keys too: no frames, no chain."""
    old = store.commit(enact.invocations.RecordedException("builtins.KeyError", "'k'"))
    view = jsonview.exception_view(store, old)
    assert (view["type"], view["message"]) == ("builtins.KeyError", "'k'")
    assert (view["frames"], view["notes"], view["omitted_frames"]) == ([], [], 0)
    assert view["cause"] is None and view["context"] is None


def test_values_decoded_and_raw_give_the_same_json(store: enact.Store) -> None:
    data = [Greeting("a", 1), {"k": b"\x00\xff"}, (1.5, -0.0), None, True, 2**53, -(2**53) + 1]
    ref = store.commit(data)
    raw = decode_raw(store.read_tokens(ref))
    assert jsonview.value(data) == jsonview.value(raw) == jsonview.stored_value(store, ref)
    shown = jsonview.value(data)
    assert shown[1] == {"k": {"$bytes": "AP8="}}
    assert shown[2]["fields"]["items"] == [1.5, -0.0]
    assert shown[5] == {"$int": str(2**53)}
    assert shown[6] == -(2**53) + 1


def test_refs_inside_values_are_digests(store: enact.Store) -> None:
    inner = store.commit(Greeting("x", 1))
    assert jsonview.value([inner]) == [{"$ref": inner.digest}]
    assert jsonview.ref(inner) == inner.digest and jsonview.ref(None) is None


def test_non_finite_floats_and_huge_ints(store: enact.Store) -> None:
    assert jsonview.value([float("inf"), float("-inf")]) == [{"$float": "inf"}, {"$float": "-inf"}]
    huge = 7**20_000  # 16,902 digits: past INT_DIGITS, read as text
    assert jsonview.value(huge) == {"$int": int_to_decimal(huge)}
    assert jsonview.value([-huge]) == [{"$int": int_to_decimal(-huge)}]
    text = jsonview.dumps(jsonview.value([float("nan"), huge]))
    assert "NaN" not in text and json.loads(text)[0] == {"$float": "nan"}


def test_dollar_keys_are_escaped_and_tags_unambiguous() -> None:
    assert jsonview.value({"$ref": "x", "$$a": 1, "b$": 2}) == {"$$ref": "x", "$$$a": 1, "b$": 2}


def test_deep_values_are_elided_so_any_reader_reads_them(store: enact.Store) -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    ref = store.commit(deep)
    shown = jsonview.stored_value(store, ref)
    text = jsonview.dumps(shown)
    level = json.loads(text)
    depth = 0
    while isinstance(level, list):
        level, depth = level[0], depth + 1
    assert level == {"$elided": f"nested more than {jsonview.MAX_DEPTH} levels deep"}
    assert depth == jsonview.MAX_DEPTH


def test_dumps_is_ascii_and_escapes_control_characters() -> None:
    text = jsonview.dumps(jsonview.value("\x1b]0;pwned\x07 \x9b2J \u202e \ud800 é"))
    assert text.isascii()
    assert "\x1b" not in text and "\\u001b" in text and "\\u009b" in text
    assert json.loads(text) == "\x1b]0;pwned\x07 \x9b2J \u202e \ud800 é"


def test_object_view_names_type_and_schema(store: enact.Store) -> None:
    greeting = store.commit(Greeting("Hello", 2))
    assert jsonview.object_view(store, greeting) == {
        "schema": jsonview.SCHEMA,
        "ref": greeting.digest,
        "type": "helpers.cli_types.Greeting",
        "value": {
            "$resource": "helpers.cli_types.Greeting",
            "fields": {"text": "Hello", "times": 2},
        },
    }
    assert jsonview.object_view(store, store.commit(7))["type"] == "int"
    assert jsonview.object_view(store, store.commit(7))["value"] == 7


def test_run_json_and_call_tree(store: enact.Store) -> None:
    enact.invoke(fail, (1,), run_id="boom")  # records the exception, does not raise it
    run = get_run("boom", store=store)
    shown = jsonview.run(run, call="fail(1)")
    assert shown["id"] == "boom" and shown["status"] == "raised"
    assert shown["function"].endswith("fail") and shown["call"] == "fail(1)"
    assert shown["head"] == run.head.digest
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", shown["created"])
    json.loads(jsonview.dumps(shown))
    tree = jsonview.call_tree(store, run.state.tree or "")
    assert tree["status"] == "raised" and tree["path"] == []
    assert tree["args"] == [1] and tree["kwargs"] == {}
    exception = tree["exception"]
    assert exception["type"] == "builtins.ValueError" and exception["message"]
    assert tree["child_count"] == len(tree["children"])


def test_waiting_calls_and_input_requests(store: enact.Store) -> None:
    enact.invoke(confirm_rolls, (1,), run_id="ask")
    run = get_run("ask", store=store)
    assert run.status == "waiting"
    invocation = store.commit(run.invocation())
    tree = jsonview.call_tree(store, invocation)
    assert tree["status"] == "waiting"
    waiting = [child for child in tree["children"] if child["status"] == "waiting"]
    assert len(waiting) == 1
    request = waiting[0]["exception"]["request"]
    assert request["requested_label"] == "str"
    assert request["context"] == "Should I reroll die #0?"
    assert waiting[0]["path"] == [1]
    item = jsonview.input_request(store, run, waiting[0]["path"], waiting[0]["exception"]["ref"])
    assert item["run"] == "ask" and item["path"] == [1] and item["requested_label"] == "str"
    assert item["age_seconds"] >= 0 and item["requested_at"] == jsonview.timestamp(run.updated)


def test_call_tree_depth_leaves_children_out(store: enact.Store) -> None:
    enact.invoke(ask_greeting, ("Ada",), run_id="greet")
    run = get_run("greet", store=store)
    tree = jsonview.call_tree(store, store.commit(run.invocation()), depth=0)
    assert tree["children"] is None and tree["child_count"] == 1


def test_run_state_history(store: enact.Store) -> None:
    enact.invoke(confirm_rolls, (1,), run_id="ask")
    (run,) = list_runs(store=store)
    states = [jsonview.run_state(state, ref) for ref, state in run.history()]
    assert states[0]["state"] == run.head.digest and states[0]["run"] == "ask"
    assert all(state["status"] for state in states)


def test_jsonview_imports_no_command_line_or_ui() -> None:
    import ast

    source = pathlib.Path(jsonview.__file__).read_text("utf-8")
    imported = {
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    }
    assert not any(name.startswith(("enact.cli", "enact.ui", "rich", "click")) for name in imported)


def _documented_fields(heading: str) -> set[str]:
    """The field names in the first column of the table under `heading` in docs/JSON.md."""
    text = DOC.read_text("utf-8")
    section = text[text.index(heading) :]
    table = re.search(r"\| field \| \|\n\|---\|---\|\n((?:\|.*\n)+)", section)
    assert table is not None, heading
    names: set[str] = set()
    for row in table.group(1).splitlines():
        names.update(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    return names


def test_the_documented_fields_are_the_fields(store: enact.Store) -> None:
    """Every field the tables of docs/JSON.md list is written, and every field written is listed."""
    enact.invoke(confirm_rolls, (1,), run_id="ask")
    run = get_run("ask", store=store)
    tree = jsonview.call_tree(store, store.commit(run.invocation()))
    keys = set(tree)
    for child in tree["children"]:
        keys |= set(child)
    assert _documented_fields("## `enact tree --json REF`") == keys
    assert _documented_fields("## `enact log --json`") == {"number", *jsonview.run(run, call="x")}
    (request,) = jsonview.run_input_requests(store, run)
    assert _documented_fields("## `enact inbox --json`") == set(request)


def test_importing_jsonview_loads_neither_the_command_line_nor_rich() -> None:
    import subprocess
    import sys

    code = (
        "import sys, enact.jsonview; "
        "print(sorted(m for m in sys.modules if m.startswith(('enact.cli', 'enact.ui', 'rich', "
        "'click'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
