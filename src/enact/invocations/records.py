"""The resources a journal is made of: requests, responses, recorded exceptions.

A journaled call is an `Invocation` (defined in `enact.invocations.engine`)
with two refs: its `Request` (what was called, on what input) and its
`Response` (the output or the raised exception, and the child invocations in
call order). Child invocations are embedded in their parent's response, and the
output is boxed inside the response (an `enact.invocations.Output`), so a
journaled call costs two small objects: its request and its response.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from enact.encoding import declare_inline_box
from enact.refs import Ref
from enact.resources import FieldValue, Resource, register_resource_class


@dataclasses.dataclass
class CallArgs(Resource):
    """The input of a call to a registered function: positional and keyword arguments."""

    __enact_type_name__ = "enact.invocations.CallArgs"

    args: list[FieldValue]
    kwargs: dict[str, FieldValue]

    def format_call(self) -> str:
        """Returns the arguments as they would be written in a call: ``1, x=2``."""
        parts = [repr(arg) for arg in self.args]
        parts.extend(f"{key}={value!r}" for key, value in self.kwargs.items())
        return ", ".join(parts)


@dataclasses.dataclass
class Request(Resource):
    """What was called: the invokable (a resource or a registered function) and its input."""

    __enact_type_name__ = "enact.invocations.Request"

    invokable: FieldValue
    input: FieldValue


@dataclasses.dataclass
class Output(Resource):
    """A recorded output, embedded in its `Response`.

    Boxing the value keeps "returned None" (``Output(None)``) apart from "no
    recorded output" (``Response.output is None``). Calling the box returns
    the value, as calling a Ref does.
    """

    __enact_type_name__ = "enact.invocations.Output"
    __enact_builtin__ = True

    value: FieldValue

    def __call__(self) -> Any:
        return self.value


@dataclasses.dataclass
class Response(Resource):
    """What a call did.

    Attributes:
        output: The returned value in an `Output` box; None if the call has no
            recorded output (it raised, or the output was removed to force
            re-execution). A call that returned None has ``Output(None)`` here.
        raised: Ref to the exception the call raised, or None.
        raised_here: Whether the exception started in this call rather than
            being passed on from a child call.
        children: The child invocations, in call order.
    """

    __enact_type_name__ = "enact.invocations.Response"

    output: Output | None
    raised: Ref[Any] | None
    raised_here: bool
    children: list[Any]


@dataclasses.dataclass(eq=False)
class RecordedException(Resource, Exception):
    """A Python exception that is not a resource, as recorded in a journal.

    The live exception still reaches the caller unchanged. This is the record's
    shape in journals written before tracebacks were recorded (type name and
    message); new records are `enact.TracedException`, which extends it with
    the traceback and the cause/context chain.
    """

    __enact_type_name__ = "enact.invocations.RecordedException"

    type_name: str
    message: str

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"

    def summary(self) -> str:
        """``Type: message``, the type named as Python's tracebacks name it."""
        module, _, name = self.type_name.rpartition(".")
        shown = name if module in ("builtins", "__main__") else self.type_name
        return f"{shown}: {self.message}" if self.message else shown

    def last_frames(self, count: int) -> list[Any]:
        """The innermost frames of the traceback: none here (see `TracedException`)."""
        return []

    def format_traceback(self) -> str:
        """The traceback as Python prints it; this record (of the shape journals had
        before tracebacks were recorded) has none, and says so."""
        return f"{self.summary()}\n(no traceback was recorded for this exception)\n"

    @classmethod
    def from_exception(cls, error: BaseException) -> RecordedException:
        """Records `error`'s type and message."""
        error_type = type(error)
        try:
            message = str(error)
        except Exception as failure:  # a broken __str__ must not lose the journal
            message = f"<str() of the exception raised {type(failure).__name__}>"
        return cls(f"{error_type.__module__}.{error_type.__qualname__}", message)


for _cls in (CallArgs, Output, Request, Response, RecordedException):
    register_resource_class(_cls)
# Every response boxes its output: let the decoder read Output(primitive) inline.
declare_inline_box(Output)
