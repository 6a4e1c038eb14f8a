"""Resources: the values enact can store, compare and journal.

A resource is a class, usually a dataclass, derived from `enact.Resource` and
registered with `@enact.register`. Its fields hold plain data (numbers,
strings, bytes, None), lists, dicts with string keys, other resources, and
resource classes. Registration gives the class a type id: its module and
name, plus a digest of the name and the field names, so that stored data
says what it is (and a renamed field is a different type).

Types enact does not know can still appear in fields when a
`enact.ResourceWrapper` tells enact how to turn them into a resource and
back.

Run: python 01_resources.py
"""

from __future__ import annotations

import dataclasses
import json

import enact


@enact.register
@dataclasses.dataclass
class Ingredient(enact.Resource):
    """One line of a recipe."""

    name: str
    grams: float


@enact.register
@dataclasses.dataclass
class Recipe(enact.Resource):
    """Resources nest: a recipe holds a list of ingredients and a dict of flags."""

    title: str
    servings: int
    ingredients: list[Ingredient]
    flags: dict[str, bool]
    photo: bytes | None = None


@enact.register
@dataclasses.dataclass
class Shelf(enact.Resource):
    """A field may hold a resource class itself, not just an instance."""

    label: str
    holds: type[enact.Resource]


def show_fields() -> None:
    print("== Fields of a resource ==")
    pancakes = Recipe(
        title="Pancakes",
        servings=4,
        ingredients=[Ingredient("flour", 200.0), Ingredient("milk", 300.0)],
        flags={"vegetarian": True, "vegan": False},
    )
    type_id = json.loads(Recipe.type_id())
    print("type name:", type_id["name"])
    print("type digest starts with:", type_id["digest"][:16])
    print("field names:", list(Recipe.field_names()))
    for name, value in pancakes.field_items():
        print(f"  {name} = {value!r}")
    print("as a plain dict:")
    print(" ", pancakes.to_resource_dict())
    print("class field:", Shelf("baking", Recipe).to_resource_dict())


class Stopwatch:
    """A class from somewhere else: not a resource, and we cannot change it."""

    def __init__(self) -> None:
        self.laps: list[float] = []

    def lap(self, seconds: float) -> None:
        self.laps.append(seconds)


@enact.register
@dataclasses.dataclass
class StopwatchWrapper(enact.ResourceWrapper[Stopwatch]):
    """Tells enact how to store a Stopwatch: as the list of its laps."""

    laps: list[float]

    @classmethod
    def wrapped_type(cls) -> type[Stopwatch]:
        return Stopwatch

    @classmethod
    def wrap(cls, value: Stopwatch) -> StopwatchWrapper:
        return cls(list(value.laps))

    def unwrap(self) -> Stopwatch:
        watch = Stopwatch()
        watch.laps = list(self.laps)
        return watch


@enact.register
@dataclasses.dataclass
class Race(enact.Resource):
    """A resource with a field of the wrapped type."""

    runner: str
    watch: Stopwatch


def show_wrappers() -> None:
    print()
    print("== Wrapping a foreign type ==")
    watch = Stopwatch()
    watch.lap(61.5)
    watch.lap(59.25)
    wrapped = enact.wrap(watch)
    print("wrapped:", wrapped)
    back = enact.unwrap(wrapped)
    print("unwrapped laps:", type(back).__name__, back.laps)
    race = Race("Ada", watch)
    print("the field is wrapped when enact reads it:", list(race.field_values()))
    print("but the attribute is the real object:", type(race.watch).__name__)


if __name__ == "__main__":
    show_fields()
    show_wrappers()
