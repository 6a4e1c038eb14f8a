"""Matching a call against its recorded slot, and what a call without record gets.

A call is matched with the recorded child at its position by request digest;
`upgrades_to` also accepts a request recorded before a rename or a new
defaulted field. The functions here read records; they run nothing.
"""

from __future__ import annotations

from types import FunctionType
from typing import Any, Final

from enact import registry
from enact.digests import quote
from enact.encoding import DECODE, encode, read_back, spell_primitive
from enact.errors import EnactError, UnrecordedCallError, UnsupportedValueError
from enact.invocations import providers
from enact.invocations.diagnostics import describe_request
from enact.invocations.engine._invocation import Invocation, OpenCall
from enact.invocations.records import CallArgs, Request, Response
from enact.invocations.responses import IMMUTABLE_TYPES, read_response
from enact.refs import Ref
from enact.stores.store import Store

_NOT_SEEN: Final = ("", "", "")
_frames: dict[Any, tuple[str, str, str]] = {}
"""Per registered function: its request's tokens around the args and the kwargs."""


def request_tokens(invokable: Any, input_value: Any) -> tuple[bytes, list[str]]:
    """``encode(Request(invokable, input_value))``, the same bytes, made faster for the
    common call: a registered function with arguments of primitive values.

    Every call a program makes is encoded so (its digest is what a replay compares
    with the record); the request's tokens around the arguments are the same for
    every call of a function, and spelled once per function.
    """
    if type(input_value) is CallArgs and type(invokable) is FunctionType:
        frame: tuple[str, str, str] | None = _frames.get(invokable, _NOT_SEEN)
        if frame is _NOT_SEEN:
            frame = _frame_of(invokable)
            if frame is not None:  # kept: a registered function's name never changes
                _frames[invokable] = frame
        if frame is not None:
            args = _spelled_args(input_value.args)
            kwargs = input_value.kwargs
            spelled_kwargs = "" if not kwargs else _spelled_kwargs(kwargs)
            if args is not None and spelled_kwargs is not None:
                head, middle, tail = frame
                text = head + args + middle + spelled_kwargs + tail
                return text.encode("utf-8"), []
    try:
        return encode(Request(invokable, input_value))
    except UnsupportedValueError as err:
        raise explained_request_error(err, invokable) from err.__cause__


def commit_request(store: Store, invokable: Any, input_value: Any) -> Ref[Request]:
    """Commits ``Request(invokable, input_value)`` (a run's first request) to `store`.

    Raises:
        UnsupportedValueError: As `request_tokens`.
    """
    try:
        return store.commit(Request(invokable, input_value))
    except UnsupportedValueError as err:
        raise explained_request_error(err, invokable) from err.__cause__


def explained_request_error(err: UnsupportedValueError, invokable: Any) -> UnsupportedValueError:
    """`err`, a request's value that cannot be stored, with what to do about it when that
    value is the instance a registered method is called on (its ``self``)."""
    if err.path != "$.input.args[0]" or not _is_method(invokable):
        return err
    return UnsupportedValueError(
        f"{err} It is the instance this method is called on (self): it is part of each "
        f"call's request, so it must be stored too. Make {_type_name(err.value_type)} a "
        "resource (@enact.register on a dataclass subclassing enact.Resource), or register "
        "a function that takes what the call needs as its arguments.",
        path=err.path,
        value_type=err.value_type,
    )


def _is_method(invokable: Any) -> bool:
    """Whether `invokable` is a registered function whose first parameter is ``self``."""
    function = getattr(invokable, "__wrapped__", None)
    code = getattr(function, "__code__", None)
    return code is not None and code.co_argcount > 0 and code.co_varnames[0] == "self"


def _type_name(cls: type | None) -> str:
    return "its class" if cls is None else f"{cls.__module__}.{cls.__qualname__}"


def _frame_of(invokable: Any) -> tuple[str, str, str] | None:
    """The tokens of a request of `invokable` before its args, between them and its
    kwargs' items, and after; None if `invokable` is not a registered function."""
    if registry.function_info(invokable) is None:
        return None
    text = encode(Request(invokable, CallArgs([], {})))[0].decode("utf-8")
    marker = "'args'seq[]'kwargs'map[]"
    if text.count(marker) != 1:
        return None
    head, tail = text.split(marker)
    return head + "'args'seq[", "]'kwargs'map[", "]" + tail


def _spelled_args(args: Any) -> str | None:
    if type(args) is not list:
        return None
    parts = []
    for value in args:
        spelled = spell_primitive(value)
        if spelled is None:
            return None
        parts.append(spelled)
    return "".join(parts)


def _spelled_kwargs(kwargs: Any) -> str | None:
    if type(kwargs) is not dict:
        return None
    for key in kwargs:
        if type(key) is not str:
            return None  # stored as the wrapper of a dict with other keys
    parts = []
    for key in sorted(kwargs) if len(kwargs) > 1 else kwargs:
        spelled = spell_primitive(kwargs[key])
        if spelled is None:
            return None
        parts.append((repr(key) if key.isascii() else quote(key)) + spelled)
    return "".join(parts)


def upgrades_to(store: Store, recorded: Ref[Request], tokens: bytes) -> bool:
    """Whether a recorded request, read with today's classes, is the request `tokens` spells.

    A request recorded before a class or function was renamed (with an alias)
    or gained a field with a default has another digest than the same call
    made now; read with the current classes and encoded again, it spells the
    same tokens. Only tried when the digests differ.
    """
    try:
        return encode(store.checkout(recorded))[0] == tokens
    except EnactError:  # types not registered here, or not compatible: not the same call
        return False


def recorded_ref(recorded: Invocation | OpenCall) -> Ref[Request] | None:
    if isinstance(recorded, OpenCall):
        return None if recorded.request_digest is None else Ref._unchecked(recorded.request_digest)
    return recorded.request


def served_value(store: Store, served: Ref[Response]) -> Any:
    """The output of a response that a provider serves (a copy, if it could be changed)."""
    response = read_response(store, served)
    assert response.output is not None, "providers serve responses with an output"
    return own_copy(store, served, response.output.value)


def own_copy(store: Store, response: Ref[Response], value: Any) -> Any:
    """A recorded output `value` (of `response`) for a caller to keep: a fresh copy, unless
    it cannot be changed. Copied without the decoder where `read_back` can; else read again."""
    if type(value) in IMMUTABLE_TYPES:
        return value
    copied = read_back(value)
    if copied is not DECODE:
        return copied
    fresh = store.checkout(response).output
    assert fresh is not None  # the same response, read again
    return fresh.value


def new_call_error(
    template: list[Any] | None,
    path: tuple[int, ...],
    index: int,
    invokable: Any,
    input_value: Any,
) -> UnrecordedCallError:
    """The error for a call at `index` of the frame at `path` that `template` lacks."""
    nearby: list[tuple[int, str]] = []
    if template is not None:
        for position in range(max(0, index - 2), min(len(template), index + 2)):
            request = recorded_request(template[position])
            nearby.append(
                (
                    position,
                    "(a call that did not finish)"
                    if request is None
                    else describe_request(request.invokable, request.input, short=True),
                )
            )
    return providers.new_call_error(
        path,
        index,
        nearby,
        invokable,
        input_value,
        recorded_count=None if template is None else len(template),
    )


def recorded_request(recorded: Invocation | OpenCall) -> Request | None:
    if isinstance(recorded, OpenCall):
        return None
    request: Request = recorded.request()
    return request


def convert_answer(raised: Ref[Any], value: Any) -> Any:
    """An override for an input request is converted and checked as an answer."""
    exception = raised()
    convert = getattr(exception, "convert_answer", None)
    return value if convert is None else convert(value)
