"""Every named SPARQL query on a `kg run` trial of demo 1, as a user runs it: the whole
`kg sparql NAME 1` command (load of the trial's RDF and the query), default engine, each
beside the target of 2 s (issue 18), and beside rdflib's time in the same run.

Parameters the queries need are bound to the trial's own nodes (the trial, its first file
version, its first file).

    python bench/bench_sparql.py [--repeat 3] [--engines auto,rdflib]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch  # noqa: E402

TARGET_S = 2.0


def kg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=os.environ.copy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default="auto,rdflib")
    args = ap.parse_args()
    d = scratch("sparql")
    demo = d / "demo1"
    kg("demo", "1", "-d", str(demo), cwd=d).check_returncode()
    ran = kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=demo)
    ran.check_returncode()
    trial = json.loads(kg("list", "-F", "json", cwd=demo).stdout)[0]["id"]
    acts = len(json.loads(kg("export", "1", "-F", "provjson", cwd=demo).stdout).get("activity", {}))
    accessed = json.loads(kg("sparql", "run-files", "1", "-p", f"run={trial}", "-F", "json", cwd=demo).stdout)
    bind = {"run": trial, "start": accessed[-1]["version"], "source": accessed[0]["file"]}
    queries = json.loads(kg("sparql", "--list", "-F", "json", cwd=demo).stdout)
    rows = []
    worst = 0.0
    for q in queries:
        name, params = q["name"], q.get("parameters", "")
        extra = [x for p, v in bind.items() if f"?{p}" in params for x in ("-p", f"{p}={v}")]
        cells = []
        for engine in args.engines.split(","):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = kg("sparql", name, "1", *extra, "--engine", engine, "-F", "json", cwd=demo)
                times.append(time.perf_counter() - t0)
                out.check_returncode()
            t = statistics.median(times)
            if engine == "auto":
                worst = max(worst, t)
            cells.append((engine, t, len(json.loads(out.stdout))))
        auto = cells[0]
        rows.append((name, f"{auto[1]:.2f} s",
                     f"{auto[2]} rows; target < {TARGET_S:.0f} s: {'MET' if auto[1] < TARGET_S else 'NOT MET'}; "
                     + ", ".join(f"{e} {t:.2f} s ({t / auto[1]:.1f}x the default)" for e, t, _ in cells[1:])))
    rows.append(("slowest (default engine)", f"{worst:.2f} s", f"{acts:,} activities in the trial"))
    report("`kg sparql NAME 1` on demo 1 (whole command, median)", rows)


if __name__ == "__main__":
    main()
