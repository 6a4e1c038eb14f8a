"""The SQLite store's call log: journaled calls appended to a file, folded into the tables later.

With per-call durability every journaled call's record (its request, its
response, its journal entry) must be in the store before its caller sees
the result. One SQLite transaction per call costs about half of what a
journaled call costs (locks, a commit record, the names page and two
random B-tree leaves written to the WAL each time). Instead, each process
appends its calls' records to a log file of its own beside the database, in
one ``write`` each: once that returns, the record survives the process
(``kill -9`` included), as a commit in ``synchronous=NORMAL`` does. The
records are folded into the tables, in one transaction with whatever the
process writes next (the run's next state, a lease renewal, any other
write) or before it reads, and the log is emptied after that commit.

The file is ``<database>-calls/<pid>-<token>.log``; its process holds an
exclusive ``flock`` on it while it is open. A log whose lock can be taken
belongs to a process that is gone: whoever opens or reads the store next
folds its records into the tables and deletes it. A reader (another process,
or another store object on the same file) also folds what a live process's
log holds before it reads, so it sees every call that has returned, as it
would see committed transactions. Folding a record twice is harmless
(objects are content-addressed, a journal entry names one response), so a
crash between the fold's commit and emptying the log loses and duplicates
nothing; a reader reads a log inside its write transaction, so it cannot
put back journal entries that the log's process deleted after folding them.
A record cut short by a crash mid-append (or damaged) ends the log: its
checksum does not match, and neither it nor anything after it is read; its
call had not returned.

A record: ``ECL1``, the body's length and CRC-32 (little-endian 32-bit),
then the body: the count of objects, each as its raw 32-byte digest, its
length and its stored bytes; the count of names, each as its UTF-8 length
(16 bits), the name and the 64 hex digits of its digest.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Final

from enact.stores.base import PackedResource

try:
    import fcntl
except ImportError:  # no flock (Windows): the SQLite store commits each call instead
    AVAILABLE = False
else:
    AVAILABLE = True

MAGIC: Final = b"ECL1"
_HEAD: Final = struct.Struct("<4sII")
_COUNT: Final = struct.Struct("<I")
_NAME_LENGTH: Final = struct.Struct("<H")
_SUFFIX: Final = ".log"

Names = list[tuple[str, str]]


def log_directory(database: str) -> str:
    """Where the call logs of the SQLite file `database` are kept."""
    return database + "-calls"


def encode_record(packed: list[PackedResource], names: Names) -> bytes:
    """One record of the log: `packed` objects and `names` (see the module docstring)."""
    parts = [_COUNT.pack(len(packed))]
    for resource in packed:
        data = resource.data
        parts += (bytes.fromhex(resource.digest), _COUNT.pack(len(data)), data)
    parts.append(_COUNT.pack(len(names)))
    for name, digest in names:
        encoded = name.encode("utf-8")
        parts += (_NAME_LENGTH.pack(len(encoded)), encoded, digest.encode("ascii"))
    body = b"".join(parts)
    return _HEAD.pack(MAGIC, len(body), zlib.crc32(body)) + body


def decode_records(data: bytes) -> Iterator[tuple[list[PackedResource], Names]]:
    """The whole records at the start of `data`, up to the first that is cut short or damaged."""
    at = 0
    while at + _HEAD.size <= len(data):
        magic, length, checksum = _HEAD.unpack_from(data, at)
        body = data[at + _HEAD.size : at + _HEAD.size + length]
        if magic != MAGIC or len(body) != length or zlib.crc32(body) != checksum:
            return
        try:
            yield _decode_body(body)
        except (struct.error, ValueError, UnicodeDecodeError):
            return  # a checksum collision on damaged bytes: read no further
        at += _HEAD.size + length


def _decode_body(body: bytes) -> tuple[list[PackedResource], Names]:
    (count,) = _COUNT.unpack_from(body, 0)
    at = _COUNT.size
    packed = []
    for _ in range(count):
        digest = body[at : at + 32].hex()
        (length,) = _COUNT.unpack_from(body, at + 32)
        at += 32 + _COUNT.size
        data = body[at : at + length]
        if len(digest) != 64 or len(data) != length:
            raise ValueError("an object cut short")
        packed.append(PackedResource(digest, data, None))
        at += length
    (count,) = _COUNT.unpack_from(body, at)
    at += _COUNT.size
    names = []
    for _ in range(count):
        (length,) = _NAME_LENGTH.unpack_from(body, at)
        at += _NAME_LENGTH.size
        name = body[at : at + length].decode("utf-8")
        digest = body[at + length : at + length + 64].decode("ascii")
        if len(digest) != 64:
            raise ValueError("a name cut short")
        names.append((name, digest))
        at += length + 64
    if at != len(body):
        raise ValueError("bytes after the last name")
    return packed, names


class CallLog:
    """This process's log file of one database (opened on the first record)."""

    __slots__ = ("directory", "fd", "path", "pid")

    def __init__(self, database: str) -> None:
        self.directory = log_directory(database)
        self.fd = -1
        self.path = ""
        self.pid = 0

    def append(self, record: bytes) -> int:
        """Writes `record` at the end of the log; returns the log's size after it."""
        if self.fd < 0 or self.pid != os.getpid():
            self._open()
        fd = self.fd
        start = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(record)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except BaseException:
            # A part of the record (a full disk, an interrupt between two writes) must not
            # be followed by the next one: readers stop at the first record cut short.
            try:
                os.ftruncate(fd, start)
            except OSError:
                self.fd = -1  # the next record starts a new log; readers fold this one
                os.close(fd)
            raise
        return start + len(record)

    def empty_if(self, size: int) -> None:
        """Empties the log if it is still `size` bytes long (all of it folded)."""
        if self.fd >= 0 and self.pid == os.getpid() and os.fstat(self.fd).st_size == size:
            os.ftruncate(self.fd, 0)

    def close(self, remove: bool) -> None:
        """Closes the file (removing it first if `remove`: everything in it is folded)."""
        if self.fd < 0:
            return
        if self.pid == os.getpid():
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                with contextlib.suppress(OSError):  # not empty: another process's log
                    os.rmdir(self.directory)
            os.close(self.fd)
        self.fd = -1

    def forget(self) -> None:
        """In a forked child: lets go of the parent's file without touching it."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1

    def _open(self) -> None:
        pid = os.getpid()
        path = os.path.join(self.directory, f"{pid}-{os.urandom(6).hex()}{_SUFFIX}")
        for attempt in range(3):
            os.makedirs(self.directory, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileNotFoundError:  # another process removed the empty directory
                if attempt == 2:
                    raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held while this process lives: see `recover`
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.path, self.pid = fd, path, pid


def other_logs(directory: str, own: str) -> Iterator[tuple[str, int, bool]]:
    """The logs in `directory` but `own`, each opened: (path, fd, whether its process is gone).

    The fd of a log whose process is gone holds its lock: the caller folds it
    and then calls `drop`. The caller closes the others. A log that another
    reader folded and removed meanwhile is skipped.
    """
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.endswith(_SUFFIX):
            continue
        path = os.path.join(directory, entry)
        if path == own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield path, fd, False  # its process is alive
            continue
        if os.fstat(fd).st_nlink == 0:  # folded and removed by another reader
            os.close(fd)
            continue
        yield path, fd, True


def signature(fd: int) -> tuple[int, int, int]:
    """What changes when a log is appended to or emptied: its inode, size and mtime."""
    stat = os.fstat(fd)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def read_log(fd: int) -> bytes:
    """All bytes of the open log `fd`."""
    chunks = []
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def drop(path: str, fd: int) -> None:
    """Removes a folded abandoned log and lets go of it."""
    try:
        os.unlink(path)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # not empty: another process's log
        os.rmdir(os.path.dirname(path))
