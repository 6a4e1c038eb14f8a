"""Starts, answers and continues an invocation that asks for input, one step per process.

Usage: python input_request_worker.py STORE_URL COMMAND [ARGS...]

``start``
    Invokes `plan_trip`, which stops at its first input request; names the
    invocation ``jobs/trip`` and prints its state.
``answer REF_OR_NAME VALUE``
    Finds the invocation by digest or by name, answers its pending request
    with the JSON value, replays it, points ``jobs/trip`` at the result and
    prints the new state.
``generator REF_OR_NAME VALUE...``
    Continues the invocation with `enact.InvocationGenerator.from_invocation`,
    answering each request in turn with the next JSON value; points
    ``jobs/trip`` at the result.

The state is printed as one JSON object: the invocation's digest, its output,
its pending requests (path, requested type, for_value, context), and how many
times each journaled step ran in this process (recorded steps do not run again).
"""

from __future__ import annotations

import collections
import json
import sys
from typing import Any

import enact

RUNS: collections.Counter[str] = collections.Counter()


@enact.register
def search_flights(city: str) -> list[str]:
    RUNS["search_flights"] += 1
    return [f"{city}-early", f"{city}-late"]


@enact.register
def book(flight: str, seats: int) -> str:
    RUNS["book"] += 1
    return f"booked {seats} on {flight}"


@enact.register
def plan_trip(city: str) -> str:
    RUNS["plan_trip"] += 1
    flights = search_flights(city)
    choice = enact.request_input(str, for_value=flights, context="Which flight?")
    seats = enact.request_input(int, for_value=choice, context="How many seats?")
    return book(choice, seats)


def state(invocation: enact.Invocation) -> dict[str, Any]:
    pending = [
        {
            "path": list(path),
            "requested_type": request.requested_type.__name__,
            "for_value": request.for_value(),
            "context": request.context,
        }
        for path, request in enact.pending_input_requests(invocation)
    ]
    return {
        "digest": enact.commit(invocation).digest,
        "output": invocation.get_output(),
        "pending": pending,
        "runs": dict(RUNS),
    }


def find(store: enact.Store, ref_or_name: str) -> enact.Invocation:
    ref = store.get_name(ref_or_name) or enact.Ref.from_digest(ref_or_name)
    invocation: enact.Invocation = ref()
    return invocation


def main() -> None:
    url, command, *args = sys.argv[1:]
    store = enact.open_store(url)
    with store:
        if command == "start":
            invocation = enact.invoke(plan_trip, ("Lisbon",))
            store.set_name("jobs/trip", enact.commit(invocation), expected=None)
            print(json.dumps(state(invocation)))
        elif command == "answer":
            before = store.get_name("jobs/trip")
            invocation = find(store, args[0])
            invocation = enact.answer(invocation, json.loads(args[1])).replay()
            store.set_name("jobs/trip", enact.commit(invocation), expected=before)
            print(json.dumps(state(invocation)))
        elif command == "generator":
            before = store.get_name("jobs/trip")
            generator = enact.InvocationGenerator.from_invocation(find(store, args[0]))
            values = [json.loads(arg) for arg in args[1:]]
            for request in generator:
                assert isinstance(request, enact.InputRequest)
                if not values:
                    break
                generator.set_input(values.pop(0))
            invocation = generator.invocation
            store.set_name("jobs/trip", enact.commit(invocation), expected=before)
            print(json.dumps(state(invocation)))
        else:
            raise SystemExit(f"unknown command {command!r}")
    store.close()


if __name__ == "__main__":
    main()
