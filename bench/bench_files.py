"""File-hook overhead: an I/O-heavy loop with and without capture.files, measured in the same run.

    python bench/bench_files.py [--files 500] [--rounds 3] [--size 4096]

Each round writes N small files, reads each back twice, appends to a log, renames and
deletes half; printed: the best plain time, the best hooked time, and their ratio. The
hooked run keeps every content in a scratch content store (the hash cache saves the
re-reads of unchanged files). Times are CPU time of the calling thread (user + system, so the
file system calls count), which a busy machine disturbs less than wall time; the sink's
flush thread runs outside the timed region as it would in the background."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def workload(d: Path, n: int, size: int) -> None:
    payload = os.urandom(size)
    for i in range(n):
        with open(d / f"f{i}.bin", "wb") as f:
            f.write(payload + i.to_bytes(4, "little"))
    for _ in range(2):
        for i in range(n):
            with open(d / f"f{i}.bin", "rb") as f:
                f.read()
    with open(d / "log.txt", "a") as log:
        log.write("done\n")
    for i in range(0, n, 2):
        os.rename(d / f"f{i}.bin", d / f"g{i}.bin")
        os.remove(d / f"g{i}.bin")


def timed(fn: object, *args: object) -> float:
    t0 = time.thread_time()
    fn(*args)  # type: ignore[operator]
    return time.thread_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=4096)
    a = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kg-bench-files-"))
    os.environ["KG_HOME"] = str(scratch / ".kg")
    import capture.files as cf
    from kg.sink import Sink, set_sink
    from kg.stores.sqlite import SqliteStore

    store = SqliteStore(scratch / "bench.db")
    sink = Sink(store)
    set_sink(sink)
    plain, hooked = [], []
    try:
        for r in range(a.rounds):
            d = scratch / f"plain{r}"
            d.mkdir()
            plain.append(timed(workload, d, a.files, a.size))
            d = scratch / f"hooked{r}"
            d.mkdir()
            h = cf.install(f"bench-{r}")
            t0 = time.thread_time()
            workload(d, a.files, a.size)
            h.uninstall()
            hooked.append(time.thread_time() - t0)
        t0 = time.thread_time()
        sink.flush()
        flush = time.thread_time() - t0
        accesses = sum(1 for _ in store.find_nodes(kind="FileAccess"))
    finally:
        sink.close()
        set_sink(None)
        shutil.rmtree(scratch, ignore_errors=True)
    p, h_ = min(plain), min(hooked)
    print(f"files={a.files} size={a.size} rounds={a.rounds} accesses recorded={accesses}")
    print(f"plain   {p * 1000:8.1f} ms CPU")
    print(f"hooked  {h_ * 1000:8.1f} ms CPU  (+ {flush * 1000:.1f} ms to store all rounds' records)")
    print(f"ratio   {h_ / p:8.2f}x")


if __name__ == "__main__":
    main()
