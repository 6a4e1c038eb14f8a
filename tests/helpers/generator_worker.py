"""Drives a run with `enact.InvocationGenerator` in its own process, for crash tests.

Usage: python generator_worker.py STORE_URL RUN_ID LEDGER COMMAND

``drive [TOPICS]``
    Starts `review` of TOPICS (comma-separated; default ``a,b,c``; the topic
    ``slow`` takes a minute to draft) as run RUN_ID and answers each request with the next line
    of standard input (an int), printing ``waiting <for_value>`` before reading it;
    prints ``done <output>`` at the end.
``answer VALUE``
    Answers the run's first pending request (in this process, with
    `enact.answer(..., run_now=True)`) and prints ``<status> <output>``.

Every journaled call appends its name to LEDGER, so a test can count how many
times each one really ran across processes.
"""

from __future__ import annotations

import signal
import sys
import time

import enact

LEDGER = sys.argv[3] if len(sys.argv) > 3 else "/dev/null"


def note(what: str) -> None:
    with open(LEDGER, "a") as ledger:
        ledger.write(what + "\n")


@enact.register
def draft(topic: str) -> str:
    note(f"draft {topic}")
    if topic == "slow":  # takes a minute, in small steps that Ctrl-C can stop
        for _ in range(600):
            time.sleep(0.1)
    return f"a draft on {topic}"


@enact.register
def approve(text: str) -> int:
    note(f"approve {text}")
    return int(enact.request_input(int, for_value=text, context="Score this draft"))


@enact.register
def section(topic: str) -> int:
    note(f"section {topic}")
    return approve(draft(topic))


@enact.register
def review(topics: list[str]) -> int:
    return sum(section(topic) for topic in topics)


def main() -> None:
    # Ctrl-C raises KeyboardInterrupt here even when the test runner was started in the
    # background, whose children inherit an ignored SIGINT (Python then keeps it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    url, run_id, command = sys.argv[1], sys.argv[2], sys.argv[4]
    with enact.open_store(url):
        if command == "drive":
            topics = (sys.argv[5] if len(sys.argv) > 5 else "a,b,c").split(",")
            generator = enact.InvocationGenerator.from_callable(review, (topics,), run_id=run_id)
            for request in generator:
                print(f"waiting {request.for_value()}", flush=True)
                generator.set_input(int(sys.stdin.readline()))
            print(f"done {generator.invocation.get_output()}", flush=True)
        elif command == "answer":
            run = enact.answer(run_id, int(sys.argv[5]), run_now=True)
            invocation = run.invocation()
            output = invocation.get_output() if run.status == "complete" and invocation else None
            print(f"{run.status} {output}", flush=True)


if __name__ == "__main__":
    main()
