"""Finding what makes a value unstorable, and the error that names where it is.

The writers stop at the first problem and call `raise_problem`, which walks
the value again (slowly, recording paths) to build a message such as
``Cannot commit value of type Opaque at $.children[3].value``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

from enact import registry
from enact.errors import CycleError, UnsupportedValueError
from enact.resources import Resource, class_info

_KIND_REF: Final = registry.KIND_REF
_SUPPORTED: Final = (
    "int, float, bool, str, bytes, None, resources, resource classes, refs, lists, "
    "dicts (keyed by any hashable value of these types), and values of types with a "
    "registered ResourceWrapper"
)


def raise_problem(root: Any) -> Any:
    """Finds the first problem in `root` and raises the error that names its path."""
    problem = find_problem(root)
    if problem is None:  # pragma: no cover - the encoder only calls this on a problem
        raise UnsupportedValueError("Value cannot be committed.")
    kind, path, bad = problem
    if type(root).__dict__.get("__enact_builtin__") and path.startswith("$.wrapped"):
        path = "$" + path[len("$.wrapped") :]  # a bare value committed in its wrapper
    shown = _shorten(path)
    if kind == "cycle":
        raise CycleError(
            f"Cannot commit a value that contains itself: the {type(bad).__name__} at "
            f"{shown} is also one of its own containers. Commit the inner value first and "
            "store its Ref instead.",
            path=path,
        )
    if "__pydantic_fields__" in vars(type(bad)) or "__attrs_attrs__" in vars(type(bad)):
        raise UnsupportedValueError(
            f"Cannot commit value of type {_type_name(type(bad))} at {shown}: it is a pydantic "
            "model or attrs class that is not registered. Decorate the class with "
            f"@enact.register, or, for a class you do not own (an SDK's), call "
            f"enact.register({type(bad).__qualname__}) once before committing it.",
            path=path,
            value_type=type(bad),
        )
    if isinstance(bad, Iterator | AsyncIterator):
        # A stream (a generator, an SDK's streamed response): its items come later.
        raise UnsupportedValueError(
            f"Cannot commit value of type {_type_name(type(bad))} at {shown}: it is an "
            "iterator, whose items are produced after it is stored (a generator, a streamed "
            "response). Consume it first and store what it produced: a list (list(...)), "
            "the joined text, or the final message.",
            path=path,
            value_type=type(bad),
        )
    raise UnsupportedValueError(
        f"Cannot commit value of type {_type_name(type(bad))} at {shown}: enact stores "
        f"{_SUPPORTED}. Register a ResourceWrapper for {_type_name(type(bad))} (subclass "
        "enact.ResourceWrapper, return the type from wrapped_type(), decorate it with "
        "@enact.register) or convert the value.",
        path=path,
        value_type=type(bad),
    )


def _type_name(t: type) -> str:
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


_LEAF_TYPES: Final = (int, float, bool, str, bytes, type(None))


def find_problem(root: Any) -> tuple[str, str, Any] | None:
    """Returns ``(kind, path, value)`` of the first value in `root` that cannot be
    stored (kind ``"type"`` or ``"cycle"``), or None.

    The keys of a dict whose keys are not all str are stored, so they are
    checked too, at ``<dict path>.keys()[i]`` (i in insertion order).
    """
    # Each visited node records its parent and the step from it; the path string
    # is built only for the problem found, so deep values stay linear.
    steps: list[tuple[int, str]] = [(-1, "$")]
    pending: list[tuple[Any, int, bool]] = [(root, 0, False)]
    on_path: set[int] = set()
    while pending:
        v, node, leaving = pending.pop()
        if leaving:
            on_path.discard(id(v))
            continue
        t = type(v)
        if t in _LEAF_TYPES:
            continue
        children: list[tuple[Any, str]]
        if t is list:
            children = [(item, f"[{i}]") for i, item in enumerate(v)]
        elif t is dict:
            children = [(item, f"[{key!r}]") for key, item in v.items()]
            if any(type(key) is not str for key in v):  # keys are stored too: check them
                children = [(key, f".keys()[{i}]") for i, key in enumerate(v)] + children
        elif isinstance(v, type):
            if issubclass(v, Resource):
                continue
            return "type", _path(steps, node), v
        elif registry.function_info(v) is not None:
            continue
        else:
            if not isinstance(v, Resource) and registry.lookup_class(t) is None:
                wrapper = registry.wrapper_for(t)
                if wrapper is None:
                    return "type", _path(steps, node), v
                v = wrapper.wrap(v)  # type: ignore[attr-defined]
            info = class_info(type(v))
            if info.kind == _KIND_REF:
                continue
            children = [(getattr(v, name), f".{name}") for name in info.field_names]
        if id(v) in on_path:
            return "cycle", _path(steps, node), v
        on_path.add(id(v))
        pending.append((v, node, True))
        for child, step in reversed(children):
            steps.append((node, step))
            pending.append((child, len(steps) - 1, False))
    return None


def _path(steps: list[tuple[int, str]], node: int) -> str:
    parts: list[str] = []
    while node >= 0:
        node, step = steps[node]
        parts.append(step)
    return "".join(reversed(parts))


def _shorten(path: str) -> str:
    """The path as shown in messages: very deep paths keep their two ends."""
    if len(path) <= 300:
        return path
    return f"{path[:150]}...({len(path) - 270} characters)...{path[-120:]}"
