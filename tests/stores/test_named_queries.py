"""Every named Cypher query, on real captured data: two runs captured to SQLite, pushed to Neo4j, queried."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kg.queries import load_queries
from tests.conftest import run_kg

pytestmark = pytest.mark.neo4j

EVIL = "it's a \"trap\" } DETACH DELETE n //"

PROGRAM = """
import sys
import capture
from capture import files

@capture.task(output_names="rows")
def parse(text, label):
    return text.splitlines()

@capture.task(output_names="total")
def total(rows):
    return sum(len(r) for r in rows)

@capture.task
def explode(x):
    raise ValueError(x)

with capture.Run(name=sys.argv[1]) as run:
    handle = files.install(run.id)
    try:
        text = open("in.csv").read()
        rows = parse(text, sys.argv[2])
        n = total(rows)
        with open("out.txt", "w") as fh:
            fh.write(str(n))
        if sys.argv[3] == "fail":
            try:
                explode(sys.argv[2])
            except ValueError:
                pass
    finally:
        handle.uninstall()
"""


@pytest.fixture(scope="module")
def captured(neo4j_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run A reads one in.csv and has a failing task; run B reads other content; both pushed."""
    work = tmp_path_factory.mktemp("named")
    home = work / ".kg"
    (work / "prog.py").write_text(PROGRAM)
    env = {**os.environ, "KG_HOME": str(home)}
    env.pop("KG_STORE", None)
    (work / "in.csv").write_text("a,b\n1,2\n")
    subprocess.run([sys.executable, "prog.py", "run-a", EVIL, "fail"], cwd=work, env=env, check=True)
    (work / "in.csv").write_text("a,b\n1,2\n3,4\n")
    subprocess.run([sys.executable, "prog.py", "run-b", "plain", "ok"], cwd=work, env=env, check=True)
    pushed = run_kg("push", "--to", neo4j_uri, cwd=work, env={"KG_HOME": str(home)})
    assert pushed.returncode == 0, pushed.stderr
    from kg.stores.sqlite import SqliteStore

    local = SqliteStore(home / "kg.db")
    a, b = [r.id for r in local.runs()]
    versions: dict[str, Any] = {}
    for r in (a, b):  # what each run read (USED) and wrote (WAS_GENERATED_BY)
        for e in local.find_edges(run=r):
            vid = e.dst if e.rel == "USED" else e.src if e.rel == "WAS_GENERATED_BY" else None
            v = local.get_node(vid) if vid else None
            if v is not None and v.kind == "FileVersion":
                versions[Path(v.props["path"]).name + "@" + r] = v
    local.close()
    return {"work": work, "home": home, "a": a, "b": b, "versions": versions, "uri": neo4j_uri}


def query(c: dict[str, Any], name: str, **params: Any) -> list[dict[str, Any]]:
    args = ["query", name, "--uri", c["uri"], "-F", "json"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    res = run_kg(*args, cwd=c["work"], env={"KG_HOME": str(c["home"])})
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_every_named_query_has_a_header_and_a_test() -> None:
    names = set(load_queries())
    assert names == {"upstream-lineage", "downstream-impact", "run-tree", "run-files", "failed-tasks",
                     "runs-using-file-version", "run-diff"}
    for q in load_queries().values():
        assert q.answers and q.text.strip()
        assert q.extra.get("example", "").startswith("kg query " + q.name)


def _version(c: dict[str, Any], key: str) -> str:
    return c["versions"][key].id  # type: ignore[no-any-return]


def test_upstream_lineage_of_a_written_file_reaches_the_file_it_read(captured: dict[str, Any]) -> None:
    out_a, in_a = _version(captured, f"out.txt@{captured['a']}"), _version(captured, f"in.csv@{captured['a']}")
    rows = query(captured, "upstream-lineage", entity=out_a)
    by_id = {r["id"]: r for r in rows}
    assert by_id[captured["a"]]["depth"] == 1 and by_id[captured["a"]]["via"] == "WAS_GENERATED_BY"
    assert by_id[in_a]["depth"] in (1, 2) and by_id[in_a]["kind"] == "FileVersion"  # 1 if derived directly
    assert [r["depth"] for r in rows] == sorted(r["depth"] for r in rows)
    assert all(r["depth"] <= 1 for r in query(captured, "upstream-lineage", entity=out_a, depth=1))


def test_downstream_impact_of_a_read_file_reaches_what_was_written(captured: dict[str, Any]) -> None:
    in_b, out_b = _version(captured, f"in.csv@{captured['b']}"), _version(captured, f"out.txt@{captured['b']}")
    rows = query(captured, "downstream-impact", entity=in_b)
    depth = {r["id"]: r["depth"] for r in rows}
    assert depth[captured["b"]] == 1 and depth[out_b] in (1, 2)
    assert captured["a"] not in depth  # the other run read other content


def test_run_tree_lists_the_tasks_of_a_run_with_their_depth(captured: dict[str, Any]) -> None:
    rows = query(captured, "run-tree", run=captured["a"])
    tasks = [(r["name"], r["depth"], r["status"]) for r in rows if r["kind"] == "Task"]
    assert tasks == [("parse", 1, "FINISHED"), ("total", 1, "FINISHED"), ("explode", 1, "ERROR")]
    assert all(r["parent"] == captured["a"] for r in rows if r["kind"] == "Task")


def test_run_files_lists_what_a_run_read_and_wrote(captured: dict[str, Any]) -> None:
    rows = query(captured, "run-files", run=captured["a"])
    seen = {(r["access"], Path(r["path"]).name) for r in rows}
    assert ("read", "in.csv") in seen and ("wrote", "out.txt") in seen
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_failed_tasks_names_the_error_verbatim(captured: dict[str, Any]) -> None:
    rows = query(captured, "failed-tasks")
    mine = [r for r in rows if r["run"] in (captured["a"], captured["b"])]
    assert [(r["name"], r["error_type"], r["error"]) for r in mine] == [("explode", "ValueError", EVIL)]
    assert query(captured, "failed-tasks", run=captured["b"]) == []


def test_runs_using_a_file_version_by_id_or_hash(captured: dict[str, Any]) -> None:
    v = captured["versions"][f"in.csv@{captured['a']}"]
    assert [r["run"] for r in query(captured, "runs-using-file-version", version=v.id)] == [captured["a"]]
    by_hash = {r["run"] for r in query(captured, "runs-using-file-version", version=v.props["sha256"])}
    assert captured["a"] in by_hash and captured["b"] not in by_hash  # (earlier test runs read it too)


def test_run_diff_shows_what_differs(captured: dict[str, Any]) -> None:
    rows = query(captured, "run-diff", a=captured["a"], b=captured["b"])
    items = {(r["aspect"], r["item"]): r for r in rows}
    assert items[("run", "name")]["a"] == "run-a" and items[("run", "name")]["b"] == "run-b"
    assert items[("activity", "Task explode")]["b"] is None
    read = [r for (aspect, item), r in items.items() if aspect == "file" and item.endswith("in.csv")]
    assert read and read[0]["a"] != read[0]["b"]
    assert ("activity", "Task parse") not in items  # the same in both runs: not a difference
    assert query(captured, "run-diff", a=captured["a"], b=captured["a"]) == []


def test_parameters_are_values_never_cypher(captured: dict[str, Any]) -> None:
    assert query(captured, "upstream-lineage", entity="x'}) DETACH DELETE n //") == []
    res = run_kg("query", "run-tree", "--uri", captured["uri"], "--param", "nope=1", cwd=captured["work"])
    assert res.returncode == 1 and "no parameter 'nope'" in res.stderr
    res = run_kg("query", "upstream-lineage", "--uri", captured["uri"], "--param", "entity=x",
                 "--param", "depth=ten", cwd=captured["work"])
    assert res.returncode == 1 and "must be int" in res.stderr


def test_cypher_is_read_only_unless_write(captured: dict[str, Any]) -> None:
    uri = captured["uri"]
    res = run_kg("cypher", "CREATE (n:KG {id: 'should-not-exist'}) RETURN n", "--uri", uri, cwd=captured["work"])
    assert res.returncode == 1 and "read access mode" in res.stderr
    res = run_kg("cypher", "MATCH (n:KG {id: $id}) RETURN n.name AS name", "--param", f"id={captured['a']}",
                 "--uri", uri, "-F", "json", cwd=captured["work"])
    assert res.returncode == 0 and json.loads(res.stdout) == [{"name": "run-a"}]
    res = run_kg("cypher", "MERGE (n:KGTestScratch {id: $id}) RETURN n.id AS id", "--param", f"id={EVIL}",
                 "--write", "--uri", uri, "-F", "json", cwd=captured["work"])
    assert res.returncode == 0 and json.loads(res.stdout) == [{"id": EVIL}]
    run_kg("cypher", "MATCH (n:KGTestScratch) DELETE n", "--write", "--uri", uri)


def _lineage(c: dict[str, Any], node: str, up: bool) -> dict[str, int]:
    """``kg lineage`` on the embedded store the runs were pushed from: id -> depth, the start left out."""
    res = run_kg("lineage", node, "--up" if up else "--down", "-F", "json", cwd=c["work"],
                 env={"KG_HOME": str(c["home"])})
    assert res.returncode == 0, res.stderr
    return {r["id"]: r["depth"] for r in json.loads(res.stdout) if r["id"] != node}


def test_lineage_queries_from_a_plain_value_answer_as_kg_lineage_on_the_source(captured: dict[str, Any]) -> None:
    # Neo4j keeps a task's plain values as props of its activity (no Value node): the named
    # queries start from such a value by its id and list the plain values they pass, as
    # `kg lineage` does on the SQLite store the run came from.
    from kg.stores.sqlite import SqliteStore

    local = SqliteStore(captured["home"] / "kg.db")
    tasks = {t.props["name"]: t.id for t in local.find_nodes(kind="Task", run=captured["a"])}
    local.close()
    total_out, parse_in = f"{tasks['total']}/out/total", f"{tasks['parse']}/in/label"
    up = {r["id"]: r["depth"] for r in query(captured, "upstream-lineage", entity=total_out)}
    assert up == _lineage(captured, total_out, up=True)
    assert up[tasks["total"]] == 1 and up[f"{tasks['parse']}/in/text"] == 4  # through parse's linked output
    down = {r["id"]: r for r in query(captured, "downstream-impact", entity=parse_in)}
    assert {i: r["depth"] for i, r in down.items()} == _lineage(captured, parse_in, up=False)
    assert down[total_out]["kind"] == "Value" and down[total_out]["name"] == "total"
    shallow = query(captured, "upstream-lineage", entity=total_out, depth=2)
    assert {r["id"]: r["depth"] for r in shallow} == {i: d for i, d in up.items() if d <= 2}
    assert query(captured, "upstream-lineage", entity=f"{tasks['total']}/out/nope") == []
