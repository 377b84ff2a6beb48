"""Neo4j-specific behaviour: unreachable servers, credentials, the graph layout Cypher users see."""
from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.exceptions import StoreUnavailable
from kg.model import node
from kg.stores.neo4j import Neo4jStore

pytestmark = pytest.mark.neo4j


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def neo(neo4j_uri: str) -> Iterator[tuple[Neo4jStore, str]]:
    ns = f"n4-{secrets.token_hex(4)}-"
    s = Neo4jStore(neo4j_uri)
    yield s, ns
    s.cypher("MATCH (n:KG) WHERE n.id STARTS WITH $p DETACH DELETE n", {"p": ns}, write=True)
    s.close()


def test_unreachable_server_raises_store_unavailable_and_the_sink_spools(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KG_WRITE_BEHIND", "0")  # the sink writing to the server itself
    uri = f"bolt://127.0.0.1:{_free_port()}"
    s = Neo4jStore(uri, retry_time=0.5)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        s.write([node("x", "Entity", "Value")])
    s.close()
    from kg.sink import Sink

    sink = Sink(uri)
    sink.put(node("y", "Entity", "Value", name="kept"))
    sink.close()
    assert sink.stats.spooled == 1 and sink.stats.lost == 0
    spool = list((tmp_path / ".kg" / "spool").glob("*.jsonl"))
    assert spool and '"kept"' in spool[0].read_text()


def test_credentials_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KG_NEO4J_PASSWORD", "s3cret-env")
    s = Neo4jStore("bolt://alice:s3cret-uri@127.0.0.1:1")
    try:
        assert "s3cret" not in s.uri and "alice" not in s.uri
        assert s.uri == "bolt://127.0.0.1:1"
    finally:
        s.close()


def test_graph_layout_for_cypher_users(neo: tuple[Neo4jStore, str]) -> None:
    s, ns = neo
    t1, t2 = ns + "t1", ns + "t2"
    s.write([node(ns + "r", "Activity", "Run", run=ns + "r"),
             node(t1, "Activity", "Task", run=ns, used={"x": 1}, generated={"y": 2}, parent=ns + "r"),
             node(t2, "Activity", "Task", run=ns, used={"y": {"$from": t1 + "/out/y"}}, parent=ns + "r")])
    # a value that links two activities is a node: dataflow is traversable
    rows = s.cypher("MATCH (:Task {id: $t2})-[u:USED]->(v:Entity:Value)-[:WAS_GENERATED_BY]->(t:Task)"
                    "-[:WAS_INFORMED_BY]->(r:Run) RETURN v.id AS v, u.role AS role, v.value AS value, t.id AS t, "
                    "r.seq AS seq", {"t2": t2})
    assert len(rows) == 1 and isinstance(rows[0].pop("seq"), int)
    assert rows == [{"v": t1 + "/out/y", "role": "y", "value": 2, "t": t1}]
    # a value that links nothing is a prop of its activity, not a node
    assert s.cypher("MATCH (v:KG {id: $v}) RETURN v", {"v": t1 + "/in/x"}) == []
    assert s.cypher("MATCH (t:Task {id: $t}) RETURN t.used AS used", {"t": t1}) == [{"used": '{"x":1}'}]
    names = {r["name"] for r in s.cypher("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {"kg_id", "kg_entity_id", "kg_activity_id", "kg_agent_id", "kg_seq"} <= names


def _value_node(s: Neo4jStore, vid: str) -> list[dict[str, object]]:
    return s.cypher("MATCH (v:Value {id: $v})-[g:WAS_GENERATED_BY]->(t:Task) "
                    "RETURN v.value AS value, g.role AS role, t.id AS t, labels(v) AS labels", {"v": vid})


def test_a_link_in_a_later_write_makes_the_value_a_node(neo: tuple[Neo4jStore, str]) -> None:
    s, ns = neo
    # the producer first; the value becomes a node when a later write uses it
    s.write([node(ns + "t1", "Activity", "Task", run=ns, generated={"y": 2})])
    assert _value_node(s, ns + "t1/out/y") == []
    s.write([node(ns + "t2", "Activity", "Task", run=ns, used={"y": {"$from": ns + "t1/out/y"}})])
    assert [r["value"] for r in _value_node(s, ns + "t1/out/y")] == [2]
    # the consumer first (another process's records can arrive earlier): the value becomes a node
    # when its producer arrives
    s.write([node(ns + "t4", "Activity", "Task", run=ns, used={"z": {"$from": ns + "t3/out/z"}})])
    s.write([node(ns + "t3", "Activity", "Task", run=ns, generated={"z": {"type": "int", "repr": "3"}})])
    (row,) = _value_node(s, ns + "t3/out/z")
    assert row["value"] == '{"type":"int","repr":"3"}'  # a map prop is JSON in Neo4j
    assert (row["role"], row["t"], sorted(row["labels"])) == ("z", ns + "t3", ["Entity", "KG", "Value"])
    assert s.cypher("MATCH (p:KGPending) WHERE p.id STARTS WITH $p RETURN p.id AS id", {"p": ns}) == []
    up = s.lineage(ns + "t4", direction="up")
    assert set(up.depth) == {ns + "t4", ns + "t3/out/z", ns + "t3"}


def test_every_value_is_a_node_when_asked(neo: tuple[Neo4jStore, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kg.config import settings

    s, ns = neo
    monkeypatch.setattr(settings, "neo4j_values", "all")
    s.write([node(ns + "t", "Activity", "Task", run=ns, used={"x": 1}, generated={"y": 2})])
    rows = s.cypher("MATCH (t:Task {id: $t})-[:USED]->(v:Value) RETURN v.id AS v", {"t": ns + "t"})
    assert rows == [{"v": ns + "t/in/x"}] and len(_value_node(s, ns + "t/out/y")) == 1


def test_a_node_rewritten_with_another_kind_is_relabelled(neo: tuple[Neo4jStore, str]) -> None:
    s, ns = neo
    s.write([node(ns + "a", "Entity", "Value")])
    s.write([node(ns + "a", "Entity", "FileVersion", path="/p")])
    rows = s.cypher("MATCH (n:KG {id: $id}) RETURN labels(n) AS l", {"id": ns + "a"})
    assert sorted(rows[0]["l"]) == ["Entity", "FileVersion", "KG"]
    got = s.get_node(ns + "a")
    assert got is not None and got.kind == "FileVersion"


def test_dangling_edge_endpoints_read_as_absent(neo: tuple[Neo4jStore, str]) -> None:
    from kg.model import edge

    s, ns = neo
    before = s.counts()
    s.write([], [edge("USED", ns + "t", ns + "v", role="r")])
    assert s.get_node(ns + "t") is None and s.counts()["nodes"] == before["nodes"]
    s.write([node(ns + "v", "Entity", "Value", name="later")])  # the placeholder becomes the node
    got = s.get_node(ns + "v")
    assert got is not None and got.props == {"name": "later"}
    assert [e.dst for e in s.find_edges(src=ns + "t")] == [ns + "v"]


def test_a_large_write_in_parallel_statements_is_whole_and_idempotent(neo: tuple[Neo4jStore, str]) -> None:
    # More rows than one statement takes (WRITE_BATCH), written by several sessions at once:
    # every record arrives, relations find their endpoints, a rewrite changes nothing.
    from kg.config import settings
    from kg.model import edge
    from kg.stores.neo4j import WRITE_BATCH

    s, ns = neo
    n = 2 * WRITE_BATCH + 17
    nodes = [node(f"{ns}v{i}", "Entity", "Value", name=f"v{i}", run=ns) for i in range(n)]
    edges = [edge("WAS_DERIVED_FROM", f"{ns}v{i}", f"{ns}v{i - 1}", run=ns) for i in range(1, n)]
    old = settings.neo4j_writers
    settings.neo4j_writers = 3
    try:
        s.write(nodes, edges)
        count = ("MATCH (a:KG) WHERE a.id STARTS WITH $p OPTIONAL MATCH (a)-[r:WAS_DERIVED_FROM]->(b:Value) "
                 "RETURN count(DISTINCT a) AS n, count(r) AS r, count(DISTINCT b) AS b")
        assert s.cypher(count, {"p": ns}) == [{"n": n, "r": n - 1, "b": n - 1}]
        s.write(nodes, edges)
        assert s.cypher(count, {"p": ns}) == [{"n": n, "r": n - 1, "b": n - 1}]
    finally:
        settings.neo4j_writers = old


EXIT_PROGRAM = """
import sys
import kg, kg.sink
from kg.config import settings

settings.flush_interval = 3600  # everything is left to the flush at exit
prefix, n = sys.argv[1], int(sys.argv[2])
sink = kg.sink.get_sink()
for i in range(n):
    sink.put(kg.node(f"{prefix}v{i}", "Entity", "Value", name=f"v{i}", run=prefix))
print("done")
"""


def test_records_flushed_at_exit_reach_neo4j_whole(neo: tuple[Neo4jStore, str], neo4j_uri: str,
                                                   tmp_path: Path) -> None:
    # The sink's last flush runs in atexit, after concurrent.futures has stopped its workers: a
    # write of several statements must still be written (on the exiting thread), not lost.
    import os
    import subprocess
    import sys

    from kg.stores.neo4j import WRITE_BATCH

    s, ns = neo
    n = 3 * WRITE_BATCH + 1
    env = {**os.environ, "KG_STORE": neo4j_uri, "KG_HOME": str(tmp_path / ".kg"), "KG_NEO4J_WRITERS": "2",
           "KG_WRITE_BEHIND": "0"}  # the sink's own writes to the server (write-behind sends from another process)
    done = subprocess.run([sys.executable, "-c", EXIT_PROGRAM, ns, str(n)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    assert "could not be stored" not in done.stderr and "fault" not in done.stderr, done.stderr
    assert s.cypher("MATCH (n:Value) WHERE n.id STARTS WITH $p RETURN count(n) AS c", {"p": ns}) == [{"c": n}]
    assert not list((tmp_path / ".kg").glob("spool/*.jsonl"))


def test_kg_run_into_neo4j_returns_and_stores_the_trial(neo4j_uri: str, tmp_path: Path) -> None:
    # The store's writer pool is provkg's, not the program's: `kg run` must not wait for it to end.
    from tests.conftest import run_kg

    (tmp_path / "hello.py").write_text("def greet(who):\n    return 'hello ' + who\n\nprint(greet('you'))\n")
    r = run_kg("run", "hello.py", cwd=tmp_path, env={"KG_STORE": neo4j_uri}, timeout=60)
    assert r.returncode == 0 and r.stdout == "hello you\n", r.stderr
    s = Neo4jStore(neo4j_uri)
    deadline = time.time() + 60  # write-behind: the pusher the program started sends the trial
    while True:
        trials = [t for t in s.runs() if t.kind == "Trial" and t.props.get("cwd") == str(tmp_path)]
        if (trials and trials[0].props.get("status") == "finished" and not list(tmp_path.glob(".kg/outbox/*/*.db*"))) \
                or time.time() > deadline:
            break
        time.sleep(0.3)
    try:
        assert len(trials) == 1 and trials[0].props["status"] == "finished"
        assert any(a.props.get("name") == "greet" for a in s.find_nodes(kind="Activation", run=trials[0].id))
    finally:
        for t in trials:
            s.cypher("MATCH (n:KG) WHERE n.run = $r OR n.id = $r DETACH DELETE n", {"r": t.id}, write=True)
        s.close()
