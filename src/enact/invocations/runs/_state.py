"""Run states: the `RunState` resource, run ids, statuses and who owns a running run."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from typing import Any, Final, Literal

from enact import registry
from enact.errors import (
    InvalidNameError,
)
from enact.invocations.engine import (
    Invocation,
)
from enact.invocations.records import Request
from enact.invocations.timings import RunTimings, host_name
from enact.refs import Ref
from enact.resources import Resource, register_resource_class

RUN_PREFIX: Final = "runs/"
"""``runs/<run id>`` is the head of a run: its latest `RunState`."""

INDEX_PREFIX: Final = "enact/run-index/"
"""``enact/run-index/<created ns>/<run id>`` lists runs by start time."""

JOURNAL_PREFIX: Final = "enact/journal/"
"""``enact/journal/<run id>/<seq>/<path>/<request digest>`` -> response of a finished call."""

Durability = Literal["call", "end"]
"""``"call"``: each call is durable when it finishes; ``"end"``: one write at the end."""

Status = Literal["queued", "running", "waiting", "answered", "complete", "raised", "interrupted"]

STATUSES: Final = ("queued", "running", "waiting", "answered", "complete", "raised", "interrupted")

LEASE_SECONDS: Final = 30.0
"""How long a claim lasts without renewal; a running process renews it every third of it."""

_RUN_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}")


@dataclasses.dataclass
class RunState(Resource):
    """One state of a run, as stored (the head of a run is its latest state).

    Attributes:
        run_id: The run.
        status: ``queued``, ``running``, ``waiting`` (for input), ``answered``
            (ready to continue), ``complete``, ``raised`` or ``interrupted``.
        request: The root request (what the run calls).
        tree: The invocation tree of this state, or the tree the journal
            entries overlay; None if the run has no tree yet.
        journal_from: The first journal entry (sequence number) this state
            overlays on `tree`.
        journal_to: One past the last journal entry of this state.
        raised: The exception the root call ended with, if any; of an
            ``interrupted`` state, the record of what interrupted the run
            (``KeyboardInterrupt``, a ``ReplayError``).
        raised_here: Whether the root call itself raised it.
        event: What made this state (``started``, ``finished``, ``answered``,
            ``claimed``, ``interrupted``, ``forked``).
        function: What the run calls, for listing (``module.function``).
        created: When the run started (``time.time()``).
        updated: When this state was written.
        owner: The process that holds the run while it is ``running``.
        lease_until: Until when the owner's claim holds unless renewed.
        previous: The state before this one (renewals of a lease are not
            kept in the history).
        forked_from: ``run id`` of the run this one was forked from, if any.
        queue: The queue of a submitted run, if any.
        answer_path: The child path of the input request an ``answered`` state
            answers; whoever claims the state writes the answer to the journal.
        answer_request: The request digest of that input request call.
        answer: The `Response` holding the answer.
        timings: The `RunTimings` of the run's latest attempt that recorded
            them (each refers to the one before); see `Run.timings`. The
            first attempt of a run of a few calls keeps its record here, as
            text (`RunTimings.to_text`), without an object of its own.
    """

    __enact_type_name__ = "enact.runs.RunState"

    run_id: str
    status: str
    request: Ref[Request]
    tree: Ref[Invocation] | None
    journal_from: int
    journal_to: int
    raised: Ref[Any] | None
    raised_here: bool
    event: str
    function: str
    created: float
    updated: float
    owner: str | None = None
    lease_until: float | None = None
    previous: Ref[RunState] | None = None
    forked_from: str | None = None
    queue: str | None = None
    answer_path: list[int] | None = None
    answer_request: str | None = None
    answer: Ref[Any] | None = None
    timings: Ref[RunTimings] | str | None = None

    def effective_status(self, now: float | None = None) -> str:
        """The status; a ``running`` state shows as ``interrupted`` when its owner is gone.

        The owner is gone when its lease has expired, or at once when it was a
        process on this machine that no longer exists (killed, crashed).
        """
        if self.status != "running":
            return self.status
        if (
            self.lease_until is not None
            and (time.time() if now is None else now) > self.lease_until
        ):
            return "interrupted"
        if self.owner is not None and not _owner_alive(self.owner):
            return "interrupted"
        return self.status

    def moved(self, head: Ref[RunState], status: str, event: str, **changes: Any) -> RunState:
        """The run's next state after this one (stored at `head`): every head move's one
        way to make it. `updated` is now unless `changes` give it."""
        changes.setdefault("updated", time.time())
        if not changes.keys() <= _FIELDS:
            unknown = sorted(changes.keys() - _FIELDS)
            raise TypeError(f"RunState has no field {', '.join(unknown)}")
        # A copy of the fields (all a RunState's __dict__ holds, as on checkout), not
        # dataclasses.replace: that costs a run of one call 2% (7 µs against 3 here).
        state = object.__new__(RunState)
        fields = state.__dict__
        fields.update(self.__dict__)
        fields.update(changes, status=status, event=event, previous=head)
        return state


register_resource_class(RunState)

_FIELDS: Final = frozenset(field.name for field in dataclasses.fields(RunState))


def check_run_id(run_id: str) -> str:
    """Returns `run_id` if it can name a run; raises `InvalidNameError` if not."""
    if not isinstance(run_id, str) or _RUN_ID.fullmatch(run_id) is None:
        raise InvalidNameError(
            f"Run id {run_id!r} is not valid: use 1 to 200 ASCII letters, digits and . _ : @ + -, "
            "starting with a letter or digit (for example 'ticket-42')."
        )
    return run_id


def new_run_id() -> str:
    """A fresh run id that sorts by time: ``r<UTC time>-<random>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"r{stamp}-{os.urandom(5).hex()}"


_owner_lock = threading.Lock()
if hasattr(os, "register_at_fork"):  # a parent's thread may hold it at a fork
    os.register_at_fork(after_in_child=_owner_lock._at_fork_reinit)  # type: ignore[attr-defined]
_owner: tuple[int, str] | None = None


def process_owner() -> str:
    """This process's identity in leases: ``host:pid:random`` (new after a fork)."""
    global _owner
    with _owner_lock:
        pid = os.getpid()
        if _owner is None or _owner[0] != pid:
            _owner = (pid, f"{host_name()}:{pid}:{os.urandom(4).hex()}")
        return _owner[1]


def _owner_alive(owner: str) -> bool:
    """Whether the process named by a lease owner may still run (False only when sure)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != host_name() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == process_owner()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _function_name(invokable: Any) -> str:
    info = registry.function_info(invokable)
    if info is not None:
        return f"{getattr(invokable, '__module__', '')}.{getattr(invokable, '__qualname__', '')}"
    cls = type(invokable)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_input_request(error: BaseException | None) -> bool:
    return error is not None and getattr(type(error), "__enact_input_request__", False)


def run_index_name(state: RunState) -> str:
    """The name under which `list_runs` finds the run, sorted by its start time."""
    return f"{INDEX_PREFIX}{int(state.created * 1e9):020d}/{state.run_id}"
