"""An output passed to the next task is the same entity, for every kind of value: atoms
(numbers, strings, bytes) included, matched by identity or by call site, never by an equal
value that happens to be at hand."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import capture
from capture import _dataflow, _task
from kg.sink import Sink
from kg.stores.sqlite import SqliteStore

# name -> a function of a seed (0) that computes a value of that type at run time
VALUES: dict[str, Callable[[int], Any]] = {
    "float": lambda s: 2.5 + s,
    "big int": lambda s: 10**12 + s,
    "small int": lambda s: 7 + s,
    "negative small int": lambda s: -3 - s,
    "bool": lambda s: s == 0,
    "str": lambda s: "a computed string, " + str(s),
    "identifier str": lambda s: "label_" + str(s),
    "one-character str": lambda s: "xy"[s],
    "empty str": lambda s: "x"[:s],
    "long str": lambda s: "y" * (5000 + s),
    "bytes": lambda s: b"payload-" + bytes([48 + s]),
    "one byte": lambda s: bytes([65 + s]),
    "complex": lambda s: complex(1, 2 + s),
}


def _used(store: SqliteStore, run_id: str, name: str) -> list[Any]:
    nodes = sorted(store.find_nodes(run=run_id, kind="Task"), key=lambda n: n.props["started"])
    return [n for n in nodes if n.props["name"] == name]


def _source(task: Any, param: str) -> str | None:
    v = (task.props.get("used") or {}).get(param)
    return v.get("$from") if isinstance(v, dict) else None


@pytest.fixture(params=["C", "Python"])
def forms(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The C per-call half (the default) and the Python reference it must agree with."""
    if request.param == "C" and _dataflow._c_lookup is None:
        pytest.skip("the C extension capture._cdataflow is not built")
    if request.param == "Python":
        monkeypatch.setattr(_task, "_remember", _dataflow._py_remember)
        monkeypatch.setattr(_task, "_may_link", _dataflow._py_may_link)
        monkeypatch.setattr(_dataflow, "_c_lookup", None)
    return request.param


def _tasks(kind: str) -> tuple[Callable[[int], Any], Callable[[Any], None]]:
    """make(seed) returns a value of ``kind`` computed at run time; use(v) consumes it."""
    make_value = VALUES[kind]

    @capture.task(name="make")
    def make(seed: int) -> Any:
        return make_value(seed)

    @capture.task(name="use")
    def use(v: Any) -> None:
        return None

    return make, use


@pytest.mark.parametrize("kind", list(VALUES))
def test_an_output_passed_on_is_the_same_entity(kind: str, forms: str, store: SqliteStore,
                                                strict_sink: Sink) -> None:
    make, use = _tasks(kind)
    with capture.Run() as run:
        x = make(0)
        use(x)        # the output itself: linked
        use(v=x)      # by keyword too
        use(make(0))  # passed on directly
    made, again = _used(store, run.id, "make")
    uses = _used(store, run.id, "use")
    out = f"{made.id}/out/result"
    assert [_source(u, "v") for u in uses] == [out, out, f"{again.id}/out/result"], kind
    lineage = store.lineage(f"{uses[0].id}", direction="up")
    assert out in lineage.depth and made.id in lineage.depth


@pytest.mark.parametrize("kind", list(VALUES))
def test_an_equal_value_that_is_not_the_output_is_not_linked(kind: str, forms: str, store: SqliteStore,
                                                             strict_sink: Sink) -> None:
    make, use = _tasks(kind)
    make_value = VALUES[kind]
    with capture.Run() as run:
        x = make(0)
        use(make_value(0))  # equal (for small ints and the like, the very same object), not the output
        y = make_value(0)
        use(y)
        del x
    assert [_source(u, "v") for u in _used(store, run.id, "use")] == [None, None], kind


def test_a_chain_of_scalars_keeps_its_lineage(store: SqliteStore, strict_sink: Sink) -> None:
    """a() -> b(x) -> c(y) -> d(z): the last output's lineage reaches the first task."""
    @capture.task(name="a")
    def a():
        return 0.1 * 3

    @capture.task(name="b")
    def b(x):
        return int(x * 1000)

    @capture.task(name="c")
    def c(y):
        return y > 100

    @capture.task(name="d", output_names="w")
    def d(z):
        return "yes" if z else "no"

    with capture.Run() as run:
        x = a()
        y = b(x)
        z = c(y)
        d(z)
    last = _used(store, run.id, "d")[0]
    up = store.lineage(f"{last.id}/out/w", direction="up", depth=20)
    assert {_used(store, run.id, n)[0].id for n in "abc"} <= set(up.depth)
    # and downstream: the tasks sit in segments, their USED edges are stored beside them
    first = _used(store, run.id, "a")[0]
    down = store.lineage(f"{first.id}/out/result", direction="down", depth=20)
    assert {_used(store, run.id, n)[0].id for n in "bcd"} <= set(down.depth)


def test_async_tasks_link_scalars(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="fetch")
    async def fetch():
        await asyncio.sleep(0)
        return 41.5 + 1

    @capture.task(name="store_it")
    async def store_it(value):
        return None

    async def main() -> None:
        v = await fetch()
        await store_it(v)

    with capture.Run() as run:
        asyncio.run(main())
    fetched = _used(store, run.id, "fetch")[0]
    assert _source(_used(store, run.id, "store_it")[0], "value") == f"{fetched.id}/out/result"


def test_a_reassigned_variable_is_not_linked(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="count")
    def count():
        return 3

    @capture.task(name="use")
    def use(v):
        return None

    with capture.Run() as run:
        n = count()
        use(n)          # linked by call site: n holds count's result
        m = 3
        use(m)          # the same small-int object, but m was never a task's output
    assert [_source(u, "v") is not None for u in _used(store, run.id, "use")] == [True, False]


def test_a_long_string_of_an_earlier_run_never_links(forms: str, store: SqliteStore, strict_sink: Sink) -> None:
    """A long output is remembered by fingerprint, not held: once freed, an equal string can be
    made at its address. Here that reuse is forced: the next run must not link to the old task."""
    make, use = _tasks("long str")
    with capture.Run():
        old = make(0)
    fresh = VALUES["long str"](0)  # equal to the old output, another object
    entry = _dataflow.FRESH.pop(id(old))
    _dataflow.FRESH[id(fresh)] = entry  # as if `fresh` had been made where `old` was
    with capture.Run() as run:
        use(fresh)
    assert [_source(u, "v") for u in _used(store, run.id, "use")] == [None]
