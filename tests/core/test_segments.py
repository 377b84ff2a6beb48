"""Segments (kg.segments): what the embedded store reads back is what the expanders make, records are
found by id and by parent, and nothing is lost or doubled on the way."""
from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import capture
from capture.engine import record_engine
from kg import segments
from kg.engine import WorkflowEngine
from kg.exceptions import StoreError
from kg.model.records import Node
from kg.sink import Sink, set_sink
from kg.stores.sqlite import SqliteStore


class Thing:
    def __repr__(self) -> str:
        return "<thing>"


def program() -> str:
    """Every hot record kind, with values that take each way through a segment (atoms as they are,
    summaries, errors, objects kept by reference) and a run id."""

    @capture.task(output_names=["lo", "hi"])
    def split(x, k=2, *rest, **opts):  # type: ignore[no-untyped-def]
        return x - k, x + k

    @capture.task
    def obj(thing):  # type: ignore[no-untyped-def]
        return [thing, 1]

    @capture.task
    def fails(x):  # type: ignore[no-untyped-def]
        raise ValueError(f"bad {x}")

    @capture.task(lightweight=True)
    def light(x, y=None):  # type: ignore[no-untyped-def]
        return x

    with capture.Run(name="segments") as run:
        for i in range(300):
            split(i, 3, "extra", flag=True)
            light(i, y="s" * (i % 200))
        obj(Thing())
        with pytest.raises(ValueError):
            fails(math.nan)
        light(bytearray(b"raw buffer"))  # kept by reference: must be summarised, not marshalled as bytes
        light(memoryview(b"view"))
        with capture.Task("handmade", used={"a": 1}) as t:
            t.end(generated={"b": Thing()})
        for step in capture.Loop(range(2000), name="epochs", item_name="epoch"):
            pass
        loop = capture.Loop(["a", b"bytes", Thing()], name="items")
        for item in loop:
            loop.end_iter({"v": 1.5})
        for item in capture.LightweightLoop(range(5000), name="light loop"):
            if item == 4000:
                break
        eng = WorkflowEngine()
        eng.callbacks.replace([lambda obj, e: None, lambda obj, e: obj.append(1)])
        record_engine(eng)
        eng.process([[0], [1]])
    return run.id


def by_id(nodes: list[Node]) -> dict[str, dict[str, Any]]:
    return {n.id: n.props for n in nodes}


def test_segments_read_back_what_the_expanders_make(store: SqliteStore) -> None:
    sink = Sink(store, strict=True, interval=3600)
    set_sink(sink)
    captured: list[Any] = []
    real_write = sink._write_batch

    def keep(batch: list[Any]) -> None:
        captured.extend(batch)
        real_write(batch)

    sink._write_batch = keep  # type: ignore[method-assign]
    run_id = program()
    sink.flush()
    assert sink.stats.segmented > 5000  # most records went to segments
    expected, _ = sink._expand(captured)  # the same records, expanded as for any other store
    stored = list(store.find_nodes(run=run_id))
    hot = {"Task", "Callback", "Activation"}
    want = [n for n in expected if n.kind in hot]
    got = [n for n in stored if n.kind in hot]
    assert len(got) == len(want) == len({n.id for n in got})
    # Lightweight tasks are numbered where they are stored: compare them by their props.
    light = [n for n in want if n.props.get("lightweight")]
    assert Counter(repr(sorted(n.props.items())) for n in light) == \
        Counter(repr(sorted(n.props.items())) for n in got if n.props.get("lightweight"))
    others_want = by_id([n for n in want if not n.props.get("lightweight")])
    others_got = by_id([n for n in got if not n.props.get("lightweight")])
    assert others_got == others_want
    buffers = [n.props["used"]["x"] for n in got if n.props.get("lightweight") and type(n.props["used"]["x"]) is dict]
    assert {b["type"] for b in buffers} == {"bytearray", "memoryview"}  # summaries, not raw bytes
    for n in got:  # every node is found again by its id, as lineage and `kg show` look them up
        assert store.get_node(n.id) == n


def test_nodes_are_found_by_id_by_parent_and_in_lineage(store: SqliteStore) -> None:
    set_sink(Sink(store, strict=True))

    @capture.task(output_names="y")
    def produce(n):  # type: ignore[no-untyped-def]
        return [n] * 3

    @capture.task(output_names="z")
    def consume(y):  # type: ignore[no-untyped-def]
        return len(y)

    with capture.Run(name="lookups") as run:
        for i in range(600):
            consume(produce(i))
        loop = capture.Loop(range(3000), name="L")
        for _ in loop:
            pass
    capture.flush()
    tasks = [n for n in store.find_nodes(run=run.id, kind="Task") if n.props["name"].endswith("consume")]
    last = tasks[-1]
    up = store.lineage(f"{last.id}/out/z", direction="up", depth=4)
    names = {n.props.get("name") for n in up.nodes}
    assert any(str(x).endswith("produce") for x in names)  # through the stored dataflow edge
    assert store.get_node(f"{loop.id}/0").props["index"] == 0
    assert store.get_node(f"{loop.id}/2999").props["index"] == 2999
    assert store.get_node(f"{loop.id}/3000") is None
    children = store.children_of([loop.id])
    assert len(children) == 3000 and {c.props["parent"] for c in children} == {loop.id}
    top = store.children_of([run.id])
    assert len([c for c in top if c.kind == "Task"]) == 1200
    assert list(store.find_nodes(run=run.id, kind="Task", limit=7)).__len__() == 7
    found = list(store.find_nodes(id_prefix=f"{loop.id}/29"))
    assert {n.id for n in found} == {f"{loop.id}/{i}" for i in [29, *range(290, 300), *range(2900, 3000)]}


def test_writing_a_node_a_segment_holds_merges_it_and_keeps_one(store: SqliteStore) -> None:
    set_sink(Sink(store, strict=True))

    @capture.task
    def f(x):  # type: ignore[no-untyped-def]
        return x

    with capture.Run(name="merge") as run:
        for i in range(10):
            f(i)
    capture.flush()
    before = store.counts()["nodes"]
    first = next(n for n in store.find_nodes(run=run.id, kind="Task"))
    store.write([Node(first.id, "Activity", "Task", {"note": "annotated"})])  # e.g. an import of the same run
    again = store.get_node(first.id)
    assert again is not None and again.props["note"] == "annotated" and again.props["used"] == first.props["used"]
    assert store.counts()["nodes"] == before
    ids = [n.id for n in store.find_nodes(run=run.id)]
    assert len(ids) == len(set(ids))
    store.write([Node(first.id, "Activity", "Task", {"note": "twice"})])
    assert store.get_node(first.id).props["note"] == "twice"  # type: ignore[union-attr]
    assert [n.id for n in store.children_of([run.id])].count(first.id) == 1


def test_split_id_round_trips_only_canonical_numbers() -> None:
    for text, want in [("t-abc.1f", ("t-abc.", 31)), ("t-abc.1f/0", ("t-abc.1f/", 0)), ("a-x.0", ("a-x.", 0)),
                       ("t-abc.1f/in/x", ("t-abc.1f/in/x", -1)), ("t-abc.01", ("t-abc.01", -1)),
                       ("0192abcd-7abc", ("0192abcd-7abc", -1)), ("r/part/7", ("r/part/", 7)), ("", ("", -1))]:
        assert segments.split_id(text) == want
        if want[1] >= 0:
            assert segments.join_id(*want) == text


def test_c_and_python_keys_agree() -> None:
    native = pytest.importorskip("kg._ckeys", reason="C keys not built")
    recs: list[tuple[Any, ...]] = [(1, n, p, "run") for n, p in
                                   [(1, 0), (2, 1), (5000, 4999), (3, "run/part/x"), (2 ** 40, 2 ** 40 - 1),
                                    (7, None), (8, ""), (9, 2048)]]
    assert native.keys(recs, 1, 2, 10) == segments.py_keys(recs, 1, 2, 10)
    with pytest.raises(TypeError):
        native.keys([(1, "x", 0)], 1, 2, 10)


def test_a_damaged_segment_is_a_clear_error(store: SqliteStore, tmp_path: Path) -> None:
    set_sink(Sink(store, strict=True))

    @capture.task
    def f(x):  # type: ignore[no-untyped-def]
        return x

    with capture.Run(name="damaged") as run:
        f(1)
    capture.flush()
    con = sqlite3.connect(store.path)
    con.execute("UPDATE segs SET data = x'00ff00'")
    con.commit()
    con.close()
    fresh = SqliteStore(store.path)
    with pytest.raises(StoreError, match="segment .* is damaged"):
        list(fresh.find_nodes(run=run.id))
    fresh.close()


def test_long_values_are_summarised_not_stored_whole(store: SqliteStore) -> None:
    set_sink(Sink(store, strict=True))

    @capture.task(lightweight=True)
    def light(text):  # type: ignore[no-untyped-def]
        return len(text)

    @capture.task
    def full(text):  # type: ignore[no-untyped-def]
        return text[:3]

    big = "x" * 1_000_000
    with capture.Run(name="long values") as run:
        for _ in range(20):
            light(big)
            full(big)
            light("short")
    capture.flush()
    store.close()
    assert Path(store.path).stat().st_size < 2_000_000  # 40 MB of arguments were not kept
    with SqliteStore(store.path) as again:
        used = [n.props["used"]["text"] for n in again.find_nodes(run=run.id, kind="Task")]
    assert len(used) == 60
    assert sum(1 for u in used if u == "short") == 20
    assert all(u["size"] == 1_000_000 and u["type"] == "str" for u in used if u != "short")


def test_loops_are_kept_in_segments_however_long(store: SqliteStore) -> None:
    set_sink(Sink(store, strict=True))
    with capture.Run(name="loops"):
        loop = capture.Loop(range(50_000), name="long")
        for _ in loop:
            pass
        for i in (light := capture.LightweightLoop(range(50_000), name="light")):
            light.end_iter({"v": i * 0.5})
    capture.flush()
    con = sqlite3.connect(store.path)
    in_segments = con.execute("SELECT coalesce(sum(count), 0) FROM segs WHERE codec = 'loop'").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM nodes WHERE kind = 'Task'").fetchone()[0]
    con.close()
    assert in_segments == 100_000 and rows == 0  # chunks of 4,096 iterations are not "long values"
    assert Path(store.path).stat().st_size < 100_000 * 40
