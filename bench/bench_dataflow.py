"""Cost of `kg run --dataflow` (every assignment of the script recorded, with what it was
computed from) beside plain python and beside `kg run` without it, measured in the same run.

    .venv/bin/python bench/bench_dataflow.py [--repeat 3] [--n 20000]

Workload: bench/run_workloads/call_heavy.py (small pure-Python functions that assign, loop and
return at every step). Times are whole commands, until the trial is stored (`kg run` returns
then), median of --repeat; target: --dataflow ≤ 20x plain python (noWorkflow's fine-grained
mode: ~7,000x on a call-heavy script on this machine)."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's kg, for the store read below too


def _wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    import time

    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr[-500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000, help="records the workload processes")
    args = ap.parse_args()
    src = HERE / "run_workloads" / "call_heavy.py"
    times: dict[str, list[float]] = {"python": [], "kg run": [], "kg run --dataflow": []}
    versions = 0
    for _ in range(args.repeat):
        d = Path(tempfile.mkdtemp(prefix="kg-bench-df-"))
        shutil.copy(src, d / "prog.py")
        # The kg of this checkout, not whichever the interpreter has installed (the run's cwd is the temp dir).
        env = {**os.environ, "KG_HOME": str(d / ".kg"),
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
        times["python"].append(_wall([sys.executable, "prog.py", str(args.n)], d, env))
        times["kg run"].append(_wall([sys.executable, "-m", "kg", "run", "prog.py", str(args.n)], d, env))
        times["kg run --dataflow"].append(_wall([sys.executable, "-m", "kg", "run", "--dataflow", "prog.py",
                                                 str(args.n)], d, env))
        from kg.stores.sqlite import SqliteStore

        store = SqliteStore(d / ".kg" / "kg.db", create=False)
        try:
            versions = sum(1 for _ in store.find_nodes(kind="Variable"))
        finally:
            store.close()
        shutil.rmtree(d, ignore_errors=True)
    py = statistics.median(times["python"])
    rows = [("python", f"{py:.2f} s", "baseline")]
    for name in ("kg run", "kg run --dataflow"):
        t = statistics.median(times[name])
        note = f"{t / py:.1f}x python"
        if name.endswith("dataflow"):
            note += f" (target ≤ 20x: {'MET' if t / py <= 20 else 'NOT MET'}); {versions:,} variable versions; " \
                    f"{t / statistics.median(times['kg run']):.1f}x kg run"
        rows.append((name, f"{t:.2f} s", note))
    report(f"fine-grained dataflow, call_heavy {args.n}, whole command until stored (median of {args.repeat})", rows)


if __name__ == "__main__":
    main()
