"""Journaled execution: `Invocation`, `invoke`, replay and rewind.

One private module for each part, imported here in layer order:

- `_invocation`: `Invocation`, the record of one call, and `OpenCall`.
- `_matching`: a call against its recorded slot (by request digest alone; no
  tree is re-hashed), and the error for a call that a frozen replay lacks.
- `_closing`: the checks that end a call, and the commit of its response.
- `_calls`: `Frame` (a running invocation) and `ChildCall` (a call it makes).
- `_root`: `invoke_root` over a `RootPlan`, and replay.

A replay re-runs an invocation that has no output with its recorded children
as a template: the child call at position *i* is compared with the recorded
child at position *i*, and a match with a recorded output returns that output
without running the call. A call that the template does not answer goes
through `enact.invocations.providers` only when something asks for it: a
frozen replay refuses it (``new_calls="forbid"``), a cassette or the call
cache may serve its recorded response instead of running it.

Durability: a root invocation that belongs to a run (see `enact.runs`) gets a
`CallSink`; then every child call, when it finishes, writes its request, its
response and one journal entry in a single backend call before its caller
sees the result. Without a sink (``durability="end"``) the whole root call is
one `Store.batch`, written when it ends.
"""

from enact.invocations.engine._calls import (
    MISSING,
    CallSink,
    ChildCall,
    Frame,
    current_frame,
    reset_frame,
    set_frame,
    write_with_record,
)
from enact.invocations.engine._closing import commit_exception
from enact.invocations.engine._invocation import (
    ExceptionOverride,
    Invocation,
    OpenCall,
    OutputT,
    TemplateSlot,
    prefetch_calls,
)
from enact.invocations.engine._matching import commit_request
from enact.invocations.engine._root import (
    RootOutcome,
    RootPlan,
    RootSink,
    invoke_root,
    invoke_root_async,
    is_async_invokable,
    positional_args,
    replay_plan,
    root_input,
    run_call,
    set_root_preparer,
    unbind,
)

__all__ = [
    "MISSING",
    "CallSink",
    "ChildCall",
    "ExceptionOverride",
    "Frame",
    "Invocation",
    "OpenCall",
    "OutputT",
    "RootOutcome",
    "RootPlan",
    "RootSink",
    "TemplateSlot",
    "commit_exception",
    "commit_request",
    "current_frame",
    "invoke_root",
    "invoke_root_async",
    "is_async_invokable",
    "positional_args",
    "prefetch_calls",
    "replay_plan",
    "reset_frame",
    "root_input",
    "run_call",
    "set_frame",
    "set_root_preparer",
    "unbind",
    "write_with_record",
]
