"""The type an input request asks for, in a form that another process can read.

`request_input` takes a class (``str``, a resource class, a pydantic model)
or a typing form (``list[str]``, ``dict[str, int]``, ``tuple[int, str]``,
``Literal["yes", "no"]``, ``int | None``, unions, enums). The request records
it as a stored value: a class is stored as itself (a builtin as its wrapper
class, as before); anything else as a `TypeForm`, a resource of enact's own
whose fields hold the form's kind and arguments. A process without the
program's code can read a recorded request and name its type; checking an
answer against a class needs that class registered (as for any checkout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import types
import typing
from typing import Any, Final

from enact import registry
from enact.errors import InvocationError
from enact.resources import FieldValue, Resource, ResourceWrapper, register_resource_class
from enact.wrappers import PRIMITIVE_WRAPPERS

_UNWRAPPED: Final = {wrapper: value_type for value_type, wrapper in PRIMITIVE_WRAPPERS.items()}
_COLLECTIONS: Final[dict[Any, str]] = {
    list: "list",
    set: "set",
    frozenset: "frozenset",
    dict: "dict",
    tuple: "tuple",
}
_LITERAL_TYPES: Final = (str, int, bool, type(None))


@dataclasses.dataclass
class TypeForm(Resource):
    """A recorded typing form (see docs/FORMAT.md, "Requested types").

    Attributes:
        kind: ``list``, ``set``, ``frozenset``, ``dict`` (arguments: key and
            value type), ``tuple`` (one argument per item), ``tuple...``
            (``tuple[X, ...]``, argument: the item type), ``union`` (the arms),
            ``literal`` (the allowed values), ``enum`` (argument: the enum's
            ``module.qualname``) or ``any``.
        args: The arguments: recorded types, or the values of a literal.
    """

    __enact_type_name__ = "enact.invocations.TypeForm"

    kind: str
    args: list[FieldValue]


register_resource_class(TypeForm)


def record_type(requested: Any) -> Any:
    """The stored form of a requested type (a class, or a `TypeForm`).

    Raises:
        InvocationError: The type cannot be requested (with what can be).
    """
    if requested is None:
        requested = type(None)
    if requested is Any or requested is object:
        return TypeForm("any", [])
    origin = typing.get_origin(requested)
    if origin is typing.Annotated:
        return record_type(typing.get_args(requested)[0])
    if origin is typing.Union or origin is types.UnionType:
        return TypeForm("union", [record_type(arm) for arm in typing.get_args(requested)])
    if origin is typing.Literal:
        values = list(typing.get_args(requested))
        for value in values:
            if not isinstance(value, (*_LITERAL_TYPES, enum.Enum)):
                raise _cannot(
                    requested, f"the Literal value {value!r} is not str, int, bool or None"
                )
        return TypeForm("literal", values)
    if origin is not None:
        return _record_generic(requested, origin)
    if isinstance(requested, type):
        return _record_class(requested)
    raise _cannot(requested, "it is not a class or a supported typing form")


def _record_generic(requested: Any, origin: Any) -> TypeForm:
    kind = _COLLECTIONS.get(origin)
    if kind is None:
        raise _cannot(
            requested, f"its origin {origin!r} is not list, set, frozenset, dict or tuple"
        )
    args = typing.get_args(requested)
    if kind == "tuple":
        if len(args) == 2 and args[1] is Ellipsis:
            return TypeForm("tuple...", [record_type(args[0])])
        if args == ((),):  # tuple[()]
            args = ()
        return TypeForm("tuple", [record_type(arg) for arg in args])
    if kind == "dict":
        key, value = args if len(args) == 2 else (str, Any)
        return TypeForm("dict", [record_type(key), record_type(value)])
    item = args[0] if args else Any
    return TypeForm(kind, [record_type(item)])


def _record_class(cls: type) -> Any:
    if cls in _COLLECTIONS and cls is not list and cls is not dict:
        return TypeForm(_COLLECTIONS[cls] + ("..." if cls is tuple else ""), _any_args(cls))
    wrapper = PRIMITIVE_WRAPPERS.get(cls)
    if wrapper is not None:
        return wrapper
    if issubclass(cls, enum.Enum):
        registry.register_enum(cls)
        return TypeForm("enum", [registry.type_name(cls)])
    if issubclass(cls, Resource):
        return cls
    if registry.lookup_class(cls) is not None:  # a registered pydantic model or attrs class
        return cls
    from enact.model_classes import is_model_class

    if is_model_class(cls):
        raise _cannot(cls, "it is not registered: decorate the class with @enact.register")
    foreign = registry.wrapper_for(cls)
    if foreign is not None:
        return foreign
    raise _cannot(cls, "it is not a resource class and has no registered ResourceWrapper")


def _any_args(cls: type) -> list[FieldValue]:
    return [TypeForm("any", [])]


def _cannot(requested: Any, why: str) -> InvocationError:
    return InvocationError(
        f"request_input cannot request {type_label(requested)}: {why}. Request int, float, "
        "bool, str, bytes, None, a resource class, a registered pydantic model or attrs "
        "class, an enum, a type with a registered ResourceWrapper, or list[...], set[...], "
        "tuple[...], dict[...], Literal[...], Optional[...] and unions of these."
    )


def restore_type(stored: Any) -> Any:
    """The requested type a stored form stands for (``list[str]`` for its `TypeForm`).

    Raises:
        UnknownTypeError: An enum it names is not defined in this process.
    """
    if isinstance(stored, TypeForm):
        return _restore_form(stored)
    unwrapped = _UNWRAPPED.get(stored)
    if unwrapped is not None:
        return unwrapped
    if (
        isinstance(stored, type)
        and issubclass(stored, ResourceWrapper)
        and registry.lookup_class(stored) is not None
    ):
        with contextlib.suppress(NotImplementedError):
            return stored.wrapped_type()
    return stored


def _restore_form(form: TypeForm) -> Any:
    kind, args = form.kind, form.args
    if kind == "any":
        return Any
    if kind == "literal":
        return typing.Literal[tuple(args)] if args else typing.Never
    if kind == "enum":
        from enact.stdlib_wrappers import enum_class_named

        return enum_class_named(str(args[0]))
    restored = tuple(restore_type(arg) for arg in args)
    if kind == "union":
        return typing.Union[restored] if restored else typing.Never  # noqa: UP007
    if kind == "list":
        return list[restored[0]]  # type: ignore[valid-type]
    if kind == "set":
        return set[restored[0]]  # type: ignore[valid-type]
    if kind == "frozenset":
        return frozenset[restored[0]]  # type: ignore[valid-type]
    if kind == "dict":
        return dict[restored[0], restored[1]]  # type: ignore[valid-type]
    if kind == "tuple...":
        return tuple[restored[0], ...]  # type: ignore[valid-type]
    if kind == "tuple":
        return tuple[restored] if restored else tuple[()]  # type: ignore[valid-type]
    raise InvocationError(
        f"A recorded TypeForm has the unknown kind {kind!r}: it was written by a newer "
        "enact; upgrade enact to answer this request."
    )


def type_label(requested: Any) -> str:
    """A requested type as users write it: ``str``, ``list[str]``, ``Literal['y', 'n']``.

    Takes a typing form or a stored form (a wrapper class, a `TypeForm`); a
    stored form is named without looking up the classes it names, so a
    process without the program's code can show it.
    """
    if isinstance(requested, TypeForm):
        return _form_label(requested)
    if requested is None or requested is type(None):
        return "None"
    if requested is Any:
        return "Any"
    unwrapped = _UNWRAPPED.get(requested)
    if unwrapped is not None:
        return type_label(unwrapped)
    origin = typing.get_origin(requested)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_label(arm) for arm in typing.get_args(requested))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(v) for v in typing.get_args(requested))}]"
    if origin is typing.Annotated:
        return type_label(typing.get_args(requested)[0])
    if origin is not None:
        args = typing.get_args(requested)
        shown = ", ".join("..." if a is Ellipsis else type_label(a) for a in args)
        return f"{getattr(origin, '__qualname__', repr(origin))}[{shown or '()'}]"
    if isinstance(requested, type):
        if issubclass(requested, ResourceWrapper) and registry.lookup_class(requested):
            with contextlib.suppress(NotImplementedError):
                return type_label(requested.wrapped_type())
        return requested.__qualname__
    return repr(requested)


def _form_label(form: TypeForm) -> str:
    kind, args = form.kind, form.args
    if kind == "any":
        return "Any"
    if kind == "literal":
        return f"Literal[{', '.join(repr(v) for v in args)}]"
    if kind == "enum":
        return str(args[0]).rsplit(".", 1)[-1]
    labels = [type_label(arg) for arg in args]
    if kind == "union":
        return " | ".join(labels)
    if kind == "tuple...":
        return f"tuple[{labels[0]}, ...]"
    if kind == "tuple" and not labels:
        return "tuple[()]"
    return f"{kind}[{', '.join(labels)}]"
