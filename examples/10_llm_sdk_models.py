"""LLM SDK models and errors in a journal: register the response class once.

The OpenAI and Anthropic SDKs return pydantic models that allow extra fields
and defer building their schemas, and raise errors that carry a status code
and a body. This example declares look-alikes of both (so that it runs
without an SDK or a network) and shows what enact keeps of them:

- `enact.register(Reply)` registers the reply's parts too (its content
  blocks and its usage);
- a checked-out reply equals the received one, extra fields included, and
  ``model_dump(exclude_unset=True)`` (what the SDKs' ``to_dict()`` returns)
  gives the same dict, so a program that sends a reply back to the model
  replays from the journal;
- a recorded error is raised again on replay with its plain-data attributes
  (``status_code``, ``body``), so a handler that backs off on a rate limit
  takes the same path.

Run it with ``python examples/10_llm_sdk_models.py`` (pydantic is in the test extra).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pydantic

import enact


class SdkModel(pydantic.BaseModel):
    """The SDKs' base class: extra fields allowed, schemas built on first use."""

    model_config = pydantic.ConfigDict(extra="allow", defer_build=True)


class TextBlock(SdkModel):
    type: Literal["text"]
    text: str


class ToolUseBlock(SdkModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class Usage(SdkModel):
    input_tokens: int
    output_tokens: int


class Reply(SdkModel):
    id: str
    content: list[Annotated[TextBlock | ToolUseBlock, pydantic.Field(discriminator="type")]]
    stop_reason: str | None = None
    usage: Usage


class RateLimitError(Exception):
    """An SDK's status error: what a handler reads, and an HTTP response it cannot store."""

    def __init__(self, message: str, *, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.response = object()


enact.register(Reply)  # TextBlock, ToolUseBlock and Usage are registered with it

model_calls: list[str] = []


@enact.register
def model(messages: list[dict[str, Any]]) -> Reply:
    """Stands for the SDK's client: rate limited once, then two replies."""
    model_calls.append(json.dumps(messages)[:40])
    if len(model_calls) == 1:
        raise RateLimitError("rate limited", status_code=429, body={"retry_after": 1})
    if len(messages) == 1:
        data: dict[str, Any] = {
            "id": "msg_1",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": "enact"}},
            ],
            "usage": {"input_tokens": 9, "output_tokens": 5, "cache_read_input_tokens": 0},
            "service_tier": "standard",  # a field this version of the SDK does not declare
        }
    else:
        data = {
            "id": "msg_2",
            "content": [{"type": "text", "text": "Found it."}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 30, "output_tokens": 3},
        }
    return Reply.model_validate(data)


@enact.register
def agent(question: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    try:
        reply = model(messages)
    except RateLimitError as error:
        print(f"  backing off: {error.status_code}, retry after {error.body['retry_after']} s")
        reply = model(messages)
    # The reply goes back to the model as the SDKs' users send it: its set fields only.
    messages.append({"role": "assistant", **reply.model_dump(exclude_unset=True)})
    final = model(messages)
    return f"{reply.content[1].name} -> {final.content[0].text}"  # type: ignore[union-attr]


def main() -> None:
    with enact.InMemoryStore():
        print("First run:")
        invocation = enact.invoke(agent, ("What is enact?",))
        print(f"  output: {invocation.get_output()}, model calls: {len(model_calls)}")

        reply = invocation.get_child(1).get_output()
        print(f"A recorded reply checks out as {type(reply).__name__}:")
        print(f"  content types: {[type(block).__name__ for block in reply.content]}")
        print(f"  extra fields: {reply.model_extra}")
        print(f"  set fields: {sorted(reply.model_fields_set)}")

        error = invocation.get_child(0).get_raised()
        print(f"The rate limit is recorded as {type(error).__name__}: {error.attributes}")

        print("Replay (every call from the journal):")
        replayed = invocation.rewind(0).replay(new_calls="forbid")
        print(f"  output: {replayed.get_output()}, model calls: {len(model_calls)}")


if __name__ == "__main__":
    main()
