"""White-box tests of `enact.ui._forms`: the fields a requested type becomes, and parsing them."""

from __future__ import annotations

import dataclasses
import typing

import pydantic
import pytest

pytest.importorskip("starlette", reason="enact ui needs the 'ui' extra: pip install 'enact[ui]'")

from helpers.ui_agent import Address, Approval, Tone

import enact
from enact.invocations.inputs import InputRequest
from enact.invocations.requested_types import TypeForm, record_type
from enact.ui import _forms


def _request(requested: typing.Any) -> InputRequest:
    return InputRequest(record_type(requested), enact.Ref._unchecked("0" * 64), None)


@enact.register
@dataclasses.dataclass
class Choice(enact.Resource):
    size: typing.Literal["S", "M", "L"]
    tags: list[str]
    maybe: Address | None = None


def test_scalar_requests_parse_and_check_their_type() -> None:
    """int, float, bool and str answers: parsed from text, errors name the problem."""
    for requested, text, expected in [
        (int, " 42 ", 42),
        (float, "2.5", 2.5),
        (bool, "Yes", True),
        (str, "line 1\r\nline 2", "line 1\nline 2"),
        (type(None), "", None),
    ]:
        request = _request(requested)
        value, errors = _forms.parse_form(request, _forms.form_for(request), {"answer": text})
        assert (value, errors) == (expected, {})
    request = _request(int)
    _, errors = _forms.parse_form(request, _forms.form_for(request), {"answer": "4.5"})
    assert errors == {"answer": "expected int, got 4.5"}


def test_a_resource_request_becomes_nested_fields_with_defaults() -> None:
    """Dataclass fields in order, nested groups, defaults, enum choices, optional fields."""
    form = _forms.form_for(_request(Approval))
    assert form.kind == "group"
    assert [field.label for field in form.children] == [
        "approved",
        "retries",
        "address",
        "tone",
        "note",
    ]
    address = form.children[2]
    assert address.kind == "group" and address.children[1].default == "00000"
    tone = form.children[3]
    assert tone.kind == "choice" and tone.default == "FRIENDLY"
    assert [value for value, _ in tone.choices] == ["FRIENDLY", "FORMAL"]
    assert form.children[4].optional


def test_a_resource_answer_is_built_and_each_bad_field_reported() -> None:
    """Right fields build the resource; wrong ones each get their own error."""
    request = _request(Approval)
    form = _forms.form_for(request)
    good = {
        "answer.approved": "no",
        "answer.retries": "0",
        "answer.address.city": "Rome",
        "answer.address.zip_code": "00100",
        "answer.tone": "FORMAL",
        "answer.note": "",
    }
    value, errors = _forms.parse_form(request, form, good)
    assert errors == {}
    assert value == Approval(False, 0, Address("Rome", "00100"), Tone.FORMAL, None)
    bad = {**good, "answer.tone": "LOUD", "answer.retries": "x"}
    _, errors = _forms.parse_form(request, form, bad)
    assert errors == {
        "answer.tone": "expected Tone (one of 'friendly', 'formal'), got 'LOUD'",
        "answer.retries": "expected int, got 'x'",
    }


def test_literals_lists_and_optional_groups() -> None:
    """A Literal is a choice, a list is JSON checked against list, an optional group may be None."""
    request = _request(Choice)
    form = _forms.form_for(request)
    size, tags, maybe = form.children
    assert size.kind == "choice" and [label for _, label in size.choices] == ["'S'", "'M'", "'L'"]
    assert tags.kind == "json" and maybe.kind == "group" and maybe.optional
    data = {"answer.size": '"M"', "answer.tags": '["a", "b"]', "answer.maybe.__present__": "no"}
    value, errors = _forms.parse_form(request, form, data)
    assert errors == {} and value == Choice("M", ["a", "b"], None)
    _, errors = _forms.parse_form(
        request, form, {**data, "answer.tags": '{"a": 1}', "answer.size": '"XL"'}
    )
    assert errors["answer.size"] == "expected one of 'S', 'M', 'L', got 'XL'"
    assert errors["answer.tags"] == "expected list[str], got dict {'a': 1}"
    _, errors = _forms.parse_form(request, form, {**data, "answer.tags": '["a", 2]'})
    assert errors == {"answer.tags": "$.tags[1]: expected str, got 2"}  # a path inside the field


@enact.register
class Reply(pydantic.BaseModel):
    """A pydantic model answered through the form's JSON field."""

    text: str
    score: int = 0


def _submit(requested: typing.Any, text: str) -> tuple[typing.Any, dict[str, str]]:
    request = _request(requested)
    return _forms.parse_form(request, _forms.form_for(request), {"answer": text})


def test_generic_requested_types_get_fields_and_the_answer_validation() -> None:
    """Requests recorded as TypeForms: a choice for a Literal, JSON for lists, unions, models."""
    assert isinstance(_request(list[str]).requested, TypeForm)
    literal = _forms.form_for(_request(typing.Literal["yes", "no"]))
    assert literal.kind == "choice" and [v for v, _ in literal.choices] == ['"yes"', '"no"']
    optional = _forms.form_for(_request(int | None))
    assert optional.kind == "integer" and optional.optional and optional.type_label == "int | None"
    for requested in (list[str], int | str, Reply, dict[str, tuple[int, ...]]):
        assert _forms.form_for(_request(requested)).kind == "json", requested
    assert _submit(typing.Literal["yes", "no"], '"no"') == ("no", {})
    assert _submit(int | None, "") == (None, {})
    assert _submit(int | None, "3") == (3, {})
    assert _submit(list[str], '["a", "b"]') == (["a", "b"], {})
    assert _submit(int | str, "seven") == ("seven", {})
    assert _submit(Reply, '{"text": "hi"}') == (Reply(text="hi"), {})
    assert _submit(dict[str, tuple[int, ...]], '{"a": [1, 2]}') == ({"a": (1, 2)}, {})
    assert _submit(list[str], '["a", 2]') == (None, {"answer": "$[1]: expected str, got 2"})
    assert _submit(int | None, "x") == (None, {"answer": "expected int, got 'x'"})
    _, errors = _submit(Reply, '{"text": "hi", "score": "high"}')
    assert errors["answer"].startswith("$.score: ")
    _, errors = _submit(Reply, '{"text": "hi", "mood": 1}')
    assert errors == {"answer": "$.mood: unknown field of Reply (its fields: score, text)"}
