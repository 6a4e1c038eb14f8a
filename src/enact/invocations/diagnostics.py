"""Messages for calls that cannot be journaled or replayed.

Each error names the call (invokable and input) as the spec prints it, where
in the tree it happened (child indices from the root), and what to do.
"""

from __future__ import annotations

import hashlib
from typing import Any

from enact import registry
from enact.encoding import encode
from enact.errors import IncompleteSubinvocationError, InvocationError, ReplayError
from enact.invocations.records import Request


def digest_of(value: Any) -> str:
    return hashlib.sha256(encode(value)[0]).hexdigest()


def replay_error(
    parent_path: tuple[int, ...],
    index: int,
    request: Request | None,
    invokable: Any,
    input_value: Any,
) -> ReplayError:
    """The error for a call at `index` that does not match the recorded `request`.

    `request` is None when the recorded call is known only by its digest.
    """
    actual = describe_request(invokable, input_value, short=False)
    if request is None:
        expected = "(another call, still running when the journal was written)"
        difference = "request"
    else:
        expected = describe_request(request.invokable, request.input, short=True)
        if digest_or_none(request.invokable) != digest_or_none(invokable):
            difference = "invokable"
        elif digest_or_none(request.input) != digest_or_none(input_value):
            difference = "input"
        else:
            difference = "request"
    path = (*parent_path, index)
    error = ReplayError(
        f"Expected invocation {expected} but got {actual}.\n"
        "Ensure that calls to subinvokables are deterministic or use strict=False.",
        path=path,
        expected=expected,
        actual=actual,
        difference=difference,
    )
    error.add_note(
        f"At child path {list(path)} from the root invocation: the {difference} differs "
        "from the recorded call."
    )
    return error


def digest_or_none(value: Any) -> str | None:
    try:
        return digest_of(value)
    except Exception:
        return None


def describe(invokable: Any) -> str:
    if registry.function_info(invokable) is not None:
        return str(getattr(invokable, "__qualname__", repr(invokable)))
    return repr(invokable)


def describe_request(invokable: Any, input_value: Any, *, short: bool) -> str:
    name = describe(invokable) if short else repr(invokable)
    return f"{name}({input_value!r})"


def incomplete_error(
    index: int, invokable: Any, input_value: Any, error: BaseException | None
) -> IncompleteSubinvocationError:
    result = IncompleteSubinvocationError(
        f"Subinvocation {index} did not complete during invocation of parent: "
        f"{invokable!r} invoked on {input_value!r}"
    )
    if error is not None:
        result.add_note(f"The parent itself raised {type(error).__name__}: {error}")
        result.__cause__ = error
    return result


def mutation_error(invokable: Any, path: tuple[int, ...]) -> InvocationError:
    where = f"child {list(path)} of the root" if path else "the root invocation"
    return InvocationError(
        f"{describe(invokable)} changed its own input or fields while running ({where}). "
        "Journaled calls must not mutate their input or invokable: copy the value before "
        "changing it."
    )
