"""A requested type whose class name drives a terminal (for tests/test_hostile_cli.py)."""

from __future__ import annotations

import dataclasses

import enact

EVIL_NAME = "Evil\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e[bold]b[/bold]"


@dataclasses.dataclass
class Answer(enact.Resource):
    """The answer a run asks for."""

    text: str


Answer.__qualname__ = EVIL_NAME
Answer.__name__ = EVIL_NAME
enact.register(Answer)


@enact.register
def ask() -> str:
    """Asks for an `Answer`."""
    return enact.request_input(Answer, context="fill it in").text
