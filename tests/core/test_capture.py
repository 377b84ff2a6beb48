"""In-code capture: what @task, Task, Run and workflow record, and that they never change the program."""
from __future__ import annotations

import argparse
import asyncio
from typing import Any

import numpy as np
import pytest

import capture
from kg.model.prov import explode
from kg.sink import Sink
from kg.stores.sqlite import SqliteStore


def tasks(store: SqliteStore, run_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in store.find_nodes(run=run_id, kind="Task"):
        out.setdefault(n.props["name"], []).append(n)
    for v in out.values():
        v.sort(key=lambda n: n.props.get("started") or 0)
    return out


def test_used_binds_parameter_names_with_defaults(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(output_names="z")
    def add(x, y=10, *rest, scale=1, **extra):
        return (x + y) * scale

    with capture.Run(name="bind") as run:
        assert add(1) == 11
        assert add(1, 2, 3, 4, scale=2, flag=True) == 6
    first, second = tasks(store, run.id)["test_used_binds_parameter_names_with_defaults.<locals>.add"]
    assert first.props["used"] == {"x": 1, "y": 10, "scale": 1}
    assert first.props["generated"] == {"z": 11}
    assert second.props["used"]["rest"]["repr"] == "[3, 4]"
    assert {k: second.props["used"][k] for k in ("x", "y", "scale", "flag")} == {"x": 1, "y": 2, "scale": 2,
                                                                                  "flag": True}


def test_outputs_tuples_elementwise_dicts_passed_through(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(output_names=["q", "r"], name="divmod")
    def dm(a, b):
        return divmod(a, b)

    @capture.task(name="stats")
    def stats(a):
        return {"mean": a / 2, "items": [a, a]}

    @capture.task(name="plain")
    def plain(a):
        return (a, a)

    with capture.Run() as run:
        dm(7, 2)
        stats(4)
        plain(1)
    t = tasks(store, run.id)
    assert t["divmod"][0].props["generated"] == {"q": 3, "r": 1}
    gen = t["stats"][0].props["generated"]
    assert gen["mean"] == 2.0 and gen["items"]["type"] == "list"
    assert t["plain"][0].props["generated"]["result"]["repr"] == "(1, 1)"


def test_argparse_namespace_is_flattened(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="train")
    def train(args):
        return args.lr * 2

    with capture.Run() as run:
        train(argparse.Namespace(lr=0.5, epochs=3, name="m"))
    assert tasks(store, run.id)["train"][0].props["used"] == {"lr": 0.5, "epochs": 3, "name": "m"}


def test_failing_task_records_error_and_reraises_unchanged(store: SqliteStore, strict_sink: Sink) -> None:
    class Boom(Exception):
        pass

    err = Boom("kaput")

    @capture.task(name="fail")
    def fail(x):
        raise err

    with capture.Run() as run:
        with pytest.raises(Boom) as info:
            fail(3)
        assert info.value is err
    (t,) = tasks(store, run.id)["fail"]
    assert t.props["status"] == "ERROR"
    assert t.props["error_type"].endswith("Boom") and t.props["error"] == "kaput"
    assert "raise err" in t.props["traceback"] and "generated" not in t.props


def test_nested_tasks_link_to_their_parent(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="inner")
    def inner(x):
        return x + 1

    @capture.task(name="outer")
    def outer(x):
        return inner(x) + inner(x)

    with capture.Run() as run:
        outer(1)
        inner(5)
    t = tasks(store, run.id)
    outer_id = t["outer"][0].id
    assert [n.props["parent"] for n in t["inner"]] == [outer_id, outer_id, run.id]
    edges = explode(t["inner"][0])[1]
    assert ("WAS_INFORMED_BY", outer_id) in [(e.rel, e.dst) for e in edges]


def test_async_tasks_nest_per_asyncio_task(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="leaf")
    async def leaf(i):
        await asyncio.sleep(0.01)
        return i

    @capture.task(name="branch")
    async def branch(i):
        return await leaf(i)

    async def main():
        return await asyncio.gather(*(branch(i) for i in range(5)))

    with capture.Run() as run:
        assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    t = tasks(store, run.id)
    branch_of = {b.props["used"]["i"]: b.id for b in t["branch"]}
    for leaf_node in t["leaf"]:
        assert leaf_node.props["parent"] == branch_of[leaf_node.props["used"]["i"]]


def test_output_passed_to_next_task_is_the_same_entity(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(output_names="data", name="load")
    def load():
        return [1, 2, 3]

    @capture.task(output_names="total", name="total")
    def total(data):
        return sum(data)

    with capture.Run() as run:
        total(load())
    t = tasks(store, run.id)
    sg = store.lineage(f"{t['total'][0].id}/out/total", direction="up")
    assert f"{t['load'][0].id}/out/data" in sg.depth and t["load"][0].id in sg.depth


def test_values_summarised_not_copied(store: SqliteStore, strict_sink: Sink) -> None:
    class WithDict:
        def to_dict(self):
            return {"a": 1}

    @capture.task(name="consume")
    def consume(arr, obj, big):
        return arr.sum()

    arr = np.zeros((1000, 100), dtype=np.float32)
    big = list(range(1_000_000))
    with capture.Run() as run:
        consume(arr, WithDict(), big)
    used = tasks(store, run.id)["consume"][0].props["used"]
    assert used["arr"] == {"type": "numpy.ndarray", "shape": [1000, 100], "dtype": "float32"}
    assert used["obj"]["value"] == {"a": 1}
    assert used["big"]["size"] == 1_000_000 and len(used["big"]["repr"]) < 200


def test_mutated_argument_is_recorded_as_it_was_at_the_call(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="grow")
    def grow(items):
        items.append(99)

    data = [1]
    with capture.Run() as run:
        grow(data)
    assert tasks(store, run.id)["grow"][0].props["used"]["items"]["repr"] == "[1]"


def test_handmade_tasks(store: SqliteStore, strict_sink: Sink) -> None:
    with capture.Run() as run:
        with capture.Task("download", used={"url": "https://x"}, tags=["io"]) as t:
            t.end(generated={"bytes": 10})
        capture.Task("ping", used={"n": 1}).send()
        p = capture.Task("parse", used={"bytes": 10})
        p.end(generated={"records": 42})
        with pytest.raises(KeyError):
            with capture.Task("explode"):
                raise KeyError("k")
    t = tasks(store, run.id)
    assert t["download"][0].props["generated"] == {"bytes": 10} and t["download"][0].props["tags"] == ["io"]
    assert t["ping"][0].props["status"] == "SENT"
    assert t["parse"][0].props["generated"] == {"records": 42}
    assert t["explode"][0].props["status"] == "ERROR"


def test_lightweight_tasks_record_activity_inputs_outputs(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(lightweight=True, output_names="y", name="fast")
    def fast(x, k=2):
        return x * k

    with capture.Run() as run:
        assert [fast(i) for i in range(100)] == [i * 2 for i in range(100)]
    got = sorted((n.props["used"]["x"], n.props["generated"]["y"]) for n in tasks(store, run.id)["fast"])
    assert got == [(i, i * 2) for i in range(100)]


def test_task_outside_any_run_lands_in_an_implicit_run(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="loose")
    def loose(x):
        return x

    assert loose(3) == 3  # the seed's library raises AttributeError here
    strict_sink.close()
    (run,) = store.runs()
    assert "implicit" in run.props["tags"] and run.props["status"] == "finished"
    assert [n.props["name"] for n in store.find_nodes(run=run.id, kind="Task")] == ["loose"]


def test_disabled_capture_records_nothing(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(name="quiet")
    def quiet(x):
        return x

    capture.disable()
    try:
        with capture.Run() as run:
            assert quiet(1) == 1
    finally:
        capture.enable()
    assert list(store.find_nodes(kind="Task")) == [] and run.status == "finished"


def test_workflow_decorator_is_a_run(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.workflow(name="wf", campaign="c1")
    def main(n):
        return n

    assert main(4) == 4
    (run,) = store.runs()
    assert run.props["name"] == "wf" and run.props["status"] == "finished"
    assert [e.src for e in store.find_edges(rel="HAD_MEMBER")] == ["campaign:c1"]


def test_failed_run_is_stored_failed(store: SqliteStore, strict_sink: Sink) -> None:
    with pytest.raises(RuntimeError):
        with capture.Run(name="bad"):
            raise RuntimeError("nope")
    (run,) = store.runs()
    assert run.props["status"] == "failed" and run.props["error"] == "nope"


def test_buffer_stays_within_its_cap(store: SqliteStore) -> None:
    from kg.sink import set_sink

    sink = Sink(store, cap=5000, interval=3600, strict=True)  # no timed flush: only the cap drains it
    set_sink(sink)

    @capture.task(name="many")
    def many(i):
        return i

    peak = 0
    with capture.Run() as run:
        for i in range(100_000):
            many(i)
            if not i % 997:
                peak = max(peak, len(sink.buf))
    assert peak <= 5000 + 1024  # cap, plus at most one check interval
    assert store.counts()["nodes"] >= 100_000
    assert len(list(store.find_nodes(run=run.id, kind="Task"))) == 100_000


def test_args_handler_decides_what_is_recorded(store: SqliteStore, strict_sink: Sink) -> None:
    def drop_big(x, very_big_list):
        return {"x": x, "n": len(very_big_list)}

    @capture.task(args_handler=drop_big, output_names="y", name="heavy")
    def heavy(x, very_big_list):
        return x * 2

    with capture.Run() as run:
        assert heavy(3, list(range(10_000))) == 6
    t = tasks(store, run.id)["heavy"][0]
    assert t.props["used"] == {"x": 3, "n": 10_000} and t.props["generated"] == {"y": 6}


def test_args_handler_values_are_summarised_once(store: SqliteStore, strict_sink: Sink) -> None:
    @capture.task(args_handler=lambda rows: {"rows": rows, "n": len(rows)}, name="count")
    def count(rows):
        return len(rows)

    with capture.Run() as run:
        count([1, 2, 3])
    used = tasks(store, run.id)["count"][0].props["used"]
    assert used == {"rows": {"type": "list", "size": 3, "repr": "[1, 2, 3]"}, "n": 3}


def test_handmade_task_values_are_summarised_once(store: SqliteStore, strict_sink: Sink) -> None:
    with capture.Run() as run:
        with capture.Task("load", used={"paths": ["a", "b"]}) as t:
            t.end(generated={"rows": [1, 2, 3]})
    node = tasks(store, run.id)["load"][0]
    assert node.props["used"]["paths"] == {"type": "list", "size": 2, "repr": "['a', 'b']"}
    assert node.props["generated"]["rows"]["size"] == 3


JOINER = """
import sys
import capture
from kg.sink import Sink, set_sink
set_sink(Sink(sys.argv[1]))

@capture.task(name="work")
def work(i):
    return i

with capture.Run(name="worker", run_id=sys.argv[2]):
    for i in range(int(sys.argv[3])):
        work(i)
"""


def test_processes_joining_a_run_do_not_end_it(tmp_path: Any) -> None:
    import subprocess
    import sys

    from kg.sink import set_sink

    db = tmp_path / "joined.db"
    store = SqliteStore(db)
    set_sink(Sink(store, strict=True))
    script = tmp_path / "joiner.py"
    script.write_text(JOINER)
    owner = capture.Run(name="distributed").start()
    procs = [subprocess.Popen([sys.executable, str(script), str(db), owner.id, "20"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    (run,) = store.runs()
    assert run.props["status"] == "unfinished"  # the workers finished, the run did not
    owner.stop()
    (run,) = store.runs()
    assert run.props["status"] == "finished" and run.props["name"] == "distributed"
    parts = list(store.find_nodes(run=owner.id, kind="RunPart"))
    assert len(parts) == 2 and all(p.props["status"] == "finished" for p in parts)
    work = list(store.find_nodes(run=owner.id, kind="Task"))
    assert len(work) == 40 and {w.props["parent"] for w in work} == {p.id for p in parts}
