"""ReplayError messages a person can act on (issue 11): where, what differs, how to fix it.

The first two lines are the spec's (tests/test_replay.py, tests/test_spec_walkthrough.py);
these tests check the lines after them, the structured attributes, and the field-level
diff of the recorded and the new request (enact.invocations.differences).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Any

import pytest

import enact
from enact.encoding import RawResource, decode_raw, encode
from enact.invocations.differences import ABSENT, differences, render

HERE = pathlib.Path(__file__).resolve()


@enact.register
@dataclasses.dataclass
class ChatModel(enact.Invokable):
    """A model called with a dict of settings and a long prompt."""

    name: str = "small"

    def call(self, request: dict[str, Any]) -> str:
        return f"reply to {len(request['prompt'])} characters"


SYSTEM = (
    "You are the support agent of a shop that sells garden tools. Be polite and brief. "
    "Never promise a refund; say that a person will look at the order within two days. "
    "Answer in the language of the customer, and end with the ticket number. "
)
TEMPLATE = {"text": SYSTEM + "The customer wrote: {ticket}"}


@enact.register
def answer_ticket(ticket: str) -> str:
    prompt = TEMPLATE["text"].format(ticket=ticket)
    # Insertion order differs from the sorted order a checked-out dict has.
    return str(ChatModel()({"temperature": 0.2, "prompt": prompt, "model": "small"}))


CALL_LINE = '    return str(ChatModel()({"temperature": 0.2, "prompt": prompt, "model": "small"}))'

SNAPSHOT = """\
Expected invocation ChatModel(name='small')({'model': 'small', 'prompt': 'You are the support agent of a shop that'… (270 characters), 'temperature': 0.2}) but got ChatModel(name='small')({'model': 'small', 'prompt': 'You are the support agent of a shop that'… (271 characters), 'temperature': 0.2}).
Ensure that calls to subinvokables are deterministic or use strict=False.
Replay stopped at call [0] (child 0 of the root invocation): the program called ChatModel(name='small') with another input than the journal recorded.
  invokable: test_replay_errors.ChatModel(name='small')
  called at: FILE:LINE in answer_ticket
      return str(ChatModel()({"temperature": 0.2, "prompt": prompt, "model": "small"}))
  1 field differs (recorded, then new):
    input['prompt']: string of 270 characters recorded, 271 new:
      at character 141:
        recorded: …hat a person will look at the [-order-] within two days. Answer in th…
        new:      …hat a person will look at the {+ticket+} within two days. Answer in th…
How to fix it:
  - Make the call's input deterministic: a value from the clock, a random generator or
    the network must itself come from a journaled call (wrap time.time() in a registered
    function), so that a replay returns the recorded value.
  - Or run the call again instead of replaying it: strict=False (Invocation.replay,
    enact.resume, enact.answer), or --no-strict (enact replay, resume, answer).
  - Or keep the run as it was recorded and go on in a copy: enact fork RUN (enact.fork),
    then resume or answer the new run."""  # noqa: E501  (the message as printed)


@pytest.fixture
def store() -> Any:
    with enact.InMemoryStore() as opened:
        yield opened


@pytest.fixture
def changed_prompt(store: enact.Store, monkeypatch: pytest.MonkeyPatch) -> enact.ReplayError:
    """The ReplayError of a replay after one word of the prompt template changed."""
    invocation = enact.invoke(answer_ticket, ("My rake broke.",))
    changed = SYSTEM.replace("look at the order", "look at the ticket")
    monkeypatch.setitem(TEMPLATE, "text", changed + "The customer wrote: {ticket}")
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    return caught.value


def _normalised(message: str) -> str:
    return re.sub(r"called at: (\S+):(\d+) in", "called at: FILE:LINE in", message)


def test_changed_prompt_message_snapshot(changed_prompt: enact.ReplayError) -> None:
    """The whole message for a long prompt that differs in one word inside a dict."""
    assert _normalised(str(changed_prompt)) == SNAPSHOT


def test_changed_prompt_both_sides_render_alike(changed_prompt: enact.ReplayError) -> None:
    """Recorded and new requests show dict keys in the same (stored) order, in one format."""
    first = str(changed_prompt).split("\n")[0]
    match = re.fullmatch(r"Expected invocation (.*) but got (.*)\.", first)
    assert match is not None
    recorded, new = match.groups()
    keys = re.compile(r"'(model|prompt|temperature)': ")
    assert keys.findall(recorded) == keys.findall(new) == ["model", "prompt", "temperature"]
    # Long strings show their start and length: the diff below shows where they differ.
    assert recorded.replace("(270 characters)", "(271 characters)") == new


def test_changed_prompt_attributes_are_structured(changed_prompt: enact.ReplayError) -> None:
    """path, the invokable, both requests, the differing fields and the location."""
    error = changed_prompt
    assert error.path == (0,)
    assert error.difference == "input"
    assert error.differing_fields == ("input['prompt']",)
    assert error.invokable == ChatModel()
    assert isinstance(error.recorded_request, enact.Request)
    assert isinstance(error.new_request, enact.Request)
    assert "order" in error.recorded_request.input["prompt"]
    assert "ticket within" in error.new_request.input["prompt"]
    assert error.new_request.invokable == error.recorded_request.invokable
    location = error.location
    assert isinstance(location, enact.SourceLocation)
    assert pathlib.Path(location.filename).resolve() == HERE
    assert location.function == "answer_ticket"
    assert HERE.read_text().splitlines()[location.lineno - 1] == CALL_LINE
    assert location.line == CALL_LINE.strip()
    assert str(location) == f"{location.filename}:{location.lineno} in answer_ticket"


# Other mismatches ----------------------------------------------------------------------

STEPS: dict[str, Any] = {}


@enact.register
def step(value: Any) -> Any:
    return value


@enact.register
def other_step(value: Any) -> Any:
    return value


@enact.register
def pipeline() -> Any:
    return STEPS["function"](STEPS["value"])


def _replay_error(store: enact.Store, before: dict[str, Any], after: dict[str, Any]) -> Any:
    STEPS.clear()
    STEPS.update(before)
    invocation = enact.invoke(pipeline)
    assert invocation.has_output()
    STEPS.clear()
    STEPS.update(after)
    with pytest.raises(enact.ReplayError) as caught:
        invocation.rewind(0).replay()
    return caught.value


def test_another_function_is_a_difference_of_the_invokable(store: enact.Store) -> None:
    """Calling another function names both: recorded and new."""
    error = _replay_error(
        store, {"function": step, "value": 1}, {"function": other_step, "value": 1}
    )
    assert error.difference == "invokable"
    assert error.differing_fields == ("invokable",)
    lines = str(error).split("\n")
    assert lines[2].endswith(
        "the program called other_step where the journal recorded test_replay_errors.step."
    )
    assert "    invokable:" in lines
    assert "      recorded: test_replay_errors.step" in lines
    assert "      new:      test_replay_errors.other_step" in lines
    # The first fix is the alias a renamed function needs, not deterministic input.
    fixes = lines[lines.index("How to fix it:") + 1 :]
    assert fixes[:2] == [
        "  - If test_replay_errors.step was renamed or moved to test_replay_errors.other_step, "
        "register it with its old name:",
        "    @enact.register(aliases=('test_replay_errors.step',)).",
    ]
    assert not any("deterministic" in line for line in fixes)
    assert fixes[2].startswith("  - Or run the call again instead of replaying it")


def test_nested_fields_and_missing_keys_are_named_by_path(store: enact.Store) -> None:
    """Each differing leaf is named by its path; a key on one side only is (absent)."""
    before = {"a": [1, 2, {"b": "x"}], "gone": True}
    after = {"a": [1, 3, {"b": "x"}, 4], "new": None}
    error = _replay_error(
        store, {"function": step, "value": before}, {"function": step, "value": after}
    )
    assert error.differing_fields == (
        "input.args[0]['a'][1]",
        "input.args[0]['a'][3]",
        "input.args[0]['gone']",
        "input.args[0]['new']",
    )
    text = str(error)
    assert "  4 fields differ (recorded, then new):" in text
    assert "    input.args[0]['a'][3]:\n      recorded: (absent)\n      new:      4" in text
    assert "    input.args[0]['gone']:\n      recorded: True\n      new:      (absent)" in text


def test_a_multi_line_string_is_diffed_by_lines(store: enact.Store) -> None:
    """A text of several lines shows a unified diff of its lines, with context."""
    before = "\n".join(f"line {i}" for i in range(10))
    after = before.replace("line 5", "line five")
    error = _replay_error(
        store, {"function": step, "value": before}, {"function": step, "value": after}
    )
    lines = str(error).split("\n")
    start = lines.index("    input.args[0]: text of 10 lines recorded, 10 lines new:")
    assert lines[start + 1 : start + 10] == [
        "      --- recorded",
        "      +++ new",
        "      @@ -4,5 +4,5 @@",
        "       line 3",
        "       line 4",
        "      -line 5",
        "      +line five",
        "       line 6",
        "       line 7",
    ]


def test_a_bool_and_an_int_differ(store: enact.Store) -> None:
    """True and 1 are equal in Python but not in the journal: the diff names them."""
    error = _replay_error(
        store, {"function": step, "value": [True]}, {"function": step, "value": [1]}
    )
    assert error.differing_fields == ("input.args[0][0]",)
    assert "      recorded: True\n      new:      1" in str(error)


def test_many_differences_are_counted(store: enact.Store) -> None:
    """Past eight differing fields, the rest are counted, not shown."""
    error = _replay_error(
        store,
        {"function": step, "value": list(range(20))},
        {"function": step, "value": [i + 1 for i in range(20)]},
    )
    assert len(error.differing_fields) == 20
    assert "    … and 12 more differing fields" in str(error).split("\n")


@enact.register
def maybe_calls(skip: bool) -> int:
    if STEPS.get("skip"):
        return 0
    return int(step(1))


def test_missing_call_names_the_function_that_returned_and_where_it_is_defined(
    store: enact.Store,
) -> None:
    """A call that returns without making a recorded call: its definition, and the call."""
    STEPS.clear()
    invocation = enact.invoke(maybe_calls, (False,))
    STEPS["skip"] = True
    try:
        with pytest.raises(enact.ReplayError) as caught:
            invocation.rewind(0).replay()
    finally:
        STEPS.clear()
    error = caught.value
    assert error.difference == "missing call"
    assert error.new_request is None
    assert isinstance(error.recorded_request, enact.Request)
    assert error.location is not None and error.location.function == "maybe_calls"
    assert error.location.line == "@enact.register" or error.location.line.startswith("def ")
    lines = str(error).split("\n")
    assert lines[0] == (
        "Expected invocation step(CallArgs(args=[1], kwargs={})) but the call returned "
        "without making it."
    )
    assert lines[2] == (
        "Replay stopped at call [0] (child 0 of the root invocation): maybe_calls (the root "
        "call) returned without making the call the journal recorded there."
    )
    assert lines[4].startswith("  defined at: ") and lines[4].endswith(" in maybe_calls")


# The diff itself ----------------------------------------------------------------------


def _raw(value: Any) -> Any:
    return decode_raw(encode(value)[0])


def test_differences_of_equal_values_are_none() -> None:
    """Equal values have no differences; nan equals nan as stored; -0.0 differs from 0.0."""
    value = {"x": [1.5, float("nan"), "s", None, b"b"]}
    assert differences(_raw(value), _raw(value), lambda digest: None) == ([], False)
    found, _ = differences(_raw([0.0]), _raw([-0.0]), lambda digest: None)
    assert [item.path for item in found] == ["[0]"]


def test_differences_follow_refs_into_the_store(store: enact.Store) -> None:
    """Two refs to different objects are compared by what they point to."""
    old = enact.commit({"k": "old"})
    new = enact.commit({"k": "new"})

    def read(digest: str) -> Any:
        return decode_raw(store.read_tokens(enact.Ref.from_digest(digest)))

    found, _ = differences(_raw([old]), _raw([new]), read)
    assert [item.path for item in found] == ["[0]->wrapped['k']"]
    found, _ = differences(_raw([old]), _raw([new]), lambda digest: None)
    assert [item.path for item in found] == ["[0]"]


def test_render_of_a_change_in_the_middle_of_a_word_shows_whole_words() -> None:
    """A change inside a word widens to the word, on both sides."""
    old = "alpha " * 20 + "the quick brown fox " + "omega " * 20
    new = old.replace("quick", "quack")
    found, _ = differences(old, new, lambda digest: None)
    lines = render(found[0])
    assert lines[0] == "(the value): string of 260 characters recorded, 260 new:"
    assert lines[1] == "  at character 124:"
    assert (
        lines[2]
        == "    recorded: …a alpha alpha alpha alpha the [-quick-] brown fox omega omega omega o…"
    )
    assert (
        lines[3]
        == "    new:      …a alpha alpha alpha alpha the {+quack+} brown fox omega omega omega o…"
    )


def test_absent_is_shown_as_absent() -> None:
    """A field that one side lacks is the ABSENT marker."""
    found, _ = differences(
        RawResource("m.T", {"a": 1}), RawResource("m.T", {"a": 1, "b": 2}), lambda d: None
    )
    assert found[0].path == "b" and found[0].recorded is ABSENT and found[0].new == 2


def test_a_call_that_was_still_running_is_named_so(store: enact.Store) -> None:
    """Resuming after a crash: a recorded call known only by its digest, never stored."""
    from enact.invocations.engine import OpenCall, RootPlan, invoke_root

    STEPS.clear()
    STEPS.update({"function": step, "value": 1})
    plan = RootPlan(
        pipeline, enact.CallArgs([], {}), template=[OpenCall("ab" * 32, [])], strict=True
    )
    with pytest.raises(enact.ReplayError) as caught:
        invoke_root(plan)
    error = caught.value
    assert error.difference == "request"
    assert error.recorded_request is None
    assert error.differing_fields == ()
    lines = str(error).split("\n")
    assert lines[0].startswith(
        "Expected invocation (another call, still running when the journal was written) but "
        "got <function step at 0x"
    )
    assert lines[2] == (
        "Replay stopped at call [0] (child 0 of the root invocation): the program called step, "
        "but the journal holds another call here, which was still running when the journal "
        "was written."
    )
    assert lines[3] == "  invokable: test_replay_errors.step"
    assert lines[4].startswith("  called at: ") and lines[4].endswith(" in pipeline")
    assert lines[6] == "How to fix it:"
