"""What this process reports about the runs it runs: timings, observers, ``logging``.

- Timings are recorded by default (`configure_telemetry(timings=False)` turns
  them off); see `enact.invocations.timings`.
- Observers (`add_call_observer`) are told of every call as it starts and
  finishes: the live OpenTelemetry exporter (`enact.otel`) is one.
- The logger ``enact`` reports runs starting and finishing (INFO, with how
  many calls ran and how many came from the journal), and each call (DEBUG).
  It has a `logging.NullHandler`, so it is silent unless the application
  configures logging. Whether it is enabled is asked once per attempt, so a
  disabled logger costs nothing per call.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any, Final

from enact import registry
from enact.invocations.timings import CallEvent, CallObserver, CallTimer

logger: Final = logging.getLogger("enact")
logger.addHandler(logging.NullHandler())

_lock = threading.Lock()
_observers: tuple[CallObserver, ...] = ()
_record_timings = True


def configure_telemetry(*, timings: bool | None = None) -> None:
    """Process-wide telemetry settings.

    Args:
        timings: Record each call's start, end, process and token usage with
            its run (default True). Observers and logging work either way.
    """
    global _record_timings
    if timings is not None:
        _record_timings = bool(timings)


def add_call_observer(observer: CallObserver) -> None:
    """Tells `observer` of every journaled call of every run from now on (see `CallObserver`).

    Runs already running keep the observers they started with.
    """
    global _observers
    with _lock:
        if observer not in _observers:
            _observers = (*_observers, observer)


def remove_call_observer(observer: CallObserver) -> None:
    """Stops telling `observer` of calls (for runs started from now on)."""
    global _observers
    with _lock:
        _observers = tuple(known for known in _observers if known is not observer)


@contextlib.contextmanager
def observing(observer: CallObserver) -> Iterator[CallObserver]:
    """``with observing(observer):`` adds it for the block."""
    add_call_observer(observer)
    try:
        yield observer
    finally:
        remove_call_observer(observer)


def new_timer(run_id: str, event: str) -> CallTimer | None:
    """The timer of a new attempt of run `run_id`, or None when nothing wants it."""
    observers = _observers
    if logger.isEnabledFor(logging.INFO):
        observers = (*observers, _LogObserver(logger.isEnabledFor(logging.DEBUG)))
    if not _record_timings and not observers:
        return None
    return CallTimer(run_id, event, _record_timings, observers, _observer_failed)


def cache_hit(invokable: Any, request_digest: str, source_run: str | None = None) -> None:
    """Logs (DEBUG) that a call was served from the call cache (the cache calls this)."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "cache hit: %s (request %s) served from run %s",
            describe_invokable(invokable),
            request_digest[:12],
            source_run or "(unknown)",
        )


def describe_invokable(invokable: Any) -> str:
    """``module.function`` for a registered function, the class name for an invokable."""
    if registry.function_info(invokable) is not None:
        return str(getattr(invokable, "__qualname__", invokable))
    return type(invokable).__qualname__


def _observer_failed(observer: Any, error: Exception) -> None:
    logger.warning("call observer %r failed: %s: %s", observer, type(error).__name__, error)


class _LogObserver:
    """Writes the ``enact`` log lines of one attempt (added only if INFO is enabled)."""

    __slots__ = ("debug", "ran", "reused")

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self.ran = 0
        self.reused = 0

    def call_started(self, event: CallEvent) -> None:
        if event.path == ():
            logger.info(
                "run %s started: %s (pid %d on %s)",
                event.run_id,
                describe_invokable(event.invokable),
                event.pid,
                event.host,
            )
        elif self.debug and event.status == "running":
            logger.debug(
                "run %s call %s started: %s",
                event.run_id,
                _dotted(event.path),
                describe_invokable(event.invokable),
            )

    def call_finished(self, event: CallEvent) -> None:
        if event.status == "reused":
            self.reused += 1
            if self.debug:
                logger.debug(
                    "run %s call %s reused from the journal: %s",
                    event.run_id,
                    _dotted(event.path),
                    describe_invokable(event.invokable),
                )
            return
        self.ran += 1
        duration = ((event.end_ns or event.start_ns) - event.start_ns) / 1e6
        if event.path == ():
            logger.info(
                "run %s finished: %s, %s in %.3f ms; %d call(s) ran, %d reused from the journal",
                event.run_id,
                describe_invokable(event.invokable),
                event.status,
                duration,
                self.ran,
                self.reused,
            )
        elif self.debug:
            logger.debug(
                "run %s call %s %s in %.3f ms: %s",
                event.run_id,
                _dotted(event.path),
                event.status,
                duration,
                describe_invokable(event.invokable),
            )


def _dotted(path: tuple[int, ...]) -> str:
    return ".".join(map(str, path))
