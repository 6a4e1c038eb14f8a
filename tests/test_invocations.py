"""Invokables and invocations: plain calls, `enact.invoke`, the journal, exceptions,
typed invokables, and the printed summaries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import re
import sys
from collections.abc import Iterator
from typing import Any, Optional

import pytest

import enact


@pytest.fixture
def store() -> Iterator[enact.Store]:
    """An in-memory store, active for the test."""
    with enact.InMemoryStore() as active:
        yield active


@enact.register
@dataclasses.dataclass
class Die(enact.Invokable):
    """A die that rolls with `random`."""

    sides: int = 6

    def call(self) -> int:
        return random.randint(1, self.sides)


@enact.register
@dataclasses.dataclass
class AddTo(enact.Invokable):
    """Adds its input to a base."""

    base: int

    def call(self, value: int) -> int:
        return self.base + value


@enact.register
def roll_dice(dice: list[Any]) -> int:
    return sum(die() for die in dice)


@enact.register
def scale(value: int, factor: int = 2, *, offset: int = 0) -> int:
    return value * factor + offset


class Boom(Exception):
    """A plain (non-resource) exception."""


@enact.register
def explode(message: str) -> None:
    raise Boom(message)


@enact.register
@dataclasses.dataclass
class Account(enact.Resource):
    """A resource with registered methods."""

    balance: int

    @enact.register
    def with_interest(self, percent: int) -> int:
        return self.balance + self.balance * percent // 100


# Plain calls -----------------------------------------------------------------------


def test_invokable_called_outside_invoke_is_a_plain_call() -> None:
    """Calling an invokable without a running invocation needs no store and journals nothing."""
    random.seed(1)
    expected = random.Random(1).randint(1, 6)
    assert Die()() == expected
    assert AddTo(3)(4) == 7


def test_registered_function_called_outside_invoke_is_a_plain_call() -> None:
    """A registered function keeps its signature: positional, default and keyword arguments."""
    assert scale(5) == 10
    assert scale(5, 3, offset=1) == 16
    assert scale.__name__ == "scale"
    with pytest.raises(Boom, match="bang"):
        explode("bang")


def test_registered_method_called_outside_invoke() -> None:
    """A registered method works as a normal method."""
    assert Account(100).with_interest(5) == 105


def test_invokable_takes_at_most_one_argument(store: enact.Store) -> None:
    """Two arguments to an invokable, or a call signature with two inputs, are errors."""
    with pytest.raises(enact.InvocationError, match="at most one argument"):
        AddTo(1)(1, 2)

    @dataclasses.dataclass
    class TwoInputs(enact.Invokable):
        def call(self, a: int, b: int) -> int:
            return a + b

    with pytest.raises(enact.RegistrationError, match="takes 2 arguments"):
        enact.register(TwoInputs)  # refused when registered, before any call
    with pytest.raises(enact.RegistrationError, match="takes 2 arguments"):
        TwoInputs()(1)  # and, unregistered, when called


def test_invokable_without_input_rejects_an_input(store: enact.Store) -> None:
    """call(self) takes no input: calling it with a value is an InputTypeError."""
    with pytest.raises(enact.InputTypeError, match="takes no input"):
        Die()(3)


# invoke and the journal ------------------------------------------------------------


def test_invoke_journals_the_call_tree(store: enact.Store) -> None:
    """enact.invoke records the request, the output and one child per journaled call."""
    random.seed(5)
    invocation = enact.invoke(roll_dice, args=([Die(), Die(6), Die(20)],))
    children = list(invocation.get_children())
    assert len(children) == 3
    rolls = [child.get_output() for child in children]
    assert invocation.get_output() == sum(rolls)
    assert invocation.get_invokable() is roll_dice
    assert invocation.get_input() == enact.CallArgs([[Die(), Die(6), Die(20)]], {})
    assert invocation.get_child(2).get_invokable() == Die(20)
    assert invocation.get_child(2).get_input() is None
    assert list(invocation.get_child(0).get_children()) == []
    assert isinstance(invocation.request, enact.Ref)
    assert isinstance(invocation.response, enact.Ref)


def test_invoke_passes_args_and_kwargs(store: enact.Store) -> None:
    """args and kwargs reach the function and are recorded in the request."""
    invocation = enact.invoke(scale, args=(5,), kwargs={"offset": 1})
    assert invocation.get_output() == 11
    assert invocation.get_input() == enact.CallArgs([5], {"offset": 1})


@pytest.mark.parametrize("args", [3, "ab", {"value": 3}, iter([3])])
def test_arguments_that_are_not_a_tuple_or_list_are_refused_before_the_call(
    store: enact.Store, args: Any
) -> None:
    """``invoke(f, 3)`` (the comma forgotten) says how to write it; a string is not taken
    apart into characters. Nothing runs and no run is recorded."""
    message = (
        "The arguments of a call are a tuple (or a list) of positional arguments, not a "
        f"{type(args).__name__}: for one argument write invoke(fn, (value,)), with the comma, "
        "and pass keyword arguments as kwargs={...}."
    )
    with pytest.raises(enact.InvocationError) as raised:
        enact.invoke(scale, args)
    assert str(raised.value) == message
    with pytest.raises(enact.InvocationError) as from_generator:
        enact.InvocationGenerator.from_callable(scale, args=args)
    assert str(from_generator.value) == message
    assert enact.list_runs() == []
    assert enact.invoke(scale, [3]).get_output() == 6  # a list is fine


def test_invokable_invoke_with_value_or_ref(store: enact.Store) -> None:
    """Invokable.invoke takes the input as a value or as a Ref to it."""
    assert AddTo(1).invoke(2).get_output() == 3
    by_ref = AddTo(1).invoke(enact.commit(41))
    assert by_ref.get_output() == 42
    assert by_ref.get_input() == 41
    assert enact.invoke(AddTo(1), (5,)).get_output() == 6
    assert Die(1).invoke().get_output() == 1


def test_registered_method_is_journaled_with_self_as_first_argument(store: enact.Store) -> None:
    """Inside an invocation, a registered method call is a child whose input holds self."""

    @enact.register
    def yearly(account: Account) -> int:
        return account.with_interest(10)

    invocation = enact.invoke(yearly, (Account(50),))
    assert invocation.get_output() == 55
    child = invocation.get_child(0)
    assert child.get_input() == enact.CallArgs([Account(50), 10], {})
    assert enact.invoke(Account.with_interest, (Account(200), 50)).get_output() == 300


def test_nested_calls_are_journaled_as_a_tree(store: enact.Store) -> None:
    """Calls made by children become grandchildren, in call order."""

    @enact.register
    def double_roll(die: Die) -> int:
        return die() + die()

    @enact.register
    def game() -> list[int]:
        return [double_roll(Die(1)), scale(3), double_roll(Die(2))]

    invocation = enact.invoke(game)
    shape = [len(list(child.get_children())) for child in invocation.get_children()]
    assert shape == [2, 0, 2]
    assert invocation.get_output()[:2] == [2, 6]


def test_get_output_of_a_call_that_returned_none(store: enact.Store) -> None:
    """A recorded None output is an output: has_output() is True."""

    @enact.register
    def nothing() -> None:
        return None

    invocation = enact.invoke(nothing)
    assert invocation.get_output() is None
    assert invocation.has_output()
    assert invocation.get_raised() is None


def test_response_is_a_ref_that_modify_edits(store: enact.Store) -> None:
    """invocation.response is a Ref; modify() edits that invocation's copy only."""
    invocation = enact.invoke(scale, (2,))
    original = invocation.response.deepcopy_resource()
    with invocation.response.modify() as response:
        response.output = None
    assert not invocation.has_output()
    assert original().output is not None
    assert invocation.response != original


def test_invoke_needs_an_active_store() -> None:
    """Without a store, enact.invoke raises NoActiveStoreError."""
    with pytest.raises(enact.NoActiveStoreError):
        enact.invoke(scale, (1,))


def test_invoke_of_something_not_invokable_is_an_error(store: enact.Store) -> None:
    """An unregistered callable cannot be invoked."""
    with pytest.raises(enact.EnactError):
        enact.invoke(len, ([1],))


def test_invoke_of_an_async_invokable_points_to_await(store: enact.Store) -> None:
    """The synchronous invoke refuses coroutines and names the awaited alternative."""

    @enact.register
    async def later() -> int:
        return 1

    with pytest.raises(enact.InvocationError, match="invoke_async"):
        enact.invoke(later)


def test_top_level_invocations_are_runs_and_nested_ones_are_not(store: enact.Store) -> None:
    """Each top-level invoke is a run whose head holds the invocation; nested ones are not."""

    @enact.register
    def inner() -> int:
        return 1

    @enact.register
    def outer() -> enact.Invocation:
        return enact.invoke(inner)

    first = enact.invoke(scale, (1,))
    second = enact.invoke(outer, run_id="outer-1")
    runs = enact.list_runs()
    assert [run.status for run in runs] == ["complete", "complete"]
    assert runs[0].id == "outer-1"
    assert runs[0].invocation() == second
    assert runs[1].invocation() == first
    assert re.fullmatch(r"r\d{8}T\d{6}-[0-9a-f]{10}", runs[1].id)
    heads = [name for name in store.names() if name.startswith("runs/")]
    assert sorted(heads) == sorted(f"runs/{run.id}" for run in runs)


def test_run_inside_a_batch_is_written_with_the_batch(store: enact.Store) -> None:
    """An invoke inside a batch writes its run only once the batch is written."""
    with pytest.raises(KeyError), store.batch():
        enact.invoke(scale, (1,))
        raise KeyError("abandon the batch")
    assert not store.names()
    with store.batch():
        invocation = enact.invoke(scale, (2,), run_id="batched")
    assert enact.get_run("batched").invocation() == invocation
    assert all(store.has(ref) for ref in store.names().values())


def test_batch_kept_on_exception_writes_then_reraises(store: enact.Store) -> None:
    """keep_on_exception: an Exception writes the block's commits; an interrupt drops them."""
    with pytest.raises(KeyError, match="recorded failure"), store.batch(keep_on_exception=True):
        kept = store.commit("what the failed block recorded")
        store.log_name("kept", kept.digest)
        assert not store.backend.has(kept)  # still only in the batch
        raise KeyError("recorded failure")
    assert store.backend.has(kept)
    assert store.names() == {"kept": kept}
    with pytest.raises(KeyboardInterrupt), store.batch(keep_on_exception=True):
        dropped = store.commit("stopped by an interrupt")
        raise KeyboardInterrupt
    assert not store.backend.has(dropped)
    with pytest.raises(KeyError), store.batch():  # the default keeps nothing
        lost = store.commit("lost with its block")
        raise KeyError("gone")
    assert not store.backend.has(lost)


# Exceptions -----------------------------------------------------------------------------


def test_exception_in_a_child_reaches_the_parent_as_the_original_object(
    store: enact.Store,
) -> None:
    """The parent's except clause gets the very exception object the child raised."""
    caught: list[BaseException] = []
    error = Boom("the original")

    @enact.register
    def raise_it() -> None:
        raise error

    @enact.register
    def catcher() -> str:
        try:
            raise_it()
        except Boom as exc:
            caught.append(exc)
            return "handled"
        return "not reached"

    invocation = enact.invoke(catcher)
    assert caught == [error] and caught[0] is error
    assert invocation.get_output() == "handled"
    recorded = invocation.get_child(0).get_raised()
    assert isinstance(recorded, enact.RecordedException)
    assert recorded.type_name.endswith("Boom")
    assert recorded.message == "the original"


def test_exceptions_are_recorded_not_raised_by_invoke(store: enact.Store) -> None:
    """A raising call is journaled with its exception; raised_here marks where it started."""

    @enact.register
    def passes_on() -> None:
        explode("deep")

    invocation = enact.invoke(passes_on)
    assert not invocation.has_output()
    assert str(invocation.get_raised()) == f"{Boom.__module__}.Boom: deep"
    assert not invocation.response().raised_here
    child = invocation.get_child(0)
    assert child.response().raised_here
    # Each call records the exception as it saw it: the parent's traceback goes on
    # into the child's (tests/test_failures.py checks the frames).
    passed_on, started = invocation.get_raised(), child.get_raised()
    assert (passed_on.type_name, passed_on.message) == (started.type_name, started.message)
    assert passed_on.frames[-len(started.frames) :] == started.frames


def test_resource_exceptions_are_recorded_as_themselves(store: enact.Store) -> None:
    """An exception that is a resource (like InputRequest) is journaled as that resource."""

    @enact.register
    @dataclasses.dataclass(eq=False)
    class Refusal(enact.Resource, Exception):
        reason: str

    @enact.register
    def refuse() -> None:
        raise Refusal("no")

    raised = enact.invoke(refuse).get_raised()
    assert isinstance(raised, Refusal)
    assert raised.reason == "no"


def test_child_that_mutates_its_input_is_an_error(store: enact.Store) -> None:
    """A journaled call that changes its own input raises InvocationError (and is journaled)."""

    @enact.register
    def append_one(items: list[int]) -> int:
        items.append(1)
        return len(items)

    @enact.register
    def parent() -> int:
        return append_one([0])

    invocation = enact.invoke(parent)
    raised = invocation.get_child(0).get_raised()
    assert "changed its own input" in str(raised)
    assert "child [0]" in str(raised)
    assert not invocation.has_output()


def test_invokable_that_mutates_its_own_fields_is_an_error(store: enact.Store) -> None:
    """An invokable whose call changes its own fields is caught like an input mutation."""

    @enact.register
    @dataclasses.dataclass
    class Counter(enact.Invokable):
        count: int = 0

        def call(self) -> int:
            self.count += 1
            return self.count

    @enact.register
    def parent() -> int:
        return int(Counter()())

    caught: list[BaseException] = []

    @enact.register
    def careful() -> str:
        try:
            Counter()()
        except enact.InvocationError as error:
            caught.append(error)
        return "ok"

    assert "changed its own input or fields" in str(enact.invoke(parent).get_raised())
    assert enact.invoke(careful).get_output() == "ok"
    assert len(caught) == 1


def test_top_level_call_that_mutates_its_input_is_an_error(store: enact.Store) -> None:
    """The input-mutation check also applies to the invoked call itself."""

    @enact.register
    def append_one(items: list[int]) -> int:
        items.append(1)
        return len(items)

    invocation = enact.invoke(append_one, ([0],))
    assert "changed its own input" in str(invocation.get_raised())


def test_child_input_that_cannot_be_stored_reaches_the_parent(store: enact.Store) -> None:
    """A call with an unstorable argument raises UnsupportedValueError at the call site."""

    @enact.register
    def takes(value: Any) -> int:
        return 1

    @enact.register
    def parent() -> str:
        try:
            takes(object())
        except enact.UnsupportedValueError:
            return "caught"
        return "not reached"

    invocation = enact.invoke(parent)
    assert invocation.get_output() == "caught"
    assert list(invocation.get_children()) == []


def test_output_that_cannot_be_stored_is_the_calls_exception(store: enact.Store) -> None:
    """A call returning an unstorable value is journaled as raising UnsupportedValueError."""

    @enact.register
    def returns_object() -> Any:
        return object()

    raised = enact.invoke(returns_object).get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name == "enact.errors.UnsupportedValueError"


# typed_invokable -------------------------------------------------------------------------


@enact.typed_invokable(int, str)
@dataclasses.dataclass
class Label(enact.Invokable):
    """Checked: int in, str out."""

    prefix: str
    broken: bool = False

    def call(self, value: int) -> str:
        return value if self.broken else f"{self.prefix}{value}"  # type: ignore[return-value]


@enact.typed_invokable(Optional[int], Optional[str])  # noqa: UP045 (the spec's spelling)
@dataclasses.dataclass
class MaybeLabel(enact.Invokable):
    """Checked with Optional on both sides."""

    def call(self, value: int | None) -> str | None:
        return None if value is None else str(value)


@enact.typed_invokable(type(None), int)
@dataclasses.dataclass
class Seven(enact.Invokable):
    """Checked: no input, int out."""

    def call(self) -> int:
        return 7


def test_typed_invokable_accepts_declared_types(store: enact.Store) -> None:
    """Inputs and outputs of the declared types pass, inside and outside invoke."""
    assert Label("#")(3) == "#3"
    assert Label("#").invoke(3).get_output() == "#3"
    assert Seven()() == 7
    assert Seven().invoke().get_output() == 7


def test_typed_invokable_checks_the_input(store: enact.Store) -> None:
    """A wrong input type raises InputTypeError naming the expected and actual types."""
    with pytest.raises(enact.InputTypeError, match="input must be int, got str"):
        Label("#")("three")
    raised = Label("#").invoke("three").get_raised()
    assert "input must be int, got str" in str(raised)
    with pytest.raises(enact.InputTypeError):
        Seven()(1)


def test_typed_invokable_checks_the_output(store: enact.Store) -> None:
    """A wrong output type raises InputTypeError and is journaled as the call's exception."""
    with pytest.raises(enact.InputTypeError, match="output must be str, got int"):
        Label("#", broken=True)(3)
    invocation = Label("#", broken=True).invoke(3)
    assert not invocation.has_output()
    assert "output must be str" in str(invocation.get_raised())


def test_typed_invokable_understands_optional(store: enact.Store) -> None:
    """Optional[...] annotations accept None and the inner type, and reject others."""
    assert MaybeLabel()(None) is None
    assert MaybeLabel()() is None
    assert MaybeLabel()(5) == "5"
    assert MaybeLabel().invoke(5).get_output() == "5"
    with pytest.raises(enact.InputTypeError, match="Optional"):
        MaybeLabel()("5")


def test_typed_invokable_decorates_only_invokables() -> None:
    """Decorating a class that is not an invokable is a RegistrationError."""
    with pytest.raises(enact.RegistrationError):

        @enact.typed_invokable(int, int)
        class NotInvokable(enact.Resource):
            pass


# Summaries ---------------------------------------------------------------------------


def test_invocation_summary_has_the_spec_shape(store: enact.Store) -> None:
    """One line per call: ->invokable(input) = output, children indented by two spaces."""
    random.seed(2)
    invocation = enact.invoke(roll_dice, args=([Die(), Die()],))
    lines = enact.invocation_summary(invocation).splitlines()
    rolls = [child.get_output() for child in invocation.get_children()]
    assert re.fullmatch(
        rf"-><function roll_dice at 0x[0-9a-f]+>\(\[Die\(sides=6\), Die\(sides=6\)\]\) "
        rf"= {sum(rolls)}",
        lines[0],
    )
    assert lines[1:] == [f"  ->Die(sides=6)(None) = {roll}" for roll in rolls]


def test_invocation_summary_shows_arguments_exceptions_and_missing_outputs(
    store: enact.Store,
) -> None:
    """Keyword arguments, raised exceptions and rewound calls are all visible."""

    @enact.register
    def mixed() -> int:
        with contextlib.suppress(Boom):
            explode("x")
        return int(scale(1, offset=2))

    invocation = enact.invoke(mixed)
    lines = enact.invocation_summary(invocation).splitlines()
    assert lines[0].endswith("() = 4")
    assert re.fullmatch(
        r"  -><function explode at 0x[0-9a-f]+>\('x'\) raised "
        r"TracedException\(type_name='test_invocations.Boom', message='x', "
        r"raised_at='test_invocations.py:\d+ in explode'\)",
        lines[1],
    )
    assert re.fullmatch(r"  -><function scale at 0x[0-9a-f]+>\(1, offset=2\) = 4", lines[2])
    rewound = enact.invocation_summary(invocation.rewind())
    assert rewound.splitlines()[0].endswith("() (no output)")
    assert len(rewound.splitlines()) == 2


def test_pprint_prints_an_invocation_tree(
    store: enact.Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """enact.pprint shows an invocation's request, output and children."""
    invocation = enact.invoke(roll_dice, args=([Die(1)],))
    enact.pprint(invocation)
    printed = capsys.readouterr().out
    assert printed.startswith("Invocation")
    assert "roll_dice" in printed
    assert "children" in printed
    assert "Die(sides=1)" in printed
    assert enact.pformat(invocation) == printed.rstrip("\n")


def test_deep_nesting_does_not_hit_recursion_limits_of_enact(store: enact.Store) -> None:
    """A thousand nested calls are journaled, summarised and replayed."""

    @enact.register
    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # the user's own recursion needs it, not enact's walks
    try:
        invocation = enact.invoke(depth, (1000,))
        assert invocation.get_output() == 1000
        assert len(enact.invocation_summary(invocation).splitlines()) == 1001
        assert invocation.rewind(0).replay().get_output() == 1000
    finally:
        sys.setrecursionlimit(limit)


@enact.register
@dataclasses.dataclass
class Greeter(enact.Resource):
    """A resource with a registered method."""

    name: str

    @enact.register
    def greet(self, other: str) -> str:
        return f"{self.name} greets {other}"


def test_invoke_accepts_a_bound_registered_method(store: enact.Store) -> None:
    """invoke(obj.method, args) journals the method with obj as its first argument."""
    invocation = enact.invoke(Greeter("ada").greet, ("bob",))
    assert invocation.get_raised() is None
    assert invocation.get_output() == "ada greets bob"
    assert invocation.get_input() == enact.CallArgs([Greeter("ada"), "bob"], {})


class _Client:
    """A plain class (not a resource) with a registered method."""

    def __init__(self, model: str) -> None:
        self.model = model

    @enact.register
    def complete(self, prompt: str) -> str:
        return f"{self.model}: {prompt}"


@enact.register
def _uses_client(prompt: str) -> str:
    return _Client("m").complete(prompt)


def test_a_method_of_a_class_that_is_not_a_resource_says_self_must_be_stored(
    store: enact.Store,
) -> None:
    """A registered method's instance is the first argument of its request: when its class
    cannot be stored, the error says so and how to fix it, at the top and inside a run."""
    hint = (
        "It is the instance this method is called on (self): it is part of each call's "
        f"request, so it must be stored too. Make {__name__}._Client a resource "
        "(@enact.register on a dataclass subclassing enact.Resource), or register a "
        "function that takes what the call needs as its arguments."
    )
    for durability in ("call", "end"):
        with pytest.raises(enact.UnsupportedValueError) as raised:
            enact.invoke(_Client("m").complete, ("hi",), durability=durability)
        assert str(raised.value).startswith(
            f"Cannot commit value of type {__name__}._Client at $.input.args[0]: "
        )
        assert str(raised.value).endswith(hint)
        assert raised.value.path == "$.input.args[0]"
        assert raised.value.value_type is _Client
    nested = enact.invoke(_uses_client, ("hi",))
    assert str(nested.get_raised()).endswith(hint)
    # A resource's method is journaled with its instance (above), and other bad values
    # of a method's arguments keep the plain message.
    with pytest.raises(enact.UnsupportedValueError) as other:
        enact.invoke(Greeter("ada").greet, (1j,))
    assert other.value.path == "$.input.args[1]"
    assert "(self)" not in str(other.value)


@enact.register
def count_down(n: int) -> int:
    """Recurses through journaled calls."""
    return 0 if n == 0 else 1 + count_down(n - 1)


def test_journaled_recursion_reaches_hundreds_of_levels(store: enact.Store) -> None:
    """Each journaled call adds few Python frames, so 400 nested calls fit the default limit."""
    invocation = enact.invoke(count_down, (400,))
    assert invocation.get_raised() is None
    assert invocation.get_output() == 400
    depth, node = 0, invocation
    while list(node.get_children()):
        node = node.get_child(0)
        depth += 1
    assert depth == 400


@enact.typed_invokable(int, int)
class Doubler(enact.Invokable):
    """Doubles an int."""

    def call(self, value: int) -> int:
        return 2 * value


def test_typed_invokable_rejects_bool_for_int() -> None:
    """True is an int to Python, but not a valid input where an int is declared."""
    assert Doubler()(21) == 42
    with pytest.raises(enact.InputTypeError, match="must be int, got bool"):
        Doubler()(True)


@dataclasses.dataclass(eq=False)
class UnstorableError(enact.Resource, Exception):
    """An exception resource whose field holds a value enact cannot store."""

    payload: Any


@enact.register
def raise_unstorable() -> int:
    """Raises an exception resource that cannot be committed as it is."""
    raise UnstorableError(object())


def test_exception_resource_that_cannot_be_stored_is_recorded_by_type_and_message(
    store: enact.Store,
) -> None:
    """The journal falls back to RecordedException; the call's own exception is not hidden."""
    invocation = enact.invoke(raise_unstorable)
    raised = invocation.get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name.endswith("UnstorableError")


def test_journaled_recursion_past_the_limit_records_the_recursion_error(
    store: enact.Store,
) -> None:
    """Too deep a journaled recursion ends as a recorded RecursionError, not a pending child."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: mypy, run in-process earlier, raises it
    try:
        invocation = enact.invoke(count_down, (5000,))
    finally:
        sys.setrecursionlimit(limit)
    raised = invocation.get_raised()
    assert isinstance(raised, enact.RecordedException)
    assert raised.type_name == "builtins.RecursionError"
