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

0. records: records per task, the full PROV (what Neo4j held before tasks were kept compact)
   beside what Neo4j holds after ``kg push``. Target: <= 2 for tasks whose values link nothing.
   ``raw`` compares ``kg push`` with the raw driver writing the same rows (target >= 0.8x),
   ``live`` the tasks per second that reach Neo4j from a capturing program (goal >= 15,000/s).

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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report, scratch  # noqa: E402
from kg.model import Edge, Node  # noqa: E402
from kg.push import CopyReport, copy_runs, default_neo4j_uri  # noqa: E402
from kg.stores.neo4j import Neo4jStore  # noqa: E402
from kg.stores.sqlite import SqliteStore  # noqa: E402


def captured_run(prefix: str, tasks: int, *, dataflow: bool = True) -> tuple[list[Node], list[Edge]]:
    """What ``@capture.task`` writes: one compact activity per call, dataflow edges (each task using
    the previous one's output, unless not ``dataflow``), a run, agents."""
    run = f"{prefix}run"
    nodes = [Node(run, "Activity", "Run", {"name": "bench", "run": run, "status": "finished", "started": 0.0}),
             Node(f"{prefix}agent", "Agent", "Person", {"name": "bench"})]
    edges = [Edge("WAS_ASSOCIATED_WITH", run, f"{prefix}agent", {"role": "user", "run": run})]
    for i in range(tasks):
        tid = f"{prefix}t{i}"
        used: dict[str, object] = {"x": i, "cfg": {"lr": 0.1, "layers": [3, 4]}}
        if i and dataflow:
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
        ("records copied (compact run)", f"{rep.records:,}", f"{tasks:,} compact tasks"),
        ("sqlite ingest (baseline)", f"{written / t_sqlite:,.0f}/s", f"{written:,} compact records"),
        ("push into neo4j", f"{rate:,.0f}/s",
         f"{'OK' if rate >= 50_000 else 'BELOW'} target 50,000/s; {rate / (written / t_sqlite):.2f}x sqlite"),
        ("second push", f"{rep.records / t_again:,.0f}/s",
         "counts unchanged" if after_first == after_second else f"COUNTS CHANGED {after_first} -> {after_second}"),
    ]


def bench_raw_driver(uri: str, tasks: int, repeat: int = 1) -> list[tuple[str, str, str]]:
    """``kg push`` beside plain driver sessions writing the same rows with the same statements
    (UNWIND … MERGE, WRITE_BATCH rows each, nodes then relationships, ``neo4j_writers`` sessions
    round robin): what the store adds on top of the server's own rate. With ``repeat`` the pair
    is measured that many times (alternating which goes first) and medians are reported."""
    from kg.config import settings

    pairs = [_raw_pair(uri, tasks, raw_first=bool(i % 2)) for i in range(repeat)]
    ours = statistics.median(p[0] for p in pairs)
    raw = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    runs = f"median of {repeat}; " if repeat > 1 else ""
    return [
        ("raw driver (baseline)", f"{raw:,.0f}/s", f"{runs}{pairs[0][2]:,} rows, {settings.neo4j_writers} sessions"),
        ("kg push (copy_runs)", f"{ours:,.0f}/s",
         f"{ratio:.2f}x raw ({'OK' if ratio >= 0.8 else 'BELOW'} target 0.8x; each pair: "
         f"{', '.join(f'{p[0] / p[1]:.2f}' for p in pairs)}); {sum(p[3] for p in pairs)} transactions retried"),
    ]


def _raw_pair(uri: str, tasks: int, *, raw_first: bool) -> tuple[float, float, int, int]:
    """One measurement of ``kg push`` and the raw driver on the same rows (other ids): (push
    rate, raw rate, rows, transactions retried), both rates in the rows Neo4j receives."""
    from concurrent.futures import ThreadPoolExecutor

    from kg.config import settings
    from kg.stores.neo4j import _EDGE_WRITE, _NODE_WRITE, WRITE_BATCH, _q
    from kg.stores._neo4j_rows import _prepare

    home = scratch("neo4j-raw")
    ours, raw = f"bq-{secrets.token_hex(4)}-", f"br-{secrets.token_hex(4)}-"
    sqlite, target = _source_and_target(home, uri, ours, tasks)
    # the same rows, other ids, prepared outside the timing: only the server's work is timed
    nodes, edges = sqlite.run_records([f"{ours}run"], expand=False)
    nodes_l = [Node(_swap(n.id, ours, raw), n.cls, n.kind, _swap(n.props, ours, raw)) for n in nodes]
    edges_l = [Edge(e.rel, _swap(e.src, ours, raw), _swap(e.dst, ours, raw), _swap(e.props, ours, raw))
               for e in edges]
    rows = _prepare(nodes_l, edges_l)
    driver = target._driver

    def run(job: tuple[str, dict]) -> None:
        with driver.session(database=target.database) as s:
            s.execute_write(lambda tx: tx.run(job[0], job[1]).consume())

    def raw_push() -> float:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(settings.neo4j_writers) as pool:
            jobs = [(_NODE_WRITE.format(labels=f"{c}:{_q(k)}" if k != c else c),
                     {"rows": group[i:i + WRITE_BATCH], "kind": k, "keep": ["KG", c, k]})
                    for (c, k), group in rows.nodes.items() for i in range(0, len(group), WRITE_BATCH)]
            list(pool.map(run, jobs))
            jobs = [(_EDGE_WRITE.format(rel=_q(rel)), {"rows": group[i:i + WRITE_BATCH]})
                    for rel, group in rows.edges.items() for i in range(0, len(group), WRITE_BATCH)]
            list(pool.map(run, jobs))
        return time.perf_counter() - t0

    def our_push() -> float:
        t0 = time.perf_counter()
        copy_runs(sqlite, target, [f"{ours}run"])
        return time.perf_counter() - t0

    t_raw = raw_push() if raw_first else 0.0
    t_push = our_push()
    t_raw = t_raw or raw_push()
    held = _held(target, f"{ours}run")
    retries = getattr(target, "retries", 0)
    for p in (ours, raw):
        _delete_prefix(target, p)
    target.close()
    sqlite.close()
    return held / t_push, rows.count / t_raw, rows.count, retries


def bench_records(uri: str, tasks: int) -> list[tuple[str, str, str]]:
    """Records per task: the full PROV of a run (what Neo4j held before tasks were kept compact, and
    what exports give) beside what Neo4j holds after ``kg push``, for tasks whose values link
    nothing and for tasks that each use the previous one's output."""
    out = []
    for dataflow, what in ((False, "values that link nothing"), (True, "each task using the previous output")):
        home = scratch("neo4j-records")
        prefix = f"bc-{secrets.token_hex(4)}-"
        nodes, edges = captured_run(prefix, tasks, dataflow=dataflow)
        sqlite = SqliteStore(home / "src.db")
        sqlite.write(nodes, edges)
        full_n, full_e = sqlite.run_records([f"{prefix}run"])
        full = sum(1 for n in full_n if n.props.get("run")) + sum(1 for _ in full_e)
        target = Neo4jStore(uri)
        copy_runs(sqlite, target, [f"{prefix}run"])
        held = _held(target, f"{prefix}run")
        _delete_prefix(target, prefix)
        target.close()
        sqlite.close()
        # the run's own records (its node, its agent) are shared by every task: rounded away
        goal = f"; {'OK' if round(held / tasks, 2) <= 2 else 'ABOVE'} target <= 2" if not dataflow else ""
        out += [(f"full PROV per task, {what} (before)", f"{full / tasks:.2f}", f"{tasks:,} tasks"),
                (f"records per task in neo4j, {what}", f"{held / tasks:.2f}", f"{held / full:.2f}x before{goal}")]
    return out


def _swap(v: Any, old: str, new: str) -> Any:
    """``v`` with every string's ``old`` prefix-id replaced by ``new`` (props nest references)."""
    if isinstance(v, str):
        return v.replace(old, new)
    if isinstance(v, dict):
        return {k: _swap(x, old, new) for k, x in v.items()}
    if isinstance(v, list):
        return [_swap(x, old, new) for x in v]
    return v


def _held(store: Neo4jStore, run: str) -> int:
    """Nodes and relationships Neo4j holds for ``run`` (its nodes and the relationships leaving them)."""
    rows = store.cypher("MATCH (n:KG) WHERE n.run = $r OR n.id = $r "
                        "RETURN count(n) + sum(COUNT { (n)-[]->() }) AS c", {"r": run})
    return int(rows[0]["c"])


LIVE_PROGRAM = """
import sys, time
import capture

@capture.task(output_names="y")
def step(i):
    return i * 2

n = int(sys.argv[2])
t0 = time.perf_counter()
with capture.Run(name=sys.argv[1]):
    for i in range(n):
        step(i)
print(time.perf_counter() - t0, time.time())
"""


def bench_live(uri: str, tasks: int, direct_tasks: int, repeat: int = 1) -> list[tuple[str, str, str]]:
    """A program of ``tasks`` @capture.task calls in one Run: its time per task until the run
    block exits, into the embedded store (baseline) and into Neo4j; then how long until every
    task is queryable in Neo4j (the detached pusher the program started sends them). With
    ``repeat``, medians of that many programs of each kind."""
    import subprocess

    home = scratch("neo4j-live")
    prog = home / "prog.py"
    prog.write_text(LIVE_PROGRAM)

    def program(name: str, n: int, **env: str) -> tuple[float, float, float]:
        full = {**os.environ, "KG_HOME": str(home / name / ".kg"), **env}
        (home / name).mkdir()
        t_start = time.time()
        out = subprocess.run([sys.executable, str(prog), name, str(n)], env=full, cwd=home / name,
                             capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]) / n, t_start, float(out[1])

    store = Neo4jStore(uri)

    def live_once() -> tuple[float, float, float]:
        """(seconds per task in the program, seconds until every task is in Neo4j, until it exited)"""
        name = f"live-{secrets.token_hex(3)}"
        live, t_start, t_exit = program(name, tasks, KG_STORE=uri)
        outbox = home / name / ".kg" / "outbox"
        while True:
            rows = store.cypher("MATCH (r:Run {name: $n}) OPTIONAL MATCH (t:Task {run: r.id}) "
                                "RETURN count(t) AS c, head(collect(r.status)) AS s", {"n": name})
            if rows and rows[0]["c"] == tasks and rows[0]["s"] == "finished" and not list(outbox.glob("*/*.db*")):
                break
            time.sleep(0.05)
        return live, time.time() - t_start, t_exit - t_start

    emb = statistics.median(program(f"emb-{secrets.token_hex(3)}", tasks)[0] for _ in range(repeat))
    lives = [live_once() for _ in range(repeat)]
    live = statistics.median(r[0] for r in lives)
    t_all = statistics.median(r[1] for r in lives)
    t_exit = statistics.median(r[2] for r in lives)
    direct_rows: list[tuple[str, str, str]] = []
    if direct_tasks:
        dname = f"direct-{secrets.token_hex(3)}"
        direct, _, _ = program(dname, direct_tasks, KG_STORE=uri, KG_WRITE_BEHIND="0")
        direct_rows = [("  the same, written directly", f"{direct * 1e6:,.1f} us",
                        f"{direct_tasks:,} tasks, KG_WRITE_BEHIND=0 (the former path)")]
    store.close()
    added = (live - emb) * 1e6
    runs = f"median of {repeat}: " + ", ".join(f"{tasks / r[1]:,.0f}" for r in lives) + "; " if repeat > 1 else ""
    return [
        ("program, embedded store (baseline)", f"{emb * 1e6:,.2f} us", f"per task until the run block exits; "
                                                                     f"{tasks:,} tasks"),
        ("program, KG_STORE=bolt:// (write-behind)", f"{live * 1e6:,.2f} us",
         f"added {added:+.2f} us/task ({'OK' if added <= 3 else 'ABOVE'} target 3 us)"),
        *direct_rows,
        ("every task queryable in neo4j", f"{t_all:,.2f} s", f"after the program started; program exited "
                                                              f"after {t_exit:,.2f} s"),
        ("tasks reaching neo4j", f"{tasks / t_all:,.0f}/s", f"{runs}{'OK' if tasks / t_all >= 15_000 else 'BELOW'} "
                                                            "goal 15,000/s"),
    ]


def bench_bulk(uri: str, tasks: int) -> list[tuple[str, str, str]]:
    """The same run pushed online into ``uri`` and bulk-imported (``kg push --bulk``'s code) into
    an empty server of its own (scripts/neo4j on a scratch directory and free ports)."""
    import re
    import socket
    import subprocess

    from kg.bulk import bulk_import

    def free() -> int:
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            return int(sk.getsockname()[1])

    home = scratch("neo4j-bulk")
    prefix = f"bb-{secrets.token_hex(4)}-"
    sqlite, target, rep, t_online = _online_push(home, uri, prefix, tasks)
    _delete_prefix(target, prefix)
    target.close()
    launcher = Path(__file__).resolve().parent.parent / "scripts" / "neo4j"
    bolt = free()
    env = {**os.environ, "NEO4J_DEV_DATA": str(home / "neo4j"), "NEO4J_BOLT_PORT": str(bolt),
           "NEO4J_HTTP_PORT": str(free()), "NEO4J_DEV_HEAP": "1g", "NEO4J_DEV_PAGECACHE": "128m",
           "NEO4J_DEV_PYTHON": sys.executable}
    subprocess.run([str(launcher), "start"], env=env, check=True, capture_output=True)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the import command inherits the launcher's settings
    try:
        empty = Neo4jStore(f"bolt://127.0.0.1:{bolt}")
        t0 = time.perf_counter()
        files = bulk_import(sqlite, empty, home / "csv", [f"{prefix}run"], import_with=f"{launcher} import --")[0]
        t_total = time.perf_counter() - t0
        m = re.search(r"IMPORT DONE in (?:(\d+)m )?(\d+)s (\d+)ms", files.log)
        t_import = (int(m[1] or 0) * 60 + int(m[2]) + int(m[3]) / 1000) if m else float("nan")
        check = Neo4jStore(f"bolt://127.0.0.1:{bolt}")
        counts = check.counts()
        check.close()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        subprocess.run([str(launcher), "stop"], env=env, capture_output=True)
    online, imp, whole = rep.records / t_online, files.records / t_import, files.records / t_total
    return [
        ("online push (baseline)", f"{online:,.0f}/s", f"{rep.records:,} records"),
        ("neo4j-admin import alone", f"{imp:,.0f}/s", f"{imp / online:.1f}x online; {t_import:.1f}s as the importer reports"),
        ("kg push --bulk, whole", f"{whole:,.0f}/s", f"{whole / online:.2f}x online; {t_total:.1f}s: CSV, stop, import, "
                                                     f"start; {counts['nodes']:,} nodes {counts['edges']:,} rels"),
    ]


def _online_push(home: Path, uri: str, prefix: str, tasks: int) -> tuple[SqliteStore, Neo4jStore, CopyReport, float]:
    """A captured run of ``tasks`` tasks stored in ``home``/src.db, then pushed to ``uri`` online:
    (the SQLite store, the Neo4j store, the copy report, seconds the push took)."""
    sqlite, target = _source_and_target(home, uri, prefix, tasks)
    t0 = time.perf_counter()
    rep = copy_runs(sqlite, target, [f"{prefix}run"])
    return sqlite, target, rep, time.perf_counter() - t0


def _source_and_target(home: Path, uri: str, prefix: str, tasks: int) -> tuple[SqliteStore, Neo4jStore]:
    """A captured run of ``tasks`` tasks stored in ``home``/src.db, and the Neo4j store at ``uri``
    (connected, so that a timing that follows leaves the set-up out)."""
    nodes, edges = captured_run(prefix, tasks)
    sqlite = SqliteStore(home / "src.db")
    for i in range(0, len(nodes), 10_000):
        sqlite.write(nodes[i:i + 10_000])
    sqlite.write([], edges)
    target = Neo4jStore(uri)
    target.counts()
    return sqlite, target


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
    ap.add_argument("--live-tasks", type=int, default=20_000, help="tasks of the live-capture program")
    ap.add_argument("--direct-tasks", type=int, default=2_000,
                    help="tasks of the same program written directly (the former path; 0: skip)")
    ap.add_argument("--repeat", type=int, default=1, help="measure raw and live this many times (medians)")
    ap.add_argument("--only", choices=("records", "live", "raw", "bulk", "push", "lineage"), action="append",
                    help="run only these parts (repeatable)")
    args = ap.parse_args()
    only = set(args.only or ("records", "live", "raw", "bulk", "push", "lineage"))
    if "records" in only:
        report(f"records per task, before and after tasks were kept compact in Neo4j at {args.uri}",
               bench_records(args.uri, args.tasks))
    if "live" in only:
        report(f"live capture into Neo4j at {args.uri}",
               bench_live(args.uri, args.live_tasks, args.direct_tasks, args.repeat))
    if "raw" in only:
        report("kg push beside the raw driver, same rows and statements", bench_raw_driver(args.uri, args.tasks, args.repeat))
    if "bulk" in only:
        report("bulk import beside the online push (an empty server of its own)", bench_bulk(args.uri, args.tasks))
    if "push" not in only:
        return
    report(f"push into Neo4j at {args.uri}", bench_push(args.uri, args.tasks))
    if not args.skip_lineage and "lineage" in only:
        report(f"upstream lineage, Neo4j beside SQLite ({args.nodes:,} nodes)",
               bench_lineage(args.uri, args.nodes, args.queries, args.depth, args.cleanup))
    os.environ.pop("KG_HOME", None)


if __name__ == "__main__":
    main()
