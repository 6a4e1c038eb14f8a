"""Built-in wrappers for the standard library's value types (enum, datetime, UUID, ...)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pathlib
import uuid
import zoneinfo
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import enact
from enact.stdlib_wrappers import EnumWrapper

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = datetime.UTC


@enact.register
class Color(enum.Enum):
    RED = 1
    GREEN = "green"


@enact.register
class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@enact.register
class Perm(enum.Flag):
    READ = 1
    WRITE = 2


@enact.register
@dataclasses.dataclass
class Event(enact.Resource):
    at: datetime.datetime
    day: datetime.date
    duration: datetime.timedelta
    id: uuid.UUID
    price: decimal.Decimal
    path: pathlib.Path
    color: Color
    extra: dict[str, Any]


def digest(value: Any) -> str:
    with enact.InMemoryStore():
        return enact.commit(value).digest


def round_trip(value: Any) -> Any:
    with enact.InMemoryStore():
        return enact.commit(value)()


VALUES = [
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=PARIS),
    datetime.date(2024, 2, 29),
    datetime.time(23, 59, 59, 999999),
    datetime.time(12, 0, tzinfo=UTC),
    datetime.time(12, 0, tzinfo=PARIS),
    datetime.timedelta(days=-3, seconds=5, microseconds=7),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    decimal.Decimal("-1.50"),
    decimal.Decimal("1E+1000"),
    decimal.Decimal("-0"),
    decimal.Decimal("Infinity"),
    pathlib.PurePosixPath("/tmp/a"),
    pathlib.PureWindowsPath("C:/a/b"),
    pathlib.Path("relative/x.txt"),
    Color.RED,
    Color.GREEN,
    Level.HIGH,
    Perm.READ | Perm.WRITE,
    Perm(0),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_value_round_trips_with_its_type(value: Any) -> None:
    """Checkout returns an equal value of exactly the committed type (and time zone)."""
    back = round_trip(value)
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, datetime.datetime | datetime.time):
        assert back.tzinfo == value.tzinfo
        assert back.utcoffset() == value.utcoffset()
    if isinstance(value, decimal.Decimal):
        assert str(back) == str(value)


def test_values_inside_a_resource_round_trip() -> None:
    """The wrapped types work as fields, nested in dicts and lists, and in resource dicts."""
    event = Event(
        at=datetime.datetime(2024, 1, 2, tzinfo=PARIS),
        day=datetime.date(2024, 1, 2),
        duration=datetime.timedelta(minutes=5),
        id=uuid.UUID(int=7),
        price=decimal.Decimal("9.99"),
        path=pathlib.Path("/srv/data"),
        color=Color.GREEN,
        extra={"levels": [Level.LOW, Level.HIGH], "when": (datetime.time(1, 2),)},
    )
    assert round_trip(event) == event
    # Resource dicts are guided by annotations: typed fields come back typed.
    typed = dataclasses.replace(event, extra={})
    assert Event.from_resource_dict(typed.to_resource_dict()) == typed


def test_naive_aware_and_zones_have_different_digests() -> None:
    """Naive, UTC, fixed +01:00 and Europe/Paris at the same wall time are four values."""
    wall = datetime.datetime(2024, 1, 2, 3, 4, 5)
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    variants = [wall, wall.replace(tzinfo=UTC), wall.replace(tzinfo=plus_one)]
    variants.append(wall.replace(tzinfo=PARIS))
    assert len({digest(v) for v in variants}) == 4


def test_an_ambiguous_local_time_keeps_its_fold() -> None:
    """The second 02:30 of a DST change comes back as the second one (same UTC offset)."""
    second = datetime.datetime(2024, 10, 27, 2, 30, tzinfo=PARIS, fold=1)
    back = round_trip(second)
    assert back.fold == 1
    assert back.utcoffset() == second.utcoffset()
    assert digest(second) != digest(second.replace(fold=0))


def test_decimal_digest_is_independent_of_the_context() -> None:
    """Neither precision, rounding nor the exponent letter of the context changes a digest."""
    value = decimal.Decimal("1.23456789E+20")
    expected = digest(value)
    odd = decimal.Context(prec=2, rounding=decimal.ROUND_DOWN, capitals=0, Emax=5)
    with decimal.localcontext(odd):
        assert digest(value) == expected
        assert str(round_trip(value)) == "1.23456789e+20"  # the context's own spelling
        assert round_trip(value).as_tuple() == value.as_tuple()


def test_equal_decimals_with_different_exponents_differ() -> None:
    """Decimal('1.0') == Decimal('1.00'), but they are different values and digests."""
    assert digest(decimal.Decimal("1.0")) != digest(decimal.Decimal("1.00"))


def test_equal_values_of_different_types_differ() -> None:
    """A date, its datetime, its ISO str, and Level.LOW vs 1 have different digests."""
    assert digest(datetime.date(2024, 1, 2)) != digest(datetime.datetime(2024, 1, 2))
    assert digest(datetime.date(2024, 1, 2)) != digest("2024-01-02")
    assert digest(Level.LOW) != digest(1)
    assert digest(pathlib.PurePosixPath("a")) != digest(pathlib.PosixPath("a"))


def test_subclasses_are_refused() -> None:
    """A subclass of a wrapped type (it may hold more state) needs its own wrapper."""

    class Stamp(datetime.datetime):
        pass

    with enact.InMemoryStore(), pytest.raises(enact.UnsupportedValueError, match="Stamp"):
        enact.commit(Stamp(2024, 1, 2))


def test_an_unrestorable_tzinfo_is_refused() -> None:
    """A named fixed offset (or any tzinfo enact cannot rebuild) is an error, not a loss."""
    named = datetime.timezone(datetime.timedelta(hours=1), "CET")
    with enact.InMemoryStore(), pytest.raises(enact.UnsupportedValueError, match="ZoneInfo"):
        enact.commit(datetime.datetime(2024, 1, 2, tzinfo=named))


def test_enums_are_stored_by_name() -> None:
    """An enum member's digest depends on the enum's name and the member's name only."""

    class Shade(enum.Enum):
        DARK = 1

    first = digest(Shade.DARK)

    class Shade(enum.Enum):  # type: ignore[no-redef]  # same name, new value
        DARK = 2

    assert digest(Shade.DARK) == first
    assert round_trip(Shade.DARK) is Shade.DARK


def test_checkout_of_an_unknown_enum_says_to_register_it() -> None:
    """An enum member whose class is not defined here is an UnknownTypeError naming it."""
    with enact.InMemoryStore():
        ref = enact.commit(EnumWrapper("elsewhere.Missing", "A"))
        with pytest.raises(enact.UnknownTypeError, match=r"elsewhere\.Missing.*@enact\.register"):
            ref()


def test_checkout_of_an_unknown_member_names_it() -> None:
    """A member name the enum no longer has is an UnknownTypeError listing the members."""
    with enact.InMemoryStore():
        ref = enact.commit(EnumWrapper(f"{__name__}.Color", "BLUE"))
        with pytest.raises(enact.UnknownTypeError, match=r"'BLUE'.*\['RED', 'GREEN'\]"):
            ref()


@given(
    st.datetimes(
        timezones=st.none()
        | st.just(UTC)
        | st.sampled_from([PARIS, zoneinfo.ZoneInfo("Asia/Kolkata")])
    )
)
def test_datetimes_round_trip(value: datetime.datetime) -> None:
    """Any datetime, naive or in a zone, checks out equal, with the same zone and offset."""
    back = round_trip(value)
    assert (back, back.tzinfo, back.utcoffset()) == (value, value.tzinfo, value.utcoffset())


@given(
    st.decimals(allow_nan=False)
    | st.sampled_from([decimal.Decimal("NaN"), decimal.Decimal("-sNaN7")])
)
def test_decimals_round_trip_exactly(value: decimal.Decimal) -> None:
    """Any Decimal checks out with the same sign, digits and exponent."""
    assert round_trip(value).as_tuple() == value.as_tuple()
