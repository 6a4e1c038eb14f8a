"""FileStore: on-disk layout, verify on read, no code execution, crashes and concurrent writers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.workload import Item, item

import enact

HELPERS = Path(__file__).parent / "helpers"


@enact.register
@dataclasses.dataclass
class Doc(enact.Resource):
    name: str
    words: list[str]


def object_path(root: Path, ref: enact.Ref[Any]) -> Path:
    return root / "objects" / ref.digest[:2] / ref.digest[2:]


def object_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "objects").rglob("*") if path.is_file())


def temporary_files(root: Path) -> list[Path]:
    return [path for path in object_files(root) if len(path.name) != 62]


def assert_every_object_verifies(root: Path) -> None:
    """Every file that looks like an object holds bytes that hash to its name."""
    for path in object_files(root):
        if len(path.name) == 62:
            digest = path.parent.name + path.name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


# Layout ------------------------------------------------------------------------------


def test_objects_fan_out_by_the_first_two_hex_digits(tmp_path: Path) -> None:
    """Each object is a file objects/<2 hex>/<62 hex> named by its digest; no temp files remain."""
    with enact.FileStore(tmp_path):
        refs = [enact.commit(Doc(str(i), ["w"] * i)) for i in range(40)]
    files = object_files(tmp_path)
    assert sorted(object_path(tmp_path, ref) for ref in refs) == files
    for path in files:
        assert len(path.parent.name) == 2
        assert len(path.name) == 62
        assert path.parent.parent == tmp_path / "objects"
    assert len({path.parent for path in files}) > 10
    assert temporary_files(tmp_path) == []


def test_stored_bytes_are_the_token_stream_not_pickle(tmp_path: Path) -> None:
    """An object file holds the canonical token stream, which hashes to the ref."""
    with enact.FileStore(tmp_path):
        ref = enact.commit(Doc("d", ["a", "b"]))
    data = object_path(tmp_path, ref).read_bytes()
    assert data.startswith(b"res[")
    assert not data.startswith(b"\x80")
    assert hashlib.sha256(data).hexdigest() == ref.digest
    assert f"{__name__}.Doc".encode() in data


def test_an_existing_object_is_not_rewritten(tmp_path: Path) -> None:
    """Committing content that is already stored keeps the same file (inode and bytes)."""
    with enact.FileStore(tmp_path):
        ref = enact.commit(Doc("d", ["x"]))
    path = object_path(tmp_path, ref)
    before = path.stat()
    content = path.read_bytes()
    listing = sorted(os.listdir(path.parent))
    with enact.FileStore(tmp_path):
        assert enact.commit(Doc("d", ["x"])) == ref
    after = path.stat()
    assert after.st_ino == before.st_ino
    assert after.st_mtime >= before.st_mtime
    assert path.read_bytes() == content
    assert sorted(os.listdir(path.parent)) == listing


def test_reopened_store_checks_out_everything(tmp_path: Path) -> None:
    """A new FileStore on the same directory checks out what an earlier one committed."""
    with enact.FileStore(tmp_path):
        tail = enact.commit(Doc("tail", []))
        head = enact.commit({"next": tail, "set": {1, 2}})
    with enact.FileStore(tmp_path):
        assert head()["next"]() == Doc("tail", [])
        assert head()["set"] == {1, 2}


def test_store_on_a_regular_file_is_a_storage_error(tmp_path: Path) -> None:
    """A FileStore whose root is a regular file raises StorageError (an OSError) naming it."""
    root = tmp_path / "not-a-directory"
    root.write_text("x")
    with pytest.raises(enact.StorageError, match="not-a-directory") as info:
        enact.FileStore(root)
    assert isinstance(info.value, OSError)


# Verify on read --------------------------------------------------------------------


def committed_doc(root: Path) -> tuple[enact.Ref[Any], Path]:
    with enact.FileStore(root):
        ref = enact.commit(Doc("precious", ["data"] * 20))
    return ref, object_path(root, ref)


def test_corrupted_file_is_reported_with_digest_and_path(tmp_path: Path) -> None:
    """A file whose bytes were changed raises CorruptObjectError naming the digest and file."""
    ref, path = committed_doc(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"precious", b"precioua"))
    with enact.FileStore(tmp_path), pytest.raises(enact.CorruptObjectError) as info:
        ref()
    assert info.value.digest == ref.digest
    assert info.value.location == str(path)
    assert ref.digest in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0, 1, 40], ids=["empty", "one byte", "truncated"])
def test_truncated_file_is_reported(tmp_path: Path, keep: int) -> None:
    """A truncated or empty object file raises CorruptObjectError, never a parse error."""
    ref, path = committed_doc(tmp_path)
    path.write_bytes(path.read_bytes()[:keep])
    with enact.FileStore(tmp_path), pytest.raises(enact.CorruptObjectError, match=ref.digest):
        ref()


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    """A deleted object file raises NotFoundError (a LookupError) naming digest and location."""
    ref, path = committed_doc(tmp_path)
    path.unlink()
    with enact.FileStore(tmp_path), pytest.raises(enact.NotFoundError) as info:
        ref()
    assert isinstance(info.value, LookupError)
    assert not isinstance(info.value, FileNotFoundError)
    assert info.value.digest == ref.digest
    assert ref.digest in str(info.value)
    assert str(path) in info.value.location


def test_unreadable_object_is_a_storage_error(tmp_path: Path) -> None:
    """An object path that cannot be read raises StorageError with the OS error as cause."""
    ref, path = committed_doc(tmp_path)
    path.unlink()
    path.mkdir()
    with enact.FileStore(tmp_path), pytest.raises(enact.StorageError) as info:
        ref()
    assert isinstance(info.value.__cause__, OSError)


def plant(root: Path, data: bytes) -> enact.Ref[Any]:
    """Writes `data` into the store under its own SHA-256, as a foreign writer could."""
    digest = hashlib.sha256(data).hexdigest()
    path = root / "objects" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return enact.Ref.from_digest(digest)


def test_bytes_that_hash_but_do_not_parse_are_corrupt(tmp_path: Path) -> None:
    """A correctly named file that is not a token stream raises CorruptObjectError."""
    enact.FileStore(tmp_path)
    for data in (b"hello", b"res[{", b"seq[i1", b"i1i2", b"s'unterminated"):
        ref = plant(tmp_path, data)
        with enact.FileStore(tmp_path), pytest.raises(enact.CorruptObjectError, match=ref.digest):
            ref()


class _Detonator:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_pickle_in_a_store_is_never_unpickled(tmp_path: Path) -> None:
    """A pickle planted in the store is rejected as corrupt, and its code never runs."""
    marker = tmp_path / "unpickled"
    enact.FileStore(tmp_path / "store")
    ref = plant(tmp_path / "store", pickle.dumps(_Detonator(marker)))
    with enact.FileStore(tmp_path / "store"), pytest.raises(enact.CorruptObjectError):
        ref()
    assert not marker.exists()


def type_id(name: str, fields: list[str]) -> str:
    """Type id per FORMAT.md, computed without enact."""
    hasher = hashlib.sha256(name.encode())
    for field in sorted(fields):
        hasher.update(repr(field).encode())
    return json.dumps({"digest": hasher.hexdigest(), "name": name}, sort_keys=True)


@pytest.mark.parametrize("module", ["ghost_module", "os"])
def test_unknown_type_is_named_and_its_module_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """An object of a type not defined here raises UnknownTypeError; nothing is imported."""
    (tmp_path / "ghost_module.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\n"
        "import dataclasses, enact\n"
        "@dataclasses.dataclass\n"
        "class Ghost(enact.Resource):\n"
        "    a: int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"{module}.Ghost"
    store_root = tmp_path / "store"
    enact.FileStore(store_root)
    ref = plant(store_root, f"res[{type_id(name, ['a'])}'a'i1]".encode())
    with enact.FileStore(store_root), pytest.raises(enact.UnknownTypeError) as info:
        ref()
    assert info.value.type_name == name
    assert name in str(info.value)
    assert isinstance(info.value, LookupError)
    assert not (tmp_path / "imported").exists()
    assert "ghost_module" not in sys.modules


# Crashes and concurrent writers ------------------------------------------------------


def test_objects_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    """After kill -9 of a committing process, every ref it reported checks out and verifies."""
    writer = subprocess.Popen(
        [sys.executable, str(HELPERS / "commit_items.py"), str(tmp_path), "0", "1000000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    reported: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(reported) < 1200 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            reported.append(line)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        reported.extend(writer.stdout.readlines())
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert len(reported) >= 1200
    with enact.FileStore(tmp_path):
        for line in reported:
            index, digest = line.split()
            assert enact.Ref.from_digest(digest)() == item(int(index))
    assert_every_object_verifies(tmp_path)


def test_four_processes_commit_overlapping_content(tmp_path: Path) -> None:
    """Four processes committing overlapping items at once leave every object whole."""
    ranges = [(0, 300), (100, 400), (200, 500), (0, 500)]
    writers = [
        subprocess.Popen(
            [sys.executable, str(HELPERS / "commit_items.py"), str(tmp_path), str(a), str(b)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a, b in ranges
    ]
    digests: dict[int, set[str]] = {}
    for writer, (a, b) in zip(writers, ranges, strict=True):
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == b - a
        for line in lines:
            index, digest = line.split()
            digests.setdefault(int(index), set()).add(digest)
    assert sorted(digests) == list(range(500))
    assert all(len(found) == 1 for found in digests.values())
    assert temporary_files(tmp_path) == []
    assert len(object_files(tmp_path)) == 500
    assert_every_object_verifies(tmp_path)
    with enact.FileStore(tmp_path):
        for index, (digest,) in digests.items():
            checked_out = enact.Ref.from_digest(digest)()
            assert isinstance(checked_out, Item)
            assert checked_out == item(index)


def test_failed_name_update_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name update that fails before its rename removes its temporary file."""
    store = enact.FileStore(tmp_path)
    with store:
        ref = enact.commit(1)

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(enact.StorageError, match="No space left"):
        store.set_name("latest", ref)
    monkeypatch.undo()
    assert not [entry for entry in (tmp_path / "names").iterdir() if entry.name != "latest"]
    assert store.get_name("latest") is None


def test_name_file_that_is_not_text_is_a_storage_error(tmp_path: Path) -> None:
    """A damaged name file is reported as a StorageError naming the file."""
    backend = enact.FileBackend(tmp_path / "store")
    store = enact.Store(backend)
    with store:
        ref = enact.commit(1)
        store.set_name("latest", ref)
    damaged = next((tmp_path / "store" / "names").iterdir())
    damaged.write_bytes(b"\xff\xfe\x00not text")
    with pytest.raises(enact.StorageError, match="not UTF-8"):
        backend.get_name("latest")
