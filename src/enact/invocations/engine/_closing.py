"""Ending a call: the checks on its request, and the commit of its response.

A finished call's response holds its output or the record of its exception
(`commit_exception`), and its children. An output that cannot be stored
becomes the call's exception, so the journal and the caller see the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from enact import registry
from enact.encoding import DECODE, decode, encode, read_back
from enact.errors import EnactError
from enact.invocations.engine._invocation import Invocation
from enact.invocations.exceptions import record_exception
from enact.invocations.records import CallArgs, Output, Request, Response
from enact.invocations.responses import IMMUTABLE_TYPES, commit_response
from enact.refs import Ref
from enact.resources import Resource
from enact.stores.store import Store


def request_changed(tokens: bytes | None, invokable: Any, input_value: Any) -> bool:
    """Whether a call changed its own invokable or input (checked only if it could have)."""
    if tokens is None or is_frozen(invokable, input_value):
        return False
    try:
        return encode(Request(invokable, input_value))[0] != tokens
    except EnactError:
        return True


@dataclasses.dataclass(slots=True)
class Closed:
    """A finished call as `Frame.close` recorded it.

    Attributes:
        response: The committed response (None if it was not to be committed).
        raised: The committed exception, or None.
        raised_here: Whether the exception started in this call.
        error: The exception the call ends with, or None.
        output: The output as recorded: what a replay of the call returns (a
            fresh copy, its dicts in stored order), so that the caller sees
            the same value on the first run; None if the call raised.
    """

    response: Ref[Response] | None
    raised: Ref[Any] | None
    raised_here: bool
    error: BaseException | None
    output: Any = None


def commit_outcome(
    store: Store,
    children: list[Invocation],
    child_errors: list[BaseException],
    output: Any,
    error: BaseException | None,
    commit: bool,
) -> Closed:
    """Commits the response of a finished call; returns it and the call's exception.

    An output that cannot be committed turns into the call's exception, so
    the journal and the caller both see why.
    """
    if error is None:
        if not commit:
            return Closed(None, None, False, None, output)
        try:
            box = Response(Output(output), None, False, children)
            if type(output) in IMMUTABLE_TYPES:
                return Closed(commit_response(store, box), None, False, None, output)
            tokens, links = encode(box)
            response: Ref[Response] = store.commit_tokens(tokens, links, Ref)
            return Closed(response, None, False, None, as_recorded(tokens, output, _output_of))
        except EnactError as commit_error:
            error = commit_error
    raised_here = not any(error is seen for seen in child_errors)
    raised = commit_exception(store, error)
    response_ref = (
        commit_response(store, Response(None, raised, raised_here, children)) if commit else None
    )
    return Closed(response_ref, raised, raised_here, error)


def as_recorded(tokens: bytes, value: Any, part: Callable[[Any], Any]) -> Any:
    """`value` as a replay will read it: `part` of the decoded `tokens` (a fresh copy,
    dicts in stored order). Most values are copied so without decoding
    (`enact.encoding.read_back`). A value that encodes but does not decode is the caller's own
    (its replay will report the problem)."""
    copied = read_back(value)
    if copied is not DECODE:
        return copied
    try:
        return part(decode(tokens))
    except Exception:
        return value


def _output_of(response: Any) -> Any:
    return response.output.value


def commit_exception(store: Store, error: BaseException) -> Ref[Any]:
    """Commits the record of `error`: the exception itself if it is a resource, else a
    `TracedException` (type, message, traceback, chain)."""
    try:
        return store.commit(exception_resource(error))
    except EnactError:  # an exception resource holding values that cannot be stored
        return store.commit(record_exception(error))


def is_frozen(invokable: Any, input_value: Any) -> bool:
    """Whether neither the invokable nor the input can be changed by the call.

    Then the check that a call did not mutate its own request can be skipped.
    """
    if registry.function_info(invokable) is None:
        return False
    if type(input_value) is CallArgs:
        # Loops, not all() over generators: this runs for every journaled call.
        immutable = IMMUTABLE_TYPES
        for arg in input_value.args:
            if type(arg) not in immutable:
                return False
        kwargs = input_value.kwargs
        if kwargs:
            for arg in kwargs.values():
                if type(arg) not in immutable:
                    return False
        return True
    return type(input_value) in IMMUTABLE_TYPES


def exception_resource(error: BaseException) -> Any:
    if isinstance(error, Resource):
        return error
    return record_exception(error)
