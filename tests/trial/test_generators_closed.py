"""Generators closed before their end (``any()`` stopping early, a ``return`` out of a ``for``) are
recorded as finished, and the tracer does not keep them: the profiler is never told that such a
generator was closed, and its entries (with their frames) used to stay until the trial ended."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from capture.tracer import available
from kg.stores.sqlite import SqliteStore

SCRIPT = textwrap.dedent('''
    import gc
    import types

    def items(n):
        for i in range(n):
            yield i
        return "done"

    def first(n):
        for x in items(n):
            if x == 2:
                return x

    def started():
        g = items(5)
        next(g)
        return g

    kept = [started() for _ in range(300)]   # alive across the sweeps, finished at the end
    for _ in range(3000):
        first(10)                             # closed early, 3,000 times
    print("frames", sum(1 for o in gc.get_objects() if type(o) is types.FrameType))
    for g in kept:
        list(g)
''')


@pytest.mark.parametrize("tracer", available())
def test_closed_generators_are_finished_and_not_kept(tmp_path: Path, tracer: str) -> None:
    (tmp_path / "prog.py").write_text(SCRIPT)
    env = {**os.environ, "KG_HOME": str(tmp_path / ".kg"), "KG_TRACER": tracer}
    r = subprocess.run([sys.executable, "-m", "kg", "run", "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    frames = int(r.stdout.split("frames")[1].split()[0])
    assert frames < 1000, f"{frames} frames alive: closed generators are kept"
    store = SqliteStore(tmp_path / ".kg" / "kg.db", create=False)
    try:
        acts = [n for n in store.find_nodes(kind="Activation") if n.props.get("name") == "items"]
    finally:
        store.close()
    assert collections.Counter(n.props.get("status") for n in acts) == {"FINISHED": 3300}
    # the 300 kept generators ran to their end after every sweep: their return value is recorded
    returned = [n for n in acts if "done" in repr(n.props.get("generated"))]
    assert len(returned) == 300
