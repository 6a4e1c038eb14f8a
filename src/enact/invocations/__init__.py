"""Journaled execution: invokables, invocations, runs, replay, input requests."""

from enact.invocations import threads as _threads  # noqa: F401  (worker threads journal)
from enact.invocations.engine import Invocation
from enact.invocations.generator import InvocationGenerator
from enact.invocations.inputs import (
    InputRequest,
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
from enact.invocations.runs import (
    Run,
    RunState,
    fork,
    get_run,
    invoke,
    invoke_async,
    list_runs,
    resume,
    resume_async,
)
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
    "Run",
    "RunState",
    "answer",
    "fork",
    "get_run",
    "invocation_summary",
    "invoke",
    "invoke_async",
    "list_runs",
    "pending_input_requests",
    "register_function",
    "request_input",
    "resume",
    "resume_async",
    "typed_invokable",
]
