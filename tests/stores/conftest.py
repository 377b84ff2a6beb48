"""Fixtures for the store contract: one ``kgstore`` per implementation (SQLite, the offline JSONL file,
Neo4j), and an id namespace per test.

Neo4j is a shared server (the dev/CI one, or KG_TEST_NEO4J), so every test writes ids under
its own random prefix, compares counts as differences, and deletes its nodes afterwards."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.stores.base import Store


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
