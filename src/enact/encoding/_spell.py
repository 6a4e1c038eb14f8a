"""Fast writers: the recursive speller, per-class spellers and flat containers.

Each shortcuts the general walk of `enact.encoding._writer.encode` for the
values that journals are made of, and gives the same bytes (the property
tests in ``tests/test_encoding_paths.py`` compare them). Each returns None
when a value needs the general walk (deep nesting, cycles, bytes, wrapped
values, ints beyond the digit limit, errors to report).
"""

from __future__ import annotations

import functools
import itertools
import keyword
import linecache
import operator
import types
from typing import Any, Final

from enact import registry
from enact.digests import quote

from ._declared import Speller, declared, fill_rows, ref_row
from ._grammar import BIG_INT, REF_FIELD

_lookup_class: Final = registry.lookup_class
_KIND_REF: Final = registry.KIND_REF
_CLASS_KINDS: Final = frozenset({registry.KIND_RESOURCE, registry.KIND_WRAPPER})
"""Kinds of registered classes that are stored as values (``type[...]``): resources and
wrappers (both Resource subclasses, as the general walk requires)."""
_SPELL_DEPTH: Final = 8
_FLAT_MIN: Final = 8
"""Containers longer than this try the flat paths first."""
_spellers: Final = declared.spellers
_generated: Final = itertools.count(1)


_PRIMITIVES: Final = frozenset({str, int, type(None), bool, float})

_NEG_BIG_INT: Final = -BIG_INT
"""Made once: negating a 4,000-digit int per spelled int costs twice the comparison."""

LONG_TEXT: Final = 256
"""ASCII strings this long are first checked for characters that ``repr`` escapes."""
_PLAIN_ASCII: Final = bytes(c for c in range(0x20, 0x7F) if c not in b"'\\")
"""The characters ``repr`` leaves as they are in a single-quoted str."""


def ascii_literal(v: str) -> str:
    """``repr(v)`` of an ASCII str `v`, without repr's scan when nothing in it needs escaping.

    Long strings in records are often plain (packed columns, digests, base64):
    checking them in C (`bytes.translate`) costs a fifth of ``repr``'s
    character-by-character escaping. Text with quotes or line breaks is
    handed to ``repr`` at once.
    """
    if (
        len(v) >= LONG_TEXT
        and "'" not in v
        and "\n" not in v
        and not v.encode("ascii").translate(None, _PLAIN_ASCII)
    ):
        return "'" + v + "'"
    return repr(v)


def spell_primitive(v: Any) -> str | None:
    """The tokens of a str, int, None, bool or float; None for anything else, and for an
    int too long for ``str`` (the general walk spells it)."""
    t = type(v)
    if t is str:
        if v.isascii():
            return "s" + (repr(v) if len(v) < LONG_TEXT else ascii_literal(v))
        return "s" + quote(v)
    if t is int:
        return "i" + str(v) if _NEG_BIG_INT < v < BIG_INT else None
    if v is None:
        return "n"
    if t is bool:
        return "T" if v else "F"
    if t is float:
        return "f" + repr(v)
    return None


def spell(v: Any, links: list[str], depth: int) -> str | None:
    """Token stream of a small value, or None if it needs the general walk.

    Journals are made of small resources holding primitives, refs, registered
    functions and short lists and dicts; spelling those out recursively (to a
    bounded depth, so neither deep nesting nor cycles can recurse far) is
    several times faster than the general walk's bookkeeping.
    """
    t = type(v)
    if t in _PRIMITIVES:
        return spell_primitive(v)
    if depth > _SPELL_DEPTH:
        return None
    depth += 1
    if t is list:
        if not v:
            return "seq[]"
        if len(v) > _FLAT_MIN:
            flat = flat_list(v)
            if flat is None:
                flat = _flat_resources(v, links, depth)
            if flat is not None:
                return flat
        parts = ["seq["]
        for item in v:
            spelled = spell(item, links, depth)
            if spelled is None:
                return None
            parts.append(spelled)
        parts.append("]")
        return "".join(parts)
    if t is dict:
        if not v:
            return "map[]"
        parts = ["map["]
        try:
            keys = sorted(v) if len(v) > 1 else list(v)
        except TypeError:  # keys of mixed types
            return _spell_keyed(v, links, depth)
        if len(keys) > _FLAT_MIN and set(map(type, keys)) == {str}:
            flat = flat_dict(v, keys)
            if flat is not None:
                return flat
        mark = len(links)
        for key in keys:
            if type(key) is not str:
                del links[mark:]
                return _spell_keyed(v, links, depth)
            spelled = spell(v[key], links, depth)
            if spelled is None:
                return None
            parts.append((repr(key) if key.isascii() else quote(key)) + spelled)
        parts.append("]")
        return "".join(parts)
    info = _lookup_class(t)
    if info is None:
        if isinstance(v, type):  # a class as a value: an input request's requested type
            named = _lookup_class(v)
            if named is None or named.kind not in _CLASS_KINDS:
                return None  # the general walk registers it, or reports it
            return "type[" + named.type_id + "]"
        function = registry.function_info(v)
        return None if function is None else function.prefix + "]"
    if info.kind == _KIND_REF:
        digest: str = v.digest
        links.append(digest)
        return info.prefix + "'" + REF_FIELD + "'s'" + digest + "']"
    speller = _spellers.get(info)
    if speller is None:
        speller = choose_speller(info)
    return speller(v, links, depth)


def _spell_keyed(mapping: dict[Any, Any], links: list[str], depth: int) -> str | None:
    """Token stream of a dict whose keys are not all str: that of its wrapper resource."""
    wrap = declared.keyed_dict
    if wrap is None:
        return None
    try:
        wrapped = wrap(mapping)
    except Exception:  # an unstorable key, a cycle: the general walk reports it
        return None
    info = _lookup_class(type(wrapped))
    if info is None:  # pragma: no cover - the declared wrapper is registered
        return None
    speller = _spellers.get(info)
    if speller is None:
        speller = choose_speller(info)
    return speller(wrapped, links, depth)


def speller_for(info: registry.ClassInfo) -> Speller:
    """The generated speller of one resource class, generated on first use."""
    speller = _spellers.get(info)
    if speller is None:
        speller = _spellers[info] = _make_speller(info)
    return speller


GENERATE_AFTER: Final = 16
"""Values of one class spelled by `_spell_fields` before its speller is generated.

Compiling a speller (0.3 to 0.7 ms) costs as much as the few hundred spells it
then speeds up: a process that spells a class a few times (one that runs one
call spells none more than 4 times) is done sooner without it, and one that
spells it more than this is soon repaid."""
_spelled: Final[dict[registry.ClassInfo, int]] = {}


def choose_speller(info: registry.ClassInfo) -> Speller:
    """The speller to spell a value of one class with now: `_spell_fields` (the same
    tokens) for the class's first `GENERATE_AFTER` values, then `speller_for`'s."""
    speller = _spellers.get(info)
    if speller is None:
        spelled = _spelled.get(info, 0)
        if spelled < GENERATE_AFTER:
            _spelled[info] = spelled + 1
            return functools.partial(_spell_fields, info)
        speller = speller_for(info)
    return speller


def _make_speller(info: registry.ClassInfo) -> Speller:
    """Generates the `spell` step for one resource class, with its fields unrolled.

    Fields holding ASCII str, int, None, a plain Ref or a registered function
    are spelled inline, and so are bools and floats in fields annotated so;
    anything else goes through `spell`. Generated once per
    class, like dataclasses' ``__init__``; only identifiers (field names) and
    ``repr`` literals go into the source, which is registered with `linecache`
    so that tracebacks show it.
    """
    attrs = info.sorted_attrs
    if not all(attr.isidentifier() and not keyword.iskeyword(attr) for attr in attrs):
        return functools.partial(_spell_fields, info)
    lines = ["def speller(v, links, depth):", "    append = links.append"]
    expected = _expected_kinds(info)
    for index, (attr, qname) in enumerate(zip(attrs, info.qnames, strict=True)):
        branches = {
            "str": [
                "if t is str and x.isascii():",
                f"    s{index} = {qname + 's'!r} + (repr(x) if len(x) < long else literal(x))",
            ],
            "int": [
                "if t is int and neg_big < x < big:",
                f"    s{index} = {qname + 'i'!r} + str(x)",
            ],
            "none": ["if x is None:", f"    s{index} = {qname + 'n'!r}"],
            "empty": [
                "if (t is list or t is dict) and not x:",
                f"    s{index} = {qname!r} + ('seq[]' if t is list else 'map[]')",
            ],
            "ref": [
                "if t is ref:",
                "    append(x.digest)",
                f'    s{index} = {qname + declared.ref_head!r} + x.digest + "\']"',
            ],
            "function": [
                "if t is function and (f := function_info(x)) is not None:",
                f"    s{index} = {qname!r} + f.prefix + ']'",
            ],
            "bool": [
                "if t is bool:",
                f"    s{index} = {qname!r} + ('T' if x else 'F')",
            ],
            "float": ["if t is float:", f"    s{index} = {qname + 'f'!r} + repr(x)"],
        }
        # The branches exclude each other (by type), so their order changes only
        # how fast a field is matched: the kind its annotation names is tried first.
        first = expected.get(attr, ())
        order = [*first, *(kind for kind in branches if kind not in _DECLARED_ONLY)]
        lines += ["    x = v." + attr, "    t = type(x)"]
        for number, kind in enumerate(dict.fromkeys(order)):
            head, *body = branches[kind]
            lines.append(("    " if number == 0 else "    el") + head)
            lines += ["    " + line for line in body]
        lines += [
            "    else:",
            "        x = spell(x, links, depth)",
            "        if x is None:",
            "            return None",
            f"        s{index} = {qname!r} + x",
        ]
    pieces = " + ".join([repr(info.prefix), *(f"s{i}" for i in range(len(attrs))), "']'"])
    lines.append(f"    return {pieces}")
    source = "\n".join(lines) + "\n"
    filename = f"<enact speller {next(_generated)} for {info.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {
        "spell": spell,
        "big": BIG_INT,
        "neg_big": _NEG_BIG_INT,
        "long": LONG_TEXT,
        "literal": ascii_literal,
        "ref": declared.ref_class,
        "function": types.FunctionType,
        "function_info": registry.function_info,
    }
    # The source holds identifiers and repr literals only.
    exec(compile(source, filename, "exec"), namespace)
    speller: Speller = namespace["speller"]
    return speller


_DECLARED_ONLY: Final = frozenset({"bool", "float"})
"""Branches a speller has only for fields annotated with their type (`_expected_kinds`):
other fields holding such a value take `spell`."""


def _expected_kinds(info: registry.ClassInfo) -> dict[str, tuple[str, ...]]:
    """Per field, the branches of its speller to try first, from its annotation.

    A field annotated ``Ref[...]`` (or ``Ref[...] | None``) holds a Ref, one
    annotated ``bool`` a bool. Annotations are read as text (modules with
    ``from __future__ import annotations`` keep them so); anything else keeps
    the default order.
    """
    fields = getattr(info.cls, "__dataclass_fields__", None)
    if not isinstance(fields, dict):
        return {}
    kinds: dict[str, tuple[str, ...]] = {}
    for name, field in fields.items():
        text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        if text.startswith("Ref[") or text == "Ref":
            kinds[name] = ("ref", "none")
        elif text == "bool":
            kinds[name] = ("bool",)  # a bool has no branch of its own otherwise
        elif text in ("float", "float | None"):
            kinds[name] = ("float", "none")  # nor has a float (times, scores)
        elif text.startswith(("list[", "dict[")):
            kinds[name] = ("empty",)
    return kinds


def _spell_fields(info: registry.ClassInfo, v: Any, links: list[str], depth: int) -> str | None:
    parts = [info.prefix]
    for qname, item in zip(info.qnames, info.getter(v), strict=True):
        spelled = spell(item, links, depth)
        if spelled is None:
            return None
        parts.append(qname + spelled)
    parts.append("]")
    return "".join(parts)


def _flat_resources(items: list[Any], links: list[str], depth: int) -> str | None:
    """Token stream of a long list of resources of one class (a call's children),
    each spelled by its class's speller without `spell`'s dispatch per item."""
    item_types = set(map(type, items))
    if len(item_types) != 1:
        return None
    info = _lookup_class(item_types.pop())
    if info is None or info.kind == _KIND_REF:
        return None
    if info.kind == registry.KIND_RESOURCE and info.sorted_attrs:
        spelled = _ref_rows(info, items, links)
        if spelled is not None:
            return spelled
    speller = _spellers.get(info)
    if speller is None:
        speller = speller_for(info)  # a long list repays the compiling at once
    parts = ["seq["]
    append = parts.append
    for item in items:
        spelled = speller(item, links, depth)
        if spelled is None:
            return None
        append(spelled)
    append("]")
    return "".join(parts)


def _ref_rows(info: registry.ClassInfo, items: list[Any], links: list[str]) -> str | None:
    """`_flat_resources` of items whose fields all hold plain refs (a call's children,
    each an ``Invocation`` of two), their fields read and spelled column by column in
    C loops; None (and `links` untouched) if a field holds anything else.

    Each item is spelled as its class's speller spells it: the class's prefix, per
    field its key, the plain ref's head, the digest and ``']``, then ``]``.
    """
    ref_class = declared.ref_class
    columns = [list(map(operator.attrgetter(attr), items)) for attr in info.sorted_attrs]
    for column in columns:
        if set(map(type, column)) != {ref_class}:
            return None
    digests = [list(map(_DIGEST_OF, column)) for column in columns]
    for column in digests:
        if set(map(type, column)) != {str}:
            return None
    before, afters = ref_row(info)
    parts = fill_rows(info.prefix + before, afters, digests)
    count = len(columns)
    ordered = [""] * (count * len(items))  # the links in token order: row by row
    for field, column in enumerate(digests):
        ordered[field::count] = column
    links += ordered
    return "seq[" + "".join(parts) + "]"


_DIGEST_OF: Final = operator.attrgetter(REF_FIELD)


def flat_list(items: list[Any]) -> str | None:
    """Token stream of a long list of one primitive type, built in C loops."""
    item_types = set(map(type, items))
    if len(item_types) != 1:
        return None
    item_type = item_types.pop()
    try:
        if item_type is int:
            return "seq[i" + "i".join(map(str, items)) + "]"
        if item_type is float:
            return "seq[f" + "f".join(map(repr, items)) + "]"
        if item_type is str and "".join(items).isascii():
            return "seq[s" + "s".join(map(repr, items)) + "]"
    except ValueError:  # an int above the int-to-str digit limit
        return None
    return None


def flat_dict(mapping: dict[str, Any], keys: list[str]) -> str | None:
    """Token stream of a long str-keyed dict whose values are all ASCII str or all int."""
    if not "".join(keys).isascii():
        return None
    values = list(map(mapping.__getitem__, keys))
    value_types = set(map(type, values))
    if value_types == {str}:
        if not "".join(values).isascii():
            return None
        return "map[" + "".join([f"{k!r}s{x!r}" for k, x in zip(keys, values, strict=True)]) + "]"
    if value_types == {int}:
        try:
            return "map[" + "".join([f"{k!r}i{x}" for k, x in zip(keys, values, strict=True)]) + "]"
        except ValueError:
            return None
    return None
