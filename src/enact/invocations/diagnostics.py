"""Messages for calls that cannot be journaled or replayed.

Each error names the call (invokable and input) as the spec prints it, where
in the tree it happened (child indices from the root), and what to do.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from enact import registry
from enact.encoding import encode
from enact.errors import IncompleteSubinvocationError, InvocationError, ReplayError

if TYPE_CHECKING:
    from enact.invocations.engine import Frame, Invocation, _Pending


def digest_of(value: Any) -> str:
    return hashlib.sha256(encode(value)[0]).hexdigest()


def replay_error(
    frame: Frame, index: int, recorded: Invocation, invokable: Any, input_value: Any
) -> ReplayError:
    request = recorded.request()
    expected = describe_request(request.invokable, request.input, short=True)
    actual = describe_request(invokable, input_value, short=False)
    if digest_or_none(request.invokable) != digest_or_none(invokable):
        difference = "invokable"
    elif digest_or_none(request.input) != digest_or_none(input_value):
        difference = "input"
    else:
        difference = "request"
    path = (*frame.path, index)
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
    incomplete: tuple[int, _Pending], error: BaseException | None
) -> IncompleteSubinvocationError:
    index, pending = incomplete
    result = IncompleteSubinvocationError(
        f"Subinvocation {index} did not complete during invocation of parent: "
        f"{pending.invokable!r} invoked on {pending.input!r}"
    )
    if error is not None:
        result.add_note(f"The parent itself raised {type(error).__name__}: {error}")
        result.__cause__ = error
    return result


def mutation_error(invokable: Any, frame: Frame) -> InvocationError:
    where = f"child {list(frame.path)} of the root" if frame.path else "the root invocation"
    return InvocationError(
        f"{describe(invokable)} changed its own input or fields while running ({where}). "
        "Journaled calls must not mutate their input or invokable: copy the value before "
        "changing it."
    )
