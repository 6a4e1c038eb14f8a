"""Journaled execution: invokables, invocations, replay, input requests."""

from enact.invocations.engine import Invocation, invoke, invoke_async
from enact.invocations.inputs import (
    InputRequest,
    InvocationGenerator,
    answer,
    pending_input_requests,
    request_input,
)
from enact.invocations.invokables import (
    AsyncInvokable,
    Invokable,
    register_function,
    typed_invokable,
)
from enact.invocations.records import CallArgs, Output, RecordedException, Request, Response
from enact.invocations.summary import invocation_summary

__all__ = [
    "AsyncInvokable",
    "CallArgs",
    "InputRequest",
    "Invocation",
    "InvocationGenerator",
    "Invokable",
    "Output",
    "RecordedException",
    "Request",
    "Response",
    "answer",
    "invocation_summary",
    "invoke",
    "invoke_async",
    "pending_input_requests",
    "register_function",
    "request_input",
    "typed_invokable",
]
