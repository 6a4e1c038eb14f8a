"""Type ids and the classes, wrappers and functions they stand for.

Everything per class that the encoder and decoder need (type id, sorted field
names in their quoted spelling, an attribute getter) is computed once, when a
class is first registered or used, and kept in a `ClassInfo`.

The registry never imports a module by name: a stored type id is resolved only
against classes that this process has defined. An unknown type id is an error
that names the type, never a reason to run code. The one exception is enact's
own: registrations it defers (`defer_registrations`), such as its wrappers of
standard-library types, run on the first lookup that misses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import json
import operator
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from enact.digests import builtin_type_id, quote, type_id_for
from enact.errors import RegistrationError, UnknownTypeError

# What a `ClassInfo` stands for: a resource class, a ref class, a wrapper, a registered
# function, or (KIND_STALE) a stored type id of an older version of a registered class
# (see `stale_info`). Kinds live in memory only (never stored), so their numbers are free.
KIND_RESOURCE, KIND_REF, KIND_WRAPPER, KIND_FUNCTION, KIND_STALE = range(5)


class ClassInfo:
    """What the encoder and decoder need to know about one registered type."""

    __slots__ = (
        "checks",
        "cls",
        "field_names",
        "getter",
        "has_dict",
        "kind",
        "name",
        "obj",
        "prefix",
        "qnames",
        "sorted_attrs",
        "type_id",
        "type_id_bytes",
    )

    def __init__(
        self,
        cls: type,
        name: str,
        type_id: str,
        field_names: tuple[str, ...],
        kind: int,
        obj: Any = None,
    ) -> None:
        self.cls = cls
        self.name = name
        self.type_id = type_id
        self.type_id_bytes = type_id.encode("utf-8")
        self.prefix = "res[" + type_id
        self.field_names = field_names
        self.sorted_attrs = tuple(sorted(field_names))
        self.qnames = tuple(quote(attr) for attr in self.sorted_attrs)
        self.kind = kind
        self.obj = obj
        self.checks: tuple[Any, ...] | None = None
        """The field annotation checks of `enact.encoding` (None until first computed)."""
        self.has_dict = "__slots__" not in cls.__dict__ if kind != KIND_FUNCTION else False
        getter: Callable[[Any], tuple[Any, ...]]
        if not self.sorted_attrs:
            getter = _no_fields
        elif len(self.sorted_attrs) == 1:
            single = operator.attrgetter(self.sorted_attrs[0])

            def getter(value: Any, _get: Callable[[Any], Any] = single) -> tuple[Any, ...]:
                return (_get(value),)
        else:
            getter = operator.attrgetter(*self.sorted_attrs)
        self.getter = getter


def _no_fields(_value: Any) -> tuple[Any, ...]:
    return ()


_lock = threading.RLock()
if hasattr(os, "register_at_fork"):  # a parent's thread may hold it at a fork
    os.register_at_fork(after_in_child=_lock._at_fork_reinit)  # type: ignore[attr-defined]
_by_class: dict[type, ClassInfo] = {}
_by_type_id: dict[bytes, ClassInfo] = {}
_by_function: dict[Any, ClassInfo] = {}
_wrappers: dict[type, type] = {}
_enums: dict[str, type] = {}
_explicit_names: dict[Any, str] = {}
_by_name: dict[str, ClassInfo] = {}
"""The class or function registered under each type name, and under each alias."""

REF_TYPE_NAME: Final = "enact.references.Ref"


def type_name(cls: type) -> str:
    """Returns the ``module.qualname`` that names `cls` in type ids."""
    explicit = _explicit_names.get(cls)
    if explicit is not None:
        return explicit
    override = cls.__dict__.get("__enact_type_name__")
    if isinstance(override, str):
        return override
    return f"{cls.__module__}.{cls.__qualname__}"


def declared_field_names(cls: type) -> tuple[str, ...]:
    """Returns the field names of a resource class in declaration order.

    The fields of a dataclass, of an attrs class, or of a pydantic model
    (registered with `enact.register`; see `enact.model_classes`).
    """
    if dataclasses.is_dataclass(cls):
        return tuple(field.name for field in dataclasses.fields(cls))
    attributes = cls.__dict__.get("__attrs_attrs__")
    if attributes is not None:
        return tuple(attribute.name for attribute in attributes)
    model_fields = cls.__dict__.get("__pydantic_fields__")
    if isinstance(model_fields, dict):  # complete or not (``defer_build``, as LLM SDKs use)
        if is_open_model(cls):
            return (*model_fields, *OPEN_MODEL_STATE)
        return tuple(model_fields)
    return ()


def is_open_model(cls: type) -> bool:
    """Whether `cls` is a pydantic model that allows extra fields (its stored fields end
    with `OPEN_MODEL_STATE`)."""
    return getattr(cls, "model_config", {}).get("extra") == "allow"


OPEN_MODEL_STATE: Final = ("__pydantic_extra__", "__pydantic_fields_set__")
"""What a pydantic model with ``extra='allow'`` (the OpenAI and Anthropic SDKs' models)
holds beside its declared fields, stored as two more fields: the extra fields the data
had, and which fields were set (``model_dump(exclude_unset=True)``, the SDKs' ``to_dict()``,
read it)."""


lookup_class: Final[Callable[[type], ClassInfo | None]] = _by_class.get
"""Returns the `ClassInfo` of an already registered class, or None.

The table's own ``get``, so that the encoder's hot loops pay no extra call.
"""


def set_type_name(obj: Any, name: str | None, aliases: tuple[str, ...]) -> None:
    """Records the explicit type name and the aliases `enact.register` was given for `obj`.

    Called before `register_class` or `register_function`; the name replaces
    ``module.qualname`` in the type id, and each alias is an older name under
    which stored objects are read as objects of `obj`.
    """
    with _lock:
        if name is not None:
            check_type_name(obj, name)
            _explicit_names[obj] = name
        for alias in aliases:
            check_type_name(obj, alias)
        if aliases:
            _pending_aliases[obj] = aliases


_pending_aliases: dict[Any, tuple[str, ...]] = {}


def check_type_name(obj: Any, name: object) -> str:
    """Returns `name` if it can name a type in type ids; raises `RegistrationError`."""
    if not isinstance(name, str) or not name or "{" in name or "}" in name:
        raise RegistrationError(
            f"Cannot register {obj!r} under the type name {name!r}: a type name is a "
            "non-empty str without braces (they end the type id in stored objects), "
            "such as 'myapp.Ticket'."
        )
    return name


def _add_aliases(obj: Any, info: ClassInfo) -> None:
    _by_name[info.name] = info
    aliases = _pending_aliases.pop(obj, ())
    if not aliases:
        # A registered function is its journaling wrapper (functools.wraps).
        aliases = _pending_aliases.pop(getattr(obj, "__wrapped__", None), ())
    for alias in aliases:
        if alias == info.name:
            continue
        _by_name[alias] = info
        if info.kind in (KIND_RESOURCE, KIND_WRAPPER, KIND_FUNCTION):
            # An alias with the same fields reads as fast as the current name.
            _by_type_id[type_id_for(alias, info.field_names).encode("utf-8")] = info


_deferred: list[Callable[[], object]] = []


def defer_registrations(load: Callable[[], object]) -> None:
    """Runs `load`, which registers classes, only when a lookup could need them.

    enact defers its wrappers of standard-library types this way (see
    `enact.wrappers`), so that a process that stores no datetime, UUID,
    Decimal, path or enum member does not import their modules. Every lookup
    that misses (a stored type id, a type name, the wrapper of a value's
    type) first runs what is still deferred and then looks once more; so does
    registering a wrapper, so that one registered later still replaces a
    deferred one for the same type. `load` must be safe to run again and from
    two threads at once, as importing a module is: a lookup that misses while
    another thread runs it runs it too, and so waits for it.
    """
    _deferred.append(load)


def defer_import(module: str) -> None:
    """`defer_registrations` of importing `module`, whose import registers its classes."""
    defer_registrations(functools.partial(importlib.import_module, module))


def is_loaded_type(t: type, modules: Mapping[str, str]) -> bool:
    """Whether `t` is the class that `modules` (class name: module name) names, in a
    module already imported. For standard-library types that enact's tables name
    instead of importing their modules: a value of one means its module was imported."""
    module = sys.modules.get(modules.get(t.__name__, ""))
    return module is not None and getattr(module, t.__name__, None) is t


def load_deferred() -> None:
    """Runs the registrations deferred so far (see `defer_registrations`)."""
    for load in tuple(_deferred):
        load()
        with contextlib.suppress(ValueError):  # another thread ran it too
            _deferred.remove(load)


def register_class(cls: type, kind: int, wrapped_type: type | None = None) -> ClassInfo:
    """Registers a resource class (idempotent) and returns its `ClassInfo`.

    The caller (`enact.resources`) has checked that `cls` is a resource class and
    decided its kind. A class registered under a name that another class already
    has replaces it: re-running a notebook cell that defines a class must work.
    """
    if wrapped_type is not None:
        load_deferred()  # a wrapper registered now replaces a deferred one of the same type
    with _lock:
        existing = _by_class.get(cls)
        if existing is not None:
            _add_aliases(cls, existing)
            return existing
        names = declared_field_names(cls)
        name = type_name(cls)
        check_type_name(cls, name)
        if cls.__dict__.get("__enact_builtin__", False):
            type_id = builtin_type_id(name)
        elif kind == KIND_REF:
            type_id = _ref_subclass_type_id(name, names)
        else:
            type_id = type_id_for(name, names)
        info = ClassInfo(cls, name, type_id, names, kind)
        _by_class[cls] = info
        _by_type_id[info.type_id_bytes] = info
        _add_aliases(cls, info)
        if wrapped_type is not None:
            _wrappers[wrapped_type] = cls
        return info


def _ref_subclass_type_id(name: str, names: tuple[str, ...]) -> str:
    # Ref subclasses carry "ref": true so that tools that do not know the class
    # (gc, copy, verify) still see the link.
    base = json.loads(type_id_for(name, names))
    base["ref"] = True
    return json.dumps(base, sort_keys=True)


def register_function(function: Any, name: str) -> ClassInfo:
    """Registers a plain function as a resource type with no fields."""
    with _lock:
        existing = _by_function.get(function)
        if existing is not None:
            _add_aliases(function, existing)
            return existing
        original = getattr(function, "__wrapped__", None)
        name = _explicit_names.get(function) or _explicit_names.get(original) or name
        check_type_name(function, name)
        info = ClassInfo(type(function), name, type_id_for(name, ()), (), KIND_FUNCTION, function)
        _by_function[function] = info
        _by_type_id[info.type_id_bytes] = info
        _add_aliases(function, info)
        return info


def register_enum(cls: type) -> None:
    """Registers an `enum.Enum` subclass under its type name, for checkout of its members.

    Enum members are stored by the enum's type name and the member's name; a
    later class registered under the same name replaces this one (as for
    resource classes).
    """
    with _lock:
        _enums[type_name(cls)] = cls
        for alias in _pending_aliases.pop(cls, ()):
            _enums[alias] = cls


def enum_named(name: str) -> type | None:
    """Returns the enum class registered under a type name, or None."""
    return _enums.get(name)


def function_info(function: Any) -> ClassInfo | None:
    """Returns the `ClassInfo` of a registered function, or None."""
    if not callable(function):
        # Not hashed: hashing a deeply nested tuple is quadratic across the walk
        # and, past ~100,000 levels, overflows the C stack.
        return None
    try:
        return _by_function.get(function)
    except TypeError:
        return None


def wrapper_for(value_type: type) -> type | None:
    """Returns the wrapper class registered for `value_type` (or a base class), if any."""
    wrapper = _wrappers.get(value_type)
    if wrapper is None:
        wrapper = _find_wrapper(value_type)
        if wrapper is None:
            load_deferred()
            wrapper = _find_wrapper(value_type)
    return wrapper


def _find_wrapper(value_type: type) -> type | None:
    for cls in value_type.__mro__:
        wrapper = _wrappers.get(cls)
        if wrapper is not None:
            return wrapper
    return None


def info_for_type_id(type_id: bytes) -> ClassInfo:
    """Returns the `ClassInfo` for a stored type id; raises `UnknownTypeError`."""
    info = _by_type_id.get(type_id)
    if info is None:
        load_deferred()
        info = _by_type_id.get(type_id)
    if info is not None:
        return info
    stale = stale_info(type_id)
    if stale is not None:
        return stale
    name = describe_type_id(type_id)
    if name.startswith("__main__."):
        raise UnknownTypeError(script_type_message(name), type_name=name)
    raise UnknownTypeError(
        f"Type {name} is not registered in this process. Import the module that "
        f"defines it (enact never imports modules by itself) and decorate it "
        f"with @enact.register; if it was renamed or moved since, register it "
        f"with its old name: @enact.register(aliases=({name!r},)).",
        type_name=name,
    )


def script_type_message(name: str) -> str:
    """Why a type named ``__main__.X`` cannot be read here, and the fix."""
    short = name.removeprefix("__main__.")
    return (
        f"Type {name} is not registered in this process: it was registered by a program "
        "run as a script (its module was __main__), which no other process can import. "
        "Continue with that script, or move the definition into a module, naming it "
        "so that how the program is started does not change it and keeping this name "
        f"as an alias: @enact.register(name='myapp.{short}', aliases=({name!r},)); then "
        "import that module here (--import MODULE)."
    )


_stale: dict[bytes, ClassInfo] = {}


def stale_info(type_id: bytes) -> ClassInfo | None:
    """A `ClassInfo` of kind `KIND_STALE` for a type id of an older version of a class.

    The stored type id names a registered resource class (by its name or an
    alias) but has another digest: the class's fields changed since the
    object was written. Its ``obj`` is the current class's `ClassInfo`; the
    decoder reads the stored fields by name and `enact.encoding` adapts them
    to the current class (or explains why it cannot). None if the name is not
    registered, or names a class whose objects cannot be adapted (refs,
    functions, format constants).
    """
    stale = _stale.get(type_id)
    if stale is not None and _by_class.get(stale.cls) is stale.obj:
        return stale
    try:
        parsed = json.loads(type_id)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or set(parsed) != {"digest", "name"}:
        return None
    name = parsed["name"]
    current = _by_name.get(name) if isinstance(name, str) else None
    if current is None or current.kind not in (KIND_RESOURCE, KIND_WRAPPER):
        return None
    if _by_class.get(current.cls) is not current:
        return None  # replaced by a newer class of the same name
    with _lock:
        stale = ClassInfo(current.cls, name, type_id.decode("utf-8"), (), KIND_STALE, current)
        _stale[type_id] = stale
        return stale


def current_info(name: str) -> ClassInfo | None:
    """The class or function registered under a type name or alias, or None."""
    info = _by_name.get(name)
    if info is None:
        load_deferred()
        info = _by_name.get(name)
    return info


def describe_type_id(type_id: bytes) -> str:
    """Returns the type name inside a stored type id (best effort, for messages)."""
    try:
        parsed = json.loads(type_id)
        name = parsed.get("name")
        if isinstance(name, str):
            return name
    except (ValueError, AttributeError):
        pass
    return type_id.decode("utf-8", "replace")


def is_ref_type_id(type_id: bytes) -> bool:
    """Returns whether a stored type id names a Ref (known here or not)."""
    info = _by_type_id.get(type_id)
    if info is not None:
        return info.kind == KIND_REF
    try:
        parsed = json.loads(type_id)
    except ValueError:
        return False
    return isinstance(parsed, dict) and (
        parsed.get("name") == REF_TYPE_NAME or parsed.get("ref") is True
    )
