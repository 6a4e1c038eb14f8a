"""Resources, resource wrappers, and access to their fields.

A resource is an instance of a `Resource` subclass, usually a dataclass. Its
fields hold field values: ``int``, ``float``, ``bool``, ``str``, ``bytes``,
``None``, resources, resource classes, refs, and lists and dicts of these
(keyed by any of them that is hashable), nested; values of foreign types that have a registered
`ResourceWrapper` are allowed too and are wrapped whenever enact looks at them.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, Self, TypeAlias, TypeVar

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

    enact stores a resource's fields and nothing else, so all of its state must
    be in them: registration refuses a class that could hold more (an
    ``__init__`` of its own, slots that are not fields, annotations without
    ``@dataclass``; see `check_faithful`).
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

    def deepcopy_resource(self) -> Self:
        """Returns a deep copy: nested resources, containers and wrapped values are copied too.

        Refs in it still point at the same snapshots (`Ref.deepcopy_resource`).
        """
        duplicate: Self = copy.deepcopy(self)
        return duplicate

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


ResourceBase = Resource
"""The name the spec's prose uses for the base class of resources: `Resource` itself."""


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
    check_faithful(cls)
    return registry.register_class(cls, kind, wrapped)


_CLASSVAR: Final = re.compile(r"^\s*(?:typing\.|t\.)?ClassVar\b")
_EXEMPT_MODULES: Final = frozenset({"builtins", "typing", "abc", "collections.abc"})


def check_faithful(cls: type) -> None:
    """Refuses a resource class whose instances may hold state that is not in its fields.

    enact stores exactly the declared fields (a dataclass's fields; none for
    other classes) and checks out by restoring them without calling
    ``__init__``. So, for `cls` and every base class it has besides enact's
    own and Python's:

    - a class that is not itself a dataclass may not define ``__init__``,
      non-empty ``__slots__``, or instance annotations (``name: str``: a
      forgotten ``@dataclass``; annotate class constants as ``ClassVar``);
    - a dataclass may not define its own ``__init__`` (the generated one
      assigns exactly the fields), nor slots that are not fields.

    What this cannot see: attributes set later (in ``__post_init__``, a
    method, or from outside) are not stored either; keep all state in fields.

    Raises:
        RegistrationError: naming the class, the offending definition and the fix.
    """
    fields = set(registry.declared_field_names(cls))
    for base in cls.__mro__:
        if base.__module__ in _EXEMPT_MODULES or base is object:
            continue
        if base is not cls and base.__module__.partition(".")[0] == "enact":
            continue  # enact's own bases (Resource, Invokable, ...) hold no state
        problem = unfaithful_namespace(base, fields)
        if problem is not None:
            name = registry.type_name(cls)
            where = "" if base is cls else f" (in its base class {registry.type_name(base)})"
            raise RegistrationError(
                f"Cannot register {name}: {problem}{where}, so its instances can hold state "
                "that enact would not store (two different objects would get the same "
                "digest, and checkout would lose the state). Make the class a dataclass "
                "(@dataclasses.dataclass) whose fields hold all of its state, with no "
                "__init__ of its own (use __post_init__ or a classmethod constructor); "
                "for a foreign class, register a ResourceWrapper for it instead."
            )


def unfaithful_namespace(base: type, fields: set[str]) -> str | None:
    """Returns what in `base`'s own namespace may hold unstored state, or None."""
    namespace = base.__dict__
    own_dataclass = "__dataclass_fields__" in namespace and dataclasses.is_dataclass(base)
    init = namespace.get("__init__")
    if init is not None and not (own_dataclass and _is_generated(init)):
        return "it defines __init__"
    slots = namespace.get("__slots__", ())
    slot_names = {slots} if isinstance(slots, str) else set(slots)
    extra_slots = sorted(slot_names - fields - {"__dict__", "__weakref__"})
    if extra_slots:
        return f"it has __slots__ {extra_slots} that are not dataclass fields"
    if not own_dataclass:
        annotated = [
            attr
            for attr, hint in namespace.get("__annotations__", {}).items()
            if not _is_classvar(hint)
        ]
        if annotated:
            return (
                f"it annotates {annotated} but is not a dataclass (a forgotten "
                "@dataclasses.dataclass? annotate class constants as ClassVar)"
            )
    return None


def _is_generated(init: Any) -> bool:
    # dataclasses compiles the __init__ it generates from a string, inside a
    # factory named __create_fn__; an __init__ written in the class body comes
    # from a file (or a notebook cell).
    code = getattr(init, "__code__", None)
    if code is None:
        return False
    return code.co_filename == "<string>" or "__create_fn__" in code.co_qualname


def _is_classvar(hint: Any) -> bool:
    if isinstance(hint, str):
        return _CLASSVAR.match(hint) is not None
    return hint is typing.ClassVar or typing.get_origin(hint) is typing.ClassVar


def resolve_type_id(type_id: bytes) -> registry.ClassInfo:
    """Returns the class info for a stored type id.

    Classes that were defined in this process but never registered or used are
    found by name among the subclasses of `Resource`; nothing is imported.
    """
    try:
        return registry.info_for_type_id(type_id)
    except UnknownTypeError:
        name = registry.describe_type_id(type_id)
        found = False
        for cls in _all_subclasses(Resource):
            if registry.type_name(cls) == name and registry.lookup_class(cls) is None:
                register_resource_class(cls)
                found = True
        if not found:
            raise
        return registry.info_for_type_id(type_id)


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
    custom = custom_builders.get(cls)
    if custom is not None:
        return custom(values)
    obj = cls.__new__(cls)
    slotted = _slotted.get(cls)  # looked up here first: build is on every checkout's path
    if slotted is None:
        slotted = _is_slotted(cls)
    if slotted:
        for name, value in values.items():
            object.__setattr__(obj, name, value)
    else:
        obj.__dict__.update(values)
    return obj


def fills_dict(cls: Any) -> bool:
    """Whether `build` makes instances of `cls` as ``cls.__new__(cls)`` with the field
    values put into its ``__dict__`` (no custom builder, no slots): for readers that
    make many instances of one class, without a call per instance."""
    return cls not in custom_builders and not _is_slotted(cls)


def _is_slotted(cls: Any) -> bool:
    """Whether a class of `cls`'s MRO declares slots (cached per class).

    A slot wins over an entry of the same name in ``__dict__`` (which exists
    anyway, since Resource has no slots), so slotted fields must be set
    through their descriptors.
    """
    slotted = _slotted.get(cls)
    if slotted is None:
        slotted = _slotted[cls] = any(vars(base).get("__slots__") for base in cls.__mro__)
    return slotted


_slotted: dict[type, bool] = {}
custom_builders: dict[type, Callable[[dict[str, Any]], Any]] = {}
"""How `build` makes instances of classes that need more than their fields set
(pydantic models, see `enact.model_classes`)."""


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
