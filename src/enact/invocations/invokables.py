"""Invokables: resources that can be called, and invoked with a journal.

Calling an invokable outside `enact.invoke` is a plain Python call. Inside a
running invocation, each call becomes a journaled child invocation.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from enact import registry
from enact.errors import InputTypeError, InvocationError, RegistrationError
from enact.invocations.engine import MISSING, ChildCall, Invocation, OutputT, current_frame
from enact.invocations.records import CallArgs
from enact.invocations.runs import invoke, invoke_async
from enact.invocations.threads import thread_frame
from enact.refs import Ref
from enact.resources import Resource, register_resource_class

C = TypeVar("C", bound=type)
if TYPE_CHECKING:  # defaults (PEP 696): a bare Invokable is Invokable[Any, Any]
    from typing_extensions import TypeVar as _DefaultedTypeVar

    InputT = _DefaultedTypeVar("InputT", default=Any)
else:
    InputT = TypeVar("InputT")


class _Unchecked:
    """Marks an input or output type that is not checked."""


def _takes_input(cls: type, method: Callable[..., Any]) -> bool:
    """Whether ``call`` accepts an input argument besides ``self``."""
    cached = cls.__dict__.get("_enact_takes_input")
    if isinstance(cached, bool):
        return cached
    parameters = list(inspect.signature(method).parameters.values())[1:]
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    required = [p for p in positional if p.default is p.empty and p.kind != p.VAR_POSITIONAL]
    if len(required) > 1:
        raise RegistrationError(
            f"{cls.__qualname__}.call takes {len(required)} arguments; an invokable's call "
            "takes at most one (bundle several values into a resource or a dict)."
        )
    takes = bool(positional)
    type.__setattr__(cls, "_enact_takes_input", takes)
    return takes


def check_type(value: Any, expected: Any, what: str, owner: str) -> None:
    """Raises `InputTypeError` unless `value` fits the annotation `expected`.

    Understands ``None``/``type(None)``, classes, ``Optional``/``Union`` (also
    ``X | Y``), ``Any`` and parametrised generics (checked by their origin).
    """
    if expected is _Unchecked or _fits(value, expected):
        return
    raise InputTypeError(
        f"{owner}: {what} must be {_type_label(expected)}, got {type(value).__name__} "
        f"({value!r:.80})."
    )


def _fits(value: Any, expected: Any) -> bool:
    if expected is Any or expected is object:
        return True
    if expected is None or expected is type(None):
        return value is None
    origin = typing.get_origin(expected)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, arm) for arm in typing.get_args(expected))
    if origin is typing.Literal:
        return any(
            type(allowed) is type(value) and allowed == value
            for allowed in typing.get_args(expected)
        )
    if origin is typing.Annotated:
        return _fits(value, typing.get_args(expected)[0])
    if origin is not None:
        return not isinstance(origin, type) or isinstance(value, origin)
    if isinstance(expected, type):
        if expected is float and type(value) is int:
            return True
        if type(value) is bool and expected is not bool and expected in (int, float):
            return False  # True is an int to Python, but not an answer to "which number?"
        return isinstance(value, expected)
    return True


def _type_label(expected: Any) -> str:
    if expected is None or expected is type(None):
        return "None"
    if isinstance(expected, type) and typing.get_origin(expected) is None:
        return expected.__qualname__
    return repr(expected).replace("typing.", "")


def declared_types(cls: type) -> tuple[Any, Any]:
    """The input and output types an invokable class declares, ``Any`` where it declares none.

    From `typed_invokable`, else the annotations of ``call`` (an input type
    of ``None`` when ``call`` takes no input), else the arguments of
    ``Invokable[I, O]`` among its bases.
    """
    input_type: Any = cls.__dict__.get("_enact_input_type", _Unchecked)
    output_type: Any = cls.__dict__.get("_enact_output_type", _Unchecked)
    if input_type is _Unchecked or output_type is _Unchecked:
        annotated = _call_annotations(cls)
        generic = _generic_arguments(cls)
        if input_type is _Unchecked:
            input_type = annotated[0] if annotated[0] is not _Unchecked else generic[0]
        if output_type is _Unchecked:
            output_type = annotated[1] if annotated[1] is not _Unchecked else generic[1]
    if input_type is _Unchecked:
        input_type = getattr(cls, "_enact_input_type", _Unchecked)
    if output_type is _Unchecked:
        output_type = getattr(cls, "_enact_output_type", _Unchecked)
    return (
        Any if input_type is _Unchecked else input_type,
        Any if output_type is _Unchecked else output_type,
    )


def _call_annotations(cls: type) -> tuple[Any, Any]:
    """The annotated input and output of ``call`` (`_Unchecked` where there is none)."""
    method = getattr(cls, "call", None)
    if method is None or method in (Invokable.call, AsyncInvokable.call):
        return _Unchecked, _Unchecked
    try:
        hints = typing.get_type_hints(method)
    except Exception:  # a forward reference this process cannot resolve: unchecked
        return _Unchecked, _Unchecked
    parameters = list(inspect.signature(method).parameters.values())[1:]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional:
        input_type = hints.get(positional[0].name, _Unchecked)
    else:
        input_type = type(None) if not parameters else _Unchecked
    return input_type, hints.get("return", _Unchecked)


def _generic_arguments(cls: type) -> tuple[Any, Any]:
    """The arguments of the ``Invokable[I, O]`` (or async) base of `cls`, if concrete."""
    for base in cls.__mro__:
        for original in base.__dict__.get("__orig_bases__", ()):
            if typing.get_origin(original) in (Invokable, AsyncInvokable):
                args = typing.get_args(original)
                if len(args) == 2:
                    return tuple(  # type: ignore[return-value]
                        _Unchecked if isinstance(arg, TypeVar) else arg for arg in args
                    )
    return _Unchecked, _Unchecked


def prepare_invokable(cls: type) -> None:
    """At registration: refuses an impossible ``call``; takes its declared types to check.

    Raises:
        RegistrationError: ``call`` takes more than one argument besides ``self``.
    """
    method = getattr(cls, "call", None)
    if method is not None and method not in (Invokable.call, AsyncInvokable.call):
        type.__setattr__(cls, "_enact_takes_input", None)  # recomputed for this class
        _takes_input(cls, method)
    if "_enact_input_type" in cls.__dict__ or "_enact_output_type" in cls.__dict__:
        return  # typed_invokable decided
    input_type, output_type = _call_annotations(cls)
    generic = _generic_arguments(cls)
    if input_type is _Unchecked:
        input_type = generic[0]
    if output_type is _Unchecked:
        output_type = generic[1]
    if input_type is type(None):  # call(self): "takes no input" is checked by _call_args
        input_type = _Unchecked
    type.__setattr__(cls, "_enact_input_type", input_type)
    type.__setattr__(cls, "_enact_output_type", output_type)


def _call_args(invokable: Any, input_value: Any) -> tuple[Any, ...]:
    """Checks the input of an (async) invokable; returns the arguments for its ``call``."""
    cls = type(invokable)
    check_type(input_value, cls._enact_input_type, "its input", cls.__qualname__)
    if _takes_input(cls, cls.call):
        return (input_value,)
    if input_value is None:
        return ()
    raise InputTypeError(
        f"{cls.__qualname__}.call takes no input, but was called with {input_value!r:.80}."
    )


def _check_output(invokable: Any, output: Any) -> None:
    cls = type(invokable)
    check_type(output, cls._enact_output_type, "its output", cls.__qualname__)


class _InvokableBase(Resource):
    """What `Invokable` and `AsyncInvokable` share: declared types and the one input."""

    _enact_input_type: ClassVar[Any] = _Unchecked
    _enact_output_type: ClassVar[Any] = _Unchecked

    @classmethod
    def get_input_type(cls) -> Any:
        """The declared input type (``Any`` if none is declared); see `declared_types`."""
        return declared_types(cls)[0]

    @classmethod
    def get_output_type(cls) -> Any:
        """The declared output type (``Any`` if none is declared); see `declared_types`."""
        return declared_types(cls)[1]

    def _one_input(self, args: tuple[Any, ...]) -> tuple[Any, ChildCall | None]:
        """The input of a direct call, and its journal slot inside a running invocation."""
        if len(args) > 1:
            raise InvocationError(
                f"{type(self).__qualname__} takes at most one argument, got {len(args)}."
            )
        input_value = args[0] if args else None
        frame = current_frame()
        if frame is None:
            frame = thread_frame(self)  # a thread started inside an invocation
        return input_value, None if frame is None else ChildCall(frame, self, input_value)


class Invokable(_InvokableBase, Generic[InputT, OutputT]):
    """A resource with a ``call`` method taking at most one argument.

    Subclass it (usually as a dataclass) and implement ``call(self)`` or
    ``call(self, input)``. ``invokable()`` calls it; ``invokable.invoke()``
    calls it with a journal.

    ``Invokable[I, O]`` states the input and output types for type checkers
    (``class Greet(enact.Invokable[str, str])``: ``Greet()("Ada")`` is a
    ``str``, ``Greet().invoke("Ada")`` an ``Invocation[str]``); a bare
    ``Invokable`` is ``Invokable[Any, Any]``. `get_input_type` and
    `get_output_type` return them at run time. Registered with
    ``@enact.register``, the annotations of ``call`` are checked against the
    actual input and output of each call (`enact.InputTypeError`).
    """

    if TYPE_CHECKING:  # any signature of at most one argument overrides it
        call: Callable[..., Any]
    else:

        def call(self, *args: Any) -> Any:
            """The behaviour of the invokable (implemented by subclasses)."""
            raise NotImplementedError(f"{type(self).__qualname__} must implement call().")

    def __call__(self, *args: InputT) -> OutputT:
        input_value, call = self._one_input(args)
        output: OutputT = (
            self._enact_run(input_value) if call is None else call.run(self._enact_run, input_value)
        )
        return output

    def _enact_run(self, input_value: Any) -> Any:
        output = self.call(*_call_args(self, input_value))
        _check_output(self, output)
        return output

    def invoke(
        self, arg: InputT | Ref[InputT] | None = None, *, run_id: str | None = None
    ) -> Invocation[OutputT]:
        """Calls this invokable on `arg` (a value or a Ref) and journals the call as a run.

        Returns the `Invocation`; an exception raised by the call is recorded in
        it (see `Invocation.get_raised`) rather than raised. See `enact.invoke`.
        """
        input_value = arg() if isinstance(arg, Ref) else arg
        return invoke(self, (input_value,), run_id=run_id)


class AsyncInvokable(_InvokableBase, Generic[InputT, OutputT]):
    """An invokable whose ``call`` is a coroutine (``async def call(self[, input])``).

    ``await invokable()`` calls it; ``await invokable.invoke()`` journals it.
    Child calls made concurrently (``asyncio.gather``) are recorded in the
    order the calls were made. A child still running when its parent returns
    raises `enact.IncompleteSubinvocationError`. ``AsyncInvokable[I, O]``
    states the types as for `Invokable` (``await invokable()`` is an ``O``).
    """

    if TYPE_CHECKING:
        call: Callable[..., Awaitable[Any]]
    else:

        async def call(self, *args: Any) -> Any:
            """The behaviour of the invokable (implemented by subclasses)."""
            raise NotImplementedError(f"{type(self).__qualname__} must implement call().")

    def __call__(self, *args: InputT) -> Awaitable[OutputT]:
        input_value, call = self._one_input(args)
        if call is None:
            return self._enact_run(input_value)
        return call.run_async(self._enact_run, input_value)

    async def _enact_run(self, input_value: Any) -> Any:
        output = await self.call(*_call_args(self, input_value))
        _check_output(self, output)
        return output

    async def invoke(
        self, arg: InputT | Ref[InputT] | None = None, *, run_id: str | None = None
    ) -> Invocation[OutputT]:
        """Awaits this invokable on `arg` (a value or a Ref) and journals the call as a run."""
        input_value = arg() if isinstance(arg, Ref) else arg
        return await invoke_async(self, (input_value,), run_id=run_id)


def typed_invokable(input_type: Any, output_type: Any) -> Callable[[C], C]:
    """Class decorator: registers an invokable whose input and output types are checked.

    ``@enact.typed_invokable(type(None), int)`` declares a call that takes no
    input and returns an int; a call with another input or output raises
    `enact.InputTypeError`. ``Optional[...]`` and unions are understood.
    """

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, Invokable | AsyncInvokable)):
            raise RegistrationError(
                f"typed_invokable decorates subclasses of enact.Invokable or "
                f"enact.AsyncInvokable, not {cls!r}."
            )
        type.__setattr__(cls, "_enact_input_type", input_type)
        type.__setattr__(cls, "_enact_output_type", output_type)
        register_resource_class(cls)
        return cls

    return decorate


def register_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """Registers a plain function (or method) so that calls to it are journaled.

    Returns a wrapper that behaves exactly like the function outside an
    invocation. Inside one, each call becomes a child invocation whose input is
    `CallArgs`. Async functions are supported and return awaitables.

    Raises:
        RegistrationError: `function` is a generator function (its calls have no
            output to journal).
    """
    if registry.function_info(function) is not None:
        return function
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise RegistrationError(
            f"{function.__qualname__} is a generator function: a call returns a generator, "
            "whose values come after the call has returned, so the call has no output to "
            "journal. Return a list instead, or register the function that consumes it."
        )
    name = f"{function.__module__}.{function.__qualname__}"
    is_async = inspect.iscoroutinefunction(function)

    # One wrapper for both kinds: they differ only in how the journaled call runs.
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frame = current_frame()
        if frame is None:
            frame = thread_frame(wrapper)  # a thread started inside an invocation
            if frame is None:
                return function(*args, **kwargs)
        call = ChildCall(frame, wrapper, CallArgs(list(args), dict(kwargs)))
        if is_async:  # the awaitable runs the call when it is awaited
            return call.run_async(function, *args, **kwargs)
        # ChildCall.run, inlined: two frames per journaled call keep deep
        # journaled recursion possible.
        if call.output is not MISSING:
            return call.replayed()
        child, token = call.start()
        try:
            output = function(*args, **kwargs)
        except Exception as error:
            call.fail(child, token, error)
            raise
        return call.succeed(child, token, output)

    registry.register_function(wrapper, name)
    return wrapper


for _cls in (Invokable, AsyncInvokable):
    register_resource_class(_cls)
