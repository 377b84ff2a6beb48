"""Added cost per @task call (full and lightweight), against the same undecorated function.

Figures per form: the caller's hot path (flush thread paused), and end to end with every
record stored in SQLite by the program's own flush thread (kg.segments). Run:
    .venv/bin/python bench/bench_task.py [N]
"""
from __future__ import annotations

import gc
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import report, scratch  # noqa: E402


def main(n: int = 200_000) -> None:
    tmp = scratch("task")
    import capture
    from kg.sink import Sink, set_sink
    from kg.stores.sqlite import SqliteStore

    store = SqliteStore(tmp / "bench.db")

    def plain(x, y=2):
        return x + y

    full = capture.task(plain, name="full")
    light = capture.task(plain, name="light", lightweight=True)

    def loop(fn) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        return time.perf_counter() - t0

    results = {}
    for label, fn in (("full", full), ("lightweight", light)):
        # hot path only: the flush thread never runs during the loop; the buffer is emptied untimed
        sink = Sink(store, cap=10 * n, interval=3600)  # never reached: two timed loops fill 2n
        set_sink(sink)
        with capture.Run(name=f"bench-{label}-hot"):
            gc.collect()
            base = min(loop(plain) for _ in range(3))
            hot = min(loop(fn) for _ in range(2))
            sink.buf.clear()
        sink.close()
        # end to end: the program's own flush thread storing everything, flushed at the end
        sink = Sink(store)
        set_sink(sink)
        with capture.Run(name=f"bench-{label}-e2e"):
            t0 = time.perf_counter()
            loop(fn)
            sink.flush()
            e2e = time.perf_counter() - t0
        sink.close()
        results[label] = (base, hot, e2e)

    rows = []
    for label, target in (("full", 1.5), ("lightweight", 0.3)):
        base, hot, e2e = results[label]
        hot_us = (hot - base) / n * 1e6
        e2e_us = (e2e - base) / n * 1e6
        rows.append((f"{label}: baseline call", f"{base / n * 1e6:.3f} µs", "undecorated function"))
        rows.append((f"{label}: added, hot path", f"{hot_us:.3f} µs", f"target ≤ {target} µs; "
                     f"{hot / base:.1f}x the plain call"))
        rows.append((f"{label}: added, until stored in SQLite", f"{e2e_us:.3f} µs",
                     f"{e2e / base:.0f}x the plain call (bench_pipeline.py: until a new process reads them)"))
    report(f"@task overhead, {n} calls", rows)
    set_sink(None)
    store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
