"""The backend conformance suite (enact.testing.conformance) against every backend.

The backends come from `BACKENDS` in tests/conftest.py, through the
`make_backend` fixture; a minimal user-style backend with only the three
required methods runs the suite too, to show that optional features skip.
"""

from __future__ import annotations

from typing import Any

import pytest

from enact.refs import Ref
from enact.stores.base import PackedResource, StorageBackend
from enact.testing.conformance import BackendConformance, BackendFactory


class TestEveryBackend(BackendConformance):
    """The suite, once per kind in tests/conftest.py BACKENDS."""


class MinimalBackend(StorageBackend):
    """What a user's first backend looks like: commit, has and get only."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def commit(self, packed_resource: PackedResource) -> None:
        self.objects.setdefault(packed_resource.digest, packed_resource.data)

    def has(self, ref: Ref[Any]) -> bool:
        return ref.digest in self.objects

    def get(self, ref: Ref[Any]) -> PackedResource | None:
        data = self.objects.get(ref.digest)
        return None if data is None else PackedResource(ref.digest, data)


class TestMinimalBackend(BackendConformance):
    """The suite against a backend with only the required methods."""

    @pytest.fixture
    def make_backend(self) -> BackendFactory:
        return MinimalBackend
