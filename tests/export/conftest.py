"""Fixtures for the export tests: the demo records in a store, and a captured demo run."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from export_demo import demo_records  # noqa: E402


@pytest.fixture
def demo_store(tmp_path: Path) -> Iterator[Any]:
    """A SqliteStore holding the demo trial and the every-kind run; KG_STORE points at it."""
    from kg.stores.sqlite import SqliteStore

    path = tmp_path / "demo.db"
    s = SqliteStore(path)
    nodes, edges = demo_records()
    s.write(nodes, edges)
    yield s
    s.close()


@pytest.fixture
def demo_env(demo_store: Any) -> dict[str, str]:
    """Environment for run_kg so the CLI reads the demo store."""
    return {"KG_STORE": str(demo_store.path)}


def records(store: Any, runs: list[str] | None = None) -> tuple[list[Any], list[Any]]:
    from kg.export._common import select_records

    nodes, edges = select_records(store, runs)
    return list(nodes), list(edges)


def export_text(fmt: str, store: Any, runs: list[str] | None = None, **options: Any) -> str:
    import io

    from kg.export import export

    nodes, edges = select_records_lists(store, runs)
    buf = io.StringIO()
    export(fmt, nodes, edges, buf, **options)
    return buf.getvalue()


def select_records_lists(store: Any, runs: list[str] | None) -> tuple[list[Any], list[Any]]:
    return records(store, runs)


@pytest.fixture
def captured_store(store: Any, strict_sink: Any) -> Any:
    """A store holding a run captured with the in-code API (capture.Run, @capture.task)."""
    import capture

    @capture.task(output_names="total")
    def add(a: int, b: int) -> int:
        return a + b

    @capture.task(output_names=["doubled"])
    def double(x: int) -> int:
        return 2 * x

    with capture.Run(name="demo capture", args={"n": 2}):
        double(add(1, 2))
    strict_sink.flush()
    return store
