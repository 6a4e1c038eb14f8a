"""A small support agent whose model calls are external: the project the cassette tests record.

`llm` stands for a model API: it appends each prompt to the file named by
``$AGENT_CALL_LOG`` (so the tests can count real calls), and refuses to run
when ``$AGENT_OFFLINE`` is set, as a model would without a network.
``$AGENT_EXTRA_CALL`` makes the agent ask one more question, a change of
the program that its cassette has not recorded.
"""

from __future__ import annotations

import dataclasses
import os

import enact


@enact.register(external=True)
def llm(prompt: str) -> str:
    if os.environ.get("AGENT_OFFLINE"):
        raise ConnectionError(f"offline: the model was called with {prompt!r}")
    with open(os.environ["AGENT_CALL_LOG"], "a", encoding="utf-8") as log:
        log.write(prompt + "\n")
    if prompt.startswith("Classify"):
        return "  hardware  " if "printer" in prompt else "  billing  "
    return f"Dear customer, about {prompt.rsplit(': ', 1)[-1]!r}: we are on it."


@enact.register
@dataclasses.dataclass
class SearchDocs(enact.Invokable):
    """A tool call, declared external by the test that uses it (not by registration)."""

    corpus: str

    def call(self, query: str) -> list[str]:
        if os.environ.get("AGENT_OFFLINE"):
            raise ConnectionError("offline: the search index was called")
        with open(os.environ["AGENT_CALL_LOG"], "a", encoding="utf-8") as log:
            log.write(f"search {query}\n")
        return [f"{self.corpus}/{query.split()[0].lower()}.md"]


@enact.register
def classify(ticket: str) -> str:
    """Live code around an external call: runs in every test run."""
    return llm(f"Classify this ticket: {ticket}").strip()


@enact.register
def answer_ticket(ticket: str) -> dict[str, str]:
    category = classify(ticket)
    docs = SearchDocs("kb")(category)
    reply = llm(f"Answer the {category} ticket using {docs[0]}: {ticket}")
    if os.environ.get("AGENT_EXTRA_CALL"):
        reply += " " + llm(f"Summarize for the {category} team: {ticket}")
    return {"category": category, "reply": reply}
