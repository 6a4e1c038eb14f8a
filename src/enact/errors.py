"""The errors enact raises.

Every error derives from `EnactError` and also from the builtin exception a
caller would naturally catch, so ``except LookupError`` still works::

    EnactError
    ├── RegistrationError        (TypeError)   a class or function cannot be registered
    ├── UnsupportedValueError    (TypeError)   a value enact cannot store
    ├── CycleError               (ValueError)  a value contains itself
    ├── InvalidDigestError       (ValueError)  not 64 lower-case hex characters (or a prefix)
    ├── MissingFieldError        (KeyError)    a resource dict lacks fields of its class
    ├── NoActiveStoreError       (RuntimeError) commit/checkout outside ``with store:``
    ├── NotFoundError            (LookupError) a ref that the store does not hold
    ├── UnknownTypeError         (LookupError) a stored type not registered here
    │   └── IncompatibleTypeError                written by a version of its class that
    │                                            the current class cannot read
    ├── CorruptObjectError       (ValueError)  stored bytes that do not hash to the ref
    ├── DecodeError              (ValueError)  bytes that are not a well-formed token stream
    ├── StorageError             (OSError)     the backend failed (disk, database)
    ├── NameConflictError        (ValueError)  a compare-and-set update of a name lost
    ├── InvalidNameError         (ValueError)  a name for a ref that a store cannot keep
    ├── InvalidStoreURLError     (ValueError)  a store URL of unknown form (open_store)
    ├── UnsupportedOperationError (NotImplementedError) a backend lacks an optional
    │                                          operation (listing or deleting for gc)
    ├── InvocationError          (RuntimeError) misuse of invoke / invokables
    │   ├── ReplayError                          a replay met a call it did not record
    │   ├── IncompleteSubinvocationError         a child still ran when its parent ended
    │   └── InputTypeError       (also TypeError) an input of the wrong type
    │       └── AnswerError                      an answer that does not fit its request
    ├── RunError                 (RuntimeError) a run cannot be started or continued
    │   ├── RunNotFoundError     (also LookupError) no run has this id
    │   ├── RunConflictError                     the run is held elsewhere, or moved on
    │   └── RunTimeoutError      (also TimeoutError) enact.wait gave up before the run ended
    └── InputRequest is not an error class here: it lives with the invocations.

Messages name the object (full digest, type name, store location), what was
expected and what was found, and the fix when there is one. The same facts stay
available as attributes so that nobody needs to parse a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class EnactError(Exception):
    """Base class of every error raised by enact."""


class RegistrationError(EnactError, TypeError):
    """A class or function cannot be registered as a resource."""


class UnsupportedValueError(EnactError, TypeError):
    """A value (or a dict key) has a type that enact cannot store.

    Attributes:
        path: Where inside the committed value the offending value sits, e.g.
            ``$.children[3].value``.
        value_type: The type that is not supported.
    """

    def __init__(self, message: str, *, path: str = "$", value_type: type | None = None):
        super().__init__(message)
        self.path = path
        self.value_type = value_type


class CycleError(EnactError, ValueError):
    """A value contains itself, so it has no finite digest.

    Attributes:
        path: Where the value refers back to one of its containers.
    """

    def __init__(self, message: str, *, path: str = "$"):
        super().__init__(message)
        self.path = path


class InvalidDigestError(EnactError, ValueError):
    """A digest is not 64 lower-case hexadecimal characters (or a digest prefix is not
    up to 64 of them)."""


class MissingFieldError(EnactError, KeyError):
    """A resource dict lacks fields that its class requires (`Resource.from_resource_dict`).

    Attributes:
        type_name: The type id of the resource class.
        fields: The names of the missing fields, in declaration order.
    """

    def __init__(self, message: str, *, type_name: str, fields: tuple[str, ...]):
        super().__init__(message)
        self.type_name = type_name
        self.fields = fields

    def __str__(self) -> str:
        # KeyError would show the repr of the message, quotes and escapes included.
        return str(self.args[0])


class NoActiveStoreError(EnactError, RuntimeError):
    """An operation needs a store, but no ``with store:`` block is active."""


class NotFoundError(EnactError, LookupError):
    """The active store does not hold the object a ref points to.

    Attributes:
        digest: The full hex digest that was looked up.
        location: A description of the store that was searched.
    """

    def __init__(self, message: str, *, digest: str, location: str):
        super().__init__(message)
        self.digest = digest
        self.location = location


class UnknownTypeError(EnactError, LookupError):
    """A stored object names a type that is not registered in this process.

    Attributes:
        type_name: The ``module.qualname`` recorded in the store.
    """

    def __init__(self, message: str, *, type_name: str):
        super().__init__(message)
        self.type_name = type_name


class IncompatibleTypeError(UnknownTypeError):
    """A stored object was written by a version of its class that the current one cannot read.

    Compatible changes (a field added with a default, fields reordered, a
    rename with an alias) never raise this; a field removed, a field added
    without a default, or a stored value that does not fit the field's
    annotation does. Migrate the stored objects (`enact.migrate`, ``enact
    migrate``) or make the change compatible.

    Attributes:
        type_name: The type name recorded in the store.
        current_name: The type name of the class defined here.
        stored_fields: The field names of the stored object (sorted).
        current_fields: The field names of the class defined here (declared order).
        problem: What does not fit, in words.
        digest: The object that was checked out ('' when not known).
    """

    def __init__(
        self,
        message: str,
        *,
        type_name: str,
        current_name: str,
        stored_fields: tuple[str, ...],
        current_fields: tuple[str, ...],
        problem: str,
        digest: str = "",
    ):
        super().__init__(message, type_name=type_name)
        self.current_name = current_name
        self.stored_fields = stored_fields
        self.current_fields = current_fields
        self.problem = problem
        self.digest = digest


class CorruptObjectError(EnactError, ValueError):
    """Stored bytes are damaged: they do not hash to their ref or do not parse.

    Attributes:
        digest: The digest the object was stored under.
        location: Where the damaged object lives (a file path, a table row).
        detail: What is wrong with it, as a clause (``"its 12 bytes hash to ..."``);
            empty when the message says it only.
    """

    def __init__(self, message: str, *, digest: str, location: str, detail: str = ""):
        super().__init__(message)
        self.digest = digest
        self.location = location
        self.detail = detail


class DecodeError(EnactError, ValueError):
    """Bytes are not a well-formed token stream (raised by `enact.encoding`).

    The codec does not know where the bytes came from; a store that read them
    reports the object's digest and location in a `CorruptObjectError` whose
    ``__cause__`` is this error.
    """


class StorageError(EnactError, OSError):
    """A storage backend failed; the driver's error is the ``__cause__``."""


class NameConflictError(EnactError, ValueError):
    """A compare-and-set update of a named ref found another value.

    Attributes:
        name: The name that was updated.
        expected: The digest the caller expected (None: expected no name).
        actual: The digest the store holds (None: the name does not exist).
    """

    def __init__(self, message: str, *, name: str, expected: str | None, actual: str | None):
        super().__init__(message)
        self.name = name
        self.expected = expected
        self.actual = actual


class InvalidNameError(EnactError, ValueError):
    """A name for a ref is empty, too long, or holds control characters."""


class InvalidStoreURLError(EnactError, ValueError):
    """`enact.open_store` was given a URL it does not understand.

    Attributes:
        url: The URL, with any password masked.
    """

    def __init__(self, message: str, *, url: str):
        super().__init__(message)
        self.url = url


class UnsupportedOperationError(EnactError, NotImplementedError):
    """A backend does not implement an optional operation (listing, deletion, names).

    `enact.gc` raises it for a backend that cannot list or delete its objects;
    the conformance suite skips the tests of operations a backend lacks.
    """


class InvocationError(EnactError, RuntimeError):
    """An invokable or invocation was used in a way that cannot be journaled."""


class SourceLocation(NamedTuple):
    """A place in the program's source: where a call was made, or a function defined.

    Attributes:
        filename: The file, as Python names it.
        lineno: The line number.
        function: The function the line is in (``<module>`` at module level).
        line: The source line, stripped ('' if the source is not available).
    """

    filename: str
    lineno: int
    function: str
    line: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}"


class ReplayError(InvocationError):
    """A replay met a call that does not match what was recorded.

    The message says, over several lines, where (the call's path and the
    source line that made it), what differs (field by field), and the ways to
    fix it. The same facts are attributes.

    Attributes:
        path: Child indices from the root invocation to the mismatch, e.g. ``(0, 3)``.
        expected: A description of the recorded call.
        actual: A description of the call the program made.
        difference: Which part of the request differs (``"invokable"``,
            ``"input"``, ``"request"`` when the recorded call is known only by
            its digest, ``"missing call"`` when the program returned without
            making a recorded call, or ``"unreadable record"`` when the recorded
            result holds a type this process cannot read).
        invokable: What the program called (for a missing call: the call that
            returned without making it), or None.
        recorded_request: The recorded `Request` (invokable and input), or None
            when it is known only by its digest or cannot be read here.
        new_request: The `Request` the program made, or None (a missing call).
        differing_fields: The paths of the request fields that differ, e.g.
            ``("input.args[0]['prompt']",)``; empty when unknown.
        location: Where the program made the call (for a missing call: where
            the function that returned early is defined), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        path: tuple[int, ...] = (),
        expected: str = "",
        actual: str = "",
        difference: str = "",
        invokable: Any = None,
        recorded_request: Any = None,
        new_request: Any = None,
        differing_fields: tuple[str, ...] = (),
        location: SourceLocation | None = None,
    ):
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual
        self.difference = difference
        self.invokable = invokable
        self.recorded_request = recorded_request
        self.new_request = new_request
        self.differing_fields = differing_fields
        self.location = location


class UnrecordedCallError(ReplayError):
    """A call that must come from a record (a frozen replay, a cassette) was not recorded.

    It was not run. `path`, `expected` and `actual` are as in `ReplayError`;
    `difference` is ``"new call"``.
    """


class IncompleteSubinvocationError(InvocationError):
    """An asynchronous child invocation had not finished when its parent returned."""


class InputTypeError(InvocationError, TypeError):
    """An input (a call argument or an answer to an input request) has the wrong type."""


class AnswerError(InputTypeError):
    """An answer to an input request is not a value of the requested type.

    Attributes:
        problems: ``(path, problem)`` pairs, e.g. ``("$.approved", "expected bool,
            got 'no'")``; the path is ``$`` for the answer itself, then ``.name``
            for a field, ``[0]`` for an item and ``['key']`` for a dict entry.
        expected: The requested type as users write it (``list[str]``, ``Approval``).
    """

    def __init__(self, message: str, *, problems: list[tuple[str, str]], expected: str):
        super().__init__(message)
        self.problems = problems
        self.expected = expected


class RunError(EnactError, RuntimeError):
    """A run cannot be started, found, claimed or continued.

    Attributes:
        run_id: The run.
        status: Its current status, if it exists.
        head: The digest of its current state, if it exists.
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        status: str | None = None,
        head: str | None = None,
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status
        self.head = head


class RunNotFoundError(RunError, LookupError):
    """No run has this id in the store."""


class RunConflictError(RunError):
    """Another process holds the run, or the state to continue is no longer its head."""


class CassetteError(EnactError):
    """A cassette cannot be recorded or replayed (missing, damaged, or nothing declared external).

    A call the cassette has no recording of is an `UnrecordedCallError` instead.

    Attributes:
        path: The cassette's directory.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class RunTimeoutError(RunError, TimeoutError):
    """`enact.wait` (or `Run.result`) gave up before the run ended."""


def check_keywords(function: str, given: Mapping[str, object], accepted: Any) -> None:
    """Refuses a keyword that `function` does not take, as Python itself would.

    For functions that take their options as ``**options: Unpack[Options]``:
    type checkers hold callers to `accepted` (the TypedDict ``Options``), but
    Python accepts any keyword there.

    Raises:
        TypeError: ``function() got an unexpected keyword argument 'name'``.
    """
    unknown = sorted(given.keys() - accepted.__optional_keys__)
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
