"""What `kg run --values full` keeps of values: builtin containers summarised in C exactly as the
Python reprlib path does, and the repr budget (a class whose own __repr__ is slow is recorded by
identity after its first values, and the trial says so)."""
from __future__ import annotations

import enum
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from capture.values import summarize
from kg.stores.sqlite import SqliteStore


def _cprofile() -> Any:
    try:
        from capture.tracer import _cprofile
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no C compiler at install time")
    return _cprofile


def _value(rnd: random.Random, depth: int) -> Any:
    k = rnd.randrange(12)
    if k == 0:
        return rnd.randrange(-10**6, 10**6)
    if k == 1:
        return rnd.random() * 10 ** rnd.randrange(-5, 30)
    if k == 2:
        return "".join(rnd.choice("ab'\"\\\n\té€😀 xyz") for _ in range(rnd.randrange(0, 300)))
    if k == 3:
        return rnd.choice([True, False, None])
    if k == 4:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200)))
    if k == 5:
        return complex(rnd.random(), -rnd.random())
    if k == 6 or depth > 3:
        return 10 ** rnd.randrange(100, 400)
    n = rnd.choice([0, 1, 2, 8, 9, 17, 65, 100] if depth == 0 else [0, 1, 2, 8, 9])
    if k == 7:
        return [_value(rnd, depth + 1) for _ in range(n)]
    if k == 8:
        return tuple(_value(rnd, depth + 1) for _ in range(n))
    if k == 9:
        return {_key(rnd): _value(rnd, depth + 1) for _ in range(n)}
    if k == 10:
        return {_key(rnd) for _ in range(n)}
    return frozenset(_key(rnd) for _ in range(n))


def _key(rnd: random.Random) -> Any:
    # mixed types that do not sort together (reprlib keeps their order then), and values equal
    # across types (1 == True == 1.0: their reprs differ)
    return rnd.choice([rnd.randrange(100), f"k{rnd.randrange(100)}", (rnd.randrange(5), "x"),
                       frozenset(rnd.sample(range(20), rnd.randrange(0, 5))), 1.5, None, True, 1, b"b",
                       frozenset({True}), frozenset({1})])


class Opaque:
    pass


class Point:
    def __init__(self, x: float) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Point(x={self.x!r}, label={'p' * 200!r})"


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class deque:  # noqa: N801  (named like one of reprlib's cases: reprlib calls its repr_deque)
    def __iter__(self) -> Any:
        return iter([1, 2])

    def __len__(self) -> int:
        return 2


class Color(enum.Enum):
    RED = 1


def _objects(rnd: random.Random) -> Any:
    return rnd.choice([Opaque(), Point(rnd.random()), Broken(), deque(), Color.RED])


def test_c_container_summaries_equal_the_python_ones() -> None:
    cprofile = _cprofile()
    rnd = random.Random(7)
    handled = 0
    for limit in (0, 2, 3, 5, 20, 120):
        for i in range(1500):
            v = _value(rnd, 0)
            if type(v) not in (list, tuple, dict, set, frozenset):
                continue
            if i % 10 == 0 and isinstance(v, list):
                v.append(_objects(rnd))  # objects are shown by their repr (within the budget)
            c = cprofile.container_summary(v, limit)
            if c is None:  # declined: an object reprlib shows otherwise, or whose repr fails
                assert any(type(x) in (Broken, deque) for x in v), v
                continue
            handled += 1
            assert c == summarize(v, limit), (limit, v)
    assert handled > 1000


SCRIPT = textwrap.dedent('''
    import time

    class Slow:
        def __repr__(self):
            t = time.perf_counter()
            while time.perf_counter() - t < 0.0003:
                pass
            return "Slow()"

    class Quick:
        def __repr__(self):
            return "Quick()"

    def takes(x):
        return 0

    for _ in range(30):
        takes(Slow())
        takes(Quick())
''')


def _run(tmp_path: Path, **env: str) -> tuple[dict[str, Any], list[str], list[str], str]:
    d = tmp_path / ("budget" + "".join(env.values()))
    d.mkdir()
    (d / "prog.py").write_text(SCRIPT)
    full_env = {**os.environ, "KG_HOME": str(d / ".kg"), **env}
    r = subprocess.run([sys.executable, "-m", "kg", "run", "prog.py"], cwd=d, env=full_env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    show = subprocess.run([sys.executable, "-m", "kg", "show", "1"], cwd=d, env=full_env,
                          capture_output=True, text=True, timeout=60)
    store = SqliteStore(d / ".kg" / "kg.db", create=False)
    try:
        trial = next(iter(store.find_nodes(kind="Trial")))
        acts = sorted((n for n in store.find_nodes(kind="Activation") if n.props.get("name") == "takes"),
                      key=lambda n: n.props.get("started") or 0)
    finally:
        store.close()

    def reprs(cls: str) -> list[str]:
        out = []
        for n in acts:
            used = n.props.get("used") or {}
            v = next(iter(used.values())) if isinstance(used, dict) else used
            text = v.get("repr") if isinstance(v, dict) else str(v)
            if cls in str(v):
                out.append(text)
        return out

    return trial.props, reprs("Slow"), reprs("Quick"), show.stdout


def test_a_slow_repr_is_recorded_by_identity_after_its_probe(tmp_path: Path) -> None:
    props, slow, quick, show = _run(tmp_path)
    assert len(slow) == 30 and len(quick) == 30
    assert slow[:16] == ["Slow()"] * 16  # timed over its first 16 values
    assert all(t.startswith("<__main__.Slow object at 0x") for t in slow[16:]), slow[16:]
    assert quick == ["Quick()"] * 30  # a cheap repr is always kept
    assert set(props.get("slow_reprs") or {}) == {"__main__.Slow"}
    assert props["slow_reprs"]["__main__.Slow"] > 5
    assert "slow reprs  __main__.Slow" in show and "KG_REPR_BUDGET=0" in show


def test_budget_zero_keeps_every_repr(tmp_path: Path) -> None:
    props, slow, quick, show = _run(tmp_path, KG_REPR_BUDGET="0")
    assert slow == ["Slow()"] * 30 and quick == ["Quick()"] * 30
    assert not props.get("slow_reprs")
    assert "slow reprs" not in show
