"""pydantic models and attrs classes as first-class resources.

``@enact.register`` on a pydantic ``BaseModel`` subclass (pydantic 2) or an
attrs class makes it a resource type like a dataclass resource: its fields
are stored under a type id computed the same way (``docs/FORMAT.md``), and
checkout returns an instance of the concrete class, nested anywhere and as
inputs and outputs of journaled calls. The class need not derive from
`enact.Resource`.

Neither library is a dependency of enact: this module never imports them; it
recognises their classes by what they put on them (``__pydantic_fields__``,
``__attrs_attrs__``) and uses pydantic only when a registered class is one.

As for dataclasses, checkout restores the fields without running
``__init__``, validators or ``model_post_init``, and registration refuses a
class whose instances can hold state outside their fields: a pydantic model
with private attributes, or either kind with an ``__init__`` of its own. A
pydantic model with ``extra='allow'`` (the OpenAI and Anthropic SDKs' models)
stores that state as two more fields (`registry.OPEN_MODEL_STATE`): its extra
fields and which fields were set. Registering a pydantic model registers the
models its fields are annotated with too (an SDK response's parts), and
builds a model declared with ``defer_build`` first.
"""

from __future__ import annotations

import contextlib
import sys
import typing
from collections.abc import Iterator
from typing import Any, cast

from enact import registry
from enact.errors import RegistrationError
from enact.resources import custom_builders, unfaithful_namespace


def is_model_class(cls: type) -> bool:
    """Whether `cls` is a pydantic model class or an attrs class (decorated itself)."""
    return is_pydantic_model(cls) or "__attrs_attrs__" in cls.__dict__


def register_model_class(cls: type) -> registry.ClassInfo:
    """Registers a pydantic model or attrs class as a resource type.

    Raises:
        RegistrationError: Its instances could hold state outside its fields.
    """
    existing = registry.lookup_class(cls)
    if existing is not None:
        return existing
    if not is_pydantic_model(cls):
        _check_attrs(cls)
        return registry.register_class(cls, registry.KIND_RESOURCE)
    if not cls.__dict__.get("__pydantic_complete__", True):
        # ``defer_build`` (the OpenAI and Anthropic SDKs set it): built now, so that
        # its fields and their annotations are final before its type id is made.
        cast(Any, cls).model_rebuild(raise_errors=False)
    _check_pydantic(cls)
    custom_builders[cls] = _pydantic_builder(cls)
    info = registry.register_class(cls, registry.KIND_RESOURCE)
    _register_parts(cls)
    return info


def _register_parts(cls: Any) -> None:
    """Registers the pydantic models that the fields of `cls` are annotated with, and
    theirs (an SDK response's parts: a completion's choices, their messages, its usage),
    as `enact.register` would. One that cannot be registered is left unregistered: a
    commit of it says why."""
    for field in cls.__pydantic_fields__.values():
        for part in _models_in(field.annotation, set()):
            if registry.lookup_class(part) is None:
                with contextlib.suppress(RegistrationError):
                    register_model_class(part)


def _models_in(hint: Any, seen: set[int]) -> Iterator[type]:
    """The pydantic model classes in an annotation (through unions, containers and
    ``Annotated``); forward references that did not resolve are skipped."""
    if id(hint) in seen:
        return
    seen.add(id(hint))
    if is_pydantic_model(hint) and not getattr(hint, "__pydantic_generic_metadata__", {}).get(
        "parameters"
    ):
        yield hint
        return
    for arg in typing.get_args(hint):
        yield from _models_in(arg, seen)


def is_pydantic_model(cls: Any) -> bool:
    """Whether `cls` is a pydantic model class (never imports pydantic: a model class
    exists only if pydantic was imported)."""
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None
        and isinstance(cls, type)
        and issubclass(cls, pydantic.BaseModel)
        and cls is not pydantic.BaseModel
    )


def _refuse(cls: type, problem: str, fix: str) -> RegistrationError:
    return RegistrationError(
        f"Cannot register {registry.type_name(cls)}: {problem}, so its instances can hold "
        f"state that enact would not store (two different objects would get the same "
        f"digest, and checkout would lose the state). {fix}"
    )


def _check_pydantic(cls: Any) -> None:
    if cls.__private_attributes__:
        raise _refuse(
            cls,
            f"it has private attributes {sorted(cls.__private_attributes__)}",
            "Make them fields, or keep that state outside the model.",
        )
    pydantic = sys.modules["pydantic"]
    fields = set(registry.declared_field_names(cls))
    for base in cls.__mro__:
        if base is pydantic.BaseModel:
            break
        if "__init__" in base.__dict__:
            raise _refuse(
                cls,
                f"{registry.type_name(base)} defines __init__",
                "Use validators or a classmethod constructor instead of __init__.",
            )
        problem = _extra_slots(base, fields)
        if problem is not None:
            raise _refuse(cls, problem, "Remove the slots, or make them fields.")


def _check_attrs(cls: type) -> None:
    fields = set(registry.declared_field_names(cls))
    for base in cls.__mro__:
        if base is object or base.__module__ == "builtins":
            continue
        if "__attrs_attrs__" in base.__dict__:
            init = base.__dict__.get("__init__")
            code = getattr(init, "__code__", None)
            # attrs compiles the __init__ it generates under a file name of its own.
            if init is not None and not (code and code.co_filename.startswith("<attrs generated")):
                raise _refuse(
                    cls,
                    f"{registry.type_name(base)} defines __init__",
                    "Let attrs generate __init__ (use __attrs_post_init__ or a classmethod).",
                )
            problem = _extra_slots(base, fields)
        else:
            problem = unfaithful_namespace(base, fields)
        if problem is not None:
            raise _refuse(
                cls,
                f"{registry.type_name(base)}: {problem}",
                "Declare all of its state as attrs fields.",
            )


def _extra_slots(base: type, fields: set[str]) -> str | None:
    slots = base.__dict__.get("__slots__", ())
    names = {slots} if isinstance(slots, str) else set(slots)
    extra = sorted(
        name
        for name in names - fields - {"__dict__", "__weakref__"}
        if not name.startswith(("__pydantic_", "__attrs_"))
    )
    return f"it has __slots__ {extra} that are not fields" if extra else None


def _pydantic_builder(cls: Any) -> Any:
    """Makes instances the way ``model_construct`` does, without running hooks again."""
    open_model = registry.is_open_model(cls)
    names = tuple(cls.__pydantic_fields__)  # the declared fields (not OPEN_MODEL_STATE)
    fields_set = frozenset(names)
    root = bool(getattr(cls, "__pydantic_root_model__", False))
    new = cls.__new__
    setattr_ = object.__setattr__

    def build(values: dict[str, Any]) -> Any:
        obj = new(cls)
        # Declaration order, as validation would leave it (repr, model_dump follow it).
        setattr_(obj, "__dict__", {name: values[name] for name in names})
        if open_model:  # its extra fields and which fields were set, as stored
            extra = values["__pydantic_extra__"]
            setattr_(obj, "__pydantic_fields_set__", set(values["__pydantic_fields_set__"]))
            setattr_(obj, "__pydantic_extra__", None if extra is None else dict(extra))
        else:
            setattr_(obj, "__pydantic_fields_set__", set(fields_set))
            if not root:
                setattr_(obj, "__pydantic_extra__", None)
        if not root:
            setattr_(obj, "__pydantic_private__", None)
        return obj

    return build
