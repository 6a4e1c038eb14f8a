"""Types and functions of the `enact ui` tests: an agent whose runs wait for typed answers.

`ui_make_store` writes runs of these into a SQLite store; the UI is started
with ``--import helpers.ui_agent`` (``tests`` on PYTHONPATH), so it can run
the program when an answer continues a run.
"""

from __future__ import annotations

import dataclasses
import enum

import enact

HOSTILE = "<script>alert('pwned')</script> {{ 7*7 }} javascript:alert(1)"
"""A stored string that would run script if a page did not escape it."""


@enact.register
class Tone(enum.Enum):
    FRIENDLY = "friendly"
    FORMAL = "formal"


@enact.register
@dataclasses.dataclass
class Address(enact.Resource):
    city: str
    zip_code: str = "00000"


@enact.register
@dataclasses.dataclass
class Approval(enact.Resource):
    """What a reviewer answers: approve or not, a tone, a retry count, where to send it."""

    approved: bool
    retries: int
    address: Address
    tone: Tone = Tone.FRIENDLY
    note: str | None = None


@enact.register
def square(x: int) -> int:
    return x * x


@enact.register
def total(xs: list[int]) -> int:
    """Squares each number (one call each) and sums them: runs that share inputs share calls."""
    return sum(square(x) for x in xs)


@enact.register
def wide(n: int) -> int:
    """n calls of `total` of ten numbers: more calls than a run page shows at first."""
    return sum(total(list(range(i, i + 10))) for i in range(n))


@enact.register
def draft(customer: str) -> str:
    return f"Hi {customer},\n\nyour refund is on its way.\n"


@enact.register
def review(customer: str) -> str:
    """Drafts a reply and asks a reviewer for an `Approval`."""
    text = draft(customer)
    decision = enact.request_input(Approval, for_value=text, context="Approve this reply?")
    if not decision.approved:
        return "rejected"
    return f"sent to {decision.address.city} ({decision.tone.value}, {decision.retries})"


@enact.register
def ask(topic: str) -> str:
    """Asks for free text."""
    answer = enact.request_input(str, for_value=topic, context=f"What about {topic}?")
    return f"{topic}: {answer}"


@enact.register
def echo(text: str) -> str:
    return text


@enact.register
def hostile() -> str:
    """Stores hostile strings as input, output and context of an input request."""
    echo(HOSTILE)
    return str(enact.request_input(str, for_value=HOSTILE, context=HOSTILE))


@enact.register
def fail(n: int) -> int:
    raise ValueError(f"boom {n} <b>bold</b>")
