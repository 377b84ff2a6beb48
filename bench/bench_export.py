"""Export at scale: time and peak memory of PROV-JSON, N-Triples and Prolog for a 1,000,000-record graph.

    .venv/bin/python bench/bench_export.py                 # 1M exported records
    .venv/bin/python bench/bench_export.py --records 100000 --formats provjson,nt

Builds a SqliteStore (written in batches through store.write) of activations in the compact
shape the tracer writes, file versions and their accesses, until the *exported* record count
(compact activations exploded into Values and relations) reaches --records. Each export runs
as the real CLI (`python -m kg export --all`) in its own subprocess; its wall time and peak RSS
(getrusage RUSAGE_CHILDREN of a launcher that runs only that child) are reported, with the
ratio to a baseline measured in the same run: reading every record (select_records) without
formatting. The targets are < 60 s and < 2 GB per format. It also times a SPARQL lineage query
with rdflib and with pyoxigraph on a smaller graph (--sparql-records) and prints the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.model import Kind, ProvClass, Relation, edge, node  # noqa: E402
from kg.stores.sqlite import SqliteStore  # noqa: E402

LAUNCHER = r"""
import resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{wall} {peak_kb} {r.returncode}")
sys.stderr.write(r.stderr.decode()[-2000:])
"""

READ_ONLY = r"""
from kg.stores import open_store
from kg.export._common import select_records
nodes, edges = select_records(open_store(None), None)
n = sum(1 for _ in nodes) + sum(1 for _ in edges)
print(n)
"""

# exported records per unit: activation (1) + 2 Values + USED + WAS_GENERATED_BY + WAS_INFORMED_BY (parent)
# and, every FILE_EVERY units, a FileVersion + SPECIALIZATION_OF + USED + WAS_DERIVED_FROM.
FILE_EVERY = 10


def build(path: Path, target: int, batch: int = 20_000) -> int:
    """Fill a store until the export would hold ``target`` records; returns that count."""
    store = SqliteStore(path)
    run = "bench-run"
    t0 = 1_700_000_000.0
    nodes = [node(run, ProvClass.ACTIVITY, Kind.TRIAL, run=run, name="bench.py", started=t0, ended=t0 + 1e5),
             node("file:data.csv", ProvClass.ENTITY, Kind.FILE, run=run, name="data.csv", path="/data/data.csv")]
    edges: list = []
    count = 2
    i = 0
    prev_fv = None
    while count < target:
        aid = f"act:{i}"
        parent = run if i % 100 == 0 else f"act:{i - i % 100}"
        nodes.append(node(aid, ProvClass.ACTIVITY, Kind.ACTIVATION, run=run, name=f"f{i % 37}", parent=parent,
                          started=t0 + i * 0.001, ended=t0 + i * 0.001 + 0.0005, line=i % 500,
                          used={"x": {"type": "int", "repr": str(i)}}, generated={"return": i * 2}))
        count += 6
        if i % FILE_EVERY == 0:
            fv = f"fv:data.csv@{i:012x}"
            nodes.append(node(fv, ProvClass.ENTITY, Kind.FILE_VERSION, run=run, name="data.csv",
                              sha256=f"{i:064x}", size=i))
            edges.append(edge(Relation.SPECIALIZATION_OF, fv, "file:data.csv", run=run))
            edges.append(edge(Relation.USED, aid, fv, role="open", time=t0 + i * 0.001, run=run))
            count += 3
            if prev_fv is not None:
                edges.append(edge(Relation.WAS_DERIVED_FROM, fv, prev_fv, run=run))
                count += 1
            prev_fv = fv
        i += 1
        if len(nodes) + len(edges) >= batch:
            store.write(nodes, edges)
            nodes, edges = [], []
    store.write(nodes, edges)
    store.close()
    return count


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    r = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], env=env, capture_output=True, text=True)
    wall, peak_kb, rc = r.stdout.split()
    return float(wall), int(peak_kb) / 1024, int(rc), r.stderr


def sparql_bench(records: int, tmp: Path) -> None:
    try:
        import pyoxigraph  # noqa: F401
    except ImportError:
        print("sparql: pyoxigraph not installed; skipping the engine comparison")
        return
    from kg.export._common import select_records
    from kg.export.sparql import find_query, run_sparql

    path = tmp / "sparql.db"
    n = build(path, records)
    store = SqliteStore(path)
    text = find_query(str(ROOT / "queries" / "lineage-files.sparql"))[0]
    start = f"act:{(n // 7) - (n // 7) % 10}"
    times = {}
    answers = {}
    for engine in ("rdflib", "oxigraph"):
        nodes, edges = select_records(store, None)
        t = time.perf_counter()
        res = run_sparql(nodes, edges, text, nodes_bound={"start": start}, engine=engine)
        times[engine] = time.perf_counter() - t
        answers[engine] = sorted(r["file"] for r in res.rows)
    store.close()
    assert answers["rdflib"] == answers["oxigraph"], answers
    print(f"sparql lineage-files over {n} records (load + query): rdflib {times['rdflib']:.2f}s, "
          f"oxigraph {times['oxigraph']:.2f}s, ratio rdflib/oxigraph {times['rdflib'] / times['oxigraph']:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--formats", default="provjson,nt,prolog")
    ap.add_argument("--sparql-records", type=int, default=50_000, help="0 to skip the SPARQL comparison")
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the store at this path")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kg-bench-export-") as tmpdir:
        tmp = Path(tmpdir)
        db = args.keep or tmp / "bench.db"
        t = time.perf_counter()
        if args.keep and db.exists():
            total = json.loads((db.with_suffix(".count")).read_text())
        else:
            total = build(db, args.records)
            if args.keep:
                db.with_suffix(".count").write_text(json.dumps(total))
        print(f"store: {total} exported records ({os.path.getsize(db) / 2**20:.0f} MB) built in "
              f"{time.perf_counter() - t:.1f}s")
        env = dict(os.environ, KG_STORE=str(db), KG_HOME=str(tmp / ".kg"), PYTHONPATH=str(ROOT))
        base_wall, base_mb, rc, err = timed([sys.executable, "-c", READ_ONLY], env)
        assert rc == 0, err
        print(f"baseline (read every record, no output): {base_wall:.1f}s, peak {base_mb:.0f} MB")
        print(f"{'format':10} {'seconds':>8} {'x read':>7} {'peak MB':>8} {'MB out':>7}  target <60s <2048MB")
        ok = True
        for fmt in args.formats.split(","):
            out = tmp / f"out.{fmt}"
            cmd = [sys.executable, "-m", "kg", "export", "--all", "-o", str(out)]
            cmd += ["-F", "rdf", "-O", "rdf_format=nt"] if fmt == "nt" else ["-F", fmt]
            wall, peak, rc, err = timed(cmd, env)
            if rc != 0:
                print(f"{fmt}: failed: {err.strip()[-500:]}")
                ok = False
                continue
            size = out.stat().st_size / 2**20
            good = wall < 60 and peak < 2048
            ok &= good
            print(f"{fmt:10} {wall:8.1f} {wall / base_wall:7.1f} {peak:8.0f} {size:7.0f}  {'ok' if good else 'MISSED'}")
            out.unlink()
        if args.sparql_records:
            sparql_bench(args.sparql_records, tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
