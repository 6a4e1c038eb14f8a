"""What a fresh process loads with ``import enact``, and the values whose modules it defers.

Each test runs a fresh interpreter: the test process has imported everything.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import os
import pathlib
import subprocess
import sys
import uuid
from pathlib import Path

import enact

_DEFERRED = ("enact.stdlib_wrappers", "uuid", "decimal", "difflib", "signal")
"""Modules a process that runs calls does not need, so ``import enact`` does not import."""

_VALUES = """
import datetime, decimal, enum, pathlib, uuid

class Color(enum.Enum):
    RED = "red"

VALUES = {
    "datetime": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    "date": datetime.date(2024, 5, 6),
    "time": datetime.time(7, 8, 9),
    "timedelta": datetime.timedelta(days=2, seconds=3),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("1.50"),
    "path": pathlib.PurePosixPath("/srv/data.csv"),
    "enum": Color.RED,
    "keyed": {uuid.UUID(int=2): "b", uuid.UUID(int=1): "a"},
}
"""


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_enact_does_not_import_the_deferred_modules() -> None:
    """``import enact`` leaves the stdlib wrappers, uuid, decimal, difflib and signal unloaded."""
    code = f"import sys, enact; print([m for m in {_DEFERRED!r} if m in sys.modules])"
    assert _run(code).strip() == "[]"


def _values_here() -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(_VALUES, namespace)
    values = namespace["VALUES"]
    assert isinstance(values, dict)
    return values


def _digests_here() -> dict[str, str]:
    with enact.InMemoryStore():
        return {key: enact.commit(value).digest for key, value in _values_here().items()}


def test_fresh_processes_commit_and_check_out_deferred_wrapper_types(tmp_path: Path) -> None:
    """A fresh process commits datetimes, UUIDs, Decimals, paths and enum members with the
    digests this process gives them, and another checks them out, loading their wrappers then."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    write = f"""{_VALUES}
import json, sys, enact
with enact.open_store({url!r}) as store:
    loaded = "enact.stdlib_wrappers" in sys.modules
    digests = {{key: enact.commit(value).digest for key, value in VALUES.items()}}
print(json.dumps({{"loaded_before": loaded, "digests": digests}}))
"""
    written = json.loads(_run(write))
    assert written["loaded_before"] is False
    digests = written["digests"]
    expected = _digests_here()
    # The enum's digest names its class (__main__.Color there): compare the others.
    assert {k: v for k, v in digests.items() if k != "enum"} == {
        k: v for k, v in expected.items() if k != "enum"
    }

    read = f"""{_VALUES}
import json, sys, enact
digests = {digests!r}
with enact.open_store({url!r}) as store:
    loaded = "enact.stdlib_wrappers" in sys.modules
    same = {{key: enact.Ref(digest)() == VALUES[key] for key, digest in digests.items()}}
    keyed = list(enact.Ref(digests["keyed"])())
    again = {{key: enact.commit(value).digest for key, value in VALUES.items()}}
print(json.dumps({{"loaded_before": loaded, "same": same, "order": [str(k) for k in keyed],
                  "again": again == digests}}))
"""
    checked = json.loads(_run(read))
    assert checked["loaded_before"] is False
    assert checked["same"] == dict.fromkeys(digests, True)
    assert checked["order"] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
    assert checked["again"] is True


def test_a_wrapper_registered_before_the_deferred_ones_still_replaces_them() -> None:
    """A user's wrapper for UUID, registered before anything loads the built-in ones, wins."""
    code = """
import dataclasses, decimal, uuid, enact

@enact.register
@dataclasses.dataclass
class MyUUIDWrapper(enact.ResourceWrapper[uuid.UUID]):
    hex: str

    @classmethod
    def wrapped_type(cls):
        return uuid.UUID

    @classmethod
    def wrap(cls, value):
        return cls(value.hex)

    def unwrap(self):
        return uuid.UUID(self.hex)

print(type(enact.wrap(uuid.UUID(int=1))).__name__, type(enact.wrap(decimal.Decimal(2))).__name__)
"""
    assert _run(code).split() == ["MyUUIDWrapper", "DecimalWrapper"]


def test_values_of_deferred_types_read_back_in_a_fresh_process() -> None:
    """A journaled call returning such values gives them back equal, in a fresh process."""
    code = f"""{_VALUES}
import enact

EXPECTED = dict((k, v) for k, v in VALUES.items() if k != "keyed")

@enact.register
def values() -> dict:
    return dict(EXPECTED)

@enact.register
def caller() -> bool:
    got = values()  # read back from what was journaled
    return got == EXPECTED and {{k: type(v) for k, v in got.items()}} == {{
        k: type(v) for k, v in EXPECTED.items()}}

with enact.InMemoryStore():
    print(enact.invoke(caller).get_output(), enact.invoke(values).get_output() == EXPECTED)
"""
    assert _run(code).split() == ["True", "True"]


def test_the_values_used_here_are_of_the_deferred_types() -> None:
    """The values above cover each deferred wrapper's type (a guard on this file)."""
    values = _values_here()
    types = {type(value) for value in values.values()}
    assert {datetime.datetime, datetime.date, datetime.time, datetime.timedelta} <= types
    assert {uuid.UUID, decimal.Decimal, pathlib.PurePosixPath} <= types
    assert any(isinstance(value, enum.Enum) for value in values.values())


def test_a_fresh_process_reads_a_stored_cache_entry(tmp_path: Path) -> None:
    """``import enact`` does not import the call cache, yet a stored CacheEntry checks out."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    write = f"""
import enact

@enact.register(cache=True)
def double(x: int) -> int:
    return 2 * x

with enact.open_store({url!r}):
    enact.invoke(double, (21,))
"""
    _run(write)
    read = f"""
import sys, enact
loaded = "enact.invocations.cache" in sys.modules
with enact.open_store({url!r}) as store:
    ((name, ref),) = store.list_names("enact/cache/")
    entry = ref()
    response = entry.response()
print(loaded, type(entry).__name__, type(response).__name__)
"""
    assert _run(read).split() == ["False", "CacheEntry", "Response"]


def test_threads_that_first_need_the_deferred_wrappers_at_once_all_get_them() -> None:
    """Threads of a fresh process that store such values at the same moment all succeed."""
    code = f"""{_VALUES}
import json, threading, enact

barrier = threading.Barrier(len(VALUES))
digests, errors = {{}}, []

shared = enact.InMemoryStore()

def store(key):
    barrier.wait()
    try:
        digests[key] = shared.commit(VALUES[key]).digest
    except Exception as err:
        errors.append(repr(err))

threads = [threading.Thread(target=store, args=(key,)) for key in VALUES]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({{"digests": digests, "errors": errors}}))
"""
    result = json.loads(_run(code))
    assert result["errors"] == []
    expected = _digests_here()
    assert {k: v for k, v in result["digests"].items() if k != "enum"} == {
        k: v for k, v in expected.items() if k != "enum"
    }


_ONE_CALL = """
import sys, enact

@enact.register
def one(x: int) -> int:
    return x + 1

with enact.SQLiteStore(sys.argv[1]) as store:
    assert enact.invoke(one, (1,)).get_output() == 2
store.close()
print(sorted(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_a_process_that_runs_one_call_loads_none_of_the_modules_it_does_not_need(
    tmp_path: Path,
) -> None:
    """A fresh interpreter (``-S``: no site-packages hooks of this machine) that runs one
    journaled call on a new SQLite file loads no socket, URL, path, random or base64 module:
    each is imported where it is used (host names from os.uname, run ids and tokens from
    os.urandom, the old timing forms' base64 when read)."""
    src = str(Path(enact.__file__).resolve().parents[1])
    modules = ["socket", "urllib.parse", "pathlib", "random", "base64", "uuid", "decimal"]
    result = subprocess.run(
        [sys.executable, "-S", "-c", _ONE_CALL, str(tmp_path / "one.db"), *modules],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    with enact.SQLiteStore(tmp_path / "one.db") as store:
        assert [run.status for run in enact.list_runs()] == ["complete"]
    store.close()
