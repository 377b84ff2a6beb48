"""Flowcept's offline capture cost (records dumped to a local JSONL file), per record, for bench_pipeline.py."""
# Four paths, each in its own process, N calls or iterations in one `with Flowcept(...)` block:
#   task       @flowcept_task on f(x, y=2)            light      @lightweight_flowcept_task on f
#   loop       for i in FlowceptLoop(range(N)): pass  lightloop  for i in FlowceptLightweightLoop(range(N)): pass
# (the loops in their plain form: no end_iter, as bench_pipeline's capture.Loop runs). Figures, in µs a record:
#   hot_us            the captured loop beyond the plain one, on the program's thread;
#   until_written_us  from entering the block until it has exited, beyond the plain loop: offline,
#                     Flowcept keeps every record in a list and writes the JSONL file (and closes it)
#                     inside the block's exit, so the file is complete then;
# and the records in the file (checked against N) with the file's bytes per record.
#
#   python bench/_flowcept_peer.py --n 100000 --path task     # one JSON line; exit 3 without flowcept
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["available", "measure"]

PATHS = ("task", "light", "loop", "lightloop")

# Offline mode. Flowcept 1.0.3 would run offline with no settings file at all, but only if no
# ~/.flowcept/settings.yaml exists and no environment variable says otherwise, so the file spells
# out every switch: no MQ, no KV store, no DB, db_flush_mode offline (records go to an in-memory
# list, no flushing thread), dump_buffer on (the list is written as JSONL when the block exits),
# telemetry_capture empty (telemetry off: capture cost only), no enrichment of the workflow record.
SETTINGS = """\
project:
  db_flush_mode: offline
  enrich_messages: false
  dump_buffer:
    enabled: true
    path: {dump}
    delete_previous_file: true
mq:
  enabled: false
kv_db:
  enabled: false
databases:
  mongodb:
    enabled: false
  lmdb:
    enabled: false
telemetry_capture: {{}}
instrumentation:
  enabled: true
log:
  log_file_level: disable
  log_stream_level: disable
"""

# configs.py lets these variables override the file, and FLOWCEPT_USE_DEFAULT=true ignores the file:
# pin them so that the environment of whoever runs the bench cannot turn on an MQ or a DB.
ENV = {"FLOWCEPT_USE_DEFAULT": "false", "MQ_ENABLED": "false", "MONGO_ENABLED": "false",
       "LMDB_ENABLED": "false", "DB_FLUSH_MODE": "offline", "DUMP_BUFFER": "true", "TELEMETRY_ENABLED": "false"}


def f(x: int, y: int = 2) -> int:
    return x + y


def _plain(path: str, n: int) -> float:
    t0 = time.perf_counter()
    if path in ("task", "light"):
        for i in range(n):
            f(i)
    else:
        for i in range(n):
            pass
    return time.perf_counter() - t0


def _captured(fc: Any, path: str, n: int) -> tuple[float, float]:
    """(the loop's time, the time from entering the Flowcept block until it has exited)."""
    if path in ("task", "light"):
        ft: Callable[..., int] = (fc.flowcept_task if path == "task" else fc.lightweight_flowcept_task)(f)
    loop_cls = fc.FlowceptLoop if path == "loop" else fc.FlowceptLightweightLoop
    t0 = time.perf_counter()
    # start_persistence=False: no DB inserter (there is none offline anyway); check_safe_stops only
    # concerns an MQ.
    with fc.Flowcept(workflow_name="bench-" + path, start_persistence=False, check_safe_stops=False):
        ta = time.perf_counter()
        if path in ("task", "light"):
            for i in range(n):
                ft(i)
        else:
            # the loop object is built inside the timed part: FlowceptLightweightLoop builds its N
            # records up front in __init__, which is part of its cost.
            for i in loop_cls(range(n)):
                pass
        loop = time.perf_counter() - ta
    return loop, time.perf_counter() - t0


def _count(dump: Path, path: str) -> int:
    """Task records in the file: the decorated function's, or the loop's iterations (which carry no "type")."""
    activity = "f" if path in ("task", "light") else "loop_iteration"
    with dump.open("rb") as fh:
        return sum(1 for line in fh if json.loads(line).get("activity_id") == activity)


def _run(path: str, n: int) -> int:
    """This process's measurement of one path: prints one JSON line."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="flowcept-peer-") as tmp:
        d = Path(tmp)
        dump = d / "flowcept_buffer.jsonl"
        settings = d / "settings.yaml"
        settings.write_text(SETTINGS.format(dump=json.dumps(str(dump))))
        os.environ.update(ENV, FLOWCEPT_SETTINGS_PATH=str(settings))
        os.chdir(d)  # whatever else Flowcept might write (a log file) lands in the temp dir
        try:
            try:  # flowcept reads its settings at import, so only after the environment is set
                import flowcept as fc
                from flowcept import configs
            except ImportError as exc:
                print(f"flowcept is not importable for {sys.executable}: {exc}", file=sys.stderr)
                return 3
            if configs.SETTINGS_PATH != str(settings) or configs.MQ_ENABLED or configs.TELEMETRY_ENABLED:
                print(f"flowcept did not take the offline settings ({configs.SETTINGS_PATH})", file=sys.stderr)
                return 1
            # the plain loop first, before Flowcept's N records take memory; the best of three, as
            # it is short and noise in it would show, multiplied, in both figures
            plain = min(_plain(path, n) for _ in range(3))
            loop, block = _captured(fc, path, n)
            records = _count(dump, path) if dump.exists() else 0
            size = dump.stat().st_size if dump.exists() else 0
        finally:
            os.chdir(cwd)
    if records != n:
        print(f"flowcept {path}: {records} records in the file for {n} calls", file=sys.stderr)
    print(json.dumps({"path": path, "n": n, "hot_us": (loop - plain) / n * 1e6,
                      "until_written_us": (block - plain) / n * 1e6, "records": records,
                      "bytes_per_record": size / max(records, 1), "flowcept": fc.__version__}))
    return 0


def available(python: str) -> bool:
    """True if ``python`` can import flowcept."""
    try:
        return subprocess.run([python, "-c", "import flowcept"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def measure(python: str, path: str, n: int) -> dict[str, Any] | None:
    """Flowcept's figures for one path, run by ``python`` in a new process (None, the reason on stderr, on failure)."""
    cmd = [python, str(Path(__file__).resolve()), "--n", str(n), "--path", path]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"flowcept {path}: {exc}", file=sys.stderr)
        return None
    if r.stderr.strip():
        print(r.stderr.strip()[-600:], file=sys.stderr)  # a warning (records dropped) or the failure
    if r.returncode != 0:
        print(f"flowcept {path}: {python} exited {r.returncode}", file=sys.stderr)
        return None
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as exc:
        print(f"flowcept {path}: no JSON line in its output ({exc})", file=sys.stderr)
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--path", choices=PATHS, default="task")
    args = ap.parse_args()
    return _run(args.path, args.n)


if __name__ == "__main__":
    sys.exit(main())
