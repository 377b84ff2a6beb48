"""Neo4j store benchmarks: records/s pushed, and upstream-lineage latency on a 1M-node graph beside SQLite.

    python bench/bench_neo4j.py [--uri bolt://127.0.0.1:7687] [--nodes 1000000] [--tasks 30000]

1. push: a captured-like run (compact tasks with inputs, outputs and dataflow) is written to
   a fresh SQLite store (baseline: SQLite's own ingest rate), then pushed into Neo4j with
   ``kg.push.copy_runs`` — the code path of ``kg push``. Target: >= 50,000 records/s. A
   second push must leave node and relationship counts unchanged.
2. lineage: a generated provenance graph of ``--nodes`` nodes (chains of tasks, each using the
   previous output and one earlier output, informed by its run) is loaded into Neo4j with
   UNWIND batches and into SQLite; the median latency of ``Store.lineage(value, "up",
   depth=10)`` is measured on both in the same run. Target: Neo4j median < 50 ms.

The generated records carry a fresh id prefix; ``--cleanup`` deletes them afterwards."""
from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report, scratch  # noqa: E402
from kg.model import Edge, Node  # noqa: E402
from kg.push import copy_runs, default_neo4j_uri  # noqa: E402
from kg.stores.neo4j import Neo4jStore  # noqa: E402
from kg.stores.sqlite import SqliteStore  # noqa: E402


def captured_run(prefix: str, tasks: int) -> tuple[list[Node], list[Edge]]:
    """What ``@capture.task`` writes: one compact activity per call, dataflow edges, a run, agents."""
    run = f"{prefix}run"
    nodes = [Node(run, "Activity", "Run", {"name": "bench", "run": run, "status": "finished", "started": 0.0}),
             Node(f"{prefix}agent", "Agent", "Person", {"name": "bench"})]
    edges = [Edge("WAS_ASSOCIATED_WITH", run, f"{prefix}agent", {"role": "user", "run": run})]
    for i in range(tasks):
        tid = f"{prefix}t{i}"
        used: dict[str, object] = {"x": i, "cfg": {"lr": 0.1, "layers": [3, 4]}}
        if i:
            used["prev"] = {"$from": f"{prefix}t{i - 1}/out/y", "summary": {"type": "int"}}
            edges.append(Edge("USED", tid, f"{prefix}t{i - 1}/out/y", {"role": "prev", "run": run, "time": i}))
        nodes.append(Node(tid, "Activity", "Task", {
            "name": f"step{i % 10}", "run": run, "parent": run, "started": float(i), "ended": i + 0.5,
            "duration": 0.5, "status": "FINISHED", "used": used, "generated": {"y": {"type": "int", "repr": str(i)}}}))
    return nodes, edges


def bench_push(uri: str, tasks: int) -> list[tuple[str, str, str]]:
    prefix = f"bp-{secrets.token_hex(4)}-"
    home = scratch("neo4j")
    nodes, edges = captured_run(prefix, tasks)
    sqlite = SqliteStore(home / "src.db")
    t0 = time.perf_counter()
    for i in range(0, len(nodes), 10_000):
        sqlite.write(nodes[i:i + 10_000])
    sqlite.write([], edges)
    t_sqlite = time.perf_counter() - t0
    written = len(nodes) + len(edges)

    target = Neo4jStore(uri)
    target.counts()  # schema set-up outside the timing
    t0 = time.perf_counter()
    rep = copy_runs(sqlite, target, [f"{prefix}run"])
    t_push = time.perf_counter() - t0
    after_first = target.counts()
    t0 = time.perf_counter()
    copy_runs(sqlite, target, [f"{prefix}run"])
    t_again = time.perf_counter() - t0
    after_second = target.counts()
    _delete_prefix(target, prefix)
    target.close()
    sqlite.close()
    rate = rep.records / t_push
    return [
        ("records pushed (exploded run)", f"{rep.records:,}", f"{tasks:,} compact tasks"),
        ("sqlite ingest (baseline)", f"{written / t_sqlite:,.0f}/s", f"{written:,} compact records"),
        ("push into neo4j", f"{rate:,.0f}/s",
         f"{'OK' if rate >= 50_000 else 'BELOW'} target 50,000/s; {rate / (written / t_sqlite):.2f}x sqlite"),
        ("second push", f"{rep.records / t_again:,.0f}/s",
         "counts unchanged" if after_first == after_second else f"COUNTS CHANGED {after_first} -> {after_second}"),
    ]


def _delete_prefix(store: Neo4jStore, prefix: str) -> None:
    while True:
        rows = store.cypher("MATCH (n:KG) WHERE n.id STARTS WITH $p WITH n LIMIT 20000 DETACH DELETE n "
                            "RETURN count(*) AS c", {"p": prefix}, write=True)
        if not rows or rows[0]["c"] == 0:
            return


# -- the 1M-node graph --------------------------------------------------------------
def graph_rows(prefix: str, n_nodes: int, steps: int, seed: int = 7) -> tuple[list[dict], list[dict], list[tuple]]:
    """Runs of ``steps`` tasks; task i USED value i-1 and one random earlier value, generated value i,
    and was informed by its run. Two nodes per task, four relationships."""
    rnd = random.Random(seed)
    tasks_total = max(1, n_nodes // 2)
    nodes: list[dict] = []
    rels: list[tuple] = []  # (rel, src, dst, role, run)
    run_no = 0
    while len(nodes) < tasks_total * 2:
        run = f"{prefix}r{run_no}"
        nodes.append({"id": run, "cls": "Activity", "kind": "Run", "run": run, "name": f"run{run_no}"})
        for i in range(steps):
            if len(nodes) >= tasks_total * 2:
                break
            a, v = f"{prefix}r{run_no}a{i}", f"{prefix}r{run_no}v{i}"
            nodes.append({"id": a, "cls": "Activity", "kind": "Task", "run": run, "name": f"step{i % 20}",
                          "parent": run})
            nodes.append({"id": v, "cls": "Entity", "kind": "Value", "run": run, "name": "y"})
            rels.append(("WAS_GENERATED_BY", v, a, "y", run))
            rels.append(("WAS_INFORMED_BY", a, run, "parent", run))
            if i:
                rels.append(("USED", a, f"{prefix}r{run_no}v{i - 1}", "prev", run))
            if i > 1:
                rels.append(("USED", a, f"{prefix}r{run_no}v{rnd.randrange(0, i - 1)}", "aux", run))
        run_no += 1
    return nodes, [], rels


def load_neo4j(store: Neo4jStore, nodes: list[dict], rels: list[tuple], batch: int = 20_000) -> float:
    """UNWIND CREATE in batches (fresh ids, so no MERGE needed), with the store's schema in place."""
    store.counts()
    driver = store._driver
    t0 = time.perf_counter()
    by_label: dict[tuple[str, str], list[dict]] = {}
    for n in nodes:
        by_label.setdefault((n["cls"], n["kind"]), []).append(
            {"id": n["id"], "p": {k: n[k] for k in ("run", "name", "parent") if k in n}})
    for (cls, kind), rows in by_label.items():
        q = f"UNWIND $rows AS r CREATE (n:KG:{cls}:{kind}) SET n = r.p, n.id = r.id, n.kind = $kind"
        for i in range(0, len(rows), batch):
            driver.execute_query(q, rows=rows[i:i + batch], kind=kind, database_=store.database)
    by_rel: dict[str, list[dict]] = {}
    for rel, s, d, role, run in rels:
        by_rel.setdefault(rel, []).append({"s": s, "d": d, "role": role, "run": run})
    for rel, rows in by_rel.items():
        q = (f"UNWIND $rows AS r MATCH (a:KG {{id: r.s}}) MATCH (b:KG {{id: r.d}}) "
             f"CREATE (a)-[:{rel} {{role: r.role, run: r.run}}]->(b)")
        for i in range(0, len(rows), batch):
            driver.execute_query(q, rows=rows[i:i + batch], database_=store.database)
    return time.perf_counter() - t0


def load_sqlite(store: SqliteStore, nodes: list[dict], rels: list[tuple], batch: int = 50_000) -> float:
    t0 = time.perf_counter()
    recs = [Node(n["id"], n["cls"], n["kind"], {k: n[k] for k in ("run", "name", "parent") if k in n}) for n in nodes]
    for i in range(0, len(recs), batch):
        store.write(recs[i:i + batch])
    erecs = [Edge(rel, s, d, {"role": role, "run": run}) for rel, s, d, role, run in rels]
    for i in range(0, len(erecs), batch):
        store.write([], erecs[i:i + batch])
    return time.perf_counter() - t0


def bench_lineage(uri: str, n_nodes: int, queries: int, depth: int, cleanup: bool) -> list[tuple[str, str, str]]:
    prefix = f"bl-{secrets.token_hex(4)}-"
    home = scratch("neo4j-lineage")
    nodes, _, rels = graph_rows(prefix, n_nodes, steps=2000)
    neo = Neo4jStore(uri)
    sq = SqliteStore(home / "lineage.db")
    t_neo = load_neo4j(neo, nodes, rels)
    t_sq = load_sqlite(sq, nodes, rels)
    rnd = random.Random(11)
    values = [n["id"] for n in nodes if n["kind"] == "Value"]
    sample = rnd.sample(values, queries)
    for v in sample[:3]:  # warm both caches the same way
        neo.lineage(v, direction="up", depth=depth)
        sq.lineage(v, direction="up", depth=depth)
    lat_neo, lat_sq, sizes = [], [], []
    for v in sample:
        t0 = time.perf_counter()
        g = neo.lineage(v, direction="up", depth=depth)
        lat_neo.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        h = sq.lineage(v, direction="up", depth=depth)
        lat_sq.append(time.perf_counter() - t0)
        if set(g.depth) != set(h.depth):
            raise SystemExit(f"lineage of {v} differs between Neo4j and SQLite")
        sizes.append(len(g.depth))
    med_neo, med_sq = statistics.median(lat_neo) * 1000, statistics.median(lat_sq) * 1000
    counts = neo.counts()
    if cleanup:
        _delete_prefix(neo, prefix)
    neo.close()
    sq.close()
    return [
        ("graph", f"{len(nodes):,} nodes", f"{len(rels):,} relationships (neo4j total: {counts['nodes']:,} nodes)"),
        ("load neo4j (UNWIND CREATE)", f"{(len(nodes) + len(rels)) / t_neo:,.0f}/s", f"{t_neo:.1f}s"),
        ("load sqlite", f"{(len(nodes) + len(rels)) / t_sq:,.0f}/s", f"{t_sq:.1f}s"),
        (f"lineage up depth {depth}: sqlite", f"{med_sq:.2f} ms", f"median of {queries}; "
                                                                 f"median {statistics.median(sizes):.0f} nodes reached"),
        (f"lineage up depth {depth}: neo4j", f"{med_neo:.2f} ms",
         f"{'OK' if med_neo < 50 else 'ABOVE'} target 50 ms; {med_neo / med_sq:.2f}x sqlite"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", default=default_neo4j_uri(None))
    ap.add_argument("--nodes", type=int, default=1_000_000, help="size of the lineage graph")
    ap.add_argument("--tasks", type=int, default=30_000, help="compact tasks in the pushed run")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--skip-lineage", action="store_true")
    ap.add_argument("--cleanup", action="store_true", help="delete the generated graph afterwards")
    args = ap.parse_args()
    report(f"push into Neo4j at {args.uri}", bench_push(args.uri, args.tasks))
    if not args.skip_lineage:
        report(f"upstream lineage, Neo4j beside SQLite ({args.nodes:,} nodes)",
               bench_lineage(args.uri, args.nodes, args.queries, args.depth, args.cleanup))
    os.environ.pop("KG_HOME", None)


if __name__ == "__main__":
    main()
