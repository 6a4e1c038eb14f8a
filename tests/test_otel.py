"""OpenTelemetry spans of runs: their trees equal the invocation trees (in-memory, console)."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import enact

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

import enact.otel

TESTS = pathlib.Path(__file__).parent
sys.path.insert(0, str(TESTS / "helpers"))

import telemetry_agent as agents  # noqa: E402


@enact.register
def fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@enact.register
def tolerant(x: int) -> int:
    try:
        return fails(x)
    except ValueError:
        return agents.square(x)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[enact.Store]:
    with enact.open_store(f"sqlite:///{tmp_path}/store.db") as opened:
        yield opened


def invocation_tree(invocation: enact.Invocation) -> tuple[str, list[Any]]:
    """(short invokable name, children) of an invocation, read with its types."""
    invokable = invocation.get_invokable()
    name = getattr(invokable, "__name__", None) or type(invokable).__name__
    return (name, [invocation_tree(child) for child in invocation.get_children()])


def span_tree(spans: list[ReadableSpan]) -> tuple[str, list[Any]]:
    """The same shape from spans: parents by span id, children in path order."""
    assert spans, "no spans"
    by_id = {span.context.span_id: span for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in by_id else None, []).append(span)
    (root,) = children[None]
    assert len({span.context.trace_id for span in spans}) == 1

    def build(span: ReadableSpan) -> tuple[str, list[Any]]:
        kids = sorted(
            children.get(span.context.span_id, []),
            key=lambda kid: int(str(kid.attributes["enact.path"]).rsplit(".", 1)[-1]),
        )
        return (span.name, [build(kid) for kid in kids])

    return build(root)


def attributes(spans: list[ReadableSpan], path: str) -> dict[str, Any]:
    (span,) = [span for span in spans if span.attributes["enact.path"] == path]
    return dict(span.attributes or {})


def test_live_and_exported_spans_of_nested_calls_equal_the_invocation_tree(
    store: enact.Store, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with enact.otel.live(provider):
        invocation = enact.invoke(agents.nested, (3,), run_id="nested")
    live = list(exporter.get_finished_spans())
    assert span_tree(live) == invocation_tree(invocation)
    exporter.clear()
    assert enact.otel.export_run("nested", tracer_provider=provider) == len(live)
    exported = list(exporter.get_finished_spans())
    assert span_tree(exported) == invocation_tree(invocation)
    for spans in (live, exported):
        root = attributes(spans, "")
        assert root["enact.invokable"] == "telemetry_agent.nested"
        assert root["enact.status"] == "complete"
        assert root["enact.run_id"] == "nested"
        assert root["enact.request_digest"] == invocation.request.digest
        assert root["enact.source"] == "ran"
        assert root["process.pid"] == os.getpid()
    assert attributes(exported, "")["enact.response_digest"] == invocation.response.digest
    # Recorded times: the exported spans have the live spans' start and end.
    assert sorted((s.start_time, s.end_time) for s in exported) == sorted(
        (s.start_time, s.end_time) for s in live
    )


def test_spans_of_gathered_and_threaded_calls_equal_the_invocation_tree(
    store: enact.Store, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def main() -> enact.Invocation:
        return await enact.invoke_async(agents.gather_all, (["a", "b", "c"],), run_id="gather")

    with enact.otel.live(provider):
        gathered = asyncio.run(main())
        pooled = enact.invoke(agents.pooled, (5,), run_id="pool")
    spans = list(exporter.get_finished_spans())
    by_run: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_run.setdefault(str(span.attributes["enact.run_id"]), []).append(span)
    assert span_tree(by_run["gather"]) == invocation_tree(gathered)
    assert span_tree(by_run["pool"]) == invocation_tree(pooled)
    assert span_tree(by_run["gather"]) == ("gather_all", [("Fetch", [])] * 4)
    exporter.clear()
    enact.otel.export_run("gather", tracer_provider=provider)
    assert span_tree(list(exporter.get_finished_spans())) == invocation_tree(gathered)


def test_raised_waiting_and_replayed_calls_in_spans(
    store: enact.Store, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with enact.otel.live(provider):
        enact.invoke(tolerant, (2,), run_id="tolerant")
        enact.invoke(agents.confirm, (2,), run_id="confirm")
    spans = list(exporter.get_finished_spans())
    failed = [s for s in spans if s.name == "fails"]
    assert [s.status.status_code for s in failed] == [StatusCode.ERROR]
    assert "ValueError: bad 2" in (failed[0].status.description or "")
    assert failed[0].attributes["enact.status"] == "raised"
    waiting = [s for s in spans if s.attributes["enact.run_id"] == "confirm"]
    assert {s.attributes["enact.path"]: s.attributes["enact.status"] for s in waiting} == {
        "": "waiting",
        "0": "complete",
        "1": "waiting",
    }
    exporter.clear()
    with enact.otel.live(provider):
        enact.answer("confirm", "yes", run_now=True)
    answered = list(exporter.get_finished_spans())
    sources = {s.attributes["enact.path"]: s.attributes["enact.source"] for s in answered}
    assert sources == {"": "ran", "0": "journal", "1": "journal", "2": "ran", "3": "ran"}
    exporter.clear()
    enact.otel.export_run("confirm", tracer_provider=provider)
    exported = list(exporter.get_finished_spans())
    assert {s.attributes["enact.path"]: s.attributes["enact.source"] for s in exported} == sources
    run = enact.get_run("confirm")
    invocation = run.invocation()
    assert invocation is not None
    assert span_tree(exported) == invocation_tree(invocation)


def test_a_live_run_joins_the_current_trace_and_stops_after_close(
    store: enact.Store, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer("test")
    exporting = enact.otel.live(provider)
    with tracer.start_as_current_span("request handler") as handler:
        enact.invoke(agents.square, (3,), run_id="inside")
    exporting.close()
    enact.invoke(agents.square, (4,), run_id="after")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"request handler", "square"}
    square = spans["square"]
    assert square.parent is not None
    assert square.parent.span_id == handler.get_span_context().span_id
    assert square.context.trace_id == handler.get_span_context().trace_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_token_usage_in_span_attributes(
    store: enact.Store, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with enact.otel.live(provider):
        enact.invoke(agents.agent, (["hey"],), run_id="tokens")
    spans = list(exporter.get_finished_spans())
    usage = {
        s.name: (
            s.attributes.get("gen_ai.usage.input_tokens"),
            s.attributes.get("gen_ai.usage.output_tokens"),
        )
        for s in spans
    }
    assert usage == {
        "agent": (None, None),
        "ask_model": (None, None),  # returns the model's usage: counted at openai_chat
        "openai_chat": (3, 2),
        "anthropic_message": (10, 7),
    }


def test_enact_export_otel_prints_the_spans_of_a_run(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with enact.open_store(url):
        invocation = enact.invoke(agents.agent, (["a", "b"],), run_id="to-export")
        expected = invocation_tree(invocation)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, "export-otel", "to-export"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "Exported 6 span(s) of run to-export."
    decoder = json.JSONDecoder()
    text, spans = done.stdout.strip(), []
    while text:
        span, end = decoder.raw_decode(text)
        spans.append(span)
        text = text[end:].strip()
    by_id = {span["context"]["span_id"]: span for span in spans}

    def build(span: dict[str, Any]) -> tuple[str, list[Any]]:
        kids = [s for s in spans if s["parent_id"] == span["context"]["span_id"]]
        kids.sort(key=lambda kid: int(kid["attributes"]["enact.path"].rsplit(".", 1)[-1]))
        return (span["name"], [build(kid) for kid in kids])

    (root,) = [span for span in spans if span["parent_id"] not in by_id]
    assert build(root) == expected
    assert root["attributes"]["enact.run_id"] == "to-export"
    not_a_run = subprocess.run(
        [sys.executable, "-m", "enact", "--store", url, "export-otel", invocation.request.digest],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not_a_run.returncode == 1
    assert "is not a run" in not_a_run.stderr
