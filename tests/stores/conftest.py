"""Fixtures for the store contract: one ``kgstore`` per implementation (SQLite, the offline JSONL file,
Neo4j), and an id namespace per test.

Neo4j is a shared server (the dev/CI one, or KG_TEST_NEO4J), so every test writes ids under
its own random prefix, compares counts as differences, and deletes its nodes afterwards."""
from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.stores.base import Store
from tests.conftest import IN_CI, ROOT


@pytest.fixture
def ns() -> str:
    """A prefix no other test (or earlier run) uses."""
    return f"ct-{secrets.token_hex(4)}-"


@pytest.fixture(params=["sqlite", "jsonl", "neo4j"])
def kgstore(request: pytest.FixtureRequest, tmp_path: Path, ns: str) -> Iterator[Store]:
    """The same contract, run on every store."""
    if request.param in ("sqlite", "jsonl"):
        from kg.stores.jsonl import JsonlStore
        from kg.stores.sqlite import SqliteStore

        s: Store = SqliteStore(tmp_path / "contract.db") if request.param == "sqlite" else \
            JsonlStore(tmp_path / "contract.jsonl")
        yield s
        s.close()
        return
    uri = request.getfixturevalue("neo4j_uri")
    from kg.stores.neo4j import Neo4jStore

    s = Neo4jStore(uri)
    try:
        yield s
    finally:
        s.cypher("MATCH (n:KG) WHERE n.id STARTS WITH $p DETACH DELETE n", {"p": ns}, write=True)
        s.close()


@pytest.fixture
def launcher_env(neo4j_uri: str) -> dict[str, str]:
    """The environment under which ``scripts/neo4j stop|start|restart`` act on the test server (for
    tests that stop it); skipped, or failed in CI, when that server is not one the launcher runs."""
    env = {**os.environ, "NEO4J_BOLT_PORT": neo4j_uri.rsplit(":", 1)[1]}
    status = subprocess.run([str(ROOT / "scripts" / "neo4j"), "status"], env=env, capture_output=True, text=True)
    if status.returncode != 0:
        msg = f"the Neo4j at {neo4j_uri} is not one scripts/neo4j controls (set NEO4J_DEV_DATA/NEO4J_HTTP_PORT)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return env
