"""Commits items to a FileStore and prints each digest as soon as the commit returned.

Usage: python commit_items.py ROOT START STOP
Commits item(START) ... item(STOP - 1), one line per ref, flushed, so a parent
that kills this process knows exactly which commits had been reported.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from helpers.workload import item

import enact


def main() -> None:
    root, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with enact.FileStore(root):
        for index in range(start, stop):
            ref = enact.commit(item(index))
            sys.stdout.write(f"{index} {ref.digest}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
