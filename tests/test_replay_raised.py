"""Recorded exceptions are recorded results: replays raise them again; retries run them again.

Also: the first run of a journaled call sees its output (and a new run its
input) as every replay does, dict order included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

import enact
from enact.invocations.runs import Worker

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _fresh() -> None:
    CALLS.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.InMemoryStore() as opened:
        yield opened


class ToolDown(ConnectionError):
    """A user's exception class with an extra attribute set by its __init__."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


@enact.register
def tool(x: int) -> int:
    """Fails while x is odd."""
    CALLS.append(f"tool {x}")
    if x % 2:
        try:
            raise KeyError(x)
        except KeyError as cause:
            error = ToolDown(f"tool {x} is down")
            error.add_note("retry later")
            raise error from cause
    return x * 10


@enact.register
def careful(x: int) -> str:
    """Catches the tool's error, then asks for input."""
    try:
        outcome = f"tool gave {tool(x)}"
    except ToolDown as error:
        outcome = (
            f"caught {type(error).__name__}: {error} (notes {error.__notes__}, "
            f"cause {type(error.__cause__).__name__})"
        )
    return f"{outcome}; answer {enact.request_input(str)}"


CAUGHT = "caught ToolDown: tool 1 is down (notes ['retry later'], cause KeyError)"


def test_override_none_raises_the_recorded_exception_again(store: enact.Store) -> None:
    """None from the override: the tool is not called; the program catches the same error."""
    invocation = enact.invoke(careful, (1,))
    assert CALLS == ["tool 1"]
    seen: list[str] = []

    def only_requests(ref: enact.Ref[Any]) -> Any:
        seen.append(type(ref()).__name__)
        return "yes" if isinstance(ref(), enact.InputRequest) else None

    answered = invocation.replay(exception_override=only_requests)
    assert answered.get_output() == f"{CAUGHT}; answer yes"
    assert seen == ["AttributedException", "InputRequest"]  # ToolDown has a status
    assert CALLS == ["tool 1"]
    # The tool's record is the recorded one, unchanged.
    assert answered.get_child(0) == invocation.get_child(0)


def test_without_override_the_same(store: enact.Store) -> None:
    """A replay without override raises each recorded exception again: the request stays."""
    invocation = enact.invoke(careful, (1,))
    again = invocation.replay()
    assert isinstance(again.get_raised(), enact.InputRequest)
    assert [again.get_child(i) for i in (0, 1)] == [invocation.get_child(i) for i in (0, 1)]
    assert again.get_response().raised == invocation.get_response().raised
    assert CALLS == ["tool 1"]


def test_answering_a_request_leaves_a_caught_tool_error_alone(store: enact.Store) -> None:
    """enact.answer, on an invocation and on a run, answers only the request."""
    invocation = enact.invoke(careful, (1,))
    assert enact.answer(invocation, "ok").replay().get_output() == f"{CAUGHT}; answer ok"
    enact.invoke(careful, (1,), run_id="careful")
    run = enact.answer("careful", "ok", run_now=True)
    assert run.status == "complete"
    assert run.result() == f"{CAUGHT}; answer ok"
    assert CALLS == ["tool 1", "tool 1"]  # once per first run, never on a replay


def test_a_replayed_exception_is_of_its_class_without_its_init(store: enact.Store) -> None:
    """isinstance and except work; str is the recorded message; __init__ did not run."""
    seen: list[BaseException] = []

    @enact.register
    def keeps_error() -> str:
        try:
            tool(3)
        except ConnectionError as error:
            seen.append(error)
        return "done"

    invocation = enact.invoke(keeps_error)
    invocation.rewind(0).replay()
    first, replayed = seen
    assert type(first) is ToolDown and first.status == 503
    assert isinstance(replayed, ToolDown) and isinstance(replayed, ConnectionError)
    assert type(replayed).__qualname__ == "ToolDown"
    assert (str(replayed), replayed.args) == ("tool 3 is down", ("tool 3 is down",))
    assert replayed.__notes__ == ["retry later"]
    assert isinstance(replayed.__cause__, KeyError) and str(replayed.__cause__) == "3"
    assert replayed.status == 503  # set again from the record: __init__ did not run
    record = replayed.__enact_recorded__  # type: ignore[attr-defined]
    assert isinstance(record, enact.AttributedException)
    assert record.type_name.endswith(".ToolDown") and record.attributes == {"status": 503}
    assert CALLS == ["tool 3"]


def test_an_exception_of_a_class_not_loaded_is_raised_as_its_record(store: enact.Store) -> None:
    """A class this process cannot find by name (a local class): the record is raised."""

    class Local(Exception):
        pass

    @enact.register
    def raises_local() -> None:
        CALLS.append("raises_local")
        raise Local("gone")

    @enact.register
    def catches() -> str:
        try:
            raises_local()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "no error"

    invocation = enact.invoke(catches)
    assert invocation.get_output() == "Local: gone"
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == f"TracedException: {__name__}.{Local.__qualname__}: gone"
    assert CALLS == ["raises_local"]


@enact.register
@dataclasses.dataclass(eq=False)
class Refusal(enact.Resource, Exception):
    """An exception that is a resource: stored, and raised again, as itself."""

    reason: str


@enact.register
def refuses() -> None:
    CALLS.append("refuses")
    raise Refusal("no")


@enact.register
def handles_refusal() -> str:
    try:
        refuses()
    except Refusal as error:
        return f"refused: {error.reason}"
    return "accepted"


def test_an_exception_resource_is_raised_again_as_itself(store: enact.Store) -> None:
    """A registered exception resource comes back as an instance with its fields."""
    invocation = enact.invoke(handles_refusal)
    assert invocation.rewind(0).replay().get_output() == "refused: no"
    assert CALLS == ["refuses"]


def test_a_passed_on_exception_keeps_its_record(store: enact.Store) -> None:
    """An exception that passes on through calls is recorded with its first frames."""

    @enact.register
    def middle() -> int:
        return tool(5)

    @enact.register
    def top() -> int:
        return middle()

    invocation = enact.invoke(top)
    replayed = invocation.replay()
    assert replayed.get_response().raised == invocation.get_response().raised
    assert [frame.name for frame in replayed.get_raised().frames] == ["top", "middle", "tool"]
    assert replayed.get_raised().format_traceback() == invocation.get_raised().format_traceback()
    assert replayed.get_child(0).get_response().raised_here is False
    assert CALLS == ["tool 5"]


def test_async_replays_raise_recorded_exceptions_again(store: enact.Store) -> None:
    """replay_async does the same for asynchronous calls."""

    @enact.register
    async def fetch(x: int) -> int:
        CALLS.append(f"fetch {x}")
        raise ValueError(f"fetch {x} failed")

    @enact.register
    async def gathers() -> list[str]:
        results = await asyncio.gather(fetch(1), fetch(2), return_exceptions=True)
        return [repr(result) for result in results]

    async def main() -> tuple[Any, Any]:
        first = await enact.invoke_async(gathers)
        return first.get_output(), (await first.rewind(0).replay_async()).get_output()

    first, replayed = asyncio.run(main())
    assert first == replayed == ["ValueError('fetch 1 failed')", "ValueError('fetch 2 failed')"]
    assert CALLS == ["fetch 1", "fetch 2"]


@enact.register
def ordered() -> dict[str, int]:
    return {"b": 1, "a": 2}


@enact.register
def passes_order_on() -> list[int]:
    keys = list(ordered())
    return [tool(2 * len(key) * (i + 1)) for i, key in enumerate(keys)] + [len(keys)]


@enact.register
def follows_input(config: dict[str, int]) -> list[str]:
    return [f"{key}={ordered()[key] + value}" for key, value in config.items()]


def test_the_first_run_sees_dicts_in_the_order_replays_do(store: enact.Store) -> None:
    """A journaled call's output, and a run's input, come in the same order every time."""
    invocation = enact.invoke(passes_order_on)
    replayed = invocation.rewind(0).replay()  # strict: the calls made in the same order
    assert replayed.get_output() == invocation.get_output()
    seen: list[list[str]] = []

    @enact.register
    def records_order() -> None:
        seen.append(list(ordered()))

    first = enact.invoke(records_order)
    first.rewind(0).replay()
    assert seen == [["a", "b"], ["a", "b"]]
    started = enact.invoke(follows_input, ({"b": 10, "a": 20},))
    assert started.get_output() == ["a=22", "b=11"]
    assert started.rewind(0).replay().get_output() == started.get_output()


def test_the_first_run_gets_a_fresh_copy_of_a_mutable_output(store: enact.Store) -> None:
    """The caller's copy of a journaled call's output is its own, as on a replay."""
    shared = {"items": [1]}

    @enact.register
    def gives_shared() -> dict[str, list[int]]:
        return shared

    @enact.register
    def changes_its_copy() -> list[int]:
        mine = gives_shared()
        mine["items"].append(2)
        return mine["items"]

    assert enact.invoke(changes_its_copy).get_output() == [1, 2]
    assert shared == {"items": [1]}


ATTEMPTS: dict[str, int] = {}


@enact.register
def unreliable(key: str) -> str:
    """Fails on its first two attempts per key."""
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    CALLS.append(f"unreliable {key}")
    if ATTEMPTS[key] <= 2:
        raise ConnectionError(f"attempt {ATTEMPTS[key]}")
    return f"{key} after {ATTEMPTS[key]}"


@enact.retries(3, backoff=0.0)
@enact.register
def retried_agent(key: str) -> str:
    first = tool(2)
    return f"{first} {unreliable(key)}"


def test_worker_retries_run_the_failed_call_again(tmp_path: pathlib.Path) -> None:
    """A declared retry runs the call that raised again; finished calls come from the journal."""
    with enact.open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        run_id = enact.submit(retried_agent, ("k",), run_id="retried")
        stats = Worker(store, lease_seconds=5).run(until_idle=True)
        assert (stats.retried, stats.finished) == (2, 1)
        assert enact.get_run(run_id).result() == "20 k after 3"
        assert CALLS == ["tool 2"] + ["unreliable k"] * 3


@enact.register
def interrupted_once(x: int) -> str:
    try:
        tool(x)
        outcome = "worked"
    except ToolDown:
        outcome = "failed"
    if not CALLS.count("interrupt"):
        CALLS.append("interrupt")
        raise KeyboardInterrupt
    return outcome


def test_resume_raises_recorded_exceptions_again(tmp_path: pathlib.Path) -> None:
    """An interrupted run continues with its caught tool error, without calling the tool."""
    with enact.open_store(f"sqlite:///{tmp_path / 'store.db'}"):
        with pytest.raises(KeyboardInterrupt):
            enact.invoke(interrupted_once, (1,), run_id="stopped")
        assert enact.get_run("stopped").status == "interrupted"
        run = enact.resume("stopped")
        assert run.result() == "failed"
    assert CALLS == ["tool 1", "interrupt"]


class Unstorable:
    """Stands for an HTTP response object: nothing enact can store."""


class RateLimited(Exception):
    """Shaped as an LLM SDK's status error: what a handler reads, and an HTTP response."""

    status_code: int
    body: dict[str, Any]

    def __init__(self, message: str, **attributes: Any) -> None:
        super().__init__(message)
        # A set is storable, but not plain data: another process may not read it.
        vars(self).update(attributes, response=Unstorable(), tags={"llm"}, _retries=2)


@enact.register
def limited_model(prompt: str) -> str:
    """Rate limited the first time it is given a prompt."""
    CALLS.append(prompt)
    if CALLS.count(prompt) == 1:
        raise RateLimited("slow down", status_code=429, body={"error": {"code": "rate_limit"}})
    return prompt.upper()


@enact.register
def backs_off(prompt: str) -> str:
    """Retries once on a rate limit, reading the error's attributes as SDK users do."""
    try:
        return limited_model(prompt)
    except RateLimited as error:
        return f"{error.status_code} {error.body['error']['code']}: {limited_model(prompt)}"


def test_a_replayed_exception_has_its_storable_attributes_again(store: enact.Store) -> None:
    """The attributes a handler reads (status code, body) are recorded and set again on
    replay, so the handler takes the same path; attributes that are not plain data (an
    HTTP response, a set) and private ones are left out."""
    invocation = enact.invoke(backs_off, ("hi",))
    assert invocation.get_output() == "429 rate_limit: HI"
    record = invocation.get_child(0).get_raised()
    assert isinstance(record, enact.AttributedException)
    assert record.attributes == {"status_code": 429, "body": {"error": {"code": "rate_limit"}}}
    replayed = invocation.rewind(0).replay()
    assert replayed.get_output() == "429 rate_limit: HI"
    assert CALLS == ["hi", "hi"]  # twice on the first run, not on the replay
    seen: list[BaseException] = []

    @enact.register
    def keeps() -> None:
        try:
            limited_model("again")
        except RateLimited as error:
            seen.append(error)

    first = enact.invoke(keeps)
    first.rewind(0).replay()
    (_, again) = seen
    assert type(again).__qualname__ == "RateLimited" and again.status_code == 429  # type: ignore[attr-defined]
    assert not any(hasattr(again, name) for name in ("response", "tags", "_retries"))
    assert CALLS == ["hi", "hi", "again"]


def test_an_exception_without_attributes_is_a_plain_traced_exception(
    store: enact.Store,
) -> None:
    """Exceptions whose __dict__ holds nothing public keep the record of the format's vectors."""

    @enact.register
    def fails() -> None:
        raise ValueError("x")

    record = enact.invoke(fails).get_raised()
    assert type(record) is enact.TracedException
