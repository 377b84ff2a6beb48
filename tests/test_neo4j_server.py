"""The development/CI Neo4j from scripts/neo4j answers Bolt and round-trips parameterised data."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

neo4j = pytest.importorskip("neo4j")

pytestmark = pytest.mark.neo4j

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = REPO_ROOT / "scripts" / "neo4j"
BOLT_URI = f"bolt://127.0.0.1:{os.environ.get('NEO4J_BOLT_PORT', '7687')}"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def dev_driver() -> Iterator[neo4j.Driver]:
    """A driver for the dev server; a server that does not answer fails in CI and skips elsewhere."""
    driver = neo4j.GraphDatabase.driver(BOLT_URI, auth=None, connection_timeout=5)
    try:
        driver.verify_connectivity()
    except Exception as exc:  # any driver/socket error means "no server here"
        driver.close()
        message = f"no Neo4j answering at {BOLT_URI} (start it with scripts/neo4j start): {exc}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    yield driver
    driver.close()


def test_parameterised_node_round_trip(dev_driver: neo4j.Driver) -> None:
    node_id = f"test-neo4j-server-{uuid.uuid4()}"
    # A value that would break a query built by string pasting must come back verbatim.
    name = "it's a \"quote\" } DETACH DELETE n //"
    try:
        dev_driver.execute_query(
            "CREATE (n:Entity:Value {id: $id, name: $name, size: $size})",
            id=node_id, name=name, size=3, database_="neo4j",
        )
        records, _, _ = dev_driver.execute_query(
            "MATCH (n:Entity {id: $id}) RETURN n.name AS name, n.size AS size, labels(n) AS labels",
            id=node_id, database_="neo4j",
        )
        assert len(records) == 1
        assert records[0]["name"] == name
        assert records[0]["size"] == 3
        assert sorted(records[0]["labels"]) == ["Entity", "Value"]
    finally:
        dev_driver.execute_query(
            "MATCH (n:Entity {id: $id}) DETACH DELETE n", id=node_id, database_="neo4j"
        )


def test_launcher_reports_running(dev_driver: neo4j.Driver) -> None:
    # Only meaningful for the launcher's own server (not, say, a docker-compose Neo4j on the port).
    if not _launcher_owns_server():
        if _in_ci():
            pytest.fail("Neo4j answers, but not the one scripts/neo4j started (pid file missing)")
        pytest.skip("the Neo4j answering was not started by scripts/neo4j")
    result = subprocess.run(
        [str(LAUNCHER), "status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "running" in result.stdout


def _launcher_owns_server() -> bool:
    data_dir = Path(os.environ.get("NEO4J_DEV_DATA", REPO_ROOT / ".kg" / "neo4j-dev"))
    return (data_dir / "neo4j-dev.pid").is_file()
