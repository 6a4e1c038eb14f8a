"""How ``enact tree --timings`` shows a run's timings: durations, tokens, journal marks."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from enact.cli import _raw
from enact.cli._render import Annotate
from enact.encoding import DecodeError
from enact.invocations.engine import Invocation
from enact.invocations.timings import Timings
from enact.invocations.usage import TokenUsage


def duration_text(seconds: float) -> str:
    """``850 µs``, ``12.3 ms``, ``4.56 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def usage_text(usage: TokenUsage) -> str:
    """``12 in + 30 out tokens``."""
    return f"{usage.input_tokens} in + {usage.output_tokens} out tokens"


def annotator(timings: Timings) -> Annotate:
    """What follows each call's label: ``[1.2 ms]``, its tokens, and whether it ran now.

    A call that the latest attempt of the run took from the journal (a
    replay, a resume, an answer) is marked ``from the journal``; a call with
    no recorded timing at all shows only that mark.
    """
    latest = len(timings.attempts) - 1

    def annotate(path: tuple[int, ...], node: Any) -> Text | None:
        timing = timings.get(path, _request_digest(node))
        text = Text()
        if timing is not None:
            text.append(f"  [{duration_text(timing.duration)}", style="dim")
            if timing.usage is not None:
                text.append(", " + usage_text(timing.usage), style="dim")
            text.append("]", style="dim")
        if timing is None or timing.attempt != latest:
            text.append("  (from the journal)", style="dim cyan")
        return text

    return annotate


def footer(run_id: str, timings: Timings) -> Text:
    """One line about the whole run: attempts, time running, calls, tokens."""
    attempts = timings.attempts
    if not attempts:
        return Text(f"run {run_id}: no timings recorded", style="dim")
    last = attempts[-1]
    parts = [
        f"run {run_id}: {len(attempts)} attempt{'s' if len(attempts) != 1 else ''}, "
        f"{duration_text(timings.duration)} running",
        f"last: {last.ran} call{'s' if last.ran != 1 else ''} ran, {last.reused} from the journal, "
        f"pid {last.pid} on {last.host}",
    ]
    usage = timings.usage
    if usage:
        parts.append(
            f"{usage.total_tokens} tokens ({usage_text(usage)}, {usage.calls} "
            f"call{'s' if usage.calls != 1 else ''})"
        )
    return Text("; ".join(parts), style="dim")


def _request_digest(node: Any) -> str | None:
    if isinstance(node, Invocation):
        return node.request.digest
    try:
        return _raw.ref_field(node, "request").digest
    except DecodeError:
        return None
