"""How the commands show journals: calls, outcomes, statuses and invocation trees."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from rich.text import Text
from rich.tree import Tree

from enact import registry
from enact.cli import _raw
from enact.cli._safe import clean
from enact.errors import UnknownTypeError
from enact.invocations import requested_types
from enact.invocations.engine import Invocation, prefetch_calls
from enact.invocations.exceptions import (
    TracedException,
    describe_exception,
    format_traceback,
    last_frames,
)
from enact.invocations.inputs import InputRequest, RequestInput
from enact.invocations.records import CallArgs, RecordedException
from enact.pretty import safe_repr, shorten
from enact.refs import Ref
from enact.stores.store import Store
from enact.wrappers import PRIMITIVE_WRAPPERS

COMPLETE: Final = "complete"
RAISED: Final = "raised"
WAITING: Final = "waiting for input"
NO_OUTPUT: Final = "no output"

STATUS_STYLES: Final = {
    COMPLETE: "green",
    RAISED: "red",
    WAITING: "yellow",
    NO_OUTPUT: "dim",
    "answered": "yellow",
    "running": "cyan",
    "interrupted": "magenta",
    "queued": "dim",
}


def run_status(status: str) -> str:
    """A run's status as the commands show it (``waiting`` reads ``waiting for input``)."""
    return WAITING if status == "waiting" else status


VALUE_LIMIT: Final = 200
"""Characters of a value shown in a tree label unless ``--full`` is given."""

_INPUT_REQUEST_TYPE: Final = InputRequest.__enact_type_name__
_CALL_ARGS_TYPE: Final = CallArgs.__enact_type_name__
_RECORDED_TYPE: Final = RecordedException.__enact_type_name__
_INVOCATION_TYPE: Final = Invocation.__enact_type_name__
_TRACED_TYPE: Final = TracedException.__enact_type_name__
_EXCEPTION_TYPES: Final = frozenset({_RECORDED_TYPE, _TRACED_TYPE})

TREE_FRAMES: Final = 3
"""Frames of a failed call's traceback that a tree shows under it (the innermost)."""
_REQUEST_INPUT_TYPE: Final = RequestInput.__enact_type_name__
_UNWRAPPED: Final = {wrapper: value_type for value_type, wrapper in PRIMITIVE_WRAPPERS.items()}


def status(store: Store, has_output: bool, raised: Ref[Any] | _raw.RawRef | None) -> str:
    """The status of a call: complete, raised, waiting for input, or no output.

    Reads only the type name of the exception, so no user type is needed.
    """
    if has_output:
        return COMPLETE
    if raised is None:
        return NO_OUTPUT
    name = _raw.type_name(store.read_tokens(Ref._unchecked(raised.digest)))
    return WAITING if name == _INPUT_REQUEST_TYPE else RAISED


def status_text(value: str) -> Text:
    """A status word in its colour."""
    return Text(value, style=STATUS_STYLES.get(value, ""))


# Decoded journals (types imported) ---------------------------------------------------


def describe_invokable(invokable: Any, limit: int | None) -> str:
    """A registered function by its name, an invokable resource by its repr."""
    if registry.function_info(invokable) is not None:
        return str(getattr(invokable, "__qualname__", invokable))
    return safe_repr(invokable, limit)


def type_label(requested: Any) -> str:
    """The name of a requested type as users write it (``str``, not ``StrWrapper``)."""
    return requested_types.type_label(requested)


def format_call(invokable: Any, input_value: Any, limit: int | None) -> str:
    """``name(arguments)``; `request_input` calls show what they ask for."""
    if isinstance(invokable, RequestInput):
        arguments = f"{type_label(invokable.requested)}, for_value={input_value!r}"
        if invokable.context is not None:
            arguments += f", context={invokable.context!r}"
        return f"request_input({shorten(arguments, limit)})"
    if isinstance(input_value, CallArgs):
        arguments = input_value.format_call()
    else:
        arguments = "" if input_value is None else safe_repr(input_value)
    return f"{describe_invokable(invokable, limit)}({shorten(arguments, limit)})"


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One node of an invocation tree, however it was read."""

    call: str
    state: str
    shown: str  # the output, or the exception, as text
    raised_here: bool
    children: list[Any]
    frames: tuple[str, ...] = ()  # where a call that raised failed: file:line in function


def frame_line(filename: str, lineno: int, name: str) -> str:
    """``at file:line in function``, the file relative to the working directory if inside it."""
    with contextlib.suppress(ValueError, OSError):
        relative = os.path.relpath(filename)
        if not relative.startswith(os.pardir):
            filename = relative
    return f"at {filename}:{lineno} in {name}"


def raised_at(exception: Any) -> str:
    """``at file:line in function`` of where a recorded exception was raised ('' if unknown)."""
    frames = _frames_of(exception)
    return frames[-1] if frames else ""


def _frames_of(exception: Any) -> tuple[str, ...]:
    try:
        frames = last_frames(exception, TREE_FRAMES)
        return tuple(frame_line(frame.filename, frame.lineno, frame.name) for frame in frames)
    except Exception:  # a damaged record (fields of other types): show the call without
        return ()


def _raw_frames_of(exception: Any) -> tuple[str, ...]:
    """`_frames_of` for an exception read with `_raw.parse`."""
    if not isinstance(exception, _raw.RawResource) or exception.type_name != _TRACED_TYPE:
        return ()
    frames = exception.fields.get("frames")
    shown = []
    for frame in frames[-TREE_FRAMES:] if isinstance(frames, list) else []:
        fields = frame.fields if isinstance(frame, _raw.RawResource) else {}
        filename, lineno, name = (fields.get(key) for key in ("filename", "lineno", "name"))
        if isinstance(filename, str) and isinstance(lineno, int) and isinstance(name, str):
            shown.append(frame_line(filename, lineno, name))
    return tuple(shown)


def _label(node: Call, hidden_children: bool = False, cached_from: str | None = None) -> Text:
    """One line for a call: the call, then its output, exception or missing output.

    A call that raised gets the innermost frames of its traceback on the lines
    below, if the exception started in it or its children are not shown. A
    call served by the call cache says so, and which run recorded it
    (`cached_from`; "" for an entry recorded outside a run).
    """
    label = Text(clean(node.call))  # stored text: escape sequences shown escaped
    shown = clean(node.shown)
    if node.state == COMPLETE:
        label.append(" = ")
        label.append(shown, style="green")
        if cached_from is not None:
            source = f", run {clean(cached_from)}" if cached_from else ""
            label.append(f" (from the cache{source})", style="cyan")
    elif node.state == NO_OUTPUT:
        label.append(" (no output)", style="dim")
    elif node.state == WAITING:
        label.append(" waiting for input", style="yellow")
    else:
        label.append(" raised " + shown, style="red")
        if not node.raised_here:
            label.append(" (from a child call)", style="dim")
        if node.raised_here or hidden_children:
            for frame in node.frames:
                label.append("\n    " + frame, style="dim")
    return label


Annotate = Callable[[tuple[int, ...], Any], Text | None]
"""What a tree adds after a call's label: called with its path and the node as read."""


def _tree(
    first: Any,
    read: Callable[[Any], Call],
    depth: int | None,
    annotate: Annotate | None = None,
    cached: Mapping[tuple[int, ...], str] | None = None,
) -> Tree:
    """Reads the nodes of an invocation tree (iteratively: any depth prints) into a rich Tree.

    Children deeper than `depth` levels are counted instead of shown. `cached`
    maps the paths of calls served by the call cache to the run that recorded
    them (`enact.invocations.cache.served_calls`).
    """
    cached = cached or {}
    root: Tree | None = None
    stack: list[tuple[Any, Tree | None, int, tuple[int, ...]]] = [(first, None, 0, ())]
    while stack:
        current, parent, level, path = stack.pop()
        node = read(current)
        children = node.children
        hidden = bool(children) and depth is not None and level >= depth
        label = _label(node, hidden, cached.get(path))
        extra = None if annotate is None else annotate(path, current)
        if extra is not None:
            label.append_text(extra)
        branch = Tree(label) if parent is None else parent.add(label)
        if root is None:
            root = branch
        if hidden:
            more = f"… {len(children)} child call{'s' if len(children) > 1 else ''} not shown"
            branch.add(Text(more + " (raise --depth to see them)", style="dim"))
            continue
        prefetch_calls(children)
        stack.extend(
            (child, branch, level + 1, (*path, index))
            for index, child in reversed(list(enumerate(children)))
        )
    assert root is not None
    return root


def invocation_tree(
    store: Store,
    invocation: Invocation | _raw.RawResource,
    *,
    depth: int | None,
    limit: int | None,
    annotate: Annotate | None = None,
    cached: Mapping[tuple[int, ...], str] | None = None,
) -> Tree:
    """The call tree of an invocation with inputs, outputs and exceptions.

    Calls at the paths in `cached` are marked as served by the call cache.

    A call whose objects hold types not registered here (or not compatible
    with the classes here) is shown as stored, and so are its children:
    inspecting never needs the program. `invocation` may also be one read with
    `_raw.parse` (`enact tree --raw`): then every call is shown as stored.
    """

    def read(current: Any) -> Call:
        if not isinstance(current, Invocation):
            return read_raw_call(store, current, limit)
        try:
            return read_typed(current)
        except UnknownTypeError:
            return read_raw_call(store, as_raw_invocation(current), limit)

    def read_typed(current: Invocation) -> Call:
        request = current.request()
        response = current.response()
        state = status(store, response.output is not None, response.raised)
        frames: tuple[str, ...] = ()
        if state == COMPLETE:
            assert response.output is not None
            shown = safe_repr(response.output.value, limit)
        elif state == RAISED:
            assert response.raised is not None
            exception = response.raised()
            shown = shorten(describe_exception(exception), limit)
            frames = _frames_of(exception)
        else:
            shown = ""
        call = format_call(request.invokable, request.input, limit)
        return Call(call, state, shown, response.raised_here, response.children, frames)

    return _tree(invocation, read, depth, annotate, cached)


# Tracebacks ----------------------------------------------------------------------------


def traceback_text(store: Store, ref: Ref[Any]) -> str | None:
    """The whole recorded traceback (cause chain first) of what `ref` names, if it has one.

    For an exception record: its traceback. For an invocation whose call
    raised: a line saying so, then the traceback of the exception as that call
    saw it. None for anything else. The program's types are not needed: the
    invocation is read as stored, and exception records are enact's own types.

    Raises:
        DecodeError: An invocation's objects are not well-formed.
    """
    tokens = store.read_tokens(ref)
    name = _raw.type_name(tokens)
    header = ""
    if name == _INVOCATION_TYPE:
        response = _raw.parse(store.read_tokens(_raw.ref_field(_raw.parse(tokens), "response")))
        raised = response.fields.get("raised") if isinstance(response, _raw.RawResource) else None
        if not isinstance(raised, _raw.RawRef):
            return None
        ref = Ref._unchecked(raised.digest)
        name = _raw.type_name(store.read_tokens(ref))
        header = "The call raised:\n"
    if name not in _EXCEPTION_TYPES:
        return None
    exception = store.checkout(ref)
    try:
        return header + format_traceback(exception)
    except Exception as err:  # a damaged record: say so rather than fail the command
        return f"{header}(the exception record {ref.digest} cannot be shown: {err})\n"


# Raw journals (no types needed) -------------------------------------------------------


def as_raw_invocation(invocation: Invocation) -> _raw.RawResource:
    """A checked-out invocation as `_raw.parse` would have read it (its two refs)."""
    return _raw.RawResource(
        _INVOCATION_TYPE,
        {
            "request": _raw.RawRef(invocation.request.digest),
            "response": _raw.RawRef(invocation.response.digest),
        },
    )


def read_raw_call(store: Store, invocation: Any, limit: int | None) -> Call:
    """The call, status, output or exception, and children of an invocation read with
    `_raw.parse`, reading its request and response the same way.

    Raises:
        DecodeError: The objects are not a well-formed invocation.
    """
    request = _raw.parse(store.read_tokens(_raw.ref_field(invocation, "request")))
    response = _raw.parse(store.read_tokens(_raw.ref_field(invocation, "response")))
    fields = response.fields if isinstance(response, _raw.RawResource) else {}
    output = fields.get("output")
    state = status(store, output is not None, fields.get("raised"))
    raised_here = bool(fields.get("raised_here"))
    frames: tuple[str, ...] = ()
    if state == COMPLETE:
        value = output.fields.get("value") if isinstance(output, _raw.RawResource) else output
        shown = safe_repr(value, limit)
    elif state == RAISED:
        exception = _raw.parse(store.read_tokens(_raw.ref_field(response, "raised")))
        shown = shorten(raw_exception(exception), limit)
        frames = _raw_frames_of(exception)
    else:
        shown = ""
    children = fields.get("children", [])
    return Call(raw_call(request, limit), state, shown, raised_here, children, frames)


def raw_call(request: Any, limit: int | None) -> str:
    """``name(arguments)`` of a stored `Request` read with `_raw.parse`."""
    if not isinstance(request, _raw.RawResource):
        return safe_repr(request, limit)
    invokable = request.fields.get("invokable")
    input_value = request.fields.get("input")
    if isinstance(invokable, _raw.RawResource) and invokable.type_name == _REQUEST_INPUT_TYPE:
        requested = invokable.fields.get("requested")
        name = requested.type_name if isinstance(requested, _raw.RawType) else "?"
        name = _raw.builtin_label(name) or name.rpartition(".")[2]
        arguments = f"{name}, for_value={input_value!r}"
        context = invokable.fields.get("context")
        if context is not None:
            arguments += f", context={context!r}"
        return f"request_input({shorten(arguments, limit)})"
    if isinstance(invokable, _raw.RawResource) and not invokable.fields:
        name = invokable.short_name  # a registered function
    else:
        name = safe_repr(invokable, limit)
    if isinstance(input_value, _raw.RawResource) and input_value.type_name == _CALL_ARGS_TYPE:
        parts = [safe_repr(arg) for arg in input_value.fields.get("args", [])]
        kwargs = input_value.fields.get("kwargs", {})
        parts.extend(f"{key}={value!r}" for key, value in kwargs.items())
        arguments = ", ".join(parts)
    else:
        arguments = "" if input_value is None else safe_repr(input_value)
    return f"{name}({shorten(arguments, limit)})"


def raw_exception(exception: Any) -> str:
    """``Type: message`` for a stored exception read with `_raw.parse`."""
    if isinstance(exception, _raw.RawResource) and exception.type_name in _EXCEPTION_TYPES:
        type_name = str(exception.fields.get("type_name", "?"))
        message = exception.fields.get("message")
        shown = type_name.removeprefix("builtins.")
        return f"{shown}: {message}" if message else shown
    return safe_repr(exception)


def raw_lines(value: Any, indent: str = "") -> list[str]:
    """Indented lines for a value read with `_raw.parse` (what ``enact show --raw`` prints).

    A value whose repr fits on a line is printed inline; resources, lists and
    dicts that do not fit print one field or item per line.
    """
    if _nested_deeper(value, _INDENT_DEPTH):  # before recursing: any depth prints, quickly
        return [indent + shorten(safe_repr(value), 1000) + " (nested too deeply to indent)"]
    return _raw_lines(value, indent)


_INDENT_DEPTH: Final = 200


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether containers in `value` nest more than `limit` levels deep (iteratively)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, _raw.RawResource):
            children: Any = item.fields.values()
        elif isinstance(item, list):
            children = item
        elif isinstance(item, dict):
            children = item.values()
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _raw_lines(value: Any, indent: str) -> list[str]:
    text = safe_repr(value)
    if len(indent) + len(text) <= 100:
        return [indent + text]
    items: list[tuple[str, Any]]
    if isinstance(value, _raw.RawResource):
        header = f"{value.type_name}:"
        items = list(value.fields.items())
    elif isinstance(value, list):
        header, items = "list:", [(f"[{i}]", item) for i, item in enumerate(value)]
    elif isinstance(value, dict):
        header, items = "dict:", [(repr(key), item) for key, item in value.items()]
    else:
        return [indent + text]
    lines = [indent + header]
    inner = indent + "  "
    for label, item in items:
        nested = _raw_lines(item, inner + "  ")
        if len(nested) == 1:
            lines.append(f"{inner}{label}: {nested[0].lstrip()}")
        else:
            lines.append(f"{inner}{label}:")
            lines.extend(nested)
    return lines
