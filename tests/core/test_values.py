"""Value summaries: the per-type fast path for plain objects gives exactly what the general path gives."""
from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import io
import pathlib
import re
import types
from typing import Any

import pytest

from capture import values


class Plain:
    pass


class Reprs:
    def __repr__(self) -> str:
        return "Reprs()"


class LongRepr:
    def __repr__(self) -> str:
        return "x" * 500


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Sized:
    def __len__(self) -> int:
        return 3


class Hooked:
    def __getattr__(self, name: str) -> Any:
        return lambda: {"made": name}


class Colour(enum.Enum):
    RED = 1


class list2:  # noqa: N801 - a name reprlib would not special-case
    pass


def own_shape() -> Any:
    o = Plain()
    o.shape = (2, 3)  # type: ignore[attr-defined]
    return o


OBJECTS = [Plain(), Reprs(), LongRepr(), BadRepr(), Sized(), Hooked(), own_shape(), Colour.RED,
           decimal.Decimal("1.5"), fractions.Fraction(1, 3), pathlib.Path("/x"), datetime.datetime(2020, 1, 1),
           len, print, types, re.compile("a"), io.StringIO(), list2(), Plain, object(), range(3), slice(1, 2)]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("limit", [120, 8])
def test_the_fast_path_summarises_as_the_general_path_does(obj: Any, limit: int) -> None:
    fast = values.summarize(obj, limit)
    values._PLAIN.clear()
    values._PLAIN[type(obj)] = None  # the general path, for this type
    try:
        general = values.summarize(obj, limit)
    finally:
        values._PLAIN.clear()
    assert fast == general and list(fast) == list(general)


def test_a_handler_registered_later_takes_over_from_the_fast_path() -> None:
    class Late:
        pass

    assert values.summarize(Late())["type"].endswith("Late")
    values.register_handler(Late, lambda obj: {"late": True})
    try:
        assert values.summarize(Late()) == {"late": True}
    finally:
        values._handlers.pop(Late)
        values._PLAIN.clear()


def test_a_large_set_or_dict_is_summarised_from_a_sample_not_sorted_whole() -> None:
    big = set(range(200_000, 0, -1))
    summary = values.summarize(big)
    assert summary["size"] == 200_000 and summary["repr"].endswith(", ...}")
    assert values.summarize({3, 1, 2})["repr"] == "{1, 2, 3}"  # small ones as reprlib shows them
    d = values.summarize({i: str(i) for i in range(1000)})
    assert d["size"] == 1000 and d["repr"].endswith(", ...}") and d["repr"].count(":") == 8
