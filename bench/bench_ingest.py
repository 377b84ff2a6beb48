"""SQLite ingest rate of the embedded store, against a bare sqlite3 insert of the same rows.

    .venv/bin/python bench/bench_ingest.py [N]
"""
from __future__ import annotations

import sqlite3
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import report, scratch  # noqa: E402


def records(n: int, run: str = "r1"):
    """A realistic mix: per 4 records, an activity, an entity, a USED and a WAS_GENERATED_BY edge."""
    from kg.model import Edge, Node

    t = time.time()
    nodes, edges = [], []
    for i in range(n // 4):
        a, e = f"a-bench.{i:x}", f"e-bench.{i:x}"
        nodes.append(Node(a, "Activity", "Task", {"run": run, "name": "step", "started": t, "ended": t,
                                                  "status": "FINISHED", "used": {"x": i}}))
        nodes.append(Node(e, "Entity", "Value", {"run": run, "name": "y", "value": i}))
        edges.append(Edge("USED", a, f"e-bench.{i - 1:x}", {"run": run, "role": "x", "time": t}))
        edges.append(Edge("WAS_GENERATED_BY", e, a, {"run": run, "role": "y", "time": t}))
    return nodes, edges


def main(n: int = 400_000) -> None:
    tmp = scratch("ingest")
    from kg.stores.sqlite import SqliteStore

    nodes, edges = records(n)
    total = len(nodes) + len(edges)

    con = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE t (a TEXT, b TEXT, c TEXT, d TEXT)")
    rows = [(x.id, x.cls, x.kind, "{}") for x in nodes] + [(x.src, x.rel, x.dst, "{}") for x in edges]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    bare = time.perf_counter() - t0
    con.close()

    store = SqliteStore(tmp / "kg.db")
    batch = 10_000
    t0 = time.perf_counter()
    for i in range(0, len(nodes), batch // 2):
        store.write(nodes[i:i + batch // 2], edges[i:i + batch // 2])
    ours = time.perf_counter() - t0
    assert store.counts() == {"nodes": len(nodes), "edges": len(edges)}
    t0 = time.perf_counter()
    store.write(nodes[:batch], edges[:batch])  # idempotent re-write of a batch
    again = time.perf_counter() - t0
    store.close()
    report(f"SQLite ingest, {total} records (nodes + edges), batches of {batch}", [
        ("bare sqlite3 insert (no index, no JSON)", f"{total / bare:,.0f} rec/s", "baseline"),
        ("provkg SqliteStore.write", f"{total / ours:,.0f} rec/s",
         f"{bare / ours:.2f}x baseline; target ≥ 200,000 rec/s: {'MET' if total / ours >= 200_000 else 'NOT MET'}"),
        ("re-write of one batch (upsert, no change)", f"{2 * batch / again:,.0f} rec/s", ""),
    ])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400_000)
