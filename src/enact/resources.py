"""Resources, resource wrappers, and access to their fields.

A resource is an instance of a `Resource` subclass, usually a dataclass. Its
fields hold field values: ``int``, ``float``, ``bool``, ``str``, ``bytes``,
``None``, resources, resource classes, refs, and lists and str-keyed dicts of
these, nested; values of foreign types that have a registered
`ResourceWrapper` are allowed too and are wrapped whenever enact looks at them.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any, Generic, Self, TypeAlias, TypeVar

from enact import registry
from enact.errors import (
    MissingFieldError,
    RegistrationError,
    UnknownTypeError,
    UnsupportedValueError,
)

FieldValue: TypeAlias = Any
"""Annotation for a field that may hold any value enact can store."""

W = TypeVar("W")


class Resource:
    """Base class of everything enact can commit, check out and journal.

    Subclasses are usually dataclasses; a subclass without fields (one that
    only defines behaviour) works as well. Register a subclass with
    `enact.register` so that other processes can check it out.
    """

    @classmethod
    def type_id(cls) -> str:
        """Returns the stable type id: a JSON string with the digest and name of the type."""
        return class_info(cls).type_id

    @classmethod
    def field_names(cls) -> Iterator[str]:
        """Yields the names of the fields in declaration order."""
        return iter(class_info(cls).field_names)

    def field_values(self) -> Iterator[FieldValue]:
        """Yields the field values in declaration order, wrapping foreign types."""
        for name in class_info(type(self)).field_names:
            yield wrap_if_foreign(getattr(self, name))

    def field_items(self) -> Iterator[tuple[str, FieldValue]]:
        """Yields ``(name, value)`` pairs in declaration order, wrapping foreign types."""
        for name in class_info(type(self)).field_names:
            yield name, wrap_if_foreign(getattr(self, name))

    def to_resource_dict(self) -> dict[str, Any]:
        """Returns the fields as a dict; nested resources become dicts too."""
        return {name: _to_plain(value) for name, value in self.field_items()}

    @classmethod
    def from_resource_dict(cls, resource_dict: dict[str, Any]) -> Self:
        """Builds a resource from `to_resource_dict` output, guided by field annotations."""
        hints = _field_hints(cls)
        values = {
            name: _from_plain(resource_dict[name], hints.get(name, Any))
            for name in class_info(cls).field_names
            if name in resource_dict
        }
        missing = [name for name in class_info(cls).field_names if name not in resource_dict]
        if missing:
            type_name = registry.type_name(cls)
            raise MissingFieldError(
                f"Cannot build {type_name} from a resource dict: missing field(s) {missing} "
                f"(it has {list(resource_dict)}). Pass every field of the class, as "
                "to_resource_dict() returns them.",
                type_name=type_name,
                fields=tuple(missing),
            )
        built: Self = build(cls, values)
        return built


class ResourceWrapper(Resource, Generic[W]):
    """A resource that stands for a value of a foreign (non-resource) type.

    Subclasses implement `wrapped_type`, `wrap` and `unwrap`; once registered,
    values of the wrapped type may be used wherever field values are allowed.
    """

    @classmethod
    def wrapped_type(cls) -> type[W]:
        """Returns the foreign type this wrapper stands for."""
        raise NotImplementedError(f"{cls.__qualname__} must implement wrapped_type().")

    @classmethod
    def wrap(cls, value: W) -> Self:
        """Returns a wrapper resource for `value`."""
        raise NotImplementedError(f"{cls.__qualname__} must implement wrap().")

    def unwrap(self) -> W:
        """Returns the foreign value this wrapper stands for."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement unwrap().")


TypeWrapper = ResourceWrapper
"""Compatibility alias of `ResourceWrapper`, kept for code written against older releases.

New code should use `ResourceWrapper`; both names are the same class.
"""


def class_info(cls: type) -> registry.ClassInfo:
    """Returns the `ClassInfo` of a resource class, registering it on first use."""
    info = registry.lookup_class(cls)
    if info is not None:
        return info
    return register_resource_class(cls)


def register_resource_class(cls: type) -> registry.ClassInfo:
    """Registers a resource class and returns its `ClassInfo`."""
    if not (isinstance(cls, type) and issubclass(cls, Resource)):
        raise RegistrationError(
            f"Cannot register {cls!r}: only subclasses of enact.Resource, plain "
            "functions and methods can be registered."
        )
    wrapped: type | None = None
    if getattr(cls, "__enact_is_ref__", False):
        kind = registry.KIND_REF
    elif issubclass(cls, ResourceWrapper):
        kind = registry.KIND_WRAPPER
        if not cls.__dict__.get("__enact_builtin__", False):
            try:
                wrapped = cls.wrapped_type()
            except NotImplementedError as err:
                raise RegistrationError(str(err)) from err
            if not isinstance(wrapped, type):
                raise RegistrationError(
                    f"{registry.type_name(cls)}.wrapped_type() returned {wrapped!r}; "
                    "it must return a class."
                )
    else:
        kind = registry.KIND_RESOURCE
    return registry.register_class(cls, kind, wrapped)


def resolve_type_id(type_id: bytes) -> registry.ClassInfo:
    """Returns the class info for a stored type id.

    Classes that were defined in this process but never registered or used are
    found by name among the subclasses of `Resource`; nothing is imported.
    """
    try:
        return registry.info_for_type_id(type_id)
    except UnknownTypeError:
        name = registry.describe_type_id(type_id)
        for cls in _all_subclasses(Resource):
            if registry.type_name(cls) == name and registry.lookup_class(cls) is None:
                info = register_resource_class(cls)
                if info.type_id_bytes == type_id:
                    return info
        raise


def _all_subclasses(cls: type) -> Iterator[type]:
    pending: list[type] = list(cls.__subclasses__())
    while pending:
        sub = pending.pop()
        yield sub
        pending.extend(sub.__subclasses__())


def build(cls: Any, values: dict[str, Any]) -> Any:
    """Creates an instance of `cls` with these field values, without calling ``__init__``.

    Checkout restores stored state the way `pickle` and `copy` do: the
    constructor's side effects and ``__post_init__`` do not run again.
    """
    obj = cls.__new__(cls)
    slotted = _slotted.get(cls)
    if slotted is None:
        # A slot wins over an entry of the same name in ``__dict__`` (which
        # exists anyway, since Resource has no slots), so slotted fields must be
        # set through their descriptors.
        slotted = _slotted[cls] = any(vars(base).get("__slots__") for base in cls.__mro__)
    if slotted:
        for name, value in values.items():
            object.__setattr__(obj, name, value)
    else:
        obj.__dict__.update(values)
    return obj


_slotted: dict[type, bool] = {}


def wrap(value: Any) -> ResourceWrapper[Any]:
    """Returns the registered wrapper resource for a value of a foreign type."""
    wrapper = registry.wrapper_for(type(value))
    if wrapper is None:
        raise UnsupportedValueError(
            f"No ResourceWrapper is registered for {type(value).__module__}."
            f"{type(value).__qualname__}. Define a subclass of enact.ResourceWrapper whose "
            "wrapped_type() returns this class and decorate it with @enact.register.",
            value_type=type(value),
        )
    result: ResourceWrapper[Any] = wrapper.wrap(value)  # type: ignore[attr-defined]
    return result


def unwrap(wrapper: ResourceWrapper[W]) -> W:
    """Returns the foreign value a wrapper resource stands for."""
    return wrapper.unwrap()


_NATIVE = (int, float, bool, str, bytes, type(None), list, dict, Resource, type)


def wrap_if_foreign(value: Any) -> Any:
    """Returns `value`, or its wrapper if it is of a wrapped foreign type."""
    if isinstance(value, _NATIVE):
        return value
    wrapper = registry.wrapper_for(type(value))
    if wrapper is None:
        return value
    return wrapper.wrap(value)  # type: ignore[attr-defined]


def _to_plain(value: Any) -> Any:
    if isinstance(value, Resource):
        return value.to_resource_dict()
    if isinstance(value, list):
        return [_to_plain(wrap_if_foreign(item)) for item in value]
    if isinstance(value, dict):
        return {key: _to_plain(wrap_if_foreign(item)) for key, item in value.items()}
    return wrap_if_foreign(value)


_hint_cache: dict[type, dict[str, Any]] = {}


def _field_hints(cls: type) -> dict[str, Any]:
    hints = _hint_cache.get(cls)
    if hints is None:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # unresolvable forward references: fall back to no hints
            hints = {}
        _hint_cache[cls] = hints
    return hints


def _from_plain(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Resource) and isinstance(value, dict):
        return hint.from_resource_dict(value)
    if isinstance(hint, type) and not issubclass(hint, Resource) and isinstance(value, dict):
        wrapper = registry.wrapper_for(hint)
        if wrapper is not None:
            return wrapper.from_resource_dict(value).unwrap()  # type: ignore[attr-defined]
    if isinstance(origin, type) and issubclass(origin, Resource) and isinstance(value, dict):
        return origin.from_resource_dict(value)
    if origin in (list, typing.List) and isinstance(value, list):  # noqa: UP006
        item_hint = args[0] if args else Any
        return [_from_plain(item, item_hint) for item in value]
    if origin in (dict, typing.Dict) and isinstance(value, dict):  # noqa: UP006
        item_hint = args[1] if len(args) == 2 else Any
        return {key: _from_plain(item, item_hint) for key, item in value.items()}
    if isinstance(origin, type) and not issubclass(origin, Resource) and isinstance(value, dict):
        wrapper = registry.wrapper_for(origin)  # e.g. tuple[int, str], set[str]
        if wrapper is not None:
            return wrapper.from_resource_dict(value).unwrap()  # type: ignore[attr-defined]
    if (origin is typing.Union or type(hint).__name__ == "UnionType") and isinstance(value, dict):
        for arm in args:
            if arm is type(None):
                continue
            candidate = _from_plain(value, arm)
            if candidate is not value:
                return candidate
    return value
