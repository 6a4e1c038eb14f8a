"""Token usage carried by a call's output: the OpenAI and Anthropic ``usage`` shapes, as data.

Model APIs return what a call cost in a ``usage`` member of their response:
OpenAI's chat completions ``{"prompt_tokens", "completion_tokens",
"total_tokens"}``, its responses API and Anthropic's messages
``{"input_tokens", "output_tokens"}``. `token_usage` finds it in an output
that is a dict, a resource, a pydantic model or any object with a ``usage``
attribute, without importing an SDK.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Final


@dataclasses.dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens a model call used (or a sum of calls).

    Attributes:
        input_tokens: Prompt tokens (OpenAI ``prompt_tokens``, Anthropic
            ``input_tokens``).
        output_tokens: Completion tokens (``completion_tokens`` / ``output_tokens``).
        total_tokens: ``total_tokens`` when reported, else input + output.
        calls: How many calls reported usage.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.calls + other.calls,
        )

    def __bool__(self) -> bool:
        return self.calls > 0


NO_USAGE: Final = frozenset({int, float, str, bytes, bool, type(None), list, tuple, set})
"""Types of outputs that never carry token usage (checked before looking)."""
_INPUT: Final = ("prompt_tokens", "input_tokens")
_OUTPUT: Final = ("completion_tokens", "output_tokens")


def token_usage(output: Any) -> TokenUsage | None:
    """The token usage an output reports in its ``usage`` member, or None.

    ``output["usage"]`` for dicts, ``output.usage`` otherwise; the usage itself
    may be a dict or an object with the token counts as attributes. Counts
    that are not non-negative ints are ignored; a usage with none is None.
    """
    kind = type(output)
    if kind in NO_USAGE:
        return None
    try:
        usage = output.get("usage") if kind is dict else getattr(output, "usage", None)
    except Exception:  # a hostile __getattr__ or a dict subclass: no usage
        return None
    if usage is None:
        return None
    read: Callable[[str], Any] = (
        usage.get if isinstance(usage, dict) else functools.partial(_attribute, usage)
    )
    try:
        input_tokens = _first_count(read, _INPUT)
        output_tokens = _first_count(read, _OUTPUT)
        total = _count(read("total_tokens"))
    except Exception:
        return None
    if input_tokens is None and output_tokens is None and total is None:
        return None
    input_tokens = input_tokens or 0
    output_tokens = output_tokens or 0
    return TokenUsage(
        input_tokens,
        output_tokens,
        total if total is not None else input_tokens + output_tokens,
        1,
    )


def _attribute(value: Any, name: str) -> Any:
    return getattr(value, name, None)


def _first_count(read: Callable[[str], Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _count(read(key))
        if value is not None:
            return value
    return None


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None
