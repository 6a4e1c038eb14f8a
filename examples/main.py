"""Start here: a journaled support agent, on the default store.

Runs the agent from agent.py on three tickets. Every run is journaled in the
default store -- the one named by $ENACT_STORE, else the SQLite file
.enact/store.db under the working directory -- and printed as a call tree.
The last ticket needs a human: its run stops with an input request that the
``enact answer`` command can answer later, from the command line: the
run keeps its id, and a second answer to the same question is refused.

Run from this directory: python main.py
"""

from __future__ import annotations

import agent

import enact

NEXT_STEPS = [
    ("enact log", "the runs in the store, newest first (@1 is the latest)"),
    ("enact --import agent tree @3", "the call tree of the first ticket's run"),
    ("enact --import agent show {ref}", "any object, by digest, prefix or name"),
    ("enact --import agent answer @1", "answer the question the last run waits for"),
    ("enact --import agent replay @2", "replay a run as a new run: recorded calls are reused"),
    ("enact verify", "re-hash every object in the store"),
]


def print_next_steps(first_ref: str) -> None:
    print("Next, look at the journal with the enact command (from this directory):")
    for command, purpose in NEXT_STEPS:
        print(f"  {command.format(ref=first_ref):<40} {purpose}")
    print("Set ENACT_STORE to use another store: ENACT_STORE=file:///tmp/journal python main.py")


def main() -> None:
    store = enact.default_store()
    first_ref = ""
    with store:
        for ticket in agent.TICKETS:
            invocation = enact.invoke(agent.handle, (ticket,))
            ref = enact.commit(invocation)
            first_ref = first_ref or ref.digest[:12]
            print(f"{ticket.customer} asks: {ticket.message}")
            print(enact.invocation_summary(invocation))
            raised = invocation.get_raised()
            if isinstance(raised, enact.InputRequest):
                print(f"=> waiting for a human: {raised.context}")
            else:
                print(f"=> reply: {invocation.get_output()}")
            print(f"   journaled as {ref.digest[:12]}")
            print()
    store.close()
    print_next_steps(first_ref)


if __name__ == "__main__":
    main()
