"""Cost of telemetry: one reading, and a task with telemetry=True against the same task without it.

    python bench/bench_telemetry.py [-n 2000]

Included: the two readings (psutil: process CPU/memory/io, system CPU/memory, disk and
network counters; NVML when a GPU is present) and putting the extra record. Not
included: the flush thread's expansion and store write (the sink's flush interval is
set to one hour while timing).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import capture  # noqa: E402
from capture import telemetry  # noqa: E402
from kg.sink import Sink, set_sink  # noqa: E402


def per_call(fn: object, n: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(n):
            fn(i)  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("KG_HOME", tempfile.mkdtemp())
    sink = Sink(":memory:", cap=10_000_000, interval=3600.0)
    set_sink(sink)
    run = capture.Run(name="bench-telemetry").start()

    def work(i: int) -> int:
        return i + 1

    plain_task = capture.task(name="plain")(work)
    tele_task = capture.task(name="tele", telemetry=True)(work)
    telemetry.read()  # first reading initialises psutil's CPU-percent baseline and NVML
    read = per_call(lambda i: telemetry.read(), args.n)

    def fresh(i: int) -> None:
        telemetry._sys_time = 0.0  # force a new system-wide sample
        telemetry.read()

    read_fresh = per_call(fresh, max(50, args.n // 10))
    base = per_call(work, args.n)
    plain = per_call(plain_task, args.n)
    tele = per_call(tele_task, args.n)
    sink.buf.clear()
    print(f"{args.n:,} calls, best of 5 (GPU telemetry: {'yes' if telemetry.gpu_available() else 'no GPU/NVML'})")
    print(f"  telemetry.read(), system sample reused (< {telemetry.SYSTEM_TTL}s old) {read * 1e6:8.1f} µs")
    print(f"  telemetry.read(), fresh system sample         {read_fresh * 1e6:8.1f} µs")
    print(f"  plain function                  {base * 1e6:8.2f} µs")
    print(f"  @task                           {plain * 1e6:8.2f} µs  (+{(plain - base) * 1e6:.2f})")
    print(f"  @task(telemetry=True)           {tele * 1e6:8.2f} µs  (+{(tele - plain) * 1e6:.1f} over @task, "
          f"{(tele - plain) / read:.1f} readings)")
    run.stop()
    sink.close()


if __name__ == "__main__":
    main()
