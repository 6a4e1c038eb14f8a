"""Terminal safety: stored text is printed as text, never as escape sequences or markup.

Anything read from a store (names, values, type names, exception messages,
request contexts) may have been written by a model or a user. `clean` shows
its control characters escaped (``\\x1b``, ``\\u202e``), so that it cannot
retitle the window, clear the screen or set the clipboard of whoever reads it.
`SafeConsole` is the console every command prints with: it never interprets
rich markup (``[/INST]``, ``[link=...]`` stay text) and it cleans every piece of
text it writes, except the control sequences rich itself makes (colours,
progress bars), as a last line of defence behind the commands' own `clean`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.segment import Segment


def _escape(char: str) -> str:
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    if char == "\n":
        return "\\n"
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: str, *, newlines: bool = False) -> str:
    """`text` with every unprintable character escaped (``\\x1b``); newlines kept if asked.

    Unprintable is what `str.isprintable` says (the rule of `repr`): C0 and C1
    controls, DEL, format characters (bidi overrides, zero-width), separators
    other than the space, surrogates and unassigned code points.
    """
    if text.isprintable():
        return text
    if newlines:
        return "\n".join(clean(line) for line in text.split("\n"))
    return "".join(char if char.isprintable() else _escape(char) for char in text)


class SafeConsole(Console):
    """A rich console that prints stored text as text: no markup, no stray escape sequences."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("markup", False)
        options.setdefault("highlight", False)
        options.setdefault("emoji", False)
        super().__init__(**options)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(_cleaned(buffer))


def _cleaned(buffer: Iterable[Segment]) -> Iterable[Segment]:
    for segment in buffer:
        text, style, control = segment
        if control or text.isprintable() or text == "\n":
            yield segment
        else:
            yield Segment(clean(text, newlines=True), style)
