"""Prints digests computed in a fresh process (for cross-process stability tests).

Usage:
    python digest_worker.py vectors    prints {label: digest} of the golden vectors
    python digest_worker.py values     reads a pickled list of values from stdin and
                                       prints the list of their digests

Output is one JSON document on stdout.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import golden_vectors

import enact


def main() -> None:
    mode = sys.argv[1]
    if mode == "vectors":
        result: object = golden_vectors.digests_of_vectors()
    elif mode == "values":
        values = pickle.loads(sys.stdin.buffer.read())
        with enact.InMemoryStore():
            result = [enact.commit(value).digest for value in values]
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
