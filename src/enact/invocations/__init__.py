"""Journaled execution: invokables, invocations, runs, replay, input requests."""

from enact.invocations import threads as _threads  # noqa: F401  (worker threads journal)
from enact.invocations.engine import Invocation
from enact.invocations.exceptions import AttributedException, TracebackFrame, TracedException
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
    typed_invokable,
)
from enact.invocations.records import CallArgs, Output, RecordedException, Request, Response
from enact.invocations.runs import (
    Run,
    RunState,
    Worker,
    WorkerStats,
    call_key,
    fork,
    get_run,
    invoke,
    invoke_async,
    list_runs,
    queue_limits,
    resume,
    resume_async,
    retries,
    run_worker,
    set_queue_limit,
    submit,
    wait,
)
from enact.invocations.summary import invocation_summary
from enact.invocations.telemetry import (
    add_call_observer,
    configure_telemetry,
    remove_call_observer,
)
from enact.invocations.timings import CallEvent, CallTiming, Timings
from enact.invocations.usage import TokenUsage, token_usage

__all__ = [
    "AsyncInvokable",
    "AttributedException",
    "CallArgs",
    "CallEvent",
    "CallTiming",
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
    "Timings",
    "TokenUsage",
    "TracebackFrame",
    "TracedException",
    "Worker",
    "WorkerStats",
    "add_call_observer",
    "answer",
    "call_key",
    "configure_telemetry",
    "fork",
    "get_run",
    "invocation_summary",
    "invoke",
    "invoke_async",
    "list_runs",
    "pending_input_requests",
    "queue_limits",
    "remove_call_observer",
    "request_input",
    "resume",
    "resume_async",
    "retries",
    "run_worker",
    "set_queue_limit",
    "submit",
    "token_usage",
    "typed_invokable",
    "wait",
]
