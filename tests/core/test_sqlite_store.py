"""The embedded store: idempotent upserts, numbering, schema checks, several writer processes, crashes."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kg.exceptions import AmbiguousReference, NotFound, SchemaError
from kg.model import edge, node
from kg.stores.sqlite import SqliteStore


def test_upsert_is_idempotent_and_merges_props(store: SqliteStore) -> None:
    recs = [node("a", "Entity", "Value", name="x", value=1), node("b", "Activity", "Task", name="f"),
            edge("USED", "b", "a", role="x", time=1.5)]
    store.write([r for r in recs if hasattr(r, "cls")], [r for r in recs if hasattr(r, "rel")])
    before = store.counts()
    store.write([node("a", "Entity", "Value", name="x", value=1)], [edge("USED", "b", "a", role="x", time=1.5)])
    assert store.counts() == before == {"nodes": 2, "edges": 1}
    store.write([node("b", "Activity", "Task", status="FINISHED", extra={"k": [1, 2]})])
    b = store.get_node("b")
    assert b is not None and b.props == {"name": "f", "status": "FINISHED", "extra": {"k": [1, 2]}}


def test_same_relation_in_two_roles_is_two_edges(store: SqliteStore) -> None:
    store.write([], [edge("USED", "t", "v", role="x"), edge("USED", "t", "v", role="y")])
    assert store.counts()["edges"] == 2


def test_runs_are_numbered_and_resolved_by_number_prefix_or_id(store: SqliteStore) -> None:
    store.write([node("0001-aaaa", "Activity", "Run", name="one"), node("0001-bbbb", "Activity", "Run"),
                 node("0002-cccc", "Activity", "Trial")])
    store.write([node("0001-aaaa", "Activity", "Run", status="finished")])  # re-write keeps the number
    assert [r.props["seq"] for r in store.runs()] == [1, 2, 3]
    assert store.resolve_run("1").id == "0001-aaaa"
    assert store.resolve_run("0002").id == "0002-cccc"
    assert store.resolve_run("0001-bbbb").id == "0001-bbbb"
    with pytest.raises(AmbiguousReference):
        store.resolve_run("0001")
    with pytest.raises(NotFound, match="no run 'zzz'"):
        store.resolve_run("zzz")


def test_hostile_text_is_stored_verbatim(store: SqliteStore) -> None:
    evil = "x'); DROP TABLE nodes; -- } DETACH DELETE n // \"\\\n\u2603"
    store.write([node(evil, "Entity", "Value", name=evil, value={evil: evil})], [edge("USED", evil, evil, role=evil)])
    n = store.get_node(evil)
    assert n is not None and n.props["name"] == evil and n.props["value"] == {evil: evil}
    assert next(store.find_edges(src=evil)).props["role"] == evil
    assert store.counts() == {"nodes": 1, "edges": 1}


def test_streaming_reads_page_through_everything(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SqliteStore, "_PAGE", 7)
    store.write([node(f"n{i:03d}", "Entity", "Value", run="r") for i in range(50)],
                [edge("WAS_DERIVED_FROM", f"n{i:03d}", f"n{i - 1:03d}", run="r") for i in range(1, 50)])
    assert [n.id for n in store.find_nodes(run="r")] == [f"n{i:03d}" for i in range(50)]
    assert len(list(store.find_edges(run="r"))) == 49
    assert len(list(store.find_nodes(limit=10))) == 10
    sg = store.lineage("n049", direction="up", depth=5)
    assert sg.depth["n044"] == 5 and "n043" not in sg.depth


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="not a provkg store"):
        SqliteStore(path)


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(SchemaError, match="not a provkg store"):
        SqliteStore(path)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kg.db"
    SqliteStore(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE kg_meta SET value='999' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="version 999"):
        SqliteStore(path)


WRITER = textwrap.dedent("""
    import sys
    import capture
    from kg.sink import Sink, set_sink
    set_sink(Sink(sys.argv[1], batch_size=500))
    @capture.task
    def work(i):
        return i * 2
    with capture.Run(name="writer-" + sys.argv[2]):
        for i in range(int(sys.argv[3])):
            work(i)
""")


def test_two_processes_capture_into_one_store(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    SqliteStore(db).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 5000
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(k), str(n)]) for k in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    with SqliteStore(db) as s:
        runs = s.runs()
        assert sorted(r.props["name"] for r in runs) == ["writer-0", "writer-1"]
        assert sorted(r.props["seq"] for r in runs) == [1, 2]
        for r in runs:
            tasks = list(s.find_nodes(run=r.id, kind="Task"))
            assert len(tasks) == n
            assert sorted(t.props["used"]["i"] for t in tasks) == list(range(n))
        ids = [x.id for x in s.find_nodes(kind="Task")]
        assert len(ids) == len(set(ids)) == 2 * n


CRASHER = textwrap.dedent("""
    import sys, time
    import capture
    from kg.sink import Sink, set_sink
    set_sink(Sink(sys.argv[1], interval=0.05))
    @capture.task
    def step(i):
        return i
    with capture.Run(name="doomed"):
        for i in range(100):
            step(i)
        capture.flush()
        print("flushed", flush=True)
        time.sleep(60)
""")


def test_kill_9_leaves_an_openable_store_and_an_unfinished_run(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "flushed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with SqliteStore(db) as s:
        (run,) = s.runs()
        assert run.props["status"] == "unfinished"
        assert len(list(s.find_nodes(run=run.id, kind="Task"))) == 100


SIGTERMED = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a program started normally has it
    import capture
    from kg.sink import Sink, set_sink
    set_sink(Sink(sys.argv[1], interval=3600))  # only the SIGTERM handler can flush
    @capture.task
    def step(i):
        return i
    capture.Run(name="terminated").start()
    for i in range(50):
        step(i)
    print("ready", flush=True)
    time.sleep(60)
""")


def test_sigterm_flushes_what_was_captured(tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    script = tmp_path / "term.py"
    script.write_text(SIGTERMED)
    proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM  # still dies of SIGTERM, as without capture
    with SqliteStore(db) as s:
        (run,) = s.runs()
        assert len(list(s.find_nodes(run=run.id, kind="Task"))) == 50
