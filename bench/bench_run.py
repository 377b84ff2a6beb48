"""Slowdown of `kg run` over plain python, and beside noWorkflow (`now run`), measured in the same run.

    .venv/bin/python bench/bench_run.py                 # Python 3.11: setprofile tracer
    .venv312/bin/python bench/bench_run.py              # Python 3.12: sys.monitoring tracer
    python bench/bench_run.py --now .bench-venv-now/bin/now --repeat 3 --only call_heavy

Workloads (bench/run_workloads/): call_heavy (small pure-Python functions, ~0.6 us each),
call_micro (fib: calls that do nothing), library_heavy (json/zlib/hashlib/re/sort do the
work), io_heavy (files written, read, appended, copied). Every user-code activation is
recorded (default options). Times are wall-clock seconds of the whole command, median of
--repeat runs, interpreter start-up included; ``startup`` is `kg run` of an empty script,
and ``net ratio`` leaves that fixed cost out. Records = activations stored.

`kg run` ends once every record is in SQLite, so the command's time is the whole cost
(bench_pipeline.py also times a new process reading them)."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "call_heavy": ["20000"],
    "call_micro": ["20"],
    "library_heavy": ["4"],
    "io_heavy": ["120"],
}


def timed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float | None, int]:
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, -1
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.stderr.write(f"  ! {' '.join(cmd)} exited {r.returncode}: {r.stderr.decode()[-300:]}\n")
    return dt, r.returncode


def fresh_dir(script: Path) -> Path:
    d = Path(tempfile.mkdtemp(prefix="kgbench-"))
    shutil.copy(script, d / script.name)
    return d


def activations(home: Path) -> int:
    db = home / "kg.db"
    if not db.exists():
        return 0
    from kg.stores.sqlite import SqliteStore

    with SqliteStore(db) as store:
        return sum(1 for _ in store.find_nodes(kind="Activation"))


def median(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if len(vals) == len(xs) and vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--now", default=str(HERE.parent / ".bench-venv-now" / "bin" / "now"),
                    help="noWorkflow's `now` command (skipped if missing)")
    ap.add_argument("--now-timeout", type=float, default=300.0)
    ap.add_argument("--kg-arg", action="append", default=[], help="extra `kg run` option, e.g. --kg-arg=--values=none")
    args = ap.parse_args()
    py = sys.executable
    import compileall  # provkg's modules as an installed package has them (scripts/setup does this too)

    for pkg in ("kg", "capture"):
        compileall.compile_dir(str(HERE.parent / pkg), quiet=1)
    env = dict(os.environ)
    env.pop("KG_STORE", None)
    now_cmd = args.now if os.path.exists(args.now) else None
    now_py = str(Path(args.now).with_name("python")) if now_cmd else None

    empty = Path(tempfile.mkdtemp(prefix="kgbench-")) / "empty.py"
    empty.write_text("pass\n")
    base_py = median([timed([py, str(empty)], empty.parent, env, 60)[0] for _ in range(args.repeat)]) or 0.0
    starts = []
    for _ in range(args.repeat):
        home = Path(tempfile.mkdtemp(prefix="kgbench-home-"))
        starts.append(timed([py, "-m", "kg", "run", str(empty)], empty.parent, {**env, "KG_HOME": str(home)}, 60)[0])
    startup = (median(starts) or 0.0) - base_py
    print(f"python {sys.version.split()[0]} ({py}); kg run start-up overhead {startup:.2f}s "
          f"(empty script: python {base_py:.2f}s)")
    header = f"{'workload':<14}{'python':>8}{'kg run':>9}{'ratio':>7}{'net':>7}{'stored':>8}{'ratio':>7}" \
             f"{'records':>9}{'us/rec':>8}{'now run':>10}{'now ratio':>10}"
    print(header)
    for name in args.only or list(WORKLOADS):
        script = HERE / "run_workloads" / f"{name}.py"
        wargs = WORKLOADS[name]
        plain, kgt, stored = [], [], []
        records = 0
        for _ in range(args.repeat):
            d = fresh_dir(script)
            plain.append(timed([py, script.name, *wargs], d, env, 600)[0])
            home = d / ".kg"
            kgt.append(timed([py, "-m", "kg", "run", *args.kg_arg, script.name, *wargs], d,
                             {**env, "KG_HOME": str(home)}, 600)[0])
            stored.append(kgt[-1])  # the command ends once its records are stored
            records = activations(home)
            shutil.rmtree(d, ignore_errors=True)
        p, k, st = median(plain), median(kgt), median(stored)
        now_t = now_ratio = None
        if now_cmd and now_py:
            d = fresh_dir(script)
            now_plain = timed([now_py, script.name, *wargs], d, env, 600)[0]
            now_t, _rc = timed([now_cmd, "run", script.name, *wargs], d, env, args.now_timeout)
            if now_t is not None and now_plain:
                now_ratio = now_t / now_plain
            shutil.rmtree(d, ignore_errors=True)
        if p is None or k is None or st is None:
            print(f"{name:<14} failed")
            continue
        net = max(k - startup, p) / p
        per = (st - startup - p) / records * 1e6 if records else 0.0
        now_txt = f"{now_t:.2f}" if now_t is not None else (f">{args.now_timeout:.0f}" if now_cmd else "n/a")
        nr_txt = f"{now_ratio:.1f}x" if now_ratio is not None else ("-" if now_cmd else "n/a")
        print(f"{name:<14}{p:>8.2f}{k:>9.2f}{k / p:>6.1f}x{net:>6.1f}x{st:>8.2f}{st / p:>6.1f}x"
              f"{records:>9}{per:>8.1f}{now_txt:>10}{nr_txt:>10}",
              flush=True)


if __name__ == "__main__":
    main()
