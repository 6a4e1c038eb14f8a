"""asyncio: journaled coroutines.

`enact.AsyncInvokable` is the asynchronous twin of `enact.Invokable`: its
``call`` is an ``async def``, and both calling it and ``invoke`` are
awaited. Child calls made concurrently, for example with
``asyncio.gather``, are recorded in the order the program made them, not
the order they finished, so a strict replay matches them again however the
timing turns out. ``replay_async`` replays.

Every child must finish before its parent returns: a background task that
is still running when the parent ends raises
`enact.IncompleteSubinvocationError`. And ``replay_async`` (like
``replay``) accepts ``exception_override``, which can answer many pending
input requests at once.

Run: python 06_async.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import enact

LATENCY = {"home": 0.03, "about": 0.01, "blog": 0.02}


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class FetchPage(enact.AsyncInvokable):
    """Pretends to download a page; returns its size."""

    page: str

    async def call(self) -> int:
        print(f"  fetching {self.page}")
        await asyncio.sleep(LATENCY[self.page])
        size = random.randint(100, 999)
        print(f"  got {self.page}: {size} bytes")
        return size


@enact.register
@dataclasses.dataclass
class Crawl(enact.AsyncInvokable):
    """Fetches pages concurrently and totals their sizes."""

    pages: list[str]

    async def call(self) -> int:
        sizes = await asyncio.gather(*[FetchPage(page)() for page in self.pages])
        return sum(sizes)


async def gather_and_replay(store: enact.Store) -> None:
    print("== Concurrent children, recorded in call order ==")
    with store:
        invocation = await Crawl(["home", "about", "blog"]).invoke()
        print("total:", invocation.get_output())
        print("journal order:", [child.get_invokable().page for child in invocation.get_children()])
        print()
        print("rewind the last fetch and replay:")
        replayed = await invocation.rewind().replay_async()
        print("total:", replayed.get_output())


@enact.register
@dataclasses.dataclass
class FastestPage(enact.AsyncInvokable):
    """Starts all fetches as background tasks and returns after the first."""

    pages: list[str]

    async def call(self) -> int:
        tasks = [asyncio.ensure_future(FetchPage(page)()) for page in self.pages]
        LEFT_RUNNING.extend(tasks)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()


LEFT_RUNNING: list[asyncio.Future[int]] = []


async def background_tasks(store: enact.Store) -> None:
    print()
    print("== Children left running are an error ==")
    with store:
        try:
            await FastestPage(["home", "about", "blog"]).invoke()
        except enact.IncompleteSubinvocationError as error:
            print("IncompleteSubinvocationError:", error)
        for task in LEFT_RUNNING:
            task.cancel()


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class AskRating(enact.AsyncInvokable):
    """Asks one reviewer for a rating."""

    reviewer: str

    async def call(self) -> int:
        rating: int = enact.request_input(int, for_value=self.reviewer, context="rating 1-5")
        return rating


@enact.register
@dataclasses.dataclass
class Review(enact.AsyncInvokable):
    """Asks all reviewers at once; fails with the first pending request."""

    reviewers: list[str]

    async def call(self) -> float:
        asks = [AskRating(name)() for name in self.reviewers]
        ratings = await asyncio.gather(*asks, return_exceptions=True)
        for rating in ratings:
            if isinstance(rating, Exception):
                raise rating
        return sum(ratings) / len(ratings)


async def many_requests(store: enact.Store) -> None:
    print()
    print("== Answering many input requests with exception_override ==")
    with store:
        asked = await Review(["ana", "ben", "chen"]).invoke()
        print("stopped with:", asked.get_raised())
        scores = {"ana": 4, "ben": 5, "chen": 3}

        def answer(exception_ref: enact.Ref[enact.InputRequest]) -> int:
            request = exception_ref()
            reviewer = request.for_value()
            print(f"  answering for {reviewer}: {scores[reviewer]}")
            return scores[reviewer]

        answered = await asked.replay_async(exception_override=answer)
        print("average rating:", answered.get_output())


async def main() -> None:
    memory = enact.InMemoryStore()
    await gather_and_replay(memory)
    await background_tasks(memory)
    await many_requests(memory)


if __name__ == "__main__":
    random.seed(6)
    asyncio.run(main())
