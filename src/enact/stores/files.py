"""A backend that keeps one file per object in a directory tree.

Layout: ``ROOT/objects/ab/cdef…`` (the first two hex digits fan out into 256
subdirectories) and ``ROOT/names/`` for named refs.

Promises: an object file appears only whole. Each object is written to a
temporary file in its target directory, fsynced, and renamed into place, so a
crash (even ``kill -9`` or power loss, with ``fsync=True``) leaves either the
complete object or no object, never a truncated one. Several processes may
commit to the same directory at once; identical content is simply written by
whoever comes first. Names are updated under an exclusive lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enact.digests import is_digest
from enact.errors import StorageError
from enact.stores.base import ANY, PackedResource, StorageBackend, name_conflict
from enact.stores.store import Store
from enact.stores.verified import intact

if TYPE_CHECKING:
    from enact.refs import Ref

_TMP_PREFIX = ".tmp-"
_MAX_NAME_FILE = 200  # bytes; file systems allow 255
# File times come from the kernel's coarse clock, up to a tick (<= 10 ms) behind
# time.time(): an object is "committed before" a cutoff only if its mtime is
# this much earlier, so a commit made just after the cutoff never looks older.
_CLOCK_SLACK = 0.02


class FileBackend(StorageBackend):
    """Stores objects as files under `root`.

    Args:
        root: The store's directory; created if missing.
        fsync: Whether to fsync each object and its directory before reporting
            the commit (durable against power loss). Without it a commit still
            survives a crash of the process, but not of the machine.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._names = self.root / "names"
        self._fsync = fsync
        _check_is_store(self.root)
        try:
            self._objects.mkdir(parents=True, exist_ok=True)
            self._names.mkdir(exist_ok=True)
        except OSError as err:
            raise StorageError(f"Cannot create the file store at {self.root}: {err}") from err

    def __repr__(self) -> str:
        return f"FileBackend({str(self.root)!r})"

    def _path(self, digest: str) -> Path:
        # Digests come from callers and from stored names and objects: never join
        # anything but 64 hex digits into a path (a hostile "../x" would escape).
        if not is_digest(digest):
            raise StorageError(
                f"Refusing to look up object {digest!r:.80} in {self.root}: it is not a "
                "64-hex-digit digest (read from damaged or hostile data?)."
            )
        return self._objects / digest[:2] / digest[2:]

    def locate(self, digest: str) -> str:
        if not is_digest(digest):  # (for messages: never raise)
            return f"{self.root} (no object: {digest!r:.80} is not a digest)"
        return str(self._path(digest))

    def commit(self, packed_resource: PackedResource) -> None:
        directory = self._write(packed_resource)
        if directory is not None and self._fsync:
            self._fsync_directories({directory})

    def commit_many(self, packed_resources: Iterable[PackedResource]) -> None:
        # Each object is fsynced before its rename; each directory once at the end,
        # before the batch is reported committed.
        directories: set[Path] = set()
        for packed in packed_resources:
            directory = self._write(packed)
            if directory is not None:
                directories.add(directory)
        if self._fsync:
            self._fsync_directories(directories)

    def replace_many(self, packed_resources: Iterable[PackedResource]) -> None:
        directories: set[Path] = set()
        for packed in packed_resources:
            path = self._path(packed.digest)
            try:
                path.parent.mkdir(exist_ok=True)
                _replace_atomically(path, packed.data, fsync=self._fsync)
            except OSError as err:
                raise StorageError(
                    f"Cannot replace object {packed.digest} at {path}: {err}"
                ) from err
            directories.add(path.parent)
        if self._fsync:
            self._fsync_directories(directories)

    def _write(self, packed_resource: PackedResource) -> Path | None:
        """Writes one object into place; returns its directory, or None if it was there."""
        path = self._path(packed_resource.digest)
        try:
            try:
                # Already stored: freshen the time so that a running gc treats it as
                # new. If gc deleted it just now, fall through and write it again.
                os.utime(path)
                if self._stored_intact(path, packed_resource):
                    return None
                # Its stored bytes do not verify: the commit repairs it (below).
            except FileNotFoundError:
                pass
            except PermissionError:
                return None  # someone else's object: present, just not ours to touch
            directory = path.parent
            directory.mkdir(exist_ok=True)
            _replace_atomically(path, packed_resource.data, fsync=self._fsync)
            return directory
        except OSError as err:
            raise StorageError(
                f"Cannot write object {packed_resource.digest} to {path}: {err}"
            ) from err

    def _stored_intact(self, path: Path, packed: PackedResource) -> bool:
        """Whether the file at `path` holds `packed` (the same bytes, or others that
        verify): if not, committing `packed` replaces it."""
        try:
            with open(path, "rb") as source:
                stored = source.read(len(packed.data) + 1)
                if stored == packed.data:
                    return True
                stored += source.read()
        except FileNotFoundError:
            return False  # deleted (by gc) meanwhile: write it again
        return intact(PackedResource(packed.digest, stored), self.locate)

    def _fsync_directories(self, directories: set[Path]) -> None:
        for directory in directories:
            try:
                _fsync_dir(directory)
            except OSError as err:
                raise StorageError(f"Cannot fsync directory {directory}: {err}") from err

    def has(self, ref: Ref[Any]) -> bool:
        return self._path(ref.digest).is_file()

    def get(self, ref: Ref[Any]) -> PackedResource | None:
        path = self._path(ref.digest)
        try:
            with open(path, "rb") as source:
                data = source.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StorageError(f"Cannot read object {ref.digest} from {path}: {err}") from err
        return PackedResource(ref.digest, data)

    def iter_digests(self) -> Iterator[str]:
        try:
            for directory in sorted(self._objects.iterdir()):
                if len(directory.name) != 2 or not directory.is_dir():
                    continue
                for entry in sorted(os.listdir(directory)):
                    if not entry.startswith(_TMP_PREFIX) and len(entry) == 62:
                        yield directory.name + entry
        except OSError as err:
            raise StorageError(f"Cannot list the objects in {self._objects}: {err}") from err

    def committed_before(self, digests: Iterable[str], cutoff: float) -> set[str]:
        old: set[str] = set()
        for digest in digests:
            try:
                if os.stat(self._path(digest)).st_mtime < cutoff - _CLOCK_SLACK:
                    old.add(digest)
            except FileNotFoundError:
                continue
        return old

    def delete_many(self, digests: Iterable[str], *, committed_before: float | None = None) -> int:
        deleted = 0
        for digest in digests:
            path = self._path(digest)
            try:
                if committed_before is None:
                    os.unlink(path)
                    deleted += 1
                elif self._delete_if_old(path, committed_before - _CLOCK_SLACK):
                    deleted += 1
            except FileNotFoundError:
                continue
            except OSError as err:
                raise StorageError(f"Cannot delete {path}: {err}") from err
        return deleted

    def _delete_if_old(self, path: Path, cutoff: float) -> bool:
        """Deletes the object at `path` unless it was (re-)committed at or after `cutoff`.

        The time check and the deletion cannot be one system call, so the file is
        first renamed out of the way (a commit from then on finds no object and
        writes it again), then its time is checked once more: if a re-commit
        touched it before the rename, it is put back.
        """
        if os.stat(path).st_mtime >= cutoff:
            return False
        doomed = path.with_name(f"{_TMP_PREFIX}gc-{path.name}")
        os.rename(path, doomed)
        try:
            if os.stat(doomed).st_mtime < cutoff:
                return True
            with contextlib.suppress(FileExistsError):  # (written again meanwhile)
                os.link(doomed, path)
            return False
        finally:
            os.unlink(doomed)

    def remove_stale_temporaries(self, older_than: float = 3600.0) -> int:
        """Deletes temporary files left by crashed writers; returns how many."""
        cutoff = time.time() - older_than
        removed = 0
        for directory in self._objects.iterdir():
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                if entry.name.startswith(_TMP_PREFIX):
                    with contextlib.suppress(FileNotFoundError):
                        if entry.stat().st_mtime < cutoff:
                            entry.unlink()
                            removed += 1
        return removed

    # Named refs: one file per name, replaced atomically under a lock. The file
    # is named by the URL-quoted name (a leading dot quoted too, so that "." and
    # ".." stay inside the directory, and a leading "~" too, which only the hashed
    # form below starts with, so that no name can alias another), or by "~" and a
    # hash of the name when that is too long for a file name; it holds the digest
    # and, on a second line, the name.

    def _name_path(self, name: str) -> Path:
        if not name:
            raise ValueError("A name must not be empty.")
        quoted = urllib.parse.quote(name, safe="")
        if quoted.startswith("."):
            quoted = "%2E" + quoted[1:]
        elif quoted.startswith("~"):
            quoted = "%7E" + quoted[1:]
        if len(quoted) > _MAX_NAME_FILE:
            quoted = "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()
        return self._names / quoted

    def _read_name_file(self, path: Path) -> tuple[str, str | None]:
        """Returns the digest and the name (None in files written without it).

        Raises:
            StorageError: The file is empty, truncated or not enact's: a name
                that silently vanished would let gc collect what it pointed at.
        """
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as err:
            raise StorageError(
                f"Name file {path} is not UTF-8 text: it was not written by enact; "
                "delete it or restore it from a copy."
            ) from err
        digest, _, name = text.partition("\n")
        digest = digest.strip()
        if not is_digest(digest):
            shown = repr(digest[:80]) if digest else "nothing"
            raise StorageError(
                f"Name file {path} is damaged: it holds {shown} where a 64-hex-digit digest "
                "belongs (empty or truncated). Set the name again or restore the file from "
                "a copy; until then gc does not know what it protected."
            )
        return digest, name or None

    @contextlib.contextmanager
    def _names_locked(self) -> Iterator[None]:
        with open(self.root / "names.lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def get_name(self, name: str) -> str | None:
        try:
            return self._read_name_file(self._name_path(name))[0]
        except FileNotFoundError:
            return None
        except StorageError:
            raise
        except OSError as err:
            raise StorageError(f"Cannot read name {name!r} in {self._names}: {err}") from err

    def set_name(self, name: str, digest: str | None, *, expected: Any = ANY) -> None:
        path = self._name_path(name)
        try:
            with self._names_locked():
                if expected is not ANY:  # (a damaged file can still be overwritten)
                    actual = self.get_name(name)
                    if expected != actual:
                        raise name_conflict(name, str(self.root), expected, actual)
                if digest is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    return
                _replace_atomically(path, f"{digest}\n{name}".encode(), fsync=self._fsync)
                if self._fsync:
                    _fsync_dir(self._names)
        except StorageError:
            raise
        except OSError as err:
            raise StorageError(f"Cannot update name {name!r} in {self._names}: {err}") from err

    def iter_names(self) -> Iterator[tuple[str, str]]:
        """Yields every name; raises `StorageError` naming each damaged name file (after
        reading them all), since a name that silently vanished would let gc collect it."""
        entries = []
        damaged: list[str] = []
        for entry in self._names.iterdir():
            if entry.name.startswith(_TMP_PREFIX):
                continue
            try:
                digest, name = self._read_name_file(entry)
            except FileNotFoundError:
                continue  # deleted while listing
            except StorageError as err:
                damaged.append(str(err))
                continue
            except OSError as err:
                raise StorageError(f"Cannot read name file {entry}: {err}") from err
            entries.append((name or urllib.parse.unquote(entry.name), digest))
        if damaged:
            raise StorageError(" ".join(sorted(damaged)))
        return iter(sorted(entries))


class FileStore(Store):
    """A store in a directory tree: ``Store(FileBackend(root))``.

    Args:
        root: The directory; created if missing.
        fsync: See `FileBackend`.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, fsync: bool = True, durability: str = "call"
    ) -> None:
        super().__init__(FileBackend(root, fsync=fsync), durability=durability)


def _check_is_store(root: Path) -> None:
    """Refuses to turn something that is not a file store into one.

    A missing or empty directory becomes a store; a directory holding other
    things (no ``objects/``) or a file is another program's, and enact would
    otherwise add its directories to it.
    """
    try:
        if not root.exists():
            return
        if not root.is_dir():
            raise StorageError(
                f"Cannot open {root} as a file store: it is a file, not a directory. "
                "Use file:///DIR for a directory store, sqlite:///PATH for an SQLite file."
            )
        # Only enact's own entries, or none: another process may be creating this
        # store at the same moment (it makes objects/ and then names/).
        if (root / "objects").is_dir() or all(
            entry.name in ("objects", "names") for entry in root.iterdir()
        ):
            return
    except OSError as err:
        raise StorageError(f"Cannot open the file store at {root}: {err}") from err
    raise StorageError(
        f"Cannot open {root} as a file store: the directory is not empty and holds no "
        "objects/ directory, so it is not an enact store. Name a new or empty directory, "
        "or the directory of an existing store."
    )


def _replace_atomically(path: Path, data: bytes, *, fsync: bool) -> None:
    """Makes `path` hold `data`, whole or not at all: a temporary file beside it,
    fsynced (if asked), renamed into place; removed again if anything fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
