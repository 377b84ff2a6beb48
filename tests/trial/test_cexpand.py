"""The C record expander (capture/tracer/_cexpand.c) makes the nodes the Python one makes.

Both tracers hand their packed activations to one expander where records are stored; the C
form is chosen when it was built and KG_C is not 0. Each packed form a tracer can produce is
expanded both ways here, and the nodes and the table rows stored from them must be equal
(ids, props, and the order of props, which is the order of the stored JSON)."""
from __future__ import annotations

import math
from typing import Any

import pytest

from capture.tracer._common import (NO_RESULT, Site, _Copy, _Summary, expand_activation, summ_value)
from kg.config import settings
from kg.segments import LIVE
from kg.stores.sqlite import SqliteStore

_cexpand = pytest.importorskip("capture.tracer._cexpand", reason="C expander not built")

USER = Site("pkg.f", "/x/f.py", 3, "user", ("a", "b"))
LIB = Site("json.dumps", "", 0, "library", ("obj",))
NOARGS = Site("g", "/x/g.py", 9, "user")


class Thing:
    def __repr__(self) -> str:
        return "<thing>"


def item(site: Site, args: Any = (), result: Any = NO_RESULT, status: str = "FINISHED", *, n: int = 0x2f,
         parent: int = 7, line: int = 12, err: Any = None, extra: Any = None) -> tuple[Any, ...]:
    return (3, n, parent, "run-1", site.idx, line, 10.5, 11.25, args, result, status, err, extra)


LONG = "x" * 500
CASES = {
    "no args, no result": item(NOARGS),
    "ints and bool": item(USER, (1, True), 2 ** 70),
    "float, NaN, inf": item(USER, (0.1, math.nan), math.inf),
    "short and long str": item(USER, ("id0", LONG), "é" * 200),
    "tuple of atoms": item(USER, (("id0", 0.0, 0), ("ü" * 150,)), (1, 2)),
    "frozenset": item(USER, (frozenset({1, 2}), frozenset({"a" * 470})), frozenset()),
    "copies of list and set": item(USER, (summ_value([1, 2.5, "s"], "full"), summ_value({3}, "full"))),
    "summaries": item(USER, (summ_value(Thing(), "full"), summ_value(list(range(100)), "full")),
                      summ_value({"k": 1}, "type")),
    "positional library call": item(LIB, (1, 2, 3), "out"),
    "root activation": item(USER, (1, 2), None, parent=0, line=0),
    "yielded": item(USER, (1, 2), "y", status="YIELDED"),
    "raised": item(USER, (1, 2), None, status="EXCEPTION", err=("ValueError", "bad value")),
    "extra props": item(USER, (1, 2), 3, extra={"elided": 4, "calls": 9}),
    "big counters": item(USER, (1, 2), 3, n=2 ** 40 + 5, parent=2 ** 33),
    "bytes and complex": item(USER, (b"\x00\xff", 1j), bytearray(b"ab")),
}


def both(it: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    py: list[Any] = []
    c: list[Any] = []
    expand_activation(it, py, [])
    _cexpand.expand(it, c, [], LIVE)
    return py, c


@pytest.mark.parametrize("name", sorted(CASES))
def test_c_and_python_expanders_make_the_same_node(name: str) -> None:
    py, c = both(CASES[name])
    assert len(py) == len(c) == 1
    assert type(c[0]) is type(py[0])
    assert c[0] == py[0]
    assert list(c[0].props) == list(py[0].props)  # key order: the stored JSON is byte-identical
    assert SqliteStore.rows(c, []) == SqliteStore.rows(py, [])


def test_a_small_repr_limit_is_honoured_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "repr_limit", 8)
    for name, it in CASES.items():
        py, c = both(it)
        assert c == py, name


def test_malformed_records_raise_instead_of_storing_garbage() -> None:
    # The sink counts an expander's exception as a fault and goes on with the next record.
    for bad in [item(USER, [1, 2]), item(USER, (1, 2), err=("only one",)), (3, 1, 2)]:
        with pytest.raises((TypeError, ValueError)):
            _cexpand.expand(bad, [], [], LIVE)
    with pytest.raises(IndexError):
        _cexpand.expand((3, 1, 0, "r", 10 ** 9, 0, 0.0, 0.0, (), NO_RESULT, "FINISHED", None, None), [], [], LIVE)
    summary = _Summary({"type": "X"})
    copy = _Copy(list, (1, 2))
    assert both(item(USER, (summary, copy)))[0] == both(item(USER, (summary, copy)))[1]
