"""Shared bench helpers: timing, a scratch directory, a result table."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["best_of", "scratch", "report"]


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock timings (seconds): the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def scratch(name: str) -> Path:
    """A fresh temporary directory, also used as KG_HOME."""
    path = Path(tempfile.mkdtemp(prefix=f"kg-bench-{name}-"))
    os.environ["KG_HOME"] = str(path / ".kg")
    return path


def report(title: str, rows: list[tuple[str, str, str]]) -> None:
    """Print a small table: measure, value, comparison with the baseline/target."""
    print(f"\n== {title}  (python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name.ljust(width)}  {value:>14}  {note}")
