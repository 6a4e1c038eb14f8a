"""Checks refs out of a FileStore in a fresh process and reports the outcome as JSON.

Usage: python checkout_worker.py ROOT DIGEST...
Prints a list with, per digest, {"repr": ...} or {"error": class name, "message": ...,
"is_enact_error": bool}. Defines no resource classes: whatever the store names
is unknown here.
"""

from __future__ import annotations

import json
import sys

import enact


def main() -> None:
    root, digests = sys.argv[1], sys.argv[2:]
    results: list[dict[str, object]] = []
    with enact.FileStore(root):
        for digest in digests:
            try:
                results.append({"repr": repr(enact.Ref.from_digest(digest)())})
            except Exception as err:
                results.append(
                    {
                        "error": type(err).__name__,
                        "message": str(err),
                        "is_enact_error": isinstance(err, enact.EnactError),
                    }
                )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
