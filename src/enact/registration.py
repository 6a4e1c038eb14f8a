"""`enact.register`: one decorator for resource classes, enums, functions and methods."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, TypedDict, TypeVar, Unpack, overload

from enact import registry
from enact.errors import RegistrationError, check_keywords
from enact.model_classes import is_model_class, register_model_class
from enact.resources import Resource, register_resource_class

T = TypeVar("T")


class _Options(TypedDict, total=False):
    """The keyword arguments of `register` (described there), declared once for both of
    its forms; unset ones mean no name, no aliases, no cache, not external."""

    name: str | None
    aliases: Iterable[str]
    cache: Any
    external: bool


@overload
def register(obj: T, /) -> T: ...


@overload
def register(obj: None = None, /, **options: Unpack[_Options]) -> Callable[[T], T]: ...


def register(obj: Any = None, /, **options: Unpack[_Options]) -> Any:
    """Registers a resource class, an enum, or a plain function or method as an invokable.

    ``@enact.register(cache=..., external=...)`` registers an invokable (a
    function, or an `enact.Invokable` class) with call options:

    - ``cache=True`` or ``cache=enact.CachePolicy(ttl=..., store=...)``: a call
      whose request was recorded before with an output returns that output
      without running (see `enact.CachePolicy`).
    - ``external=True``: calls of it reach the world outside the program (a
      model, a tool, a person); a cassette (`enact.cassette`) serves them from
      its recording and never runs them.

    Resource classes are subclasses of `enact.Resource` (usually dataclasses),
    and also pydantic models and attrs classes (see `enact.model_classes`).

    A registered class gets a stable type id, so that objects of it can be
    checked out in any process that defines it. A registered `enum.Enum`
    subclass lets its members be checked out (they are stored by the enum's
    type name and the member's name). A registered function keeps
    working as a plain function outside `enact.invoke`; inside one, each call
    is journaled as a child invocation.

    Used bare (``@enact.register``) the type name is ``module.qualname``.
    With arguments it names the type explicitly and lists older names, so that
    moving or renaming a class or function keeps old journals readable::

        @enact.register(name="myapp.Ticket", aliases=("old_module.Ticket",))
        @dataclasses.dataclass
        class Ticket(enact.Resource): ...

    Args:
        obj: The class or function (when used bare).
        name: The stable type name stored in type ids, instead of
            ``module.qualname``. Choose it once and keep it: a new name gives
            new objects another type id.
        aliases: Names the type had before (``module.qualname`` of the old
            location, or an old explicit name). Stored objects of an alias
            check out as objects of this class or function; objects committed
            from now on get the current name.

    On an `enact.Invokable` (or `AsyncInvokable`) class, the annotations of
    ``call`` (else the arguments of ``Invokable[I, O]``) are checked against
    the actual input and output of each call (`enact.InputTypeError` naming
    the class), and a ``call`` taking more than one argument is refused here.

    Raises:
        RegistrationError: `obj` is neither a resource class, an enum nor a function,
            or it is a resource class whose instances could hold state that is
            not in its fields, or a name is empty or holds braces, or an
            invokable whose ``call`` takes more than one argument besides ``self``.
    """
    check_keywords("register", options, _Options)
    name, aliases = options.get("name"), options.get("aliases", ())
    cache, external = options.get("cache"), options.get("external", False)
    if isinstance(aliases, str):
        raise RegistrationError(
            f"aliases must be a list or tuple of type names, not the str {aliases!r}: "
            f"write aliases=({aliases!r},)."
        )
    old_names = tuple(aliases)
    if obj is None:

        def decorate(target: T) -> T:
            registered: T = _register_options(target, name, old_names, cache, external)
            return registered

        return decorate
    return _register_options(obj, name, old_names, cache, external)


def _register_options(
    obj: Any, name: str | None, aliases: tuple[str, ...], cache: Any, external: bool
) -> Any:
    if cache is not None or external:
        return _register_with_options(obj, name, aliases, cache, external)
    return _register(obj, name, aliases)


def _register(obj: Any, name: str | None, aliases: tuple[str, ...]) -> Any:
    if name is not None or aliases:
        if registry.lookup_class(obj) is not None if isinstance(obj, type) else False:
            raise RegistrationError(
                f"Cannot give {registry.type_name(obj)} a name or aliases: it is registered "
                "already. Pass name= and aliases= to the first @enact.register of the class."
            )
        registry.set_type_name(obj, name, aliases)
    if isinstance(obj, type):
        if issubclass(obj, enum.Enum):
            registry.register_enum(obj)
            return obj
        if not issubclass(obj, Resource) and is_model_class(obj):
            register_model_class(obj)
            return obj
        if not issubclass(obj, Resource):
            raise RegistrationError(
                f"Cannot register class {obj.__module__}.{obj.__qualname__}: it does not "
                "derive from enact.Resource. Derive it from enact.Resource (and make it a "
                "dataclass), make it a pydantic model or an attrs class, or register a "
                "ResourceWrapper for it."
            )
        if "_enact_input_type" in dir(obj):  # an Invokable or AsyncInvokable
            from enact.invocations.invokables import prepare_invokable

            prepare_invokable(obj)
        register_resource_class(obj)
        return obj
    if callable(obj) and hasattr(obj, "__code__"):
        from enact.invocations.invokables import register_function

        return register_function(obj)
    raise RegistrationError(
        f"Cannot register {obj!r}: enact.register takes a subclass of enact.Resource, a "
        "plain function, or a method."
    )


def _register_with_options(
    obj: Any, name: str | None, aliases: tuple[str, ...], cache: Any, external: bool
) -> Any:
    from enact.invocations import providers
    from enact.invocations.cache import DEFAULT_POLICY, CachePolicy
    from enact.invocations.invokables import AsyncInvokable, Invokable

    if cache is True:
        cache = DEFAULT_POLICY
    elif cache is False:
        cache = None
    elif cache is not None and not isinstance(cache, CachePolicy):
        raise RegistrationError(
            f"Cannot register {obj!r} with cache={cache!r}: pass True or an "
            "enact.CachePolicy(ttl=..., store=...)."
        )
    is_invokable_class = isinstance(obj, type) and issubclass(obj, Invokable | AsyncInvokable)
    if not is_invokable_class and not (callable(obj) and hasattr(obj, "__code__")):
        raise RegistrationError(
            f"Cannot register {obj!r} with cache= or external=: these options are for "
            "invokables (a function, or a subclass of enact.Invokable or enact.AsyncInvokable)."
        )
    registered = _register(obj, name, aliases)
    providers.declare(registered, cache=cache, external=external)
    return registered
