"""The C hot paths of the tracers record exactly what their Python callbacks record.

Same script, `kg run` once with KG_C=0 and once with the C half, for each tracer this Python
has (setprofile; sys.monitoring on 3.12+); the stored activation trees (names, nesting, call
lines, argument and return summaries, statuses) must be equal."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from capture.tracer import available
from kg.stores.sqlite import SqliteStore

TRACERS = available()


def _has_c(tracer: str) -> bool:
    if tracer == "sysmon":
        from capture.tracer._sysmon import HAVE_C
    else:
        from capture.tracer._profile import HAVE_C
    return HAVE_C

SCRIPT = textwrap.dedent('''
    import json
    import sys
    import time
    from collections import OrderedDict

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def gen(k):
        for i in range(k):
            yield i * i

    def closure(a, *rest, scale=2, **kw):
        def inner():
            return a * scale   # `a` is a cell variable: its argument value is still recorded
        return inner() + len(rest) + len(kw)

    class Box:
        def __init__(self, items):
            self.items = list(items)

        def total(self, weights=(1, 2)):
            return sum(self.items) * weights[0]

    def fails(x):
        raise ValueError(f"bad {x}")

    def nothing():
        pass

    class Slow:
        def __repr__(self):  # over the repr budget: recorded by identity after its first values
            t = time.perf_counter()
            while time.perf_counter() - t < 0.0003:
                pass
            return "Slow()"

    def takes(x):
        return 0

    def main():
        out = [fib(7), sum(gen(4)), closure(3, 4, 5, scale=3, extra=1), Box([1, 2, 3]).total()]
        out.append(json.dumps({"a": [1, 2], "b": "x" * 200}))
        od = OrderedDict(a=1)
        od.get("a")
        "a,b".split(",")
        try:
            fails([1, 2, {"k": "v"}])
        except ValueError:
            pass
        nothing()
        for _ in range(20):
            takes(Slow())
        # builtin containers: summarised by reprlib, in C on the hot path
        takes([list(range(50)), {frozenset({1, 2}), frozenset({3})}, {(1, "a"): {"k": [1.5, None, b"x"]}}, "y" * 300])
        takes({i: str(i) for i in range(100)})
        takes(set(range(100)) | {"mixed"})
        takes((frozenset({True}), frozenset({1}), 10 ** 50, -0.0, 3j))
        print(out, len(sys.argv))

    main()
''')


def _tree(home: Path) -> list[tuple[Any, ...]]:
    store = SqliteStore(home / "kg.db", create=False)
    try:
        acts = {n.id: n for n in store.find_nodes(kind="Activation")}
    finally:
        store.close()

    def path(n: Any) -> tuple[str, ...]:
        names = []
        while n is not None:
            names.append(n.props.get("name"))
            n = acts.get(n.props.get("parent"))
        return tuple(reversed(names))

    def text(v: Any) -> str:
        return re.sub(r" at 0x[0-9a-f]+", "", repr(v))  # object addresses differ between runs

    rows = [(path(n), n.props.get("line"), text(n.props.get("used")), text(n.props.get("generated")),
             n.props.get("status"), n.props.get("call")) for n in acts.values()]
    return sorted(rows, key=repr)


def _run(tmp_path: Path, name: str, c: str, tracer: str, *opts: str) -> list[tuple[Any, ...]]:
    d = tmp_path / name
    d.mkdir()
    (d / "prog.py").write_text(SCRIPT)
    env = {**os.environ, "KG_HOME": str(d / ".kg"), "KG_C": c, "KG_TRACER": tracer}
    r = subprocess.run([sys.executable, "-m", "kg", "run", *opts, "prog.py"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return _tree(d / ".kg")


@pytest.mark.parametrize("tracer", TRACERS)
def test_c_tracer_is_built_where_ci_runs(tracer: str) -> None:
    if os.environ.get("CI") == "true":
        assert _has_c(tracer), "the C tracer extension (capture/tracer/_cprofile.c) was not built"
    elif not _has_c(tracer):
        pytest.skip("no C compiler at install time: the Python callbacks are used")


@pytest.mark.parametrize("opts", [(), ("--values", "type"), ("--values", "none"), ("-d", "2"),
                                  ("--calls", "user"), ("--calls", "all")])
@pytest.mark.parametrize("tracer", TRACERS)
def test_c_and_python_halves_record_the_same(tmp_path: Path, opts: tuple[str, ...], tracer: str) -> None:
    if not _has_c(tracer):
        pytest.skip("C tracer not built")
    python = _run(tmp_path, "py", "0", tracer, *opts)
    c = _run(tmp_path, "c", "1", tracer, *opts)
    assert python == c
    names = {row[0][-1] for row in c}
    if opts not in (("--calls", "user"), ("-d", "2")):
        assert "json.dumps" in names  # a library call from user code
    if opts == ("-d", "2"):
        assert {row[0] for row in c} >= {("__main__",), ("__main__", "main")} and max(len(r[0]) for r in c) == 2
    else:
        assert {"fib", "gen", "closure.<locals>.inner", "Box.total", "fails"} <= names
        statuses = {row[0][-1]: row[4] for row in c}
        assert statuses["fails"] == "ERROR" and statuses["nothing"] == "FINISHED"
