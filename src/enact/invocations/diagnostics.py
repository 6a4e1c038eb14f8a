"""Messages for calls that cannot be journaled or replayed.

Each error names the call (invokable and input) as the spec prints it, where
in the tree it happened (child indices from the root), and what to do. A
`ReplayError` adds, on the lines after the spec's two: the source line of the
program that made the call, a field-level diff of the recorded and the new
request (`enact.invocations.differences`, both read as stored), and the fixes.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
from typing import Any, Final, TypeAlias

from enact import registry
from enact.encoding import RawRef, RawResource, decode_raw
from enact.errors import (
    EnactError,
    IncompatibleTypeError,
    IncompleteSubinvocationError,
    InvocationError,
    ReplayError,
    SourceLocation,
    UnknownTypeError,
)
from enact.invocations.differences import (
    MAX_DIFFERENCES,
    Difference,
    differences,
    render,
    show,
    show_compact,
)
from enact.invocations.records import Request
from enact.refs import Ref
from enact.stores.store import Store

_ENACT_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

_RERUN_FIX: Final = (
    "  - Or run the call again instead of replaying it: strict=False (Invocation.replay,\n"
    "    enact.resume, enact.answer), or --no-strict (enact replay, resume, answer)."
)
_OTHER_FIXES: Final = (
    f"{_RERUN_FIX}\n"
    "  - Or keep the run as it was recorded and go on in a copy: enact fork RUN (enact.fork),\n"
    "    then resume or answer the new run."
)

FIXES: Final = f"""How to fix it:
  - Make the call's input deterministic: a value from the clock, a random generator or
    the network must itself come from a journaled call (wrap time.time() in a registered
    function), so that a replay returns the recorded value.
{_OTHER_FIXES}"""
"""The last lines of every ReplayError message (but for a call of another function)."""


HINT: Final = "Ensure that calls to subinvokables are deterministic or use strict=False."
"""The second line of every ReplayError message (the spec's)."""

HEAD_LIMIT: Final = 200
"""Characters of each input shown in a ReplayError's first line (the diff shows the rest);
long strings in it show their first characters only."""

_Recorded: TypeAlias = Ref[Request] | None
"""The request the journal recorded for the call a replay expected there (None: the journal
holds the call without it, as for a call still running when the journal was written)."""


def replay_error(
    parent_path: tuple[int, ...],
    index: int,
    recorded: _Recorded,
    store: Store,
    invokable: Any,
    input_value: Any,
    new_tokens: bytes,
) -> ReplayError:
    """The error for a call at `index` that does not match the recorded request `recorded`.

    `recorded` is None when the recorded call is known only by its digest (a
    call that was still running when the journal was written). Both requests
    are compared as stored (`decode_raw`), so both sides render the same way.
    """
    path = (*parent_path, index)
    request = None if recorded is None else _checkout_request(store, recorded)
    new = decode_raw(new_tokens)
    shown_new = _shown_call(_function_name(invokable, address=True), new)
    location = call_site()
    found: list[Difference] = []
    cut = False
    old = None if recorded is None else _read_raw(store, recorded.digest)
    if old is None:  # a call still running when the journal was written: no request stored
        expected = "(another call, still running when the journal was written)"
        difference = "request"
        what = (
            f"the program called {describe(invokable)}, but the journal holds another call "
            "here, which was still running when the journal was written."
        )
    else:
        found, cut = differences(old, new, lambda digest: _read_raw(store, digest))
        difference = _part(found)
        recorded_name = (
            None if request is None else _function_name(request.invokable, address=False)
        )
        expected = _shown_call(recorded_name, old)
        if difference == "invokable":
            what = (
                f"the program called {describe(invokable)} where the journal recorded "
                f"{_invokable_name(old)}."
            )
        else:
            what = (
                f"the program called {describe(invokable)} with another input than the "
                "journal recorded."
            )
    lines = [
        f"Expected invocation {expected} but got {shown_new}.",
        HINT,
        f"Replay stopped at call {list(path)} ({_where(path)}): {what}",
        f"  invokable: {_qualified(invokable)}",
        *_location_lines("called at", location),
        *([] if old is None else _difference_lines(found, cut)),
        _renamed_fixes(old, invokable) if difference == "invokable" else FIXES,
    ]
    return ReplayError(
        "\n".join(lines),
        path=path,
        expected=expected,
        actual=describe_request(invokable, input_value, short=False),
        difference=difference,
        invokable=invokable,
        recorded_request=request,
        new_request=Request(invokable, input_value),
        differing_fields=tuple(item.path for item in found),
        location=location,
    )


def unreadable_record_error(
    parent_path: tuple[int, ...],
    index: int,
    invokable: Any,
    input_value: Any,
    error: UnknownTypeError,
) -> ReplayError:
    """The error for a call whose recorded result this process cannot read: a type in it is
    not registered here (renamed, moved or removed since the journal was written) or has
    changed incompatibly. The call was not run and nothing is recorded for it."""
    path = (*parent_path, index)
    location = call_site()
    shown = describe_request(invokable, input_value, short=True)
    name = error.type_name
    if isinstance(error, IncompatibleTypeError):
        why = str(error)
        fixes = [
            f"  - Make the change to {name} compatible (a new field with a default), or migrate "
            "the stored objects: enact migrate.",
        ]
    else:
        why = f"it holds a {name}, a type that is not registered in this process."
        fixes = [
            f"  - If the class {name} was renamed or moved, register it with its old name: "
            f"@enact.register(aliases=({name!r},)).",
            "  - If it is defined in a module this process has not imported, import that "
            "module first (--import MODULE for the enact command).",
        ]
    lines = [
        f"Cannot replay {shorten_text(shown, HEAD_LIMIT)}: its recorded result cannot be "
        "read in this process.",
        f"Replay stopped at call {list(path)} ({_where(path)}): {why}",
        f"  invokable: {_qualified(invokable)}",
        *_location_lines("called at", location),
        "How to fix it:",
        *fixes,
        _RERUN_FIX,
    ]
    described = describe_request(invokable, input_value, short=False)
    request = Request(invokable, input_value)  # the recorded one too: it matched
    return ReplayError(
        "\n".join(lines),
        path=path,
        expected=described,
        actual=described,
        difference="unreadable record",
        invokable=invokable,
        recorded_request=request,
        new_request=request,
        location=location,
    )


def _renamed_fixes(old: Any, invokable: Any) -> str:
    """`FIXES` for a call of another invokable: first, the alias that a renamed or moved
    registered function needs (when the journal recorded a function by name)."""
    recorded = old.fields.get("invokable") if isinstance(old, RawResource) else None
    if not isinstance(recorded, RawResource) or recorded.fields:  # not a function's
        return FIXES
    if registry.function_info(invokable) is None:
        return FIXES
    name = recorded.type_name
    return (
        "How to fix it:\n"
        f"  - If {name} was renamed or moved to {_qualified(invokable)}, register it with "
        f"its old name:\n    @enact.register(aliases=({name!r},)).\n{_OTHER_FIXES}"
    )


def missing_call_error(
    parent_path: tuple[int, ...], position: int, recorded: _Recorded, store: Store, parent: Any
) -> ReplayError:
    """The error for a call that returned without making its recorded child `position`."""
    path = (*parent_path, position)
    request = None if recorded is None else _checkout_request(store, recorded)
    if recorded is None:
        expected = "(a call that did not finish)"
    else:
        recorded_name = (
            None if request is None else _function_name(request.invokable, address=False)
        )
        expected = _shown_call(recorded_name, _raw_request(store, recorded))
    caller = f"call {list(parent_path)}" if parent_path else "the root call"
    location = definition(parent)
    lines = [
        f"Expected invocation {expected} but the call returned without making it.",
        HINT,
        f"Replay stopped at call {list(path)} ({_where(path)}): {describe(parent)} "
        f"({caller}) returned without making the call the journal recorded there.",
        f"  invokable: {_qualified(parent)}",
        *_location_lines("defined at", location),
        FIXES,
    ]
    return ReplayError(
        "\n".join(lines),
        path=path,
        expected=expected,
        actual="(no call)",
        difference="missing call",
        invokable=parent,
        recorded_request=request,
        new_request=None,
        location=location,
    )


def _shown_call(name: str | None, raw_request: Any) -> str:
    """``name(input)``, the input as stored, so that both sides of a ReplayError look alike.

    `name` is how a registered function is shown; None shows the invokable as stored.
    """
    if not isinstance(raw_request, RawResource):
        return show_compact(raw_request, HEAD_LIMIT)
    if name is None:
        name = show_compact(raw_request.fields.get("invokable"), HEAD_LIMIT)
    return f"{name}({show_compact(raw_request.fields.get('input'), HEAD_LIMIT)})"


def _function_name(invokable: Any, *, address: bool) -> str | None:
    """A registered function as a ReplayError's first line shows it (the spec's way)."""
    if registry.function_info(invokable) is None:
        return None
    return repr(invokable) if address else describe(invokable)


def _where(path: tuple[int, ...]) -> str:
    """``child 2 of child 0 of the root invocation``."""
    return " of ".join(f"child {index}" for index in reversed(path)) + " of the root invocation"


def _part(found: list[Difference]) -> str:
    parts = {item.path.partition(".")[0].partition("[")[0] for item in found}
    if parts == {"invokable"}:
        return "invokable"
    if parts == {"input"}:
        return "input"
    return "request"


def _difference_lines(found: list[Difference], cut: bool) -> list[str]:
    if not found:
        return ["  (the stored forms differ, but no field does: compare them with enact show)"]
    count = len(found)
    fields = "1 field differs" if count == 1 else f"{count} fields differ"
    lines = [f"  {fields} (recorded, then new):"]
    for item in found[:MAX_DIFFERENCES]:
        lines.extend(render(item, "    "))
    if count > MAX_DIFFERENCES:
        lines.append(f"    … and {count - MAX_DIFFERENCES} more differing fields")
    if cut:
        lines.append("    … (the values are too large to compare in full)")
    return lines


def _location_lines(label: str, location: SourceLocation | None) -> list[str]:
    if location is None:
        return []
    lines = [f"  {label}: {location}"]
    if location.line:
        lines.append(f"      {location.line}")
    return lines


def _checkout_request(store: Store, ref: Ref[Request]) -> Request | None:
    """The recorded request, decoded; None when this process cannot decode it."""
    try:
        request = store.checkout(ref)
    except EnactError:
        return None
    return request if isinstance(request, Request) else None


def _raw_request(store: Store, ref: Ref[Any]) -> Any:
    value = _read_raw(store, ref.digest)
    return value if value is not None else RawRef(ref.digest)


def _read_raw(store: Store, digest: str) -> Any:
    try:
        return decode_raw(store.read_tokens(Ref._unchecked(digest)))
    except EnactError:
        return None


def _invokable_name(raw_request: Any) -> str:
    if isinstance(raw_request, RawResource):
        return show(raw_request.fields.get("invokable"), 120)
    return "another call"


def _qualified(invokable: Any) -> str:
    """``module.qualname`` of a registered function; the class and fields of an invokable."""
    if registry.function_info(invokable) is not None:
        module = getattr(invokable, "__module__", "?")
        return f"{module}.{getattr(invokable, '__qualname__', repr(invokable))}"
    kind = type(invokable)
    return f"{kind.__module__}.{shorten_text(repr(invokable))}"


def shorten_text(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_site() -> SourceLocation | None:
    """The innermost frame of the program (not of enact) on the current stack."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_ENACT_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    code = frame.f_code
    line = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return SourceLocation(code.co_filename, frame.f_lineno, code.co_name, line)


def definition(invokable: Any) -> SourceLocation | None:
    """Where a registered function, or an invokable's ``call`` method, is defined."""
    target = inspect.unwrap(invokable) if registry.function_info(invokable) else None
    if target is None:
        target = getattr(type(invokable), "call", None)
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    return SourceLocation(code.co_filename, code.co_firstlineno, code.co_name, line)


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
        result.add_note(
            "A journaled call must not end before the calls it made have: asyncio.gather "
            "passes on the first exception and leaves the other calls running. Use "
            "asyncio.TaskGroup (it cancels them, and each cancellation is journaled) or "
            "asyncio.gather(..., return_exceptions=True) (it waits for all of them); for "
            "threads, leave the executor's with-block, or concurrent.futures.wait(...), "
            "before the exception goes on."
        )
    return result


def late_call_error(invokable: Any, path: tuple[int, ...]) -> InvocationError:
    """A journaled call made in a call that has returned (from a thread or task that
    outlived it): it cannot be journaled there."""
    where = f"child {list(path)} of the root" if path else "the root invocation"
    return InvocationError(
        f"{describe(invokable)} was called inside {where} after that call had returned (from "
        "a thread or task that outlived it): the call cannot be journaled in it, and it did "
        "not run. Wait for the work (future.result(), thread.join(), await) before the "
        "call that started it returns."
    )


def mutation_error(invokable: Any, path: tuple[int, ...]) -> InvocationError:
    where = f"child {list(path)} of the root" if path else "the root invocation"
    return InvocationError(
        f"{describe(invokable)} changed its own input or fields while running ({where}). "
        "Journaled calls must not mutate their input or invokable: copy the value before "
        "changing it."
    )
