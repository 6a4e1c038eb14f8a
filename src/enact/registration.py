"""`enact.register`: one decorator for resource classes, enums, functions and methods."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from enact import registry
from enact.errors import RegistrationError
from enact.model_classes import is_model_class, register_model_class
from enact.resources import Resource, register_resource_class

T = TypeVar("T")


def register(obj: T) -> T:
    """Registers a resource class, an enum, or a plain function or method as an invokable.

    Resource classes are subclasses of `enact.Resource` (usually dataclasses),
    and also pydantic models and attrs classes (see `enact.model_classes`).

    A registered class gets a stable type id, so that objects of it can be
    checked out in any process that defines it. A registered `enum.Enum`
    subclass lets its members be checked out (they are stored by the enum's
    type name and the member's name). A registered function keeps
    working as a plain function outside `enact.invoke`; inside one, each call
    is journaled as a child invocation.

    On an `enact.Invokable` (or `AsyncInvokable`) class, the annotations of
    ``call`` (else the arguments of ``Invokable[I, O]``) are checked against
    the actual input and output of each call (`enact.InputTypeError` naming
    the class), and a ``call`` taking more than one argument is refused here.

    Raises:
        RegistrationError: `obj` is neither a resource class, an enum nor a function,
            or it is a resource class whose instances could hold state that is
            not in its fields, or an invokable whose ``call`` takes more than one
            argument besides ``self``.
    """
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

        result: Any = register_function(obj)
        return result  # type: ignore[no-any-return]
    raise RegistrationError(
        f"Cannot register {obj!r}: enact.register takes a subclass of enact.Resource, a "
        "plain function, or a method."
    )
