"""OpenTelemetry spans of runs through a real OTLP collector (Rotel, from PyPI).

The collector (``rotel``, a Rust OpenTelemetry collector whose wheel ships its
binary; in the test extras) receives the spans over OTLP/HTTP from the SDK's
OTLP exporter (``opentelemetry-exporter-otlp-proto-http``) and forwards them,
batched and gzip-compressed, with its own OTLP exporter to a small receiver
in this test, which decodes them with the OTLP protobuf messages. So what the
test checks is what the collector received and passed on.

Skipped when the collector or the exporter is not installed (``pip install -e
'.[test]'`` installs both on Linux x86-64); under ``ENACT_REQUIRE_OTLP_COLLECTOR=1``
(set by .ci/run) a missing one fails instead.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import enact

_REQUIRED = os.environ.get("ENACT_REQUIRE_OTLP_COLLECTOR") == "1"


def _missing(module: str, why: str) -> None:
    try:
        __import__(module)
    except ImportError as err:
        message = f"{why} is not installed ({err}); pip install -e '.[test]' installs it"
        if _REQUIRED:
            raise RuntimeError(f"ENACT_REQUIRE_OTLP_COLLECTOR=1 but {message}") from err
        pytest.skip(message, allow_module_level=True)


_missing("opentelemetry.sdk", "the OpenTelemetry SDK")
_missing("opentelemetry.exporter.otlp.proto.http.trace_exporter", "the OTLP/HTTP exporter")
_missing("rotel", "the Rotel OTLP collector (package rotel)")

import rotel  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

import enact.otel  # noqa: E402

TESTS = pathlib.Path(__file__).parent
sys.path.insert(0, str(TESTS / "helpers"))

import telemetry_agent as agents  # noqa: E402

COLLECTOR = pathlib.Path(rotel.__file__).parent / "rotel-agent"
WAIT_SECONDS = 60.0
"""How long the test waits for the collector to start and to pass spans on (not a
speed check: on a busy machine it may take seconds; it is usually milliseconds)."""


class Received:
    """The spans the collector forwarded to this test's OTLP/HTTP receiver."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def add(self, path: str, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "scope": scope_spans.scope.name,
                            "attributes": {
                                attribute.key: _value(attribute.value)
                                for attribute in span.attributes
                            },
                        }
                    )
        with self.lock:
            self.paths.append(path)
            self.spans.extend(found)

    def wait_for(self, run_id: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self.lock:
                spans = [s for s in self.spans if s["attributes"].get("enact.run_id") == run_id]
            if len(spans) >= count or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def _receiver(received: Received) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.add(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"the collector exited ({process.returncode}): {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the collector did not listen on port {port}: {log.read_text()}")
            time.sleep(0.05)


@pytest.fixture
def collector(tmp_path: pathlib.Path) -> Iterator[tuple[str, Received]]:
    """A running collector: (its OTLP/HTTP traces URL, what it forwarded)."""
    received = Received()
    server = _receiver(received)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    http_port, grpc_port = _free_port(), _free_port()
    log = tmp_path / "collector.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(COLLECTOR),
                "start",
                "--otlp-http-endpoint",
                f"127.0.0.1:{http_port}",
                "--otlp-grpc-endpoint",
                f"127.0.0.1:{grpc_port}",
                "--exporter",
                "otlp",
                "--otlp-exporter-protocol",
                "http",
                "--otlp-exporter-endpoint",
                f"http://127.0.0.1:{server.server_address[1]}",
                "--batch-timeout",
                "50ms",
                "--pid-file",
                str(tmp_path / "collector.pid"),
                "--log-file",
                str(tmp_path / "collector-agent.log"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(http_port, process, log)
        yield f"http://127.0.0.1:{http_port}/v1/traces", received
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.shutdown()
        server.server_close()


def invocation_tree(invocation: enact.Invocation) -> tuple[str, list[Any]]:
    invokable = invocation.get_invokable()
    name = getattr(invokable, "__name__", None) or type(invokable).__name__
    return (name, [invocation_tree(child) for child in invocation.get_children()])


def span_tree(spans: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """(name, children) from the received spans, by span id and parent id."""
    by_id = {span["span_id"]: span for span in spans}
    assert len(by_id) == len(spans), "a span arrived twice"
    roots = [span for span in spans if span["parent_id"] not in by_id]
    assert len(roots) == 1, roots
    assert len({span["trace_id"] for span in spans}) == 1

    def build(span: dict[str, Any]) -> tuple[str, list[Any]]:
        kids = [kid for kid in spans if kid["parent_id"] == span["span_id"]]
        kids.sort(key=lambda kid: int(kid["attributes"]["enact.path"].rsplit(".", 1)[-1]))
        return (span["name"], [build(kid) for kid in kids])

    return build(roots[0])


def test_enact_export_otel_sends_a_runs_spans_to_a_real_collector(
    tmp_path: pathlib.Path, collector: tuple[str, Received]
) -> None:
    endpoint, received = collector
    url = f"sqlite:///{tmp_path}/store.db"
    store = enact.open_store(url)
    with store:
        invocation = enact.invoke(agents.agent, (["a", "b"],), run_id="via-collector")
        timings = enact.get_run("via-collector").timings()
        expected = invocation_tree(invocation)
    command = [sys.executable, "-m", "enact", "--store", url, "export-otel", "via-collector"]
    done = subprocess.run(
        [*command, "--endpoint", endpoint],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "Exported 6 span(s) of run via-collector."
    spans = received.wait_for("via-collector", 6)
    assert len(spans) == 6, f"the collector passed on {len(spans)} of 6 spans"
    assert set(received.paths) == {"/v1/traces"}
    assert span_tree(spans) == expected
    (root,) = [span for span in spans if span["attributes"]["enact.path"] == ""]
    assert root["scope"] == "enact"
    assert root["attributes"]["enact.invokable"] == "telemetry_agent.agent"
    assert root["attributes"]["enact.status"] == "complete"
    assert root["attributes"]["enact.request_digest"] == invocation.request.digest
    assert root["attributes"]["enact.response_digest"] == invocation.response.digest
    assert root["attributes"]["process.pid"] == os.getpid()
    # The recorded times, to the nanosecond, went through the collector.
    root_timing = timings.get(())
    assert root_timing is not None
    assert (root["start"], root["end"]) == (root_timing.start_ns, root_timing.end_ns)
    # Token usage reported by the model calls (counted once: at the deepest call).
    usage = [
        span["attributes"].get("gen_ai.usage.input_tokens")
        for span in spans
        if span["name"] == "openai_chat"
    ]
    assert usage == [1, 1]


def test_live_spans_of_gathered_calls_reach_a_real_collector(
    tmp_path: pathlib.Path, collector: tuple[str, Received]
) -> None:
    endpoint, received = collector
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    try:
        with enact.open_store(f"sqlite:///{tmp_path}/store.db"):
            with enact.otel.live(provider):
                gathered = enact.invoke_async(agents.gather_all, (["a", "b"],), run_id="gathered")
                invocation = asyncio.run(gathered)
            expected = invocation_tree(invocation)
    finally:
        provider.shutdown()  # flushes the batch to the collector
    count = _count(expected)
    spans = received.wait_for("gathered", count)
    assert len(spans) == count, f"the collector passed on {len(spans)} of {count} spans"
    assert span_tree(spans) == expected
    assert span_tree(spans) == ("gather_all", [("Fetch", [])] * 3)
    assert {span["attributes"]["enact.source"] for span in spans} == {"ran"}


def _count(tree: tuple[str, list[Any]]) -> int:
    return 1 + sum(_count(child) for child in tree[1])
