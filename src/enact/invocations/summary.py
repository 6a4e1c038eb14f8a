"""`invocation_summary`: a one-line-per-call outline of an invocation tree."""

from __future__ import annotations

from typing import Any

from enact.invocations.engine import Invocation, prefetch_calls
from enact.invocations.records import CallArgs


def format_call(invokable: Any, input_value: Any) -> str:
    """Returns ``invokable(input)`` as the summary prints it."""
    arguments = (
        input_value.format_call() if isinstance(input_value, CallArgs) else repr(input_value)
    )
    return f"{invokable!r}({arguments})"


def invocation_summary(invocation: Invocation, indent: int = 2) -> str:
    """Returns one line per call: ``->invokable(input) = output``, children indented.

    A call that raised shows ``raised`` and the exception; a call without a
    recorded output shows ``(no output)``.
    """
    lines: list[str] = []
    stack: list[tuple[int, Invocation]] = [(0, invocation)]
    while stack:
        depth, current = stack.pop()
        request = current.request()
        response = current.response()
        line = " " * (indent * depth) + "->" + format_call(request.invokable, request.input)
        if response.output is not None:
            line += f" = {response.output()!r}"
        elif response.raised is not None:
            line += f" raised {response.raised()!r}"
        else:
            line += " (no output)"
        lines.append(line)
        prefetch_calls(response.children)
        stack.extend((depth + 1, child) for child in reversed(response.children))
    return "\n".join(lines)
