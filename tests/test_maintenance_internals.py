"""White-box tests of enact.maintenance's private modules."""

from __future__ import annotations

from typing import Any

import pytest

import enact
from enact.maintenance import _copy


def diamond_dag(store: enact.Store, width: int) -> enact.Ref[Any]:
    """Commits layers where every node links to every node of the layer below."""
    layer = [store.commit({"leaf": i}) for i in range(width)]
    for depth in range(4):
        layer = [store.commit({"d": depth, "n": n, "below": layer}) for n in range(width)]
    return store.commit(layer)


def test_copy_reads_objects_again_beyond_its_memory_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no memory budget, copy fetches objects again for the send and still verifies them."""
    monkeypatch.setattr(_copy, "COPY_MEMORY", 0)
    source = enact.InMemoryStore()
    root = diamond_dag(source, 5)
    target = enact.InMemoryStore()
    report = enact.copy(root, source, target, batch_size=3)
    assert report.sent == 5 * 5 + 1 and enact.verify(target).ok
