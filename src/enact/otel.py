"""OpenTelemetry export: each journaled call a span, its parent call's span its parent.

Needs the optional dependency (``pip install 'enact[otel]'``:
``opentelemetry-sdk``); the rest of enact never imports it.

- `export_run` sends the spans of a recorded run, from its journal and its
  timings (`enact.Run.timings`), through a tracer provider (default: the
  global one). ``enact export-otel RUN`` does it from the command line.
- `live` emits spans as calls finish, in every run this process runs from
  then on (an `enact.add_call_observer` observer). The root span of a run is
  a child of the span that is current where the run starts, so a run inside
  a traced request handler joins that trace.

Every span has the attributes ``enact.invokable`` (the registered type name),
``enact.status`` (``complete``, ``raised``, ``waiting``, ``no output``,
``reused``), ``enact.run_id``, ``enact.request_digest``, ``enact.path``
(``0.2``; empty for the root call) and ``enact.source`` (``ran``, or
``journal`` for a call the run took from its journal), plus ``host.name``
and ``process.pid`` of the process that ran it, the token usage as
``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens`` when the
output reported it, and, from `export_run`, ``enact.response_digest``.
A raised call's span has the status ``ERROR``. Spans are named by the
invokable's short name (``ask_model``, ``RollDie``).

A call with no recorded timing (taken from the journal by every attempt
that recorded timings, or recorded before timings existed) is exported as a
zero-length span at its parent's start.
"""

from __future__ import annotations

import threading
from typing import Any

from enact import registry
from enact.encoding import RawRef, RawResource, decode_raw, stored_type_name
from enact.invocations.inputs import InputRequest
from enact.invocations.runs import Run, get_run
from enact.invocations.telemetry import add_call_observer, remove_call_observer
from enact.invocations.timings import CallEvent
from enact.invocations.usage import TokenUsage
from enact.refs import Ref
from enact.stores.store import Store

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ModuleNotFoundError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"enact.otel needs OpenTelemetry, which is not installed ({err}): pip install 'enact[otel]'"
    ) from err

__all__ = ["LiveExporter", "export_run", "live"]

TRACER_NAME = "enact"
_INPUT_REQUEST = InputRequest.__enact_type_name__


def _tracer(tracer_provider: Any) -> trace.Tracer:
    if tracer_provider is None:
        return trace.get_tracer(TRACER_NAME)
    tracer: trace.Tracer = tracer_provider.get_tracer(TRACER_NAME)
    return tracer


def _short(type_name: str) -> str:
    return type_name.rpartition(".")[2] or type_name


def _usage_attributes(usage: TokenUsage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }


# Past runs ------------------------------------------------------------------------------


def export_run(run: Run | str, *, tracer_provider: Any = None, store: Store | None = None) -> int:
    """Sends the spans of a run's head tree (see the module docstring); returns how many.

    Reads the journal without its types (no module needs to be imported).
    The spans go to `tracer_provider`'s processors (default: the global
    tracer provider); flush the provider to be sure they were exported.

    Raises:
        RunNotFoundError: No such run.
    """
    if isinstance(run, str):
        run = get_run(run, store=store)
    invocation = run.invocation()
    if invocation is None:
        return 0
    tracer = _tracer(tracer_provider)
    timings = run.timings()
    latest = len(timings.attempts) - 1
    store = run.store
    count = 0
    # Depth first, iteratively: a span starts before its children and ends after them.
    root = _read(store, invocation.request.digest, invocation.response.digest)
    stack: list[tuple[str, Any, tuple[int, ...], Any, int]] = [("open", root, (), None, 0)]
    fallback = int(run.created * 1e9)
    while stack:
        action, node, path, parent, parent_start = stack.pop()
        if action == "close":
            span, end = node, parent_start
            span.end(end_time=end)
            continue
        request, response, status, type_name = node
        timing = timings.get(path, request)
        start = timing.start_ns if timing is not None else parent_start or fallback
        end = timing.end_ns if timing is not None else start
        source = "ran" if timing is not None and timing.attempt == latest else "journal"
        attributes: dict[str, Any] = {
            "enact.invokable": type_name,
            "enact.status": status,
            "enact.run_id": run.id,
            "enact.request_digest": request,
            "enact.response_digest": response.digest if response is not None else "",
            "enact.path": ".".join(map(str, path)),
            "enact.source": source,
        }
        if timing is not None:
            attributes.update({"host.name": timing.host, "process.pid": timing.pid})
            attributes.update(_usage_attributes(timing.usage))
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(
            _short(type_name),
            context=context if context is not None else otel_context.Context(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=start,
        )
        if status == "raised":
            span.set_status(Status(StatusCode.ERROR, "the call raised"))
        count += 1
        stack.append(("close", span, path, None, end))
        children = [] if response is None else _children(store, response)
        for index in reversed(range(len(children))):
            child_request, child_response = children[index]
            stack.append(
                (
                    "open",
                    _read(store, child_request, child_response),
                    (*path, index),
                    span,
                    start,
                )
            )
    return count


def _read(store: Store, request: str, response: str | None) -> tuple[str, Any, str, str]:
    """A call as read from the store without types: digests, status, invokable type name."""
    request_raw = decode_raw(store.read_tokens(Ref._unchecked(request)))
    invokable = (
        request_raw.fields.get("invokable") if isinstance(request_raw, RawResource) else None
    )
    type_name = invokable.type_name if isinstance(invokable, RawResource) else "?"
    status = "no output"
    response_ref = None
    if response is not None:
        response_ref = Ref._unchecked(response)
        reply = decode_raw(store.read_tokens(response_ref))
        reply_fields = reply.fields if isinstance(reply, RawResource) else {}
        raised = reply_fields.get("raised")
        if reply_fields.get("output") is not None:
            status = "complete"
        elif isinstance(raised, RawRef):
            name = stored_type_name(store.read_tokens(Ref._unchecked(raised.digest)))
            status = "waiting" if name == _INPUT_REQUEST else "raised"
    return request, response_ref, status, type_name


def _children(store: Store, response: Ref[Any]) -> list[tuple[str, str | None]]:
    fields = decode_raw(store.read_tokens(response))
    found = []
    for child in fields.fields.get("children", []) if isinstance(fields, RawResource) else []:
        if not isinstance(child, RawResource):
            continue
        request, reply = child.fields.get("request"), child.fields.get("response")
        if isinstance(request, RawRef):
            found.append((request.digest, reply.digest if isinstance(reply, RawRef) else None))
    return found


# Live ---------------------------------------------------------------------------------


class LiveExporter:
    """Emits a span per journaled call as it finishes (see `live`).

    ``close()`` (or leaving its ``with`` block) stops it for runs started
    afterwards.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        self._tracer = _tracer(tracer_provider)
        self._spans: dict[tuple[str, int, tuple[int, ...]], Span] = {}
        self._lock = threading.Lock()

    def call_started(self, event: CallEvent) -> None:
        path = event.path
        if path:
            parent = self._spans.get((event.run_id, event.attempt, path[:-1]))
            context = (
                otel_context.Context() if parent is None else trace.set_span_in_context(parent)
            )
        else:
            context = otel_context.get_current()  # a run joins the trace it starts in
        type_name = _type_name(event.invokable)
        span = self._tracer.start_span(
            _short(type_name),
            context=context,
            kind=SpanKind.INTERNAL,
            attributes={
                "enact.invokable": type_name,
                "enact.run_id": event.run_id,
                "enact.request_digest": event.request,
                "enact.path": ".".join(map(str, path)),
                "host.name": event.host,
                "process.pid": event.pid,
            },
            start_time=event.start_ns,
        )
        with self._lock:
            self._spans[(event.run_id, event.attempt, path)] = span

    def call_finished(self, event: CallEvent) -> None:
        with self._lock:
            span = self._spans.pop((event.run_id, event.attempt, event.path), None)
        if span is None:
            return
        status = event.status
        span.set_attribute("enact.status", status)
        span.set_attribute("enact.source", "journal" if status == "reused" else "ran")
        for key, value in _usage_attributes(event.usage).items():
            span.set_attribute(key, value)
        if status == "raised":
            error = event.error
            description = f"{type(error).__name__}: {error}" if error is not None else "raised"
            span.set_status(Status(StatusCode.ERROR, description))
        span.end(end_time=event.end_ns)

    def close(self) -> None:
        """Stops emitting spans for runs started from now on."""
        remove_call_observer(self)

    def __enter__(self) -> LiveExporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def live(tracer_provider: Any = None) -> LiveExporter:
    """Emits spans for every journaled call of the runs this process starts from now on.

    ``with enact.otel.live(provider):`` limits it to a block; without a
    provider, the global tracer provider is used.
    """
    exporter = LiveExporter(tracer_provider)
    add_call_observer(exporter)
    return exporter


def _type_name(invokable: Any) -> str:
    info = registry.function_info(invokable)
    if info is not None:
        return info.name
    return registry.type_name(type(invokable))
