"""The token stream (docs/FORMAT.md): every writer and reader of the format.

`encode` walks a value once and returns its canonical token stream (the digest
input) together with the digests of the refs it holds. The same bytes are what
backends store, so verifying a stored object is one SHA-256 over what was
read; `decode` parses them back into fresh objects, `scan_links` finds the
refs in them without any class, and `decode_raw` reads them as plain values
for tools that have none of the classes.

The layers above declare what the codec may shortcut: `enact.refs` declares
the plain Ref class (`declare_plain_ref`), `enact.invocations` the box a
response holds its output in (`declare_inline_box`), and `enact.wrappers` the
wrapper of dicts whose keys are not all str (`declare_keyed_dict`). The codec itself names
no class of theirs.

The modules, one per writer or reader, so that a change to the format is made
here and nowhere else::

    _grammar    token patterns shared by every reader; the Ref field name
    _declared   declarations from the layers above, and the generated code built on them
    _writer     encode: the general iterative walk
    _spell      fast writers: recursive speller, per-class spellers, flat containers
    _problems   the error that names where an unstorable value sits
    _reader     decode: the token-by-token loop
    _flat       the per-class regex that reads a resource of primitives in one match
    _links      scan_links
    _plain      read_back: what a value decodes to, without encoding and decoding it
    _raw        decode_raw and the Raw* values it returns
    _compat     reading objects of older versions of a class (and upgrading them)
"""

from __future__ import annotations

from enact.errors import DecodeError

from ._compat import Upgrade, upgrading
from ._declared import declare_inline_box, declare_keyed_dict, declare_plain_ref
from ._links import scan_links
from ._plain import DECODE, read_back
from ._problems import find_problem
from ._raw import RawInt, RawRef, RawResource, RawType, decode_raw, stored_type_name
from ._reader import decode
from ._spell import spell_primitive
from ._writer import encode

__all__ = [
    "DECODE",
    "DecodeError",
    "RawInt",
    "RawRef",
    "RawResource",
    "RawType",
    "Upgrade",
    "declare_inline_box",
    "declare_keyed_dict",
    "declare_plain_ref",
    "decode",
    "decode_raw",
    "encode",
    "find_problem",
    "read_back",
    "scan_links",
    "spell_primitive",
    "stored_type_name",
    "upgrading",
]
