"""Neo4j holds tasks compact (plain values as props, a Value node only where a value links two
tasks), and every reader still gives the answers of the embedded store it was pushed from."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_kg

pytestmark = pytest.mark.neo4j

PROGRAM = """
import sys
import capture

@capture.task(output_names="y")
def double(x):
    return x * 2.5

@capture.task(output_names="z")
def add(a, b):
    return a + b

with capture.Run(name=sys.argv[1]):
    for i in range(3):
        add(double(i), 10)      # each y links two tasks; x, b and z link nothing
"""


def _kg(*args: str, store: str | Path) -> str:
    done = run_kg("--store", str(store), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _json(*args: str, store: str | Path) -> object:
    return json.loads(_kg(*args, "--format", "json", store=store))


@pytest.fixture
def pushed(neo4j_uri: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A captured run in an embedded store, pushed to Neo4j: (sqlite path, run id, tasks)."""
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent(PROGRAM))
    subprocess.run([sys.executable, str(prog), f"compact-{secrets.token_hex(4)}"], check=True, cwd=tmp_path)
    db = tmp_path / ".kg" / "kg.db"
    (run,) = _json("list", store=db)  # type: ignore[misc]
    _kg("push", run["id"], "--to", neo4j_uri, "--no-spool", store=db)
    from kg.stores.sqlite import SqliteStore

    src = SqliteStore(db)
    tasks = sorted(src.find_nodes(run=run["id"], kind="Task"), key=lambda n: n.props["started"])
    src.close()
    yield db, run["id"], tasks
    from kg.stores.neo4j import Neo4jStore

    s = Neo4jStore(neo4j_uri)
    s.cypher("MATCH (n:KG) WHERE n.run = $r OR n.id = $r DETACH DELETE n", {"r": run["id"]}, write=True)
    s.close()


def test_neo4j_keeps_only_the_values_that_link(pushed, neo4j_uri: str) -> None:  # type: ignore[no-untyped-def]
    _, rid, tasks = pushed
    rows = _json("cypher", "MATCH (n:KG {run: $r}) RETURN n.kind AS kind, count(*) AS n ORDER BY kind",
                 "--param", f"r={rid}", store=neo4j_uri)
    assert rows == [{"kind": "Run", "n": 1}, {"kind": "Task", "n": 6}, {"kind": "Value", "n": 3}]
    # the dataflow is traversable in Cypher: add USED double's y, which double generated
    rows = _json("cypher", "MATCH (a:Task {name: 'add'})-[:USED {role: 'a'}]->(v:Value)-[:WAS_GENERATED_BY]->"
                 "(d:Task {name: 'double'}) WHERE a.run = $r RETURN count(*) AS n", "--param", f"r={rid}",
                 store=neo4j_uri)
    assert rows == [{"n": 3}]
    assert tasks[0].props["name"] == "double"


def test_exports_and_lineage_from_neo4j_are_the_embedded_stores(pushed, neo4j_uri: str) -> None:  # type: ignore[no-untyped-def]
    db, rid, tasks = pushed
    # the same PROV (each store gives a node's props in its own order)
    assert json.loads(_kg("export", rid, store=neo4j_uri)) == json.loads(_kg("export", rid, store=db))

    def facts(store: str | Path) -> list[str]:  # one a line; a run's number is each store's own
        return sorted(f for f in _kg("export", rid, "-F", "prolog", store=store).splitlines() if "'seq'" not in f)

    assert facts(neo4j_uri) == facts(db)
    double, add = tasks[0].id, tasks[1].id
    # from a task, a value that links (stored in Neo4j) and values that do not (props there)
    for start in (add, double, f"{double}/out/y", f"{double}/in/x", f"{add}/out/z"):
        for way in ("--up", "--down"):
            assert (_json("lineage", start, way, store=neo4j_uri) == _json("lineage", start, way, store=db)), \
                (start, way)
    def shown(store: str | Path) -> list[str]:  # without the heading: "Run <its number in that store>"
        return _kg("show", rid, store=store).splitlines()[1:]

    assert shown(neo4j_uri) == shown(db)


def test_pull_into_a_fresh_store_keeps_each_record_once(pushed, neo4j_uri: str,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    db, rid, _ = pushed
    other = tmp_path / "other" / "kg.db"
    _kg("pull", rid, "--from", neo4j_uri, store=other)
    counts = [{k: v for k, v in row.items() if k != "store"} for row in _json("info", store=other)]  # type: ignore[union-attr]
    assert counts == [{k: v for k, v in row.items() if k != "store"} for row in _json("info", store=db)]  # type: ignore[union-attr]
    pulled = json.loads(_kg("export", rid, store=other))
    # The pulled run says where it came from (kg restore then keeps its files below a directory).
    assert pulled["activity"][f"id:{rid}"].pop("kg:pulled_from") == neo4j_uri
    assert pulled == json.loads(_kg("export", rid, store=db))
    _kg("pull", rid, "--from", neo4j_uri, store=other)  # pulling again adds nothing
    assert _json("info", store=other)[0]["nodes"] == _json("info", store=db)[0]["nodes"]  # type: ignore[index]
