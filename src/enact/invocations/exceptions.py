"""How a failed call's exception is journaled: type, message, traceback and chain.

An exception that is not a resource is recorded as a `TracedException`: its
type name and message (the fields of `RecordedException`, which it extends),
its notes, the frames of its traceback (file, line, function and source line,
read when the exception is recorded, so no source file is needed to read them
back), and the exception it was raised from (``__cause__``) or while handling
(``__context__``), recorded the same way. Everything is plain text and
numbers: reading a journal never imports a module, and nothing is pickled.

Journals written before tracebacks were recorded hold `RecordedException`
objects of the old shape; they still check out as `RecordedException`, whose
`format_traceback` says that no traceback was recorded.

Frames of enact's own call machinery (the wrappers that journal a call,
between two frames of the program) are left out; frames of enact where the
exception was raised are kept. A traceback of more than `MAX_FRAMES` frames
keeps the first `HEAD_FRAMES` and the last ones, and counts the others in
``omitted_frames``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import linecache
import os
import sys
import traceback
from types import TracebackType
from typing import Any, Final

from enact.encoding import encode
from enact.errors import SourceLocation
from enact.invocations.records import RecordedException
from enact.pretty import safe_repr
from enact.resources import Resource, register_resource_class
from enact.stores.store import as_resource

MAX_FRAMES: Final = 60
"""The most frames recorded for one exception."""

HEAD_FRAMES: Final = 10
"""Of a longer traceback, how many of its first (outermost) frames are kept."""

MAX_CHAIN: Final = 20
"""The most exceptions recorded in a cause/context chain, the failed call's own included."""

_ENACT_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclasses.dataclass
class TracebackFrame(Resource):
    """One frame of a recorded traceback, as Python's ``traceback`` module shows it.

    Attributes:
        filename: The file of the code, as Python knew it when the exception
            was recorded.
        lineno: The line number (0 when unknown).
        name: The function (``<module>`` for module-level code).
        line: The source line, stripped; empty when the source was not
            available when the exception was recorded.
    """

    __enact_type_name__ = "enact.invocations.TracebackFrame"

    filename: str
    lineno: int
    name: str
    line: str

    def location(self) -> str:
        """``file:line in function``, as `enact.SourceLocation` writes it."""
        return str(SourceLocation(self.filename, self.lineno, self.name, self.line))


@dataclasses.dataclass(eq=False, repr=False)
class TracedException(RecordedException):
    """A recorded exception with its traceback and cause/context chain.

    Attributes:
        type_name: ``module.qualname`` of the exception's class.
        message: ``str()`` of the exception.
        notes: Its ``__notes__`` (`BaseException.add_note`), in order.
        frames: Its traceback, outermost frame first, as `TracebackFrame`s.
        omitted_frames: Frames left out of the middle of a long traceback.
        cause: The exception it was raised from (``raise ... from cause``), or None.
        context: The exception being handled when it was raised, or None;
            recorded only when Python would show it (no cause, and not
            suppressed by ``raise ... from None``).
    """

    __enact_type_name__ = "enact.invocations.TracedException"

    notes: list[str]
    frames: list[TracebackFrame]
    omitted_frames: int
    cause: RecordedException | None
    context: RecordedException | None

    @classmethod
    def from_exception(cls, error: BaseException) -> TracedException:
        """Records `error` with its traceback (as it is now) and its chain."""
        return _record(error, {id(error)}, 1)

    def __repr__(self) -> str:
        # The frames and the chain would make a screenful: name where it was raised.
        try:  # the file's base name: the whole path is in the frames
            last = self.frames[-1] if self.frames else None
            where = (
                ""
                if last is None
                else f", raised_at='{os.path.basename(last.filename)}:{last.lineno} in {last.name}'"
            )
        except Exception:  # a damaged record: its frames are not frames
            where = ", raised_at=?"
        return f"TracedException(type_name={self.type_name!r}, message={self.message!r}{where})"

    def last_frames(self, count: int) -> list[TracebackFrame]:
        """The `count` innermost frames, where the exception was raised last."""
        return self.frames[-count:] if count > 0 else []

    def format_traceback(self) -> str:
        """The traceback as Python prints it, cause and context first."""
        return "".join(_format_chain(self))


@dataclasses.dataclass(eq=False, repr=False)
class AttributedException(TracedException):
    """A `TracedException` of an exception that carried public attributes of its own.

    An SDK's error carries what a program's handler reads (``status_code``,
    ``body``, ``code``): the attributes in the exception's ``__dict__`` whose
    names do not start with ``_`` and whose values are plain data (str,
    numbers, bytes, None, and lists, tuples and str-keyed dicts of them), each
    of at most `MAX_ATTRIBUTE_BYTES` encoded, so that any process reads the
    record (others, such as an HTTP response object, are left out). An
    exception raised again from this record has them set again. An exception
    without such attributes is recorded as a plain `TracedException`.

    Attributes:
        attributes: The attributes, by name.
    """

    __enact_type_name__ = "enact.invocations.AttributedException"

    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


MAX_ATTRIBUTE_BYTES: Final = 16_384
"""The largest encoded attribute value an `AttributedException` keeps."""


def record_exception(error: BaseException) -> TracedException:
    """Returns the `TracedException` record of `error` (see the module documentation)."""
    return TracedException.from_exception(error)


def last_frames(exception: Any, count: int) -> list[TracebackFrame]:
    """The innermost `count` frames of a recorded exception; none for other records."""
    if isinstance(exception, RecordedException):
        return list(exception.last_frames(count))
    return []


def format_traceback(exception: Any) -> str:
    """A recorded exception's traceback as Python prints it.

    Records of the old shape (a `RecordedException` only) and exception
    resources have no traceback: the text says so after their summary line.
    """
    if isinstance(exception, RecordedException):
        return exception.format_traceback()
    return f"{_summary(exception)}\n(no traceback was recorded for this exception)\n"


# Raising again ---------------------------------------------------------------------------


CANCELLED: Final = "asyncio.exceptions.CancelledError"
"""The `TracedException.type_name` of a cancelled call's record (see `is_cancellation`)."""


def is_cancellation(error: BaseException) -> bool:
    """Whether `error` cancels an asyncio task (without importing asyncio: a process that
    has not imported it has no task to cancel)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(error, asyncio.CancelledError)


def records_cancellation(record: Any) -> bool:
    """Whether `record`, a recorded exception, is a cancelled call's (`is_cancellation`)."""
    return getattr(record, "type_name", None) == CANCELLED


def raised_again(record: Any) -> BaseException:
    """The exception that a replayed call whose record is `record` raises again.

    An exception that is a resource (an `enact.InputRequest`, a registered
    exception class) is raised as itself, checked out. A `RecordedException`
    (a `TracedException`) is raised as an exception of its class when the
    class is defined in this process (found by name among the modules
    already imported; never imported), so that ``except ValueError:`` in the
    program catches it as it did when the call ran: an instance of a
    subclass made for the purpose whose ``str()`` is the recorded message,
    with the recorded notes and chain, and ``__init__`` not run (the public
    attributes an `AttributedException` recorded are set again; others it
    would set are missing). Otherwise the record itself is raised (an
    ``Exception``). The record is the ``__enact_recorded__`` attribute of what
    is raised, and the frames of a `TracedException` are recorded again when
    the exception passes on through a call.
    """
    if not isinstance(record, RecordedException):
        if isinstance(record, BaseException):
            return record
        return RuntimeError(f"A call raised {record!r}, which is not an exception here.")
    return _rebuilt(record, MAX_CHAIN)


def _rebuilt(record: RecordedException, depth: int) -> BaseException:
    cls = _loaded_class(record.type_name)
    replayed: BaseException = record
    if cls is not None:
        try:
            subclass = _replay_class(cls)
            replayed = subclass.__new__(subclass, record.message)
            replayed.args = (record.message,)
        except Exception:  # a class that cannot be subclassed or made without __init__
            replayed = record
    if replayed is not record:
        replayed.__enact_recorded__ = record  # type: ignore[attr-defined]
        if isinstance(record, AttributedException):
            for name, value in record.attributes.items():
                with contextlib.suppress(Exception):  # a read-only property of the class
                    setattr(replayed, name, value)
        if isinstance(record, TracedException):
            if record.notes:
                replayed.__notes__ = list(record.notes)
            if depth > 1 and record.cause is not None:
                replayed.__cause__ = _rebuilt(record.cause, depth - 1)
            elif depth > 1 and record.context is not None:
                replayed.__context__ = _rebuilt(record.context, depth - 1)
    return replayed


def _loaded_class(type_name: str) -> type[BaseException] | None:
    """The exception class named ``module.qualname``, if its module is imported already."""
    parts = type_name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        found: Any = module
        for name in parts[split:]:
            found = getattr(found, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
        return None
    return None


_replay_classes: dict[type, type] = {}


def _replay_class(cls: type[BaseException]) -> type[BaseException]:
    """A subclass of `cls` named like it, whose ``str()`` is the recorded message."""
    made = _replay_classes.get(cls)
    if made is None:
        made = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
                "__str__": _recorded_message,
                "__init__": _no_init,
                "__enact_replayed__": True,
            },
        )
        _replay_classes[cls] = made
    return made


def _recorded_message(self: BaseException) -> str:
    record = getattr(self, "__enact_recorded__", None)
    return record.message if isinstance(record, RecordedException) else ""


def _no_init(self: BaseException, *args: Any) -> None:
    """Replayed exceptions are made from their record, not by the class's ``__init__``."""


# Recording -----------------------------------------------------------------------------


def _record(error: BaseException, seen: set[int], length: int) -> TracedException:
    recorded = error.__dict__.get("__enact_recorded__") if _has_dict(error) else None
    if isinstance(recorded, RecordedException) and type(error).__dict__.get("__enact_replayed__"):
        return _record_replayed(error, recorded)
    error_type = type(error)
    try:
        message = str(error)
    except Exception as failure:  # a broken __str__ must not lose the journal
        message = f"<str() of the exception raised {type(failure).__name__}>"
    notes = getattr(error, "__notes__", None)
    frames, omitted = _frames(error.__traceback__)
    cause = context = None
    chained = error.__cause__
    if chained is None and not error.__suppress_context__:
        chained = error.__context__
    if chained is not None and id(chained) not in seen and length < MAX_CHAIN:
        seen.add(id(chained))
        record = _record(chained, seen, length + 1)
        if error.__cause__ is not None:
            cause = record
        else:
            context = record
    fields = (
        f"{error_type.__module__}.{error_type.__qualname__}",
        message,
        [str(note) for note in notes] if isinstance(notes, list) else [],
        frames,
        omitted,
        cause,
        context,
    )
    attributes = _attributes(error)
    if attributes:
        return AttributedException(*fields, attributes)
    return TracedException(*fields)


def _attributes(error: BaseException) -> dict[str, Any]:
    """The public attributes of `error` that are plain data (see `AttributedException`)."""
    if not _has_dict(error):
        return {}
    kept: dict[str, Any] = {}
    for name, value in list(error.__dict__.items()):
        if isinstance(name, str) and not name.startswith("_") and _is_plain(value, 0):
            try:
                tokens, _ = encode(as_resource(value))
            except Exception:  # recording an exception never fails over one attribute
                continue
            if len(tokens) <= MAX_ATTRIBUTE_BYTES:
                kept[name] = value
    return kept


_PLAIN_SCALARS: Final = (type(None), bool, int, float, str, bytes)


def _is_plain(value: Any, depth: int) -> bool:
    """Whether `value` is data any process reads without a registered type: a str, number,
    bytes or None, or a list, tuple or str-keyed dict of such (an HTTP response, a client,
    a resource of the program's own are not)."""
    if type(value) in _PLAIN_SCALARS:
        return True
    if depth >= 20:
        return False
    if type(value) in (list, tuple):
        return all(_is_plain(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _is_plain(item, depth + 1) for key, item in value.items())
    return False


def _has_dict(error: BaseException) -> bool:
    try:
        return isinstance(error.__dict__, dict)
    except AttributeError:
        return False


def _record_replayed(error: BaseException, recorded: RecordedException) -> TracedException:
    """The record of an exception raised again from `recorded`, passing on through a call.

    Its frames are the program's, from this call down to the replayed call,
    followed by the recorded ones: the record the call made when it ran.
    """
    live, omitted = _frames(error.__traceback__, drop_enact_tail=True)
    if not isinstance(recorded, TracedException):
        return TracedException(recorded.type_name, recorded.message, [], live, omitted, None, None)
    frames = live + list(recorded.frames)
    omitted += recorded.omitted_frames
    if len(frames) > MAX_FRAMES:
        extra = len(frames) - MAX_FRAMES
        omitted += extra
        frames = frames[:HEAD_FRAMES] + frames[HEAD_FRAMES + extra :]
    fields = (
        recorded.type_name,
        recorded.message,
        list(recorded.notes),
        frames,
        omitted,
        recorded.cause,
        recorded.context,
    )
    if isinstance(recorded, AttributedException):
        return AttributedException(*fields, dict(recorded.attributes))
    return TracedException(*fields)


def _frames(
    tb: TracebackType | None, *, drop_enact_tail: bool = False
) -> tuple[list[TracebackFrame], int]:
    """The frames of `tb` without enact's call machinery, at most `MAX_FRAMES` of them."""
    steps = [(frame.f_code, lineno) for frame, lineno in traceback.walk_tb(tb)]
    # enact's frames between frames of the program are the wrappers that journal
    # calls: leave them out; enact's frames after the program's last are where
    # the exception was raised (an output that cannot be stored): keep them,
    # unless enact only raised a recorded exception again (`drop_enact_tail`).
    last_program = max(
        (i for i, (code, _) in enumerate(steps) if not code.co_filename.startswith(_ENACT_DIR)),
        default=-1,
    )
    kept = [
        step
        for i, step in enumerate(steps)
        if (i > last_program and not drop_enact_tail)
        or not step[0].co_filename.startswith(_ENACT_DIR)
    ]
    omitted = 0
    if len(kept) > MAX_FRAMES:
        omitted = len(kept) - MAX_FRAMES
        kept = kept[:HEAD_FRAMES] + kept[HEAD_FRAMES + omitted :]
    frames = []
    for code, lineno in kept:
        number = lineno if isinstance(lineno, int) else 0
        line = linecache.getline(code.co_filename, number).strip() if number else ""
        frames.append(TracebackFrame(code.co_filename, number, code.co_name, line))
    return frames, omitted


# Formatting ----------------------------------------------------------------------------

_CAUSE_HEADER: Final = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT_HEADER: Final = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _summary(exception: Any) -> str:
    """``Type: message``, the type named as Python's traceback names it."""
    if isinstance(exception, RecordedException):
        return exception.summary()
    if isinstance(exception, BaseException):
        kind = type(exception)
        return RecordedException(f"{kind.__module__}.{kind.__qualname__}", str(exception)).summary()
    return repr(exception)


def _format_chain(exception: TracedException) -> list[str]:
    """The chain's parts, oldest first (iteratively: a long chain needs no recursion)."""
    chain: list[tuple[RecordedException, str]] = []
    current: RecordedException | None = exception
    header = ""
    while current is not None and len(chain) <= MAX_CHAIN:
        chain.append((current, header))
        if isinstance(current, TracedException) and current.cause is not None:
            current, header = current.cause, _CAUSE_HEADER
        elif isinstance(current, TracedException):
            current, header = current.context, _CONTEXT_HEADER
        else:
            current = None
    parts: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        record, _ = chain[index]
        parts.extend(_format_one(record))
        if index:
            parts.append(chain[index][1])
    return parts


def _format_one(record: RecordedException) -> list[str]:
    if not isinstance(record, TracedException):
        return [record.format_traceback()]
    parts = []
    if record.frames:
        parts.append("Traceback (most recent call last):\n")
    for index, frame in enumerate(record.frames):
        if record.omitted_frames and index == HEAD_FRAMES:
            parts.append(f"  [... {record.omitted_frames} more frames not recorded ...]\n")
        parts.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n')
        if frame.line:
            parts.append(f"    {frame.line}\n")
    parts.append(_summary(record) + "\n")
    parts.extend(note + "\n" for note in record.notes)
    return parts


for _cls in (TracebackFrame, TracedException, AttributedException):
    register_resource_class(_cls)


def describe_exception(exception: Any) -> str:
    """``Type: message`` for a recorded exception (as the CLI and the web UI show it).

    A `RecordedException` shows its type without ``builtins.``; an exception
    object its class; anything else (an exception that is a resource, read
    without its class) its safe repr.
    """
    if isinstance(exception, RecordedException):
        module, _, name = exception.type_name.rpartition(".")
        shown = name if module == "builtins" else exception.type_name
        return f"{shown}: {exception.message}" if exception.message else shown
    if isinstance(exception, BaseException):
        message = str(exception)
        return f"{type(exception).__qualname__}: {message}" if message else type(exception).__name__
    return safe_repr(exception)
