"""End-to-end records/s through Redis Streams into the store, with the consumer killed and restarted.

    python bench/bench_redis.py                      # 4 producers x 250,000 tasks, SIGKILL mid-run
    python bench/bench_redis.py --per 20000 --no-kill

Starts its own redis-server on a free port (no persistence) in a temporary directory,
runs N producer processes (``@capture.task`` calls published through
``capture.stream.publish_to``, all joined to one run by ``run_id``) and ``kg consume``
into a fresh SQLite store. Unless --no-kill, the consumer is SIGKILLed once a third of
the records are stored and started again with the same consumer name. Then it checks
that every (producer, i) record is in the store exactly once and prints the rates.
Baseline in the same run: the same producers writing straight to their own SQLite files.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCER = str(Path(__file__).resolve().parent.parent / "examples" / "distributed" / "producer.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return int(con.execute("SELECT count(*) FROM nodes WHERE kind = 'Task'").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def start_producers(url: str, n: int, per: int, run_id: str, env: dict[str, str], cwd: Path) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, PRODUCER, url, run_id, str(k), str(per)], env=env, cwd=cwd)
            for k in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--per", type=int, default=250_000)
    ap.add_argument("--no-kill", action="store_true")
    args = ap.parse_args()
    total = args.producers * args.per
    work = Path(tempfile.mkdtemp(prefix="kg-bench-redis-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KG_HOME": str(work / ".kg")}
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    redis = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(work)], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    url = f"redis://127.0.0.1:{port}/0?stream=bench"
    db = work / "consumed.db"
    consume = [sys.executable, "-m", "kg", "consume", "--from", url, "--into", str(db), "--consumer", "bench",
               "-q"]
    run_id = "0190ffff-0000-7000-8000-00000000b3c4"
    try:
        # Baseline: the same producers, each into its own SQLite file (no Redis, no consumer).
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, PRODUCER, str(work / f"direct-{k}.db"), run_id, str(k),
                                   str(args.per)], env=env, cwd=work) for k in range(args.producers)]
        for p in procs:
            p.wait()
        base = time.perf_counter() - t
        print(f"baseline: {args.producers} producers x {args.per:,} tasks straight into SQLite: {base:.1f}s "
              f"= {total / base:,.0f} records/s")

        t0 = time.perf_counter()
        procs = start_producers(url, args.producers, args.per, run_id, env, work)
        consumer = subprocess.Popen(consume, env=env, cwd=work)
        killed = None
        if not args.no_kill:
            while stored(db) < total // 3:
                time.sleep(0.1)
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
            killed = stored(db)
            print(f"consumer SIGKILLed with {killed:,} records stored; restarting it")
            consumer = subprocess.Popen(consume, env=env, cwd=work)
        for p in procs:
            if p.wait() != 0:
                sys.exit("a producer failed")
        t_prod = time.perf_counter() - t0
        while stored(db) < total:
            if consumer.poll() is not None:
                sys.exit("the consumer exited early")
            time.sleep(0.2)
        t_all = time.perf_counter() - t0
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=60)

        con = sqlite3.connect(str(db))
        rows = con.execute("SELECT json_extract(props, '$.used.k'), json_extract(props, '$.used.i'), run "
                           "FROM nodes WHERE kind = 'Task'").fetchall()
        con.close()
        pairs = sorted((k, i) for k, i, _ in rows)
        exact = pairs == [(k, i) for k in range(args.producers) for i in range(args.per)]
        runs = {r for _, _, r in rows}
        print(f"through Redis: producers done in {t_prod:.1f}s ({total / t_prod:,.0f} records/s published); "
              f"all {total:,} in the store after {t_all:.1f}s = {total / t_all:,.0f} records/s end to end "
              f"({t_all / base:.2f}x the direct baseline)")
        print(f"exactly once: {'yes' if exact else 'NO'} ({len(rows):,} task nodes, {len(set(pairs)):,} distinct, "
              f"run ids {len(runs)})")
        if not exact or runs != {run_id}:
            sys.exit(1)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
