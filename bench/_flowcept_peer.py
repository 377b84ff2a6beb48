"""Flowcept's figures for bench_pipeline.py: the same capture paths, offline (records dumped to a JSONL file).

Flowcept's defaults, without a settings file, are its offline mode: no message queue, no
database, telemetry off, every record appended to ``flowcept_buffer.jsonl`` in the working
directory. For each path a program makes N calls or iterations, plainly and captured, as
separate processes (both import flowcept), the way bench_pipeline.py measures provkg:

* ``hot_us``: the captured loop beyond the plain one, per record;
* ``until_written_us``: the captured process beyond the plain one (its file is complete when
  the process has ended), per record;
* ``records`` in the file (checked against N) and its bytes per record.

    python bench/_flowcept_peer.py --n 100000 --path task    # one JSON line (exit 3: no flowcept)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["available", "measure"]

PROGRAM = """
import json, sys, time
from flowcept import Flowcept, FlowceptLightweightLoop, FlowceptLoop, flowcept_task, lightweight_flowcept_task
n, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def f(x, y=2):
    return x + y

ft = (flowcept_task if path == "task" else lightweight_flowcept_task)(f)
t0 = time.perf_counter()
if mode == "plain":
    if path in ("task", "light"):
        for i in range(n):
            f(i)
    else:
        for i in range(n):
            pass
else:
    with Flowcept(workflow_name="bench-" + path):
        if path in ("task", "light"):
            for i in range(n):
                ft(i)
        else:
            for i in (FlowceptLoop if path == "loop" else FlowceptLightweightLoop)(range(n)):
                pass
print(json.dumps({"loop": time.perf_counter() - t0}))
"""


def available(python: str) -> bool:
    """True if ``python`` can import flowcept."""
    try:
        return subprocess.run([python, "-c", "import flowcept"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _run(python: str, prog: Path, n: int, path: str, mode: str, cwd: Path) -> tuple[float, float]:
    env = dict(os.environ)
    env.pop("FLOWCEPT_SETTINGS_PATH", None)  # the defaults: offline, to flowcept_buffer.jsonl
    env["HOME"] = str(cwd)                   # no ~/.flowcept/settings.yaml of the user's
    t = time.perf_counter()
    r = subprocess.run([python, str(prog), str(n), path, mode], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=3600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"flowcept {path} {mode} exited {r.returncode}: {r.stderr.strip()[-300:]}")
    return wall, json.loads(r.stdout.strip().splitlines()[-1])["loop"]


def _measure_here(python: str, path: str, n: int) -> dict[str, Any]:
    d = Path(tempfile.mkdtemp(prefix="kg-flowcept-"))
    try:
        prog = d / "prog.py"
        prog.write_text(PROGRAM)
        plain_wall, plain_loop = _run(python, prog, n, path, "plain", d)
        cap_wall, cap_loop = _run(python, prog, n, path, "capture", d)
        dump = d / "flowcept_buffer.jsonl"
        lines = dump.read_text().splitlines() if dump.exists() else []
        records = sum(1 for line in lines if json.loads(line).get("type") != "workflow")  # tasks, iterations
        version = subprocess.run([python, "-c", "import flowcept; print(flowcept.__version__)"], capture_output=True,
                                 text=True).stdout.strip()
        return {"path": path, "n": n, "hot_us": (cap_loop - plain_loop) / n * 1e6,
                "until_written_us": (cap_wall - plain_wall) / n * 1e6, "records": records,
                "bytes_per_record": (dump.stat().st_size / max(records, 1)) if dump.exists() else 0.0,
                "flowcept": version}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def measure(python: str, path: str, n: int) -> dict[str, Any] | None:
    """Flowcept's figures for one path with ``python`` (None, with the reason on stderr, on failure)."""
    try:
        return _measure_here(python, path, n)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        print(f"flowcept: {exc}", file=sys.stderr)
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--path", choices=["task", "light", "loop", "lightloop"], default="task")
    args = ap.parse_args()
    if not available(sys.executable):
        print("flowcept is not installed for this python", file=sys.stderr)
        return 3
    out = measure(sys.executable, args.path, args.n)
    if out is None:
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
