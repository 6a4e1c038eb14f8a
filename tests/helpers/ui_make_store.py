"""Writes runs of `helpers.ui_agent` into the store at argv[1] (the `enact ui` tests).

Run ids: ``wide`` (complete, 331 calls), ``total-a`` and ``total-b``
(complete, sharing two of three calls), ``review-1`` and ``review-2``
(waiting for an `Approval`), ``ask-1`` (waiting for a str), ``hostile``
(waiting; hostile strings stored), ``fail-1`` (raised). Prints nothing; run
with ``tests`` on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import sys

from helpers import ui_agent

import enact


def main() -> None:
    store = enact.open_store(sys.argv[1])
    with store:
        enact.invoke(ui_agent.wide, (30,), run_id="wide")
        enact.invoke(ui_agent.total, ([1, 2, 3],), run_id="total-a")
        enact.invoke(ui_agent.total, ([1, 2, 4],), run_id="total-b")
        enact.invoke(ui_agent.review, ("dana",), run_id="review-1")
        enact.invoke(ui_agent.review, ("eve",), run_id="review-2")
        enact.invoke(ui_agent.ask, ("dogs",), run_id="ask-1")
        enact.invoke(ui_agent.hostile, (), run_id="hostile")
        with contextlib.suppress(ValueError):
            enact.invoke(ui_agent.fail, (1,), run_id="fail-1")
    store.close()


if __name__ == "__main__":
    main()
