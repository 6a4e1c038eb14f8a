"""Store maintenance: copy closures between stores, collect garbage, verify, migrate.

All three work on any pair of backends through the batch methods of
`enact.StorageBackend` (``has_many``, ``get_many``, ``commit_many``), so each
step costs one round trip or one transaction per batch, not per object.

The invariant they rely on and preserve: *if a store holds an object, it holds
everything the object links to.* Normal commits keep it (a ref exists only
after its object was committed), `copy` writes children before parents, and
`gc` deletes only objects that nothing kept links to. `verify` reports where it
does not hold.

Each function takes an optional ``progress(stage, done, total)`` callable
(``total`` is None while unknown), called once per batch, so a command line
can draw progress bars.
"""

from enact.maintenance._common import BATCH_SIZE, Progress, Roots
from enact.maintenance._copy import CopyReport, copy
from enact.maintenance._gc import GCReport, gc
from enact.maintenance._migrate import MigrateReport, migrate
from enact.maintenance._verify import VerifyProblem, VerifyReport, verify

__all__ = [
    "BATCH_SIZE",
    "CopyReport",
    "GCReport",
    "MigrateReport",
    "Progress",
    "Roots",
    "VerifyProblem",
    "VerifyReport",
    "copy",
    "gc",
    "migrate",
    "verify",
]
