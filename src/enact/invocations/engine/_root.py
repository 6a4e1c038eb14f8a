"""Root invocations: the top of a journal, fresh or replayed over a template.

`invoke_root` runs a `RootPlan` (what is called, the recorded children to
replay, the run that records it) and returns a `RootOutcome`. Without a
run's sink (``durability="end"``) the whole root call is one `Store.batch`,
written when it ends. The runs layer above turns a replay's plan into a run
through `set_root_preparer`, so nothing here imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from enact import registry
from enact.errors import IncompleteSubinvocationError, InputTypeError, InvocationError, ReplayError
from enact.invocations import providers
from enact.invocations.diagnostics import describe
from enact.invocations.engine._calls import MISSING, CallSink, Frame, reset_frame, set_frame
from enact.invocations.engine._closing import as_recorded, is_frozen
from enact.invocations.engine._invocation import (
    ExceptionOverride,
    Invocation,
    install_replayers,
)
from enact.invocations.engine._matching import request_tokens, served_value
from enact.invocations.records import CallArgs, Output, Request, Response
from enact.invocations.responses import read_response
from enact.invocations.timings import CallTimer
from enact.invocations.timings import _clock as _timing_clock
from enact.invocations.usage import NO_USAGE
from enact.refs import Ref
from enact.stores.store import current_store


def run_call(invokable: Any, input_value: Any) -> Any:
    """Runs `invokable` on `input_value` without journaling this call itself."""
    if registry.function_info(invokable) is not None:
        if not isinstance(input_value, CallArgs):
            raise InputTypeError(
                f"Registered function {describe(invokable)} expects CallArgs as input, got "
                f"{type(input_value).__name__}."
            )
        return invokable.__wrapped__(*input_value.args, **input_value.kwargs)
    run = getattr(invokable, "_enact_run", None)
    if run is None:
        raise InvocationError(
            f"{invokable!r} cannot be invoked: invoke an enact.Invokable, an "
            "enact.AsyncInvokable or a function decorated with @enact.register."
        )
    return run(input_value)


def is_async_invokable(invokable: Any) -> bool:
    """Whether calling `invokable` returns an awaitable (``async def`` call or function)."""
    target = getattr(invokable, "__wrapped__", None) or getattr(invokable, "call", None)
    return inspect.iscoroutinefunction(target)


def positional_args(args: Any) -> tuple[Any, ...]:
    """The positional arguments of a top-level call, given as a tuple or a list (or None).

    Raises:
        InvocationError: `args` is another value (``invoke(f, 1)`` for ``invoke(f, (1,))``;
            a string would be taken apart into its characters).
    """
    if args is None:
        return ()
    if type(args) is tuple:
        return args
    if isinstance(args, tuple | list):
        return tuple(args)
    raise InvocationError(
        f"The arguments of a call are a tuple (or a list) of positional arguments, not a "
        f"{type(args).__name__}: for one argument write invoke(fn, (value,)), with the comma, "
        "and pass keyword arguments as kwargs={...}."
    )


def unbind(invokable: Any, args: Any) -> tuple[Any, tuple[Any, ...]]:
    """Turns a bound registered method into the registered function and its self; the
    arguments as a tuple (`positional_args`)."""
    args = positional_args(args)
    function = getattr(invokable, "__func__", None)
    if function is not None and registry.function_info(function) is not None:
        return function, (invokable.__self__, *args)
    return invokable, args


def root_input(invokable: Any, args: Any, kwargs: dict[str, Any] | None) -> Any:
    """The input recorded for a top-level call of `invokable` with `args` and `kwargs`."""
    args = tuple(args or ())
    if registry.function_info(invokable) is not None:
        return CallArgs(list(args), dict(kwargs or {}))
    if registry.function_info(invokable) is None and not hasattr(invokable, "_enact_run"):
        raise InvocationError(
            f"{invokable!r} cannot be invoked: decorate the function with @enact.register, "
            "or invoke an enact.Invokable or enact.AsyncInvokable."
        )
    if kwargs or len(args) > 1:
        raise InvocationError(
            f"{invokable!r} takes at most one argument: invoke(invokable, (arg,))."
        )
    input_value = args[0] if args else None
    return input_value() if isinstance(input_value, Ref) else input_value


class RootSink(CallSink, Protocol):
    """What a run does when its root call starts and ends (see `enact.runs`)."""

    def finish(
        self, close: Callable[[], RootOutcome], batch: AbstractContextManager[None] | None
    ) -> RootOutcome:
        """Ends the root call (returned, raised or asked for input): `close` commits its
        records, written in one write with the run's end; returns its outcome.

        `batch` is the root's own open `Store.batch` when the run is journaled at its
        end (durability ``"end"``): the end joins it, and `finish` ends it.
        """
        ...

    def interrupted(self, error: BaseException) -> None:
        """Records that the root call was stopped by KeyboardInterrupt, SystemExit, ..."""
        ...

    def materializes(self, error: BaseException | None) -> bool:
        """Whether the root response is committed as a tree for this outcome."""
        ...


@dataclasses.dataclass
class RootPlan:
    """What a root invocation runs: the call, its template, and how it is journaled.

    Attributes:
        invokable: What is called.
        input: Its input.
        request_ref: The committed request, if already known.
        template: Recorded children to replay (None: a fresh run).
        strict: See `Invocation.replay`.
        override: See `Invocation.replay`.
        sink: The run that records the calls as they finish, or None.
        durable_calls: Write each call when it finishes (True) or all at the end.
        new_calls: ``"forbid"``: a call without recorded match raises
            `UnrecordedCallError` instead of running (see `Invocation.replay`).
        rerun_raised: Recorded calls that raised run again instead of raising
            their recorded exception again (a worker's retry of a failed run);
            replays and resumes raise them again.
        spelled: The request's tokens and links (`request_tokens`), if the plan's
            maker spelled it already (a replay's, to compare it with the record).
    """

    invokable: Any
    input: Any
    request_ref: Ref[Request] | None = None
    template: list[Any] | None = None
    strict: bool = True
    override: ExceptionOverride | None = None
    sink: RootSink | None = None
    durable_calls: bool = False
    new_calls: providers.NewCalls = "run"
    rerun_raised: bool = False
    spelled: tuple[bytes, list[str]] | None = None

    @classmethod
    def replaying(
        cls,
        request_ref: Ref[Request] | None,
        request: Request,
        template: list[Any],
        **options: Any,
    ) -> RootPlan:
        """A plan that calls `request` again over `template` (other fields: `options`);
        `request_ref`: its stored ref, if known to spell it as today's classes do."""
        return cls(
            request.invokable, request.input, request_ref=request_ref, template=template, **options
        )


@dataclasses.dataclass
class RootOutcome:
    """How a root call ended.

    Attributes:
        request: The root request.
        invocation: The committed invocation tree, or None when the run chose
            not to commit the root response (see `RootSink.materializes`).
        children: The root's children, in call order.
        output: The output in its box, or None if the call raised.
        raised: The committed exception, or None.
        raised_here: Whether the root call itself raised it (not a child).
        error: The live exception, or None.
        tree: The ref `invocation` was committed under (None when it is None).
    """

    request: Ref[Request]
    invocation: Invocation | None
    children: list[Invocation]
    output: Output | None
    raised: Ref[Any] | None
    raised_here: bool
    error: BaseException | None
    tree: Ref[Invocation] | None


class _Root:
    """A running root invocation: entered around the call by both invoke_root variants."""

    def __init__(self, plan: RootPlan) -> None:
        self.plan = plan
        self.store = store = current_store()
        tokens, links = plan.spelled or request_tokens(plan.invokable, plan.input)
        self.request_tokens = tokens
        self.input = plan.input
        if plan.template is None and not is_frozen(plan.invokable, plan.input):
            # A new call gets its input as every replay and resume will read it.
            self.input = as_recorded(tokens, plan.input, _input_of)
        self.request_ref = plan.request_ref or store.commit_tokens(tokens, links, Ref)
        sink = plan.sink
        self.timer: CallTimer | None = getattr(sink, "timer", None)
        self.frame = Frame(
            store,
            plan.template,
            plan.strict,
            plan.override,
            (),
            sink if plan.durable_calls else None,
            hooks=_hooks(plan),
            timer=self.timer,
            rerun_raised=plan.rerun_raised,
        )
        self.output: Any = MISSING
        self.outcome: RootOutcome | None = None
        self.started = 0
        self._batch: Any = None
        self._batch_context: object = None
        self._token: Any = None
        self.served: Ref[Response] | None = None
        self.provider: providers.CallProvider | None = None

    def serve(self) -> Any:
        """The call's output from a provider (cassette, cache), or MISSING: then it runs.

        Only a new call (not a replay) is looked up, like a child call without record.
        """
        hooks = self.frame.hooks
        if self.plan.template is not None or not (hooks.active or providers.declared):
            return MISSING
        provider = providers.provider_for(hooks, self.plan.invokable)
        if provider is None:
            return MISSING
        served = provider.serve(self._site())
        if served is None:
            self.provider = provider  # told of the response when the call returns
            return MISSING
        self.served = served
        return served_value(self.store, served)

    def _site(self) -> providers.CallSite:
        plan = self.plan
        return providers.CallSite(
            self.store,
            (),
            self.request_ref.digest,
            plan.invokable,
            plan.input,
            self.frame.hooks.run_id,
        )

    def __enter__(self) -> _Root:
        self._batch_context = self.store.batch_context()
        if not self.plan.durable_calls:
            self._batch = self.store.batch()
            self._batch.__enter__()
        timer = self.timer
        if timer is not None:
            if timer.plain:  # no observers: only the time is needed (as for a child call)
                self.started = _timing_clock()
            else:
                self.started = timer.start((), None, self.request_ref.digest, self.plan.invokable)
        self._token = set_frame(self.frame)
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> bool:
        reset_frame(self._token)
        ended = _timing_clock() if self.timer is not None else 0
        if error is not None and not isinstance(error, Exception):
            # KeyboardInterrupt, SystemExit, cancellation: what finished is in the
            # journal already (durable calls); the run is marked and the error goes on.
            self._stopped(error, ended)
            return False
        if isinstance(error, ReplayError | IncompleteSubinvocationError):
            # The program no longer matches its journal (or left a child running): the
            # run cannot go on with this code. It is marked interrupted at once, as a
            # worker marks it, for `enact.resume` once the code is fixed; not left
            # showing as running until its lease runs out.
            self._stopped(error, ended)
            return False
        sink = self.plan.sink
        if sink is not None:
            # The root's response and tree, the run's timings and its head's move are
            # one write; journaled at the end, with all of the run's calls too.
            batch, self._batch = self._batch, None
            try:
                self.outcome = sink.finish(lambda: self._closed(error, ended), batch)
            except (ReplayError, IncompleteSubinvocationError) as failure:
                # Found by the root's own close (a recorded call it no longer makes, a
                # child still running): nothing of the close was written; the run is
                # marked interrupted at once, as above.
                self._stopped(failure, ended)
                raise
            return True
        try:
            self.outcome = self._finish(error)
        except BaseException as failure:
            self._end_batch(failure)
            raise
        self._end_batch(None)
        self._timed(ended, self.outcome.output, self.outcome.error)
        return True

    def _stopped(self, error: BaseException, ended: int) -> None:
        """The run stops with `error` (an interrupt, or code that no longer matches its
        journal): nothing more of it is written but its mark as interrupted."""
        self._end_batch(error)
        # An interrupt that hit a call's record between its block's end and its write
        # left this thread in that block: out of it, unwritten (the call runs again on
        # resume), so that the run can be marked.
        self.store.restore_batch_context(self._batch_context)
        self._timed(ended, None, error)
        if self.plan.sink is not None:
            self.plan.sink.interrupted(error)

    def _closed(self, error: BaseException | None, ended: int) -> RootOutcome:
        """`_finish`, then the root's timing (which the run's timings record includes)."""
        outcome = self._finish(error)
        self._timed(ended, outcome.output, outcome.error)
        return outcome

    def _timed(self, ended: int, output: Output | None, error: BaseException | None) -> None:
        """Tells the run's timer that the root call ended."""
        timer = self.timer
        if timer is not None:
            value = None if output is None else output.value
            digest = self.request_ref.digest
            if timer.fast and type(value) in NO_USAGE:
                # The common case, inlined as for a child call: one row.
                timer.add(((), -1, digest, self.started, ended))
                return
            invokable = self.plan.invokable
            timer.finish((), None, digest, invokable, self.started, ended, value, error)

    def _end_batch(self, error: BaseException | None) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if error is None:
            batch.__exit__(None, None, None)
        else:
            batch.__exit__(type(error), error, error.__traceback__)

    def _finish(self, error: BaseException | None) -> RootOutcome:
        plan = self.plan
        sink = plan.sink
        if self.served is not None and error is None:
            served = Invocation(self.request_ref, self.served)
            served_ref = self.store.commit(served)
            children = list(read_response(self.store, self.served).children)
            output_box = Output(self.output)
            return RootOutcome(
                self.request_ref, served, children, output_box, None, False, None, served_ref
            )
        commit = sink is None or sink.materializes(error)
        output = None if error is not None else self.output
        closed = self.frame.close(
            plan.invokable,
            self.input,
            self.request_tokens,
            output,
            error,
            commit=commit,
        )
        error = closed.error
        invocation: Invocation | None = None
        tree: Ref[Invocation] | None = None
        if closed.response is not None:
            invocation = Invocation(self.request_ref, closed.response)
            tree = self.store.commit(invocation)
            if self.provider is not None and error is None:
                self.provider.record(self._site(), closed.response)
        return RootOutcome(
            self.request_ref,
            invocation,
            self.frame.children(),
            None if error is not None else Output(output),
            closed.raised,
            closed.raised_here,
            error,
            tree,
        )


def _input_of(request: Any) -> Any:
    return request.input


def _hooks(plan: RootPlan) -> providers.CallHooks:
    """What the calls of a root invocation consult (see `enact.invocations.providers`)."""
    if plan.new_calls not in ("run", "forbid"):
        raise ValueError(f"new_calls must be 'run' or 'forbid', not {plan.new_calls!r}.")
    run_id = getattr(plan.sink, "run_id", None)
    interceptor = providers.current_interceptor()
    if plan.new_calls == "run" and run_id is None and interceptor is None:
        return providers.NO_HOOKS
    return providers.CallHooks(plan.new_calls == "forbid", run_id, interceptor)


def invoke_root(plan: RootPlan) -> RootOutcome:
    """Runs a root invocation (a new journal), optionally replaying a template."""
    root = _Root(plan)
    with root:
        output = root.serve()
        root.output = run_call(plan.invokable, root.input) if output is MISSING else output
    assert root.outcome is not None
    return root.outcome


async def invoke_root_async(plan: RootPlan) -> RootOutcome:
    """Asynchronous variant of `invoke_root` (synchronous invokables run as in `invoke_root`)."""
    if not is_async_invokable(plan.invokable):
        return invoke_root(plan)
    root = _Root(plan)
    with root:
        output = root.serve()
        root.output = await run_call(plan.invokable, root.input) if output is MISSING else output
    assert root.outcome is not None
    return root.outcome


def set_root_preparer(prepare: Callable[[RootPlan], RootPlan]) -> None:
    """Installs what turns a replay's plan into a run (`enact.runs` does, at import).

    The engine sits below runs; this hook lets `Invocation.replay` start a
    run without the engine importing the layer above it.
    """
    _prepare_root[0] = prepare


_prepare_root: list[Callable[[RootPlan], RootPlan]] = [lambda plan: plan]


def _materialized(outcome: RootOutcome) -> Invocation:
    if outcome.invocation is None:
        raise InvocationError("The run did not commit its invocation tree.")
    return outcome.invocation


def replay_plan(
    invocation: Invocation,
    *,
    strict: bool = True,
    exception_override: ExceptionOverride | None = None,
    new_calls: providers.NewCalls = "run",
) -> RootPlan | None:
    """What `Invocation.replay` would run (None: it has an output, nothing to run).

    `enact replay` runs the plan with `invoke_root` itself, to learn which run
    the replay made. Arguments as for `Invocation.replay`.
    """
    if new_calls not in ("run", "forbid"):
        raise ValueError(f"new_calls must be 'run' or 'forbid', not {new_calls!r}.")
    response = read_response(current_store(), invocation.response)
    if response.output is not None:
        return None
    request = invocation.request()
    spelled = request_tokens(request.invokable, request.input)  # the root's, made once
    return RootPlan.replaying(
        _current_ref(invocation.request, spelled[0]),
        request,
        list(response.children),
        strict=strict,
        override=exception_override,
        new_calls=new_calls,
        spelled=spelled,
    )


def _current_ref(recorded: Ref[Request], tokens: bytes) -> Ref[Request] | None:
    """`recorded` if today's classes spell its request as `tokens` (then the replay and
    its run refer to the stored request, not committed again); None for a request
    recorded before a rename or a new field: the replay commits today's spelling."""
    return recorded if hashlib.sha256(tokens).hexdigest() == recorded.digest else None


def _planned(invocation: Invocation, *options: Any) -> RootPlan | None:
    """The replay's plan, made a run by the layer above (None: nothing to run)."""
    strict, exception_override, new_calls = options
    plan = replay_plan(
        invocation, strict=strict, exception_override=exception_override, new_calls=new_calls
    )
    return None if plan is None else _prepare_root[0](plan)


def _replay(invocation: Invocation, *options: Any) -> Invocation:
    plan = _planned(invocation, *options)
    if plan is None:
        return invocation
    if is_async_invokable(plan.invokable):
        raise InvocationError(
            f"{describe(plan.invokable)} is asynchronous: use `await invocation.replay_async(...)`."
        )
    return _materialized(invoke_root(plan))


async def _replay_async(invocation: Invocation, *options: Any) -> Invocation:
    plan = _planned(invocation, *options)
    return invocation if plan is None else _materialized(await invoke_root_async(plan))


install_replayers(_replay, _replay_async)
