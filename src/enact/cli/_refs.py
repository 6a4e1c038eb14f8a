"""Finding objects by what users type: names, digests, digest prefixes, and runs (@N)."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any, Final

from enact.cli import _raw
from enact.cli._app import CLIError, Session
from enact.errors import InvalidNameError
from enact.invocations.engine import RUN_LOG_PREFIX, Invocation
from enact.refs import Ref
from enact.stores.base import UnsupportedOperationError
from enact.stores.store import Store

MIN_PREFIX: Final = 4
"""The shortest digest prefix accepted as a REF."""

_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_RUN_NAME: Final = re.compile(re.escape(RUN_LOG_PREFIX) + r"([0-9]{20})-[0-9a-f]{12}")
_RUN_INDEX: Final = re.compile(r"@([0-9]*)")
_SHOWN_CANDIDATES: Final = 5


@dataclasses.dataclass(frozen=True)
class Run:
    """A top-level invocation, as logged under ``runs/`` when it finished.

    Attributes:
        name: The log name, ``runs/<time_ns>-<digest[:12]>``.
        ref: The `Invocation`.
        time_ns: When it finished, in nanoseconds since the epoch.
    """

    name: str
    ref: Ref[Invocation]
    time_ns: int

    @property
    def time(self) -> datetime.datetime:
        """When the run finished, in local time."""
        return datetime.datetime.fromtimestamp(self.time_ns / 1e9).astimezone()


def is_run_name(name: str) -> bool:
    """Returns whether `name` is one that `enact.invoke` wrote to log a run."""
    return _RUN_NAME.fullmatch(name) is not None


def runs(names: dict[str, Ref[Any]]) -> list[Run]:
    """Returns the logged runs among `names`, newest first."""
    found = []
    for name, ref in names.items():
        match = _RUN_NAME.fullmatch(name)
        if match is not None:
            found.append(Run(name, ref, int(match.group(1))))
    found.sort(key=lambda run: run.name, reverse=True)
    return found


@dataclasses.dataclass(frozen=True)
class Resolved:
    """What a REF argument named.

    Attributes:
        text: The REF as typed.
        ref: The object.
        name: The store name it was found under (a ``runs/`` name for @N), or None.
    """

    text: str
    ref: Ref[Any]
    name: str | None = None


def resolve(store: Store, text: str, where: str) -> Resolved:
    """Finds the object a REF names: a name, @N, a full digest, or a unique prefix.

    Names win over digest prefixes (a name may look like hex).

    Raises:
        CLIError: Nothing matches, or a prefix matches several objects.
    """
    try:
        named = store.get_name(text) if text else None
    except InvalidNameError:
        named = None
    if named is not None:
        return Resolved(text, named, text)
    index = _RUN_INDEX.fullmatch(text)
    if index is not None:
        return _nth_run(store, text, int(index.group(1) or 1), where)
    if len(text) >= MIN_PREFIX and _HEX.fullmatch(text):
        return Resolved(text, _by_digest(store, text.lower(), where))
    raise CLIError(
        f"No name {text!r} in store {where}, and {text!r} is neither a digest nor a prefix of "
        f"one ({MIN_PREFIX} to 64 hex digits) nor @N: run `enact log` to list names and runs."
    )


def resolve_for(session: Session, text: str) -> Resolved:
    """`resolve` in the session's store; errors from now on name this REF."""
    resolved = resolve(session.store(), text, session.where)
    shown = resolved.ref.digest[:12]
    session.subject = text if text == shown else f"{text} ({shown})"
    return resolved


def _nth_run(store: Store, text: str, n: int, where: str) -> Resolved:
    logged = runs(store.names())
    if not 1 <= n <= len(logged):
        raise CLIError(
            f"No run {text} in store {where}: it has {len(logged)} logged run(s); @1 is the "
            "latest (see `enact log`)."
        )
    run = logged[n - 1]
    return Resolved(text, run.ref, run.name)


def _by_digest(store: Store, digest: str, where: str) -> Ref[Any]:
    if len(digest) == 64:
        ref: Ref[Any] = Ref.from_digest(digest)
        if not store.has(ref):
            raise CLIError(
                f"No object {digest} in store {where}: check the digest, or copy the object "
                "here from the store that has it (enact copy)."
            )
        return ref
    try:
        found = store.backend.digests_with_prefix(digest, limit=_SHOWN_CANDIDATES + 1)
    except UnsupportedOperationError as err:
        raise CLIError(
            f"Store {where} cannot look up digest prefixes ({err}): give the full digest."
        ) from err
    if not found:
        raise CLIError(
            f"No object or name matches {digest!r} in store {where}: run `enact log` to list "
            "names and runs."
        )
    if len(found) > 1:
        shown = ", ".join(candidate[:16] for candidate in found[:_SHOWN_CANDIDATES])
        more = " and more" if len(found) > _SHOWN_CANDIDATES else ""
        raise CLIError(
            f"Digest prefix {digest!r} is ambiguous in store {where}: it matches {shown}{more}. "
            "Give more digits."
        )
    return Ref._unchecked(found[0])


INVOCATION_TYPE: Final = Invocation.__enact_type_name__


def invocation_tokens(store: Store, resolved: Resolved) -> bytes:
    """The token stream of the invocation a REF names.

    Raises:
        CLIError: The object is not an invocation.
    """
    tokens = store.read_tokens(resolved.ref)
    name = _raw.type_name(tokens)
    if name != INVOCATION_TYPE:
        what = f"a {name}" if name and not name.startswith(_raw.WRAPPER_PREFIX) else "a value"
        raise CLIError(
            f"{resolved.text} ({resolved.ref.digest[:12]}) is {what}, not an invocation: "
            f"`enact show {resolved.text}` prints it."
        )
    return tokens


def load_invocation(store: Store, resolved: Resolved) -> Invocation:
    """Checks out the invocation a REF names.

    Raises:
        CLIError: The object is not an invocation.
    """
    invocation_tokens(store, resolved)
    invocation: Invocation = store.checkout(resolved.ref)
    return invocation
