"""Running the `enact` command in a pseudo-terminal, for tests of what a terminal receives."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Sequence


def run_in_terminal(
    command: Sequence[str],
    env: dict[str, str],
    *,
    columns: int | None = None,
    typed: bytes = b"",
    type_after: bytes | None = None,
) -> bytes:
    """Runs `command` with a pseudo-terminal as stdin, stdout and stderr.

    Types `typed` at once, or once the output contains `type_after`; returns
    every byte the command wrote, until it exits (at most 300 s).
    """
    import fcntl
    import pty
    import struct
    import termios

    fd, child = pty.openpty()
    if columns is not None:
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        list(command), stdin=child, stdout=child, stderr=child, env=env, start_new_session=True
    )
    os.close(child)
    if typed and type_after is None:
        os.write(fd, typed)
        typed = b""
    seen = b""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the command ended
                break
            if not chunk:
                break
            seen += chunk
            if typed and type_after is not None and type_after in seen:
                os.write(fd, typed)
                typed = b""
    finally:
        os.close(fd)
        if process.poll() is None:
            process.kill()
        process.wait()
    return seen
