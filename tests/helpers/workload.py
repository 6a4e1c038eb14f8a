"""A resource type shared by the tests and the worker processes they start."""

from __future__ import annotations

import dataclasses

import enact


@enact.register
@dataclasses.dataclass
class Item(enact.Resource):
    """One unit of work; `index` decides the content, so equal indices give equal refs."""

    index: int
    payload: str
    tags: list[str]


def item(index: int) -> Item:
    """Returns the item for `index` (several hundred bytes, different for each index)."""
    return Item(index=index, payload=f"item {index} " * 40, tags=[str(index % 7), "x"])
