"""`enact.register`: one decorator for resource classes, enums, functions and methods."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from enact import registry
from enact.errors import RegistrationError
from enact.model_classes import is_model_class, register_model_class
from enact.resources import Resource, register_resource_class

T = TypeVar("T")


@overload
def register(obj: T, /) -> T: ...


@overload
def register(
    obj: None = None, /, *, name: str | None = None, aliases: Iterable[str] = ()
) -> Callable[[T], T]: ...


def register(obj: Any = None, /, *, name: str | None = None, aliases: Iterable[str] = ()) -> Any:
    """Registers a resource class, an enum, or a plain function or method as an invokable.

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

    Raises:
        RegistrationError: `obj` is neither a resource class, an enum nor a function,
            or it is a resource class whose instances could hold state that is
            not in its fields, or a name is empty or holds braces.
    """
    if isinstance(aliases, str):
        raise RegistrationError(
            f"aliases must be a list or tuple of type names, not the str {aliases!r}: "
            f"write aliases=({aliases!r},)."
        )
    old_names = tuple(aliases)
    if obj is None:

        def decorate(target: T) -> T:
            registered: T = _register(target, name, old_names)
            return registered

        return decorate
    return _register(obj, name, old_names)


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
        register_resource_class(obj)
        return obj
    if callable(obj) and hasattr(obj, "__code__"):
        from enact.invocations.invokables import register_function

        return register_function(obj)
    raise RegistrationError(
        f"Cannot register {obj!r}: enact.register takes a subclass of enact.Resource, a "
        "plain function, or a method."
    )
