"""Journaled functions whose stored text is hostile to terminals (for tests/test_cli_inspect.py)."""

from __future__ import annotations

import enact

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e [/INST] [bold]b[/bold] [link=https://e.x]l[/link]"
"""Retitles the window, clears the screen, a C1 CSI, a bidi override, and rich markup."""

LETTER = "Hi Dana,\n\nenact journals every call.\n  Indented line, kept.\n\nBest,\nA" + (
    " long line" * 20
)
"""A string to approve: several lines, one longer than any terminal."""


@enact.register
def approve(text: str) -> str:
    """Asks whether to send `text`, with a hostile context."""
    if enact.request_input(bool, for_value=text, context="Send it?\n" + EVIL):
        return text
    return ""


@enact.register
def explode(label: str) -> int:
    """Raises with a hostile message."""
    raise ValueError(EVIL + label)
