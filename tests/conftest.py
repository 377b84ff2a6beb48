"""Shared fixtures: a fresh store per test, and real services (Neo4j, Redis, SWI-Prolog, graphviz).

A missing service skips its tests on a developer machine; with CI=true it fails them,
so a CI run can never pass by skipping what it was meant to test."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, what: str) -> None:
    """Skip (or, in CI, fail) the calling test unless ``condition`` holds."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is not available, and CI=true requires it", pytrace=False)
    pytest.skip(f"{what} is not available")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own KG_HOME and working directory: no test sees another's store."""
    home = tmp_path / ".kg"
    monkeypatch.setenv("KG_HOME", str(home))
    monkeypatch.delenv("KG_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    yield home
    # A test that captured through the process-wide sink must not leak it into the next test.
    import capture._state as st
    from kg import sink as sink_mod

    if sink_mod._sink is not None:
        try:
            sink_mod._sink.close()
        finally:
            sink_mod.set_sink(None)
    st.state.run = None
    st.state.implicit = None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[object]:
    """A fresh embedded store."""
    from kg.stores.sqlite import SqliteStore

    s = SqliteStore(tmp_path / "test.db")
    yield s
    s.close()


@pytest.fixture
def strict_sink(store: object) -> Iterator[object]:
    """The process-wide sink bound to ``store`` in strict mode: capture faults raise."""
    from kg.sink import Sink, set_sink

    sink = Sink(store, strict=True)  # type: ignore[arg-type]
    set_sink(sink)
    yield sink


NEO4J_URI = os.environ.get("KG_TEST_NEO4J", "bolt://127.0.0.1:7687")
REDIS_URL = os.environ.get("KG_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    """The dev/CI Neo4j (started by scripts/test through scripts/neo4j)."""
    host, port = NEO4J_URI.split("//", 1)[1].split(":")
    need(port_open(host, int(port)), f"Neo4j at {NEO4J_URI} (run scripts/neo4j start)")
    return NEO4J_URI


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The dev/CI redis-server (started by scripts/test)."""
    need(port_open("127.0.0.1", 6379), "redis-server on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def swipl() -> str:
    path = shutil.which("swipl")
    need(path is not None, "SWI-Prolog (swipl)")
    return str(path)


@pytest.fixture(scope="session")
def graphviz_dot() -> str:
    path = shutil.which("dot")
    need(path is not None, "graphviz (dot)")
    return str(path)


def run_kg(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real `kg` command line in a subprocess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
