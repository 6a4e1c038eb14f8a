"""``enact export-otel RUN``: a recorded run's calls as OpenTelemetry spans."""

from __future__ import annotations

import importlib

import click

from enact.cli import _refs
from enact.cli._app import CLIError, Session, command_options

pass_session = click.make_pass_decorator(Session)

_OTLP_HTTP = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
"""The OTLP/HTTP span exporter's module (an optional package of its own)."""


@click.command("export-otel", short_help="Send a run's calls as OpenTelemetry spans.")
@click.argument("run")
@click.option(
    "--endpoint",
    metavar="URL",
    default=None,
    help="Send the spans to this OTLP/HTTP endpoint (http://host:4318/v1/traces); needs "
    "opentelemetry-exporter-otlp-proto-http. [default: print them as JSON]",
)
@command_options
@pass_session
def export_otel(session: Session, run: str, endpoint: str | None) -> None:
    """Export the run RUN (its id or @N) as OpenTelemetry spans: one per journaled call.

    Each span's parent is its caller's span; durations come from the run's
    timings. Without --endpoint the spans are printed as JSON (the SDK's
    console exporter). Needs no --import, and `pip install 'enact[otel]'`.
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        from enact import otel
    except ImportError as err:
        raise CLIError(
            f"enact export-otel needs OpenTelemetry ({err}): pip install 'enact[otel]'."
        ) from err
    resolved = _refs.resolve_for(session, run)
    if resolved.run is None:
        raise CLIError(f"{run} is not a run: name a run by its id or @N (see `enact log`).")
    if endpoint is None:
        exporter = ConsoleSpanExporter(out=click.get_text_stream("stdout"))
    else:
        try:
            module = importlib.import_module(
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"
            )
        except ImportError as err:
            raise CLIError(
                f"--endpoint needs the OTLP exporter ({err}): pip install 'enact[otlp]'."
            ) from err
        exporter = module.OTLPSpanExporter(endpoint=endpoint)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    count = otel.export_run(resolved.run, tracer_provider=provider)
    provider.shutdown()
    session.err.print(f"Exported {count} span(s) of run {resolved.run.id}.")
