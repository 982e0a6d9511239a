"""A record behaves as the `typing.NamedTuple` it replaces, wherever the package relies on it: a
tuple with named, read-only fields, keywords and defaults, `_replace`, `_asdict`, the same repr,
pickled and copied whole."""

from __future__ import annotations

import copy
import pickle
from typing import NamedTuple

import pytest

from teleinforeader.record import Record
from teleinforeader.sinks.database.schema import Column
from teleinforeader.tic.frame import Horodate


class Point(Record):
    x: int
    y: int
    label: str = ""
    shown: bool = True


class NamedPoint(NamedTuple):
    x: int
    y: int
    label: str = ""
    shown: bool = True


def test_a_record_is_the_tuple_of_its_values_in_field_order() -> None:
    point = Point(1, 2, "a")
    assert Point._fields == ("x", "y", "label", "shown")
    assert point == (1, 2, "a", True) == NamedPoint(1, 2, "a")
    assert hash(point) == hash((1, 2, "a", True))
    assert (point.x, point.y, point.label, point.shown) == (1, 2, "a", True)
    x, y, *_ = point
    assert (x, y, point[1], point[-1], point[:2]) == (1, 2, 2, True, (1, 2))
    assert isinstance(point, tuple)
    assert {point: "found"}[(1, 2, "a", True)] == "found"


def test_keywords_and_defaults_fill_the_fields_as_namedtuple_does() -> None:
    assert Point(1, 2) == NamedPoint(1, 2)
    assert Point(y=2, x=1, shown=False) == NamedPoint(y=2, x=1, shown=False)
    assert Point(1, y=2, label="b") == (1, 2, "b", True)
    assert Column("ADCO", "TEXT") == ("ADCO", "TEXT", 0, "", False, "")


def test_any_field_name_can_be_given_by_keyword() -> None:
    class Call(Record):  # the names of the constructor's own parameters
        cls: str
        values: tuple[int, ...]
        named: dict[str, int]

    assert Call(cls="c", values=(1,), named={}) == ("c", (1,), {})


@pytest.mark.parametrize(
    ("values", "named"),
    [((1,), {}), ((1, 2, "a", True, 5), {}), ((1, 2), {"x": 3}), ((1, 2), {"z": 3}), ((), {})],
    ids=["missing", "too many", "twice", "unknown", "none"],
)
def test_a_call_namedtuple_refuses_is_refused(values: tuple[object, ...], named: dict) -> None:
    with pytest.raises(TypeError):
        NamedPoint(*values, **named)
    with pytest.raises(TypeError):
        Point(*values, **named)


def test_fields_are_read_only_and_a_record_has_no_attributes_of_its_own() -> None:
    point = Point(1, 2)
    with pytest.raises(AttributeError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.other = 3  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")


def test_replace_asdict_and_repr_are_namedtuple_s() -> None:
    point = Point(1, 2, "a")
    assert point._replace(y=5, shown=False) == Point(1, 5, "a", False)
    assert type(point._replace(y=5)) is Point
    assert point == Point(1, 2, "a")  # the original is untouched
    assert point._asdict() == NamedPoint(1, 2, "a")._asdict()
    assert repr(point) == repr(NamedPoint(1, 2, "a")).replace("NamedPoint", "Point")
    assert repr(point) == "Point(x=1, y=2, label='a', shown=True)"


def test_a_record_pickles_and_copies_whole() -> None:
    point = Point(1, 2, "a", False)
    for again in (pickle.loads(pickle.dumps(point)), copy.copy(point), copy.deepcopy(point)):
        assert again == point
        assert type(again) is Point


def test_its_methods_and_classmethods_are_the_class_s_own() -> None:
    horodate = Horodate.parse("E250314120000")
    assert type(horodate) is Horodate
    assert (horodate.raw, horodate.time.hour, horodate.degraded) == ("E250314120000", 12, False)


def test_a_field_without_a_default_after_one_with_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Broken(Record):
            x: int = 0
            y: int
