"""The sink never raises into user code, counts what it could not store, and raises in strict mode."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import capture
from kg.exceptions import StoreError
from kg.sink import Sink, set_sink
from kg.stores.sqlite import SqliteStore


def _readonly_store(tmp_path: Path) -> SqliteStore:
    path = tmp_path / "ro" / "kg.db"
    SqliteStore(path).close()
    s = SqliteStore(path)
    s._raw.execute("PRAGMA query_only = ON")  # a real store that refuses writes
    return s


def test_store_failure_is_counted_not_raised(tmp_path: Path) -> None:
    store = _readonly_store(tmp_path)
    sink = Sink(store, strict=False, interval=3600)
    set_sink(sink)

    @capture.task(name="work")
    def work(x):
        return x * 2

    with capture.Run(name="doomed"):  # Run.start flushes: must not raise either
        assert [work(i) for i in range(10)] == [i * 2 for i in range(10)]
    sink.flush()
    assert sink.stats.lost >= 10 and sink.stats.written == 0


def test_strict_mode_raises_on_flush(tmp_path: Path) -> None:
    store = _readonly_store(tmp_path)
    sink = Sink(store, strict=True, interval=3600)
    sink.put(__import__("kg").node("x", "Entity", "Value"))
    with pytest.raises(StoreError, match="write failed"):
        sink.flush()


def test_bad_record_from_a_producer_is_a_fault_not_a_crash(store: SqliteStore) -> None:
    from kg.sink import register_expander

    def broken(item, nodes, edges):
        raise RuntimeError("bad expander")

    code = register_expander(broken)
    sink = Sink(store, strict=False, interval=3600)
    sink.put((code, 1))
    sink.put(__import__("kg").node("ok", "Entity", "Value"))
    sink.flush()
    assert sink.stats.faults == 1 and store.get_node("ok") is not None


def test_default_sink_writes_to_kg_home(tmp_path: Path) -> None:
    @capture.task(name="f")
    def f():
        return 1

    with capture.Run(name="home"):
        f()
    assert (Path(os.environ["KG_HOME"]) / "kg.db").exists()
    with SqliteStore(Path(os.environ["KG_HOME"]) / "kg.db") as s:
        assert [r.props["name"] for r in s.runs()] == ["home"]
