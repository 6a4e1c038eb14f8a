"""A process that runs, resumes and answers enact runs, for tests/test_runs_processes.py.

Usage: python run_worker.py COMMAND STORE_URL RUN_ID LEDGER [ARGS...]

``gathered [DURABILITY]``
    Runs `gathered_root`: GROUPS groups one after the other, each gathering
    WIDTH asynchronous `leaf` calls, each of which calls the synchronous
    `inner` (1,000 journaled calls below the root in all).
``sequential COUNT KILL_AT [DURABILITY]``
    Runs `sequential_root`: COUNT `step` calls one after the other. The
    call with index KILL_AT (if not -1) kills its own process with SIGKILL
    after its side effect, before it returns.
``pooled``
    Runs `pooled_root`: 1,000 `work` calls submitted to a pool of 8 threads.
``resume``
    Resumes the run with `enact.resume`.
``wait``
    Runs `approve`, which prepares an order and stops at an input request.
``answer GO_FILE VALUE``
    Prints ``ready``, waits until GO_FILE exists, then answers the run's
    pending request with ``enact.answer(run_id, VALUE, run_now=True)``.
``race-resume GO_FILE``
    Prints ``ready``, waits until GO_FILE exists, then resumes the run.

Every journaled function appends ``run <key> <pid>`` to the LEDGER file when
its body runs (one ``os.write`` on an ``O_APPEND`` descriptor: no buffer a
kill could lose), and every caller appends ``seen <key> <pid>`` once a
journaled call has returned to it. The ledger, not the journal, counts
executions: a call whose ``seen`` line is in the ledger finished, and must
never run again. Each command prints one JSON line with its outcome.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pathlib
import signal
import sys
import time
from typing import Any

import enact
from enact.invocations import answer

GROUPS = 40
WIDTH = 12
"""40 groups of 12 leaves, each leaf with one inner call: 40 + 480 + 480 = 1,000 calls."""

_ledger_fd: int | None = None
_kill_at = -1


def note(kind: str, key: str) -> None:
    """Appends one ledger line, visible to other processes at once."""
    assert _ledger_fd is not None
    os.write(_ledger_fd, f"{kind} {key} {os.getpid()}\n".encode())


@enact.register
def inner(group: int, index: int) -> int:
    note("run", f"inner.{group}.{index}")
    return group * 100 + index


@enact.register
async def leaf(group: int, index: int) -> int:
    note("run", f"leaf.{group}.{index}")
    await asyncio.sleep(0)  # lets the other leaves of the group start: all are in flight
    value = inner(group, index)
    note("seen", f"inner.{group}.{index}")
    await asyncio.sleep(0)
    return value


@enact.register
async def group_of_leaves(group: int, width: int) -> int:
    note("run", f"group.{group}")
    values = await asyncio.gather(*(leaf(group, index) for index in range(width)))
    for index in range(width):
        note("seen", f"leaf.{group}.{index}")
    return sum(values)


@enact.register
async def gathered_root(groups: int, width: int) -> int:
    note("run", "root")
    total = 0
    for group in range(groups):
        total += await group_of_leaves(group, width)
        note("seen", f"group.{group}")
    return total


def gathered_total(groups: int = GROUPS, width: int = WIDTH) -> int:
    """What `gathered_root` returns."""
    return sum(group * 100 + index for group in range(groups) for index in range(width))


@enact.register
def step(index: int) -> int:
    note("run", f"step.{index}")
    if index == _kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return index * 3


@enact.register
def sequential_root(count: int) -> int:
    note("run", "root")
    total = 0
    for index in range(count):
        total += step(index)
        note("seen", f"step.{index}")
    return total


@enact.register
def work(index: int) -> int:
    note("run", f"work.{index}")
    return index + 1


@enact.register
def pooled_root(count: int) -> int:
    note("run", "root")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(work, index) for index in range(count)]
        total = 0
        for index, future in enumerate(futures):
            total += future.result()
            note("seen", f"work.{index}")
    return total


@enact.register
def prepare(order: str) -> str:
    note("run", "prepare")
    return f"prepared {order}"


@enact.register
def send_email(text: str) -> str:
    note("run", "send_email")
    return f"sent {text}"


@enact.register
def approve(order: str) -> str:
    note("run", "root")
    prepared = prepare(order)
    decision = enact.request_input(str, for_value=prepared, context="approve?")
    return send_email(f"{prepared}: {decision}")


def _outcome(run: enact.Run) -> dict[str, Any]:
    invocation = run.invocation()
    output = None
    if run.status == "complete" and invocation is not None:
        output = invocation.get_output()
    return {"run_id": run.id, "status": run.status, "head": run.head.digest, "output": output}


def main(argv: list[str]) -> None:
    global _ledger_fd, _kill_at
    # Ctrl-C raises KeyboardInterrupt here even when the test runner was started in the
    # background, whose children inherit an ignored SIGINT (Python then keeps it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command, url, run_id, ledger, *rest = argv
    _ledger_fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    store = enact.open_store(url)
    result: dict[str, Any]
    with store:
        if command == "gathered":
            durability: Any = rest[0] if rest else None
            invoke = enact.invoke_async(
                gathered_root, (GROUPS, WIDTH), run_id=run_id, durability=durability
            )
            asyncio.run(invoke)
            result = _outcome(enact.get_run(run_id))
        elif command == "sequential":
            count, _kill_at = int(rest[0]), int(rest[1])
            durability = rest[2] if len(rest) > 2 else None
            enact.invoke(sequential_root, (count,), run_id=run_id, durability=durability)
            result = _outcome(enact.get_run(run_id))
        elif command == "pooled":
            enact.invoke(pooled_root, (1000,), run_id=run_id)
            result = _outcome(enact.get_run(run_id))
        elif command == "resume":
            result = _outcome(enact.resume(run_id))
        elif command == "wait":
            enact.invoke(approve, ("order-7",), run_id=run_id)
            result = _outcome(enact.get_run(run_id))
        elif command in ("answer", "race-resume"):
            go_file = pathlib.Path(rest[0])
            print("ready", flush=True)
            while not go_file.exists():
                time.sleep(0.001)
            try:
                if command == "answer":
                    result = _outcome(answer(run_id, rest[1], run_now=True))
                else:
                    result = _outcome(enact.resume(run_id))
            except enact.RunConflictError as err:
                result = {
                    "error": type(err).__name__,
                    "run_id": err.run_id,
                    "status": err.status,
                    "head": err.head,
                    "message": str(err),
                }
        else:
            raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
