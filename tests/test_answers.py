"""Answers validated in full: `enact.invocations.answers` (for the API, the CLI, the web UI)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pathlib
import uuid
from typing import Any, Literal

import attrs
import pydantic
import pytest

import enact
from enact.invocations.answers import answer_hint, convert_answer, parse_answer


@enact.register
@dataclasses.dataclass
class Approval(enact.Resource):
    """The issue's example: a decision with a reviewer."""

    approved: bool
    reviewer: str
    note: str | None = None


@enact.register
@dataclasses.dataclass
class Review(enact.Resource):
    """A resource with nested resources and collections."""

    approvals: list[Approval]
    scores: dict[str, float]
    span: tuple[int, int]


class Color(enum.Enum):
    """An enum of strings."""

    RED = "red"
    BLUE = "blue"


@enact.register
class ToolCall(pydantic.BaseModel):
    """A pydantic model, as in an SDK's tool call."""

    name: str
    arguments: dict[str, int]
    when: datetime.datetime | None = None


@enact.register
@attrs.define
class Point:
    """An attrs class with a default."""

    x: int
    y: int = 0


def problems(value: Any, requested: Any) -> list[tuple[str, str]]:
    """The problems AnswerError names for `value` (fails if there are none)."""
    with pytest.raises(enact.AnswerError) as info:
        convert_answer(value, requested)
    assert isinstance(info.value, enact.InputTypeError)  # what callers caught before
    return info.value.problems


def test_the_issue_example_names_each_field_path() -> None:
    """{"approved": "no", "reviewer": 42} is refused: both fields, what is wrong, and the fix."""
    with pytest.raises(enact.AnswerError) as info:
        convert_answer({"approved": "no", "reviewer": 42}, Approval)
    message = str(info.value)
    assert "$.approved: expected bool, got 'no'" in message
    assert "$.reviewer: expected str, got 42" in message
    assert '"note"?: str | None' in message  # the fix: what an answer looks like
    assert info.value.expected == "Approval"


def test_dataclass_fields_defaults_and_unknown_fields() -> None:
    """Defaults may be left out; missing required and unknown fields are refused."""
    assert convert_answer({"approved": True, "reviewer": "ann"}, Approval) == Approval(
        True, "ann", None
    )
    assert problems({"approved": True}, Approval) == [
        ("$.reviewer", "missing: a required field of Approval")
    ]
    assert problems({"approved": True, "reviewer": "a", "extra": 1}, Approval) == [
        ("$.extra", "unknown field of Approval (its fields: approved, reviewer, note)")
    ]


def test_an_instance_is_checked_field_by_field() -> None:
    """An instance built with wrong field types is refused like the dict would be."""
    assert problems(Approval("no", 42), Approval) == [  # type: ignore[arg-type]
        ("$.approved", "expected bool, got 'no'"),
        ("$.reviewer", "expected str, got 42"),
    ]
    good = Approval(False, "bo")
    assert convert_answer(good, Approval) is good


def test_nested_resources_and_collections() -> None:
    """Paths reach into lists, dicts and tuples of nested resources."""
    data: dict[str, Any] = {
        "approvals": [{"approved": True, "reviewer": "a"}, {"approved": 1, "reviewer": "b"}],
        "scores": {"x": 1, "y": "high"},
        "span": [1, 2, 3],
    }
    assert problems(data, Review) == [
        ("$.approvals[1].approved", "expected bool, got 1"),
        ("$.scores['y']", "expected float, got 'high'"),
        ("$.span", "expected tuple[int, int] (2 items), got 3 items"),
    ]
    fixed = {**data, "approvals": data["approvals"][:1], "scores": {"x": 1}, "span": [1, 2]}
    review = convert_answer(fixed, Review)
    assert review == Review([Approval(True, "a")], {"x": 1.0}, (1, 2))
    assert type(review.scores["x"]) is float and type(review.span) is tuple


def test_generic_forms() -> None:
    """list, dict[str, ...], tuple, Literal, Optional and unions."""
    assert convert_answer(["a", "b"], list[str]) == ["a", "b"]
    assert problems(["a", 1], list[str]) == [("$[1]", "expected str, got 1")]
    assert convert_answer([1, 2], tuple[int, ...]) == (1, 2)
    assert convert_answer(["a"], set[str]) == {"a"}
    assert convert_answer("yes", Literal["yes", "no"]) == "yes"
    assert problems("maybe", Literal["yes", "no"]) == [
        ("$", "expected one of 'yes', 'no', got 'maybe'")
    ]
    assert problems(True, Literal[1, 2]) == [("$", "expected one of 1, 2, got True")]
    assert convert_answer(None, str | None) is None
    assert problems(3, str | None) == [("$", "expected str | None, got 3")]
    assert convert_answer(3, int | str) == 3 and convert_answer("3", int | str) == "3"
    assert type(convert_answer(3, float | None)) is float
    assert problems({"approved": True, "reviewer": 1}, Approval | None) == [
        ("$.reviewer", "expected str, got 1")
    ]


def test_scalars_are_exact() -> None:
    """True is no int, '1' is no int; an int is a float; str is taken as UTF-8 bytes."""
    assert problems(True, int) == [("$", "expected int, got True")]
    assert problems("1", int) == [("$", "expected int, got '1'")]
    assert convert_answer(2, float) == 2.0
    assert convert_answer("é", bytes) == "é".encode()
    assert problems(1, None) == [("$", "expected None, got 1")]


def test_enums_and_standard_library_values() -> None:
    """Enums by member, value or name; datetimes and friends from their text forms."""
    assert convert_answer("red", Color) is Color.RED
    assert convert_answer("BLUE", Color) is Color.BLUE
    assert problems("green", Color) == [("$", "expected Color (one of 'red', 'blue'), got 'green'")]
    when = convert_answer("2024-05-06T07:08:09+02:00", datetime.datetime)
    assert when == datetime.datetime(
        2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert convert_answer("2024-05-06", datetime.date) == datetime.date(2024, 5, 6)
    assert convert_answer(90, datetime.timedelta) == datetime.timedelta(seconds=90)
    text = "12345678-1234-5678-1234-567812345678"
    assert convert_answer(text, uuid.UUID) == uuid.UUID(text)
    assert str(convert_answer("1.10", decimal.Decimal)) == "1.10"
    assert convert_answer("a/b", pathlib.PurePosixPath) == pathlib.PurePosixPath("a/b")
    assert problems("not a date", datetime.date) == [("$", "expected date, got 'not a date'")]


def test_pydantic_models_are_validated_by_pydantic_strictly() -> None:
    """A model is validated by pydantic (strict: '1' is no int); unknown fields are refused."""
    call = convert_answer({"name": "search", "arguments": {"k": 3}}, ToolCall)
    assert call == ToolCall(name="search", arguments={"k": 3})
    assert type(call) is ToolCall
    timed = convert_answer({"name": "s", "arguments": {}, "when": "2024-01-02T03:04:05Z"}, ToolCall)
    assert timed.when == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    found = problems({"name": "s", "arguments": {"k": "3"}}, ToolCall)
    assert [path for path, _ in found] == ["$.arguments.k"]
    assert "valid integer" in found[0][1] and "got '3'" in found[0][1]
    assert problems({"name": "s", "arguments": {}, "bogus": 1}, ToolCall) == [
        ("$.bogus", "unknown field of ToolCall (its fields: arguments, name, when)")
    ]
    built = ToolCall.model_construct(name=5, arguments={})  # skips pydantic's own checks
    assert [path for path, _ in problems(built, ToolCall)] == ["$.name"]


def test_attrs_classes() -> None:
    """attrs fields with defaults; annotations checked."""
    assert convert_answer({"x": 1}, Point) == Point(1, 0)
    assert problems({"x": "1"}, Point) == [("$.x", "expected int, got '1'")]
    assert problems({"y": 1}, Point) == [("$.x", "missing: a required field of Point")]


def test_parse_text_as_typed() -> None:
    """What the CLI and a web form send: text, read by the requested type."""
    assert parse_answer("yes", bool) is True and parse_answer("off", bool) is False
    assert parse_answer("hello", str) == "hello"
    assert parse_answer('"quoted"', str) == "quoted"
    assert parse_answer("", None) is None
    assert parse_answer("yes", Literal["yes", "no"]) == "yes"
    assert parse_answer("1", Literal["1", "2"]) == "1"
    assert parse_answer("hello", str | None) == "hello"
    assert parse_answer("3", int | None) == 3
    assert parse_answer('["a", "b"]', list[str]) == ["a", "b"]
    assert parse_answer("red", Color) is Color.RED
    assert parse_answer("2024-01-02", datetime.date) == datetime.date(2024, 1, 2)
    assert parse_answer('{"approved": true, "reviewer": "x"}', Approval) == Approval(True, "x")
    with pytest.raises(enact.AnswerError, match=r"\$: expected JSON for list\[str\]"):
        parse_answer("a, b", list[str])
    with pytest.raises(enact.AnswerError, match=r"\$.approved: expected bool, got 'no'"):
        parse_answer('{"approved": "no", "reviewer": "x"}', Approval)


def test_hint_shows_the_fields() -> None:
    """The fix names every field, its type, and which may be left out."""
    assert (
        answer_hint(Point)
        == 'Point as a JSON object {"x": int, "y"?: int} (? marks optional fields)'
    )
    assert answer_hint(list[int]) == "a value of type list[int]"
