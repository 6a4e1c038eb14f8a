"""A small support agent whose every step is journaled (main.py runs it).

The "model" is a keyword router standing in for a language model; the tools
look things up in small tables. When no tool fits, the agent asks a human
with `enact.request_input`, and its run waits for the answer.

The agent lives in a module of its own so that its registered types have
stable names (``agent.Ticket``, not ``__main__.Ticket``): the ``enact``
command can then read its journals with ``--import agent``.
"""

from __future__ import annotations

import dataclasses

import enact


@enact.register
@dataclasses.dataclass
class Ticket(enact.Resource):
    """A customer's message."""

    customer: str
    message: str


@enact.register
@dataclasses.dataclass
class KeywordModel(enact.Invokable):
    """Chooses the next tool from keywords in the message: a stand-in for a model."""

    routes: dict[str, str]

    def call(self, message: str) -> str:
        text = message.lower()
        for keyword, tool in self.routes.items():
            if keyword in text:
                return tool
        return "ask_human"


MODEL = KeywordModel({"refund": "docs", "return": "docs", "order": "orders", "where": "orders"})

DOCS = {
    "refund": "Refunds reach your card within 5 working days.",
    "return": "Returns are free within 30 days; print the label from your account.",
}

ORDERS = {"ana": "shipped on Monday, arriving Thursday", "ben": "being packed"}


@enact.register
def search_docs(question: str) -> list[str]:
    """Finds the help articles whose topic the question mentions."""
    text = question.lower()
    return [article for topic, article in sorted(DOCS.items()) if topic in text]


@enact.register
def order_status(customer: str) -> str:
    """Looks up the customer's latest order."""
    return f"Your order is {ORDERS.get(customer, 'not found')}."


@enact.register
def write_reply(customer: str, facts: list[str]) -> str:
    """Turns the facts into a reply."""
    return f"Hi {customer.title()}! " + " ".join(facts)


@enact.register
def handle(ticket: Ticket) -> str:
    """Routes the ticket to a tool (or a human) and writes the reply."""
    tool = MODEL(ticket.message)
    if tool == "docs":
        facts = search_docs(ticket.message)
    elif tool == "orders":
        facts = [order_status(ticket.customer)]
    else:
        answer = enact.request_input(
            str, for_value=ticket.message, context="No tool fits: what should we reply?"
        )
        facts = [answer]
    return str(write_reply(ticket.customer, facts))


TICKETS = [
    Ticket("ana", "Where is my order?"),
    Ticket("ben", "How do I return a jacket, and when is my refund?"),
    Ticket("cyd", "Can I bring my dog to the shop?"),
]
