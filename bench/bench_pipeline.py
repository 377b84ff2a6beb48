"""Capture until queryable: the cost of a record from the program's thread to a new process reading it.

For each capture path (``@capture.task``, lightweight task, ``capture.Loop``, ``LightweightLoop``)
it runs a program making N calls or iterations twice, as separate processes: plainly (it still
imports ``capture``) and captured in one ``capture.Run``. It prints, per record, the time added

* on the program's thread (its loop),
* until durable (the run block has exited: every record is committed to the store),
* until queryable (the process has ended and a new process reads every record: its first read
  beyond a second one, in case a first read has work left to do),

the store's bytes per record, beside the floor measured in the same run (a bare ``executemany``
of N narrow rows into SQLite) and, when Flowcept runs here, Flowcept's offline figures.

Then four processes capturing 250,000 tasks each into one store at once (all queryable, no
duplicate id, no error reaching a program), and `kg run` as a whole command until stored, every
activation recorded, beside plain python: ``fib(27)`` and real third-party programs
(pyperformance's benchmark sources, bench/programs).

    .venv/bin/python bench/bench_pipeline.py                  # everything, N = 100,000 / 200,000
    .venv/bin/python bench/bench_pipeline.py --only task,light --n 50000
    .venv/bin/python bench/bench_pipeline.py --only run --repeat 5
    .venv/bin/python bench/bench_pipeline.py --flowcept-python /path/to/venv/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import report  # noqa: E402

PATHS = {"task": 100_000, "light": 100_000, "loop": 200_000, "lightloop": 200_000}
TARGETS = {"task": 2.0, "light": 0.6, "loop": 1.0, "lightloop": 0.5}  # µs per record until queryable
DISK_TARGET = 150  # bytes per recorded task or activation

PROGRAM = '''
import json, sys, time
import capture
n, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def f(x, y=2):
    return x + y

ft = capture.task(f, name="f", lightweight=(path == "light"))
t0 = time.perf_counter()
if mode == "plain":
    if path in ("task", "light"):
        for i in range(n):
            f(i)
    else:
        for i in range(n):
            pass
    t1 = t2 = time.perf_counter()
else:
    with capture.Run(name="bench-" + path):
        ta = time.perf_counter()
        if path in ("task", "light"):
            for i in range(n):
                ft(i)
        else:
            for i in (capture.Loop if path == "loop" else capture.LightweightLoop)(range(n), name="l"):
                pass
        t1 = time.perf_counter() - ta + t0
    t2 = time.perf_counter()
print(json.dumps({"loop": t1 - t0, "durable": t2 - t0}))
'''

# A new process's first query: whatever a store leaves for its first reader (waiting for a writer,
# ingesting) shows as the first probe's time beyond a second one.
PROBE = '''
from kg.stores import open_store
print(open_store().counts()["nodes"])
'''

READER = '''
import sys
from kg.stores import open_store
s = open_store()
run = s.runs()[-1]
print(sum(1 for n in s.find_nodes(run=run.id) if n.kind in ("Task", "Activation")))
'''

FIB = '''
import sys
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(fib(int(sys.argv[1])))
'''


def wall(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-600:]}")
    return dt, r.stdout


def fresh(tag: str) -> tuple[Path, dict[str, str]]:
    d = Path(tempfile.mkdtemp(prefix=f"kg-pipe-{tag}-"))
    env = dict(os.environ, KG_HOME=str(d / ".kg"))
    env.pop("KG_STORE", None)
    return d, env


def read_twice(env: dict[str, str], cwd: Path, expect: int | None) -> tuple[float, float, int]:
    """(a new process's first query beyond a second one, the time a new process takes to read every
    record of the run, the records it read)."""
    p1, _ = wall([sys.executable, "-c", PROBE], env, cwd)
    p2, _ = wall([sys.executable, "-c", PROBE], env, cwd)
    read, out = wall([sys.executable, "-c", READER], env, cwd)
    count = int(out.strip())
    if expect is not None and count != expect:
        raise SystemExit(f"a new process read {count} records, expected {expect}")
    return max(0.0, p1 - p2), read, count


def store_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("kg.db*"))


def capture_path(path: str, n: int, repeat: int) -> dict[str, float]:
    rows: list[dict[str, float]] = []
    for _ in range(repeat):
        d, env = fresh(path)
        prog = d / "prog.py"
        prog.write_text(PROGRAM)
        t_plain, out = wall([sys.executable, str(prog), str(n), path, "plain"], env, d)
        plain = json.loads(out)
        t_cap, out = wall([sys.executable, str(prog), str(n), path, "capture"], env, d)
        cap = json.loads(out)
        first, read, _ = read_twice(env, d, n)
        rows.append({
            "thread": (cap["loop"] - plain["loop"]) / n * 1e6,
            "durable": (cap["durable"] - plain["durable"]) / n * 1e6,
            "queryable": (t_cap + first - t_plain) / n * 1e6,
            "read": read / n * 1e6,
            "bytes": store_bytes(d / ".kg") / n,
        })
        shutil.rmtree(d, ignore_errors=True)
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def sqlite_floor(n: int) -> tuple[float, float]:
    """(µs per row, bytes per row) of a bare executemany of narrow task rows, 10,000 per commit."""
    d = Path(tempfile.mkdtemp(prefix="kg-pipe-floor-"))
    db = d / "floor.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE t (id TEXT PRIMARY KEY, run TEXT, name TEXT, started REAL, ended REAL, "
                "status TEXT, props TEXT) WITHOUT ROWID")
    run = "01936e4c-0000-7000-8000-000000000000"
    rows = [(f"t-abcdefghijklmnop.{i:x}", run, "f", 1.7e9 + i, 1.7e9 + i + 1e-6, "FINISHED",
             f'{{"used":{{"x":{i},"y":2}},"generated":{{"result":{i + 2}}}}}') for i in range(n)]
    t = time.perf_counter()
    for i in range(0, n, 10_000):
        con.execute("BEGIN")
        con.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?)", rows[i:i + 10_000])
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    size = sum(p.stat().st_size for p in d.glob("floor.db*"))
    shutil.rmtree(d, ignore_errors=True)
    return dt / n * 1e6, size / n


def flowcept(python: str | None, path: str, n: int) -> dict[str, Any] | None:
    try:
        import _flowcept_peer
    except ImportError:
        return None
    py = python or sys.executable
    return _flowcept_peer.measure(py, path, n) if _flowcept_peer.available(py) else None


def section_paths(args: argparse.Namespace) -> None:
    floor_us, floor_b = sqlite_floor(max(PATHS.values()) if args.n is None else args.n)
    rows = [("floor: bare SQLite executemany", f"{floor_us:.2f} µs/row", f"{floor_b:.0f} B/row, 10,000 rows a commit")]
    peer_note = ""
    for path, default_n in PATHS.items():
        if args.only and path not in args.only:
            continue
        n = args.n or default_n
        m = capture_path(path, n, args.repeat)
        target = TARGETS[path]
        ok = "MET" if m["queryable"] <= target else "NOT MET"
        rows.append((f"{path}: on the program's thread", f"{m['thread']:.2f} µs", f"N = {n:,}"))
        rows.append((f"{path}: until durable", f"{m['durable']:.2f} µs", "the run block has exited"))
        rows.append((f"{path}: until queryable", f"{m['queryable']:.2f} µs",
                     f"target ≤ {target}: {ok}; {m['queryable'] / floor_us:.2f}x the SQLite floor"))
        rows.append((f"{path}: on disk", f"{m['bytes']:.0f} B/record",
                     f"target ≤ {DISK_TARGET}: {'MET' if m['bytes'] <= DISK_TARGET else 'NOT MET'}"))
        rows.append((f"{path}: a new process reads all", f"{m['read']:.2f} µs/record", "(not in the figures above)"))
        peer = flowcept(args.flowcept_python, path, n)
        if peer is not None:
            # Flowcept writes its file as its block exits: compared with ours until durable (our block exit)
            rows.append((f"{path}: Flowcept {peer.get('flowcept', '')} offline", f"{peer['until_written_us']:.2f} µs",
                         f"until its file is written (block exit; hot {peer['hot_us']:.2f} µs): "
                         f"{peer['until_written_us'] / max(m['durable'], 1e-9):.1f}x ours until durable"))
        else:
            peer_note = "Flowcept is not installed for this python: its figures are left out (pip install flowcept)"
    if peer_note:
        rows.append(("Flowcept", "-", peer_note))
    report("capture until queryable, µs added per record (median of --repeat)", rows)


def kg_run_ratio(script: Path, argv: list[str], repeat: int, env_extra: dict[str, str] | None = None,
                 kg_args: tuple[str, ...] = ()) -> dict[str, float]:
    """Plain python vs `kg run` until stored (a new process reads the trial's activations)."""
    kg = [sys.executable, "-m", "kg", "run", *kg_args]
    py_times, kg_times, acts = [], [], 0
    for _ in range(repeat):
        d, env = fresh("run")
        env.update(env_extra or {})
        # The whole directory, data files included (pyflate opens data/ beside itself).
        shutil.copytree(script.parent, d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        t_py, _ = wall([sys.executable, script.name, *argv], env, d)
        t_kg, _ = wall([*kg, script.name, *argv], env, d)
        first, _, acts = read_twice(env, d, None)
        py_times.append(t_py)
        kg_times.append(t_kg + first)
        shutil.rmtree(d, ignore_errors=True)
    py, kg_t = statistics.median(py_times), statistics.median(kg_times)
    return {"python": py, "kg": kg_t, "ratio": kg_t / py, "activations": acts}


def section_run(args: argparse.Namespace) -> None:
    rows = []
    d = Path(tempfile.mkdtemp(prefix="kg-pipe-fib-"))
    (d / "fib.py").write_text(FIB)
    for values in args.values:
        m = kg_run_ratio(d / "fib.py", ["27"], args.repeat, kg_args=("--values", values))
        rows.append((f"fib(27), --values {values}", f"{m['ratio']:.1f}x",
                     f"python {m['python']:.2f} s, kg run until stored {m['kg']:.2f} s (target ≤ 15x: "
                     f"{'MET' if m['ratio'] <= 15 else 'NOT MET'}); {m['activations']:,} activations"))
    shutil.rmtree(d, ignore_errors=True)
    try:
        import programs
        src = programs.prepare()
    except Exception as exc:  # no network, no pip: say so instead of failing the whole bench
        rows.append(("third-party programs", "-", f"not available: {exc}"))
        report("`kg run`, whole command until stored, beside python", rows)
        return
    ratios: dict[str, list[float]] = {v: [] for v in args.values}
    for name, argv in programs.PROGRAMS.items():
        cells = []
        for values in args.values:
            m = kg_run_ratio(src / f"bm_{name}.py", argv, args.repeat, programs.env(), ("--values", values))
            ratios[values].append(m["ratio"])
            cells.append(f"{values} {m['ratio']:.1f}x ({m['kg']:.2f} s)")
        rows.append((name, f"{ratios[args.values[0]][-1]:.1f}x",
                     f"python {m['python']:.2f} s; " + ", ".join(cells) + f"; {m['activations']:,} activations"))
    for values in args.values:
        med, worst = statistics.median(ratios[values]), max(ratios[values])
        rows.append((f"{len(ratios[values])} programs, --values {values}: median", f"{med:.1f}x",
                     f"target ≤ 4x: {'MET' if med <= 4 else 'NOT MET'}"))
        rows.append((f"{len(ratios[values])} programs, --values {values}: worst", f"{worst:.1f}x",
                     f"target ≤ 15x: {'MET' if worst <= 15 else 'NOT MET'}"))
    report("`kg run`, whole command until stored, beside python (median of --repeat; first column: "
           f"--values {args.values[0]})", rows)


CONCURRENT_CHECK = '''
import sys
from kg.stores import open_store
s = open_store()
ids, runs = set(), 0
for run in s.runs():
    runs += 1
    for n in s.find_nodes(run=run.id, kind="Task"):
        ids.add(n.id)
print(runs, len(ids))
'''


def section_concurrent(args: argparse.Namespace) -> None:
    """Four processes capturing tasks into one store at once: every record queryable, ids distinct."""
    per = args.n or 250_000
    d, env = fresh("concurrent")
    prog = d / "prog.py"
    prog.write_text(PROGRAM)
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(prog), str(per), "task", "capture"], env=env, cwd=d,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = []
    for p in procs:
        _out, err = p.communicate(timeout=3600)
        if p.returncode != 0 or "locked" in err or "fault" in err:
            errors.append(err.strip()[-300:] or f"exit {p.returncode}")
    elapsed = time.perf_counter() - t
    _, out = wall([sys.executable, "-c", CONCURRENT_CHECK], env, d)
    runs, distinct = map(int, out.split())
    t_one, _ = wall([sys.executable, str(prog), str(per), "task", "capture"], *fresh("concurrent-one")[::-1])
    ok = runs == 4 and distinct == 4 * per and not errors
    rows = [("4 processes x tasks", f"{4 * per:,} records", f"all at once into one store, {elapsed:.1f} s "
                                                            f"(one process alone: {t_one:.1f} s)"),
            ("queryable after", f"{distinct:,} distinct ids", f"{runs} runs; {'OK' if ok else 'NOT OK'}"),
            ("errors reaching the programs", str(len(errors)), "; ".join(errors) or "none (no 'database is locked')")]
    report("several writers, one store", rows)
    shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="records per capture path (default: 100,000 / 200,000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", type=lambda s: set(s.split(",")), default=None,
                    help="comma-separated: task, light, loop, lightloop, run, concurrent")
    ap.add_argument("--flowcept-python", default=None, help="a python with flowcept installed (default: this one)")
    ap.add_argument("--values", type=lambda s: s.split(","), default=["full", "type"],
                    help="kg run --values modes to measure, comma-separated (default: full,type; full is the default)")
    args = ap.parse_args()
    if not args.only or args.only & set(PATHS):
        section_paths(args)
    if not args.only or "concurrent" in args.only:
        section_concurrent(args)
    if not args.only or "run" in args.only:
        section_run(args)


if __name__ == "__main__":
    main()
