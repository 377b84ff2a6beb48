"""The lightweight @task wrapper in C (capture/_clight.c) behaves as the Python one: same records,
same function behaviour (results, exceptions, methods, pickling, introspection)."""
from __future__ import annotations

import functools
import inspect
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import capture
from capture import _task
from kg.sink import Sink
from kg.stores.sqlite import SqliteStore

needs_c = pytest.mark.skipif(_task._CLightTask is None, reason="C wrapper not built (no compiler at install)")


def test_c_wrapper_is_built_where_ci_runs() -> None:
    if os.environ.get("CI") == "true":
        assert _task._CLightTask is not None, "capture/_clight.c was not built"


@capture.task(lightweight=True, name="scaled")
def scaled(x: int, k: int = 2) -> int:
    """Multiply."""
    return x * k


class Model:
    def __init__(self, w: int) -> None:
        self.w = w

    @capture.task(lightweight=True)
    def predict(self, x: int) -> int:
        return self.w * x


@needs_c
def test_function_behaviour_is_unchanged(store: SqliteStore, strict_sink: Sink) -> None:
    assert isinstance(scaled, _task._CLightTask)
    assert scaled.__name__ == "scaled" and scaled.__doc__ == "Multiply." and scaled.__wrapped__(3) == 6
    assert list(inspect.signature(scaled).parameters) == ["x", "k"]
    assert pickle.loads(pickle.dumps(scaled)) is scaled
    assert Model(3).predict(4) == 12 and Model.predict(Model(2), 5) == 10  # a method binds self

    @capture.task(lightweight=True)
    def boom(x: int) -> None:
        raise KeyError(x)

    with capture.Run() as run:
        assert scaled(3) == 6 and scaled(3, k=5) == 15 and scaled(x=1) == 2
        with pytest.raises(KeyError) as err:
            boom(7)
        assert err.value.args == (7,)
    recs = sorted((n.props["name"], repr(n.props.get("used")), repr(n.props.get("generated")))
                  for n in store.find_nodes(run=run.id, kind="Task"))
    assert recs == [("scaled", "{'x': 1, 'k': 2}", "{'result': 2}"),
                    ("scaled", "{'x': 3, 'k': 2}", "{'result': 6}"),
                    ("scaled", "{'x': 3, 'k': 5}", "{'result': 15}")]  # the call that raised: no record


PROGRAM = textwrap.dedent("""
    import sys
    import capture
    from kg.stores.sqlite import SqliteStore

    @capture.task(lightweight=True, output_names=["q", "r"])
    def split(a, b=3, *rest, **opts):
        return divmod(a, b)

    @capture.task(lightweight=True)
    def shape(rows):
        return {"n": len(rows), "first": rows[0]}

    split(7)                               # before any run: the slow path makes the sink and a run
    with capture.Run(name="c-or-python"):
        for i in range(50):
            split(i, 4, "x", flag=True)
        shape([[1, 2], [3]])
    capture.flush()
""")


def both_forms(tmp_path: Path, program: str, read: Callable[[SqliteStore], Any]) -> list[Any]:
    """``read(store)`` after running ``program`` with the C forms (KG_C=1), then the Python ones (KG_C=0)."""
    found = []
    for c in ("1", "0"):
        home = tmp_path / f"home{c}"
        r = subprocess.run([sys.executable, "-c", program], env={**os.environ, "KG_HOME": str(home), "KG_C": c},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        store = SqliteStore(home / "kg.db")
        try:
            found.append(read(store))
        finally:
            store.close()
    return found


@needs_c
def test_c_and_python_wrappers_store_the_same_records(tmp_path: Path) -> None:
    found = both_forms(tmp_path, PROGRAM, lambda store: sorted(
        (n.props["name"], repr(n.props.get("used")), repr(n.props.get("generated")),
         n.props.get("run") == n.props.get("parent")) for n in store.find_nodes(kind="Task")))
    assert found[0] == found[1] and len(found[0]) == 52
    assert ("split", "{'a': 7, 'b': 3}", "{'q': 2, 'r': 1}", True) in found[0]


@needs_c
def test_disabled_capture_records_nothing_in_c(store: SqliteStore, strict_sink: Sink) -> None:
    capture.disable()
    try:
        with capture.Run() as run:
            assert scaled(2) == 4
    finally:
        capture.enable()
    assert not list(store.find_nodes(run=run.id, kind="Task"))


def test_update_wrapper_keeps_what_wraps_keeps() -> None:
    # The wrapper carries what functools.wraps gives a Python wrapper (either form).
    assert scaled.__qualname__ == "scaled" and scaled.__module__ == __name__
    assert functools.WRAPPER_ASSIGNMENTS and getattr(scaled, "__wrapped__") is not None


LOOPS = textwrap.dedent("""
    import capture

    def gen(n):
        yield from range(n)

    with capture.Run(name="loops"):
        a = capture.LightweightLoop(range(2500), name="rng")
        for x in a:
            if x % 3 == 0:
                a.end_iter({"sq": x * x, "tag": [x, "t"]})
        b = capture.LightweightLoop(("p", "q", "r", "s"), name="brk")
        for x in b:
            b.end_iter({"up": x.upper()})
            if x == "q":
                break
        c = capture.LightweightLoop(gen(5), name="exc", item_name="k")
        try:
            for x in c:
                c.end_iter({"half": x / 2})
                if x == 3:
                    raise ValueError("stop")
        except ValueError:
            pass
        e = capture.LightweightLoop(range(3), name="shared")
        vals = {"n": -1}
        for x in e:
            vals["n"] = x
            e.end_iter(vals)  # a dict the program keeps and changes: recorded as it was here
        vals["n"] = 99
        d = capture.LightweightLoop([{"i": 1}, {"i": 2}], name="objs")
        for x in d:
            x["i"] += 10  # items are kept by reference until the batch is sent, as in the Python form
    capture.flush()
""")


@needs_c
def test_c_and_python_lightweight_loops_store_the_same_records(tmp_path: Path) -> None:
    from capture import loops

    assert loops._CLoopIter is not None
    found = both_forms(tmp_path, LOOPS, lambda store: (
        {n.props["name"]: (n.props["status"], n.props["iterations"]) for n in store.find_nodes(kind="Loop")},
        sorted((n.props["name"], repr(n.props.get("used")), repr(n.props.get("generated")), n.props["status"])
               for n in store.find_nodes(kind="Task"))))
    assert found[0] == found[1]
    loops_, its = found[0]
    assert loops_ == {"rng": ("FINISHED", 2500), "brk": ("EXITED", 2), "exc": ("EXITED", 4), "objs": ("FINISHED", 2),
                      "shared": ("FINISHED", 3)}
    assert [row[2] for row in its if row[0].startswith("shared[")] == ["{'n': 0}", "{'n': 1}", "{'n': 2}"]
    assert ("rng[3]", "{'item': 3}", "{'sq': 9, 'tag': {'type': 'list', 'size': 2, 'repr': \"[3, 't']\"}}",
            "FINISHED") in its


FULL = textwrap.dedent("""
    import asyncio
    import capture

    @capture.task(output_names="y")
    def inner(x, k=2):
        return x * k

    @capture.task
    def outer(a, b=3.5):
        return inner(a) + b            # nested: inner's parent is outer

    @capture.task
    def boom(x):
        raise KeyError(x)

    @capture.task
    def listy(rows):                   # an argument that is not an atom: the Python path
        return len(rows)

    outer(1)                           # before any run: the slow path makes the sink and a run
    with capture.Run(name="full"):
        for i in range(40):
            v = outer(i, b=0.5)
            inner(v)                   # dataflow: v is outer's output
        try:
            boom("k")
        except KeyError:
            pass
        listy([1, 2, 3])
        inner(x=7, k="ab")
    capture.flush()
""")


def _full_rows(store: SqliteStore) -> list[tuple[Any, ...]]:
    tasks = {n.id: n for n in store.find_nodes(kind="Task")}

    def parent_name(n: Any) -> Any:
        p = tasks.get(n.props.get("parent"))
        return p.props["name"] if p is not None else "run"

    def used(n: Any) -> str:
        u = dict(n.props.get("used") or {})
        for k, v in u.items():
            if isinstance(v, dict) and "$from" in v:  # which task's output, by name
                u[k] = ("from", tasks[v["$from"].rsplit("/out/", 1)[0]].props["name"], v["summary"])
        return repr(u)

    return sorted((n.props["name"], used(n), repr(n.props.get("generated")), n.props["status"],
                   n.props.get("error_type"), parent_name(n)) for n in tasks.values())


@needs_c
def test_c_and_python_full_tasks_store_the_same_records(tmp_path: Path) -> None:
    assert _task._CFullTask is not None
    found = both_forms(tmp_path, FULL, _full_rows)
    assert found[0] == found[1] and len(found[0]) == 2 + 40 * 3 + 3
    rows = found[0]
    assert ("inner", "{'x': 3, 'k': 2}", "{'y': 6}", "FINISHED", None, "outer") in rows
    assert ("inner", "{'x': ('from', 'outer', 6.5), 'k': 2}", "{'y': 13.0}", "FINISHED", None, "run") in rows
    assert ("boom", "{'x': 'k'}", "None", "ERROR", "KeyError", "run") in rows


@needs_c
def test_full_task_function_behaviour_is_unchanged(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="scale")
    def scale(x: int, k: int = 2) -> int:
        """Scale."""
        return x * k

    class M:
        @capture.task
        def f(self, x: int) -> int:
            return x + 1

    assert isinstance(scale, _task._CFullTask)
    assert scale.__name__ == "scale" and scale.__doc__ == "Scale." and scale.__wrapped__(3) == 6
    assert list(inspect.signature(scale).parameters) == ["x", "k"]
    with capture.Run():
        assert scale(3) == 6 and scale(3, k=5) == 15 and scale(x=1) == 2 and M().f(1) == 2
        with pytest.raises(ZeroDivisionError) as err:
            print(1 / scale(0))
        assert err.traceback  # the program's exception, with its traceback
