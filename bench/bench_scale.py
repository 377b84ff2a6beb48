"""Reading a large embedded store: lineage, `kg list` and `kg show` on a store of ~1M activations.

Two `kg run` trials of a recursive program (every activation recorded) make the store: one of
~900,000 activations and one of ~100,000. Then, each beside its target:

* ``Store.lineage(<activation>/out/return, "up", depth=10)`` for random activations, in a new
  process (nothing cached): the median and the 90th percentile of the queries;
* `kg list`, `kg show 2` and `kg show 2 -a` (the 100,000-activation trial with its activation
  tree), whole commands, median of --repeat;
* the store's bytes per activation;
* the peak memory (RSS) of a `kg run` that records 10,000,000 activations (``--memory N``; 0 skips it).

    .venv/bin/python bench/bench_scale.py [--big 900000] [--small 100000] [--queries 200]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import report  # noqa: E402

PROGRAM = """
import sys

def leaf(x):
    return x * 2

def node(x, depth):
    if depth == 0:
        return leaf(x)
    return node(x, depth - 1) + node(x + 1, depth - 1)

total = 0
for i in range(int(sys.argv[1])):
    total += node(i, 4)
print(total)
"""
PER_ITEM = 47  # activations per item: 31 node + 16 leaf

LINEAGE = """
import json, random, sqlite3, statistics, sys, time
from kg.stores.sqlite import SqliteStore
db, queries = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
procs = con.execute("SELECT proc, sum(count) FROM segs WHERE codec = 'act' GROUP BY proc").fetchall()
con.close()
rnd = random.Random(7)
t = time.perf_counter()
store = SqliteStore(db)
opened = time.perf_counter() - t
times, sizes = [], []
for _ in range(queries):
    proc, count = rnd.choice(procs)
    start = f"a-{proc}.{rnd.randint(1, count):x}/out/return"
    t = time.perf_counter()
    sub = store.lineage(start, direction="up", depth=10)
    times.append(time.perf_counter() - t)
    sizes.append(len(sub.nodes))
times.sort()
print(json.dumps({"open": opened, "median": statistics.median(times),
                  "p90": times[int(len(times) * 0.9)], "nodes": statistics.median(sizes)}))
"""


def wall(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-600:]}")
    return time.perf_counter() - t, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=int, default=900_000, help="activations of the first trial")
    ap.add_argument("--small", type=int, default=100_000, help="activations of the trial shown")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--memory", type=int, default=10_000_000, help="activations of the peak-memory run (0: skip)")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="kg-scale-"))
    env = dict(os.environ, KG_HOME=str(d / ".kg"))
    env.pop("KG_STORE", None)
    (d / "prog.py").write_text(PROGRAM)
    kg = [sys.executable, "-m", "kg"]
    t_big, _ = wall([*kg, "run", "prog.py", str(args.big // PER_ITEM)], env, d)
    t_small, _ = wall([*kg, "run", "prog.py", str(args.small // PER_ITEM)], env, d)
    db = d / ".kg" / "kg.db"
    _, out = wall([sys.executable, "-c", "import sys; from kg.stores.sqlite import SqliteStore;"
                   "s = SqliteStore(sys.argv[1]); print(sum(r.props.get('activations', 0) for r in s.runs()))",
                   str(db)], env, d)
    activations = int(out)
    _, out = wall([sys.executable, "-c", LINEAGE, str(db), str(args.queries)], env, d)
    lin = json.loads(out)
    rows = [("store", f"{activations:,} activations", f"kg run {t_big:.1f} s + {t_small:.1f} s"),
            ("on disk", f"{db.stat().st_size / activations:.0f} B/activation", "target ≤ 150")]
    med, p90 = lin["median"] * 1e3, lin["p90"] * 1e3
    rows.append(("lineage --up, depth 10", f"{med:.2f} ms",
                 f"median of {args.queries} random activations in a new process (target < 5 ms: "
                 f"{'MET' if med < 5 else 'NOT MET'}); p90 {p90:.2f} ms; {lin['nodes']:.0f} nodes each; "
                 f"store opened in {lin['open'] * 1e3:.1f} ms"))
    for label, cmd in (("kg list", ["list"]), ("kg show 2", ["show", "2"]), ("kg show 2 -a", ["show", "2", "-a"])):
        times = [wall([*kg, *cmd], env, d)[0] for _ in range(args.repeat)]
        med_s = statistics.median(times)
        rows.append((label, f"{med_s:.2f} s", f"whole command, median of {args.repeat} (target < 1 s: "
                                              f"{'MET' if med_s < 1 else 'NOT MET'})"))
    base = statistics.median(wall([sys.executable, "-c", "pass"], env, d)[0] for _ in range(args.repeat))
    rows.append(("python -c pass", f"{base:.2f} s", "the interpreter's own start-up, for scale"))
    if args.memory:
        rows.append(peak_memory(args.memory, env))
    report(f"a store of {activations:,} activations", rows)
    shutil.rmtree(d, ignore_errors=True)


PEAK = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)
"""


def peak_memory(n: int, env: dict[str, str]) -> tuple[str, str, str]:
    """`kg run` recording ``n`` activations in a fresh store: its peak RSS (the largest child's)."""
    d = Path(tempfile.mkdtemp(prefix="kg-scale-mem-"))
    (d / "prog.py").write_text(PROGRAM)
    env = dict(env, KG_HOME=str(d / ".kg"))
    _, out = wall([sys.executable, "-c", PEAK, sys.executable, "-m", "kg", "run", "prog.py", str(n // PER_ITEM)],
                  env, d)
    kb, secs = out.split()
    mb = int(kb) / 1024
    shutil.rmtree(d, ignore_errors=True)
    return (f"kg run of {n:,} activations", f"{mb:.0f} MB peak RSS",
            f"target ≤ 500 MB: {'MET' if mb <= 500 else 'NOT MET'}; {float(secs):.1f} s")


if __name__ == "__main__":
    main()
