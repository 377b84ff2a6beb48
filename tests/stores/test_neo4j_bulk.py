"""kg push --bulk: a first load through neo4j-admin database import gives the graph an online push gives."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT, run_kg

pytestmark = pytest.mark.neo4j
LAUNCHER = ROOT / "scripts" / "neo4j"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Neo4j of this test's own (scripts/neo4j on a fresh data directory and free ports)."""
    if not (ROOT / "scripts" / "neo4j-server" / "target" / "classes").is_dir():
        msg = "the launcher's server is not built (scripts/neo4j build)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    bolt = _free_port()
    env = {**os.environ, "NEO4J_DEV_DATA": str(tmp_path / "neo4j"), "NEO4J_BOLT_PORT": str(bolt),
           "NEO4J_HTTP_PORT": str(_free_port()), "NEO4J_DEV_HEAP": "768m", "NEO4J_DEV_PAGECACHE": "64m",
           "NEO4J_DEV_PYTHON": sys.executable, "NEO4J_START_TIMEOUT": "120"}
    started = subprocess.run([str(LAUNCHER), "start"], env=env, capture_output=True, text=True, timeout=400)
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        yield f"bolt://127.0.0.1:{bolt}", env
    finally:
        subprocess.run([str(LAUNCHER), "stop"], env=env, capture_output=True, timeout=200)


def test_bulk_load_equals_online_push(neo4j_uri: str, empty_server: tuple[str, dict[str, str]],
                                      tmp_path: Path) -> None:
    from kg.stores.neo4j import Neo4jStore

    bulk_uri, launcher_env = empty_server
    home = tmp_path / ".kg"
    (tmp_path / "data.txt").write_text("1\n2\n3\n")
    (tmp_path / "prog.py").write_text(textwrap.dedent("""
        import capture

        @capture.task(output_names="y")
        def load(path):
            return [int(x) for x in open(path)]

        @capture.task(output_names="total")
        def add(xs, note, scale=1.5):
            return sum(xs) * scale

        with capture.Run(name="bulk-me"):
            add(load("data.txt"), 'a "quoted", multi\\nline note')
            add([], "")
    """))
    env = {**os.environ, "KG_HOME": str(home)}
    subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, env=env, check=True)
    online = run_kg("push", "--to", neo4j_uri, cwd=tmp_path, env=env)
    assert online.returncode == 0, online.stderr
    bulk = run_kg("push", "--bulk", "--to", bulk_uri, "--csv-dir", str(tmp_path / "csv"),
                  "--import-with", f"{LAUNCHER} import --", cwd=tmp_path, env={**env, **launcher_env})
    assert bulk.returncode == 0, bulk.stderr
    assert "imported" in bulk.stderr
    a, b = Neo4jStore(bulk_uri), Neo4jStore(neo4j_uri)
    try:
        (run,) = a.runs()
        assert run.props["seq"] == 1 and run.props["name"] == "bulk-me"
        na, ea = map(list, a.run_records([run.id]))
        nb, eb = map(list, b.run_records([run.id]))
        def by_id(nodes):  # type: ignore[no-untyped-def]
            # runs are numbered by each store on arrival: seq 1 here, whatever the shared server says
            return {n.id: (n.cls, n.kind, {k: v for k, v in n.props.items() if k != "seq"}) for n in nodes}

        assert by_id(na) == by_id(nb)
        assert sorted(map(repr, ea)) == sorted(map(repr, eb))
        total = next(n.id for n in na if n.kind == "Value" and n.props["name"] == "total")
        assert set(a.lineage(total, direction="up").depth) == set(b.lineage(total, direction="up").depth)
    finally:
        a.close()
        b.close()
    again = run_kg("push", "--bulk", "--to", bulk_uri, "--csv-dir", str(tmp_path / "csv2"),
                   "--import-with", f"{LAUNCHER} import --", cwd=tmp_path, env={**env, **launcher_env})
    assert again.returncode != 0 and "empty database" in again.stderr, again.stderr
    assert not (tmp_path / "csv2").exists()  # refused before writing anything
