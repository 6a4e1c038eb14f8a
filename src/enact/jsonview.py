"""The JSON view of stored objects: values, refs, runs, call trees and input requests.

One schema (documented in docs/JSON.md) for everything that shows the store to
a script or a page: ``enact log/show/tree/inbox --json`` and the web UI. Every
function returns plain JSON data (dicts, lists, str, int, float, bool, None)
and `dumps` writes it.

Values are read from their stored form, so the JSON of an object is the same
whether the program's types are registered or not: a decoded value is encoded
first (no store access), a value read with `enact.encoding.decode_raw` is used
as it is. In a value:

* ``None``, bools, strs, lists, finite floats and ints within +-(2**53 - 1) are
  themselves;
* every other value is a *tagged object*, whose one key starts with a single
  ``$``: ``{"$ref": digest}``, ``{"$bytes": base64}``, ``{"$float": "nan"}``,
  ``{"$int": "123..."}``,
  ``{"$type": name}``, ``{"$resource": name, "fields": {...}}`` and
  ``{"$elided": why}`` (nested deeper than `MAX_DEPTH`);
* a dict is a JSON object whose keys that start with ``$`` get one more ``$``
  (``{"$x": 1}`` is written ``{"$$x": 1}``), so it never reads as a tag.

The module sits below the command line and the web UI and imports neither.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import time
from collections.abc import Iterable
from typing import Any, Final

from enact.encoding import DecodeError, RawInt, RawRef, RawResource, RawType, decode_raw, encode
from enact.encoding import stored_type_name as _stored_type_name
from enact.errors import CorruptObjectError, NotFoundError
from enact.invocations.exceptions import TracedException
from enact.invocations.records import CallArgs, RecordedException
from enact.invocations.runs import Run, RunState
from enact.refs import Ref
from enact.stores.store import Store

__all__ = [
    "INT_DIGITS",
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "SCHEMA",
    "call_node",
    "call_tree",
    "dumps",
    "exception_view",
    "input_request",
    "object_view",
    "ref",
    "run",
    "run_input_requests",
    "run_state",
    "safe_read",
    "stored_value",
    "timestamp",
    "type_label",
    "value",
]

SCHEMA: Final = 1
"""The schema version; documents that carry it (``enact show --json``) name it as ``schema``."""

MAX_SAFE_INT: Final = 2**53 - 1
"""Ints beyond +-MAX_SAFE_INT are tagged: JavaScript and many JSON readers round them."""

INT_DIGITS: Final = 4300
"""Stored ints of more decimal digits are read as their text (`RawInt`), never converted:
converting decimal text to an int and back takes time quadratic in its length."""

MAX_DEPTH: Final = 100
"""Containers nested deeper in a value are elided, so that any JSON reader can read it."""

TREE_DEPTH: Final = 200
"""Call levels `call_tree` shows at most (each level is two JSON levels)."""

WRAPPER_PREFIX: Final = "enact.resource_registry."
_INVOCATION: Final = "enact.invocations.Invocation"
_REQUEST_INPUT: Final = "enact.invocations.RequestInput"
_INPUT_REQUEST: Final = "enact.invocations.InputRequest"
_RECORDED_TYPES: Final = frozenset(
    {RecordedException.__enact_type_name__, TracedException.__enact_type_name__}
)
_FRAME_FIELDS: Final = ("filename", "lineno", "name", "line")
_CHAIN_LIMIT: Final = 50
"""Cause/context links shown at most (enact records up to 20; more is a damaged record)."""
_CALL_ARGS: Final = CallArgs.__enact_type_name__

Json = Any
"""JSON data: dict, list, str, int, float, bool or None."""


# Values ---------------------------------------------------------------------------


def _is_raw(data: Any) -> bool:
    return isinstance(data, (RawResource, RawRef, RawType, RawInt))


def value(data: Any) -> Json:
    """The JSON of a value: decoded (types registered) or read with `decode_raw`.

    A decoded value is encoded first, so both give the same JSON. A value
    that contains raw parts (`RawResource`, `RawRef`, `RawType`) is taken as
    read raw throughout.
    """
    if not _holds_raw(data):
        data = decode_raw(encode(data)[0], int_digits=INT_DIGITS)
    return _value(_unwrap(data), 0)


def _holds_raw(data: Any) -> bool:
    stack = [data]
    seen = 0
    while stack and seen < 10_000:
        item = stack.pop()
        seen += 1
        if _is_raw(item):
            return True
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def _unwrap(data: Any) -> Any:
    """A top-level primitive is stored in a built-in wrapper: show the primitive."""
    if (
        isinstance(data, RawResource)
        and data.type_name.startswith(WRAPPER_PREFIX)
        and set(data.fields) == {"wrapped"}
    ):
        return data.fields["wrapped"]
    return data


def _value(data: Any, depth: int) -> Json:
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        return _int(data)
    if isinstance(data, float):
        if math.isfinite(data):
            return data
        return {"$float": "nan" if math.isnan(data) else ("inf" if data > 0 else "-inf")}
    if isinstance(data, bytes):
        return {"$bytes": base64.b64encode(data).decode("ascii")}
    if isinstance(data, RawInt):
        return {"$int": data.decimal}
    if isinstance(data, RawRef):
        return {"$ref": data.digest}
    if isinstance(data, RawType):
        return {"$type": data.type_name}
    if depth >= MAX_DEPTH:
        return {"$elided": f"nested more than {MAX_DEPTH} levels deep"}
    if isinstance(data, RawResource):
        fields = {name: _value(item, depth + 1) for name, item in data.fields.items()}
        return {"$resource": data.type_name, "fields": fields}
    if isinstance(data, list):
        return [_value(item, depth + 1) for item in data]
    if isinstance(data, dict):
        return {_key(key): _value(item, depth + 1) for key, item in data.items()}
    return {"$resource": type(data).__qualname__, "fields": {}}  # not from decode_raw


def _key(key: str) -> str:
    return "$" + key if key.startswith("$") else key


def _int(number: int) -> Json:
    if -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
        return number
    return {"$int": str(number)}  # at most INT_DIGITS digits: larger ones are read as RawInt


def stored_value(store: Store, target: Ref[Any] | RawRef | str) -> Json:
    """The JSON of a stored object, read without its types (`value` of its stored form).

    Raises:
        NotFoundError: The store has no such object.
        CorruptObjectError: Its bytes are not a well-formed object.
    """
    digest = target if isinstance(target, str) else target.digest
    return _value(_unwrap(_read(store, digest)), 0)


def _read(store: Store, digest: str) -> Any:
    tokens = store.read_tokens(Ref._unchecked(digest))
    try:
        return decode_raw(tokens, int_digits=INT_DIGITS)
    except DecodeError as err:
        location = store.backend.locate(digest)
        raise CorruptObjectError(
            f"Object {digest} at {location} hashes correctly but cannot be read ({err}).",
            digest=digest,
            location=location,
        ) from err


def type_label(type_name: str | None) -> str:
    """The type of a stored object as shown: a stored type name, or ``int``, ``str``, ...

    None (a stored form that is not a resource) reads ``value``.
    """
    if type_name is None:
        return "value"
    if type_name.startswith(WRAPPER_PREFIX):
        label = type_name[len(WRAPPER_PREFIX) :].removesuffix("Wrapper")
        return label if label == "None" else label.lower()
    return type_name


def object_view(store: Store, target: Ref[Any] | str) -> dict[str, Json]:
    """``{"schema", "ref", "type", "value"}`` for any stored object (``enact show --json``)."""
    digest = target if isinstance(target, str) else target.digest
    tokens = store.read_tokens(Ref._unchecked(digest))
    try:
        name = _stored_type_name(tokens)
    except DecodeError:
        name = None
    return {
        "schema": SCHEMA,
        "ref": digest,
        "type": type_label(name),
        "value": stored_value(store, digest),
    }


def ref(target: Ref[Any] | RawRef | None) -> str | None:
    """A ref is its digest (64 hex digits); None stays None."""
    return None if target is None else target.digest


def timestamp(seconds: float | None) -> str | None:
    """A ``time.time()`` as ISO 8601 in UTC with microseconds (``2026-01-02T03:04:05.000006Z``)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Runs -------------------------------------------------------------------------------


def run_state(state: RunState, head: Ref[Any] | None = None) -> dict[str, Json]:
    """The JSON of one `RunState` (a run's head, or a state of its history)."""
    return {
        "state": ref(head),
        "run": state.run_id,
        "status": state.effective_status(),
        "event": state.event,
        "function": state.function,
        "created": timestamp(state.created),
        "updated": timestamp(state.updated),
        "request": ref(state.request),
        "tree": ref(state.tree),
        "raised": ref(state.raised),
        "raised_here": state.raised_here,
        "owner": state.owner,
        "lease_until": timestamp(state.lease_until),
        "previous": ref(state.previous),
        "forked_from": state.forked_from,
        "queue": state.queue,
        "answer_path": state.answer_path,
        "answer": ref(state.answer),
    }


def run(found: Run, *, call: str | None = None) -> dict[str, Json]:
    """The JSON of a run: its id, status, times and head (`run_state` fields).

    Args:
        found: The run.
        call: The call as text (``greet('Dana')``), when the caller made it.
    """
    data: dict[str, Json] = {"id": found.id, **run_state(found.state, found.head)}
    data["head"] = data.pop("state")
    del data["run"]
    data["cursor"] = found.cursor
    if call is not None:
        data["call"] = call
    return data


# Call trees -------------------------------------------------------------------------


def _fields(data: Any) -> dict[str, Any]:
    return data.fields if isinstance(data, RawResource) else {}


def _invokable_name(invokable: Any) -> str:
    if isinstance(invokable, RawResource):
        return invokable.type_name
    return "?"


def call_node(
    store: Store, invocation: Ref[Any] | RawResource | str, path: Iterable[int] = ()
) -> dict[str, Json]:
    """The JSON of one call of an invocation tree, read without types.

    `invocation` is the ref of a stored `Invocation`, or one read raw (the
    children of a response are stored inline). The node's ``children`` are
    the child invocations as they are stored (see `call_tree` for the nested
    form); ``child_count`` says how many.

    Raises:
        NotFoundError: An object of the call is missing.
        CorruptObjectError: An object of the call is not a well-formed invocation.
    """
    node, _ = _node(store, invocation, list(path))
    return node


def _node(
    store: Store, invocation: Ref[Any] | RawResource | str, path: list[int]
) -> tuple[dict[str, Json], list[Any]]:
    digest: str | None = None
    if not isinstance(invocation, RawResource):
        digest = invocation if isinstance(invocation, str) else invocation.digest
        invocation = _read(store, digest)
    fields = _fields(invocation)
    if not isinstance(invocation, RawResource) or invocation.type_name != _INVOCATION:
        raise _not_invocation(store, digest, "it is not an invocation")
    request_ref, response_ref = fields.get("request"), fields.get("response")
    if not isinstance(request_ref, RawRef) or not isinstance(response_ref, RawRef):
        raise _not_invocation(store, digest, "it holds no request or response ref")
    request = _fields(_read(store, request_ref.digest))
    response = _fields(_read(store, response_ref.digest))
    invokable = request.get("invokable")
    input_value = request.get("input")
    output = response.get("output")
    raised = response.get("raised")
    children = response.get("children") or []
    node: dict[str, Json] = {
        "ref": digest,
        "path": path,
        "request": request_ref.digest,
        "response": response_ref.digest,
        "function": _invokable_name(invokable),
        "invokable": _value(invokable, 0),
        "input": _value(input_value, 0),
    }
    if isinstance(input_value, RawResource) and input_value.type_name == _CALL_ARGS:
        node["args"] = _value(input_value.fields.get("args", []), 0)
        node["kwargs"] = _value(input_value.fields.get("kwargs", {}), 0)
    exception = None
    if output is not None:
        status = "complete"
        box = _fields(output)
        node["output"] = _value(box.get("value") if "value" in box else output, 0)
    elif isinstance(raised, RawRef):
        exception = exception_view(store, raised)
        status = "waiting" if exception["type"] == _INPUT_REQUEST else "raised"
    else:
        status = "no_output"
    node["status"] = status
    if exception is not None:
        node["exception"] = exception
    node["raised_here"] = bool(response.get("raised_here"))
    node["child_count"] = len(children)
    return node, list(children)


def _not_invocation(store: Store, digest: str | None, why: str) -> CorruptObjectError:
    location = store.backend.locate(digest) if digest else "a child of a stored response"
    return CorruptObjectError(
        f"Object {digest or '(inline)'} at {location} cannot be read as a call: {why}.",
        digest=digest or "",
        location=location,
    )


def exception_view(store: Store, raised: RawRef | Ref[Any] | str) -> dict[str, Json]:
    """``{"ref", "type", "message", "value", "notes", "frames", "omitted_frames", "cause",
    "context"}`` of a stored exception: a recorded exception (`TracedException`, or a
    `RecordedException` of an older journal) by the type it recorded, with its traceback
    and chain; any other exception resource by its stored type name, without them."""
    digest = raised if isinstance(raised, str) else raised.digest
    stored = _read(store, digest)
    view: dict[str, Json] = {"ref": digest, **_chain_link(stored, 0), "value": _value(stored, 0)}
    if view["type"] == _INPUT_REQUEST:
        view["request"] = _request_fields(_fields(stored))
    return view


def _chain_link(stored: Any, depth: int) -> dict[str, Json]:
    """The type, message, notes, frames and cause/context of one exception of a chain."""
    fields = _fields(stored)
    recorded = isinstance(stored, RawResource) and stored.type_name in _RECORDED_TYPES
    if recorded:
        type_name = str(fields.get("type_name", "?"))
        message = fields.get("message")
    else:
        type_name = stored.type_name if isinstance(stored, RawResource) else "?"
        message = None
    notes = fields.get("notes") if recorded else None
    omitted = fields.get("omitted_frames")
    link: dict[str, Json] = {
        "type": type_name,
        "message": message if isinstance(message, str) else None,
        "notes": [note for note in notes if isinstance(note, str)]
        if isinstance(notes, list)
        else [],
        "frames": _frames(fields.get("frames")) if recorded else [],
        "omitted_frames": omitted if recorded and type(omitted) is int else 0,
    }
    for key in ("cause", "context"):
        linked = fields.get(key) if recorded else None
        link[key] = (
            _chain_link(linked, depth + 1)
            if isinstance(linked, RawResource) and depth < _CHAIN_LIMIT
            else None
        )
    return link


def _frames(frames: Any) -> list[Json]:
    """A recorded traceback's frames, outermost first (a damaged frame's fields are null)."""
    shown: list[Json] = []
    for frame in frames if isinstance(frames, list) else []:
        fields = _fields(frame)
        filename, lineno, name, line = (fields.get(key) for key in _FRAME_FIELDS)
        shown.append(
            {
                "filename": filename if isinstance(filename, str) else None,
                "lineno": lineno if type(lineno) is int else None,
                "name": name if isinstance(name, str) else None,
                "line": line if isinstance(line, str) else None,
            }
        )
    return shown


def _request_fields(fields: dict[str, Any]) -> dict[str, Json]:
    requested = fields.get("requested")
    name = requested.type_name if isinstance(requested, RawType) else None
    for_value = fields.get("for_value")
    return {
        "requested": name,
        "requested_label": type_label(name) if name is not None else None,
        "for_value": ref(for_value) if isinstance(for_value, RawRef) else None,
        "context": _value(fields.get("context"), 0),
    }


def call_tree(
    store: Store, invocation: Ref[Any] | str, *, depth: int | None = None
) -> dict[str, Json]:
    """The nested JSON of an invocation tree: each `call_node` with ``children`` as nodes.

    Calls deeper than `depth` levels (and than `TREE_DEPTH`) are left out; their
    parent's ``children`` is then ``null`` and ``child_count`` says how many there are.
    Built without recursion.
    """
    limit = TREE_DEPTH if depth is None else min(depth, TREE_DEPTH)
    root: dict[str, Json] | None = None
    stack: list[tuple[Any, list[Json] | None, list[int]]] = [(invocation, None, [])]
    while stack:
        current, siblings, path = stack.pop()
        node, children = _node(store, current, path)
        if siblings is None:
            root = node
        else:
            siblings.append(node)
        if len(path) >= limit and children:
            node["children"] = None
            continue
        shown: list[Json] = []
        node["children"] = shown
        _prefetch_calls(store, children)
        stack.extend(
            (child, shown, [*path, index]) for index, child in reversed(list(enumerate(children)))
        )
    assert root is not None
    return root


def _prefetch_calls(store: Store, children: list[Any]) -> None:
    """Reads the requests and responses of stored child calls in one backend call (each
    is read next; one query per object made a 1,000-call tree take 2,000)."""
    refs = [
        Ref._unchecked(ref.digest)
        for child in children
        if isinstance(child, RawResource)
        for ref in (child.fields.get("request"), child.fields.get("response"))
        if isinstance(ref, RawRef)
    ]
    store.prefetch(refs)


# Input requests ---------------------------------------------------------------------


def input_request(
    store: Store, found: Run, path: Iterable[int], raised: RawRef | Ref[Any] | str
) -> dict[str, Json]:
    """The JSON of a pending input request of a run (one line of ``enact inbox``).

    Args:
        store: The run's store.
        found: The run that waits.
        path: The child path of the `request_input` call.
        raised: The stored `InputRequest`.
    """
    digest = raised if isinstance(raised, str) else raised.digest
    request = _request_fields(_fields(_read(store, digest)))
    return {
        "run": found.id,
        "function": found.function,
        "path": list(path),
        "request": digest,
        **request,
        "requested_at": timestamp(found.updated),
        "age_seconds": max(round(time.time() - found.updated, 3), 0.0),
    }


def run_input_requests(store: Store, found: Run) -> list[dict[str, Json]]:
    """The pending input requests of a run, each as `input_request` makes it.

    Read without types: follows the calls that did not finish from the root
    down to the `request_input` calls that raised. A run that does not wait
    (its status is not ``waiting``) has none.
    """
    if found.status != "waiting":
        return []
    root: Ref[Any]
    if found.state.tree is not None and not found.entries():
        root = found.state.tree  # a run that stopped to wait: its tree is stored already
    else:
        invocation = found.invocation()
        if invocation is None:
            return []
        root = store.commit(invocation)
    requests: list[dict[str, Json]] = []
    stack: list[tuple[Any, list[int]]] = [(root, [])]
    while stack:
        current, path = stack.pop()
        node, children = _node(store, current, path)
        if node["status"] not in ("waiting", "raised"):
            continue
        if node["raised_here"]:
            if node["status"] == "waiting":
                requests.append(input_request(store, found, path, node["exception"]["ref"]))
            continue
        _prefetch_calls(store, children)
        stack.extend(
            (children[index], [*path, index]) for index in range(len(children) - 1, -1, -1)
        )
    return requests


# Writing ---------------------------------------------------------------------------


def dumps(data: Json, *, indent: int | None = None) -> str:
    """JSON text of `data`: ASCII only (every other character escaped, so control
    characters from stored text never reach a terminal), no NaN."""
    return json.dumps(data, ensure_ascii=True, allow_nan=False, indent=indent)


def safe_read(store: Store, digest: str) -> Json:
    """`stored_value`, or ``{"$error": "missing" | "corrupt"}`` for a damaged object."""
    try:
        return stored_value(store, digest)
    except NotFoundError:
        return {"$error": "missing"}
    except CorruptObjectError:
        return {"$error": "corrupt"}
