"""A small agent whose model calls report token usage, for the telemetry tests.

``python telemetry_agent.py STORE_URL RUN_ID`` runs it as a run in that store
(so that a test can read the timings another process recorded).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import sys
from typing import Any

import enact


@enact.register
def openai_chat(prompt: str) -> dict[str, Any]:
    """The shape of an OpenAI chat completion, as data."""
    return {
        "choices": [{"message": {"content": prompt.upper()}}],
        "usage": {
            "prompt_tokens": len(prompt),
            "completion_tokens": 2,
            "total_tokens": len(prompt) + 2,
        },
    }


@enact.register
def anthropic_message(prompt: str) -> dict[str, Any]:
    """The shape of an Anthropic message, as data."""
    return {
        "content": [{"type": "text", "text": prompt[::-1]}],
        "usage": {"input_tokens": 10, "output_tokens": 7},
    }


@enact.register
def ask_model(prompt: str) -> dict[str, Any]:
    """A wrapper that returns the model's response as is (its usage must count once)."""
    return openai_chat(prompt)


@enact.register
def agent(prompts: list[str]) -> list[str]:
    answers = []
    for prompt in prompts:
        response = ask_model(prompt)
        answers.append(response["choices"][0]["message"]["content"])
    answers.append(anthropic_message("done")["content"][0]["text"])
    return answers


@enact.register
def square(x: int) -> int:
    return x * x


@enact.register
def nested(depth: int) -> int:
    return depth if depth == 0 else nested(depth - 1) + square(depth)


@enact.register
def pooled(n: int) -> int:
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        return sum(pool.map(square, range(n)))


@enact.register
def confirm(n: int) -> int:
    total = 0
    for i in range(n):
        total += square(i)
        if enact.request_input(str, for_value=i, context="go on?") != "yes":
            break
    return total


@enact.register
@dataclasses.dataclass
class Fetch(enact.AsyncInvokable):
    key: str

    async def call(self) -> str:
        await asyncio.sleep(0.001)
        return self.key * 2


@enact.register
async def gather_all(keys: list[str]) -> list[str]:
    first = await asyncio.gather(*(Fetch(key)() for key in keys))
    return [*first, await Fetch("last")()]


if __name__ == "__main__":
    with enact.open_store(sys.argv[1]):
        enact.invoke(agent, (["hi", "there"],), run_id=sys.argv[2])
