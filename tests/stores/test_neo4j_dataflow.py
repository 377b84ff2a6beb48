"""A `kg run --dataflow` trial pushed to Neo4j: its variable-level PROV is there for every reader
(lineage, exports, SPARQL, Prolog), and a pull brings it back whole."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_kg
from tests.stores.test_neo4j_compact import _json, _kg
from tests.trial.test_finegrained import PROG, _graph, _named

pytestmark = pytest.mark.neo4j


def _prov(doc: dict) -> dict[str, list[str]]:
    """A PROV-JSON document's records per section; a relation's blank id (``_:r<n>``, numbered in
    the order a store gives records back) is no part of what it says."""
    return {section: sorted(json.dumps(rec if key.startswith("_:") else {key: rec}, sort_keys=True)
                            for key, rec in records.items())
            for section, records in doc.items() if section != "prefix"}


@pytest.fixture
def pushed(neo4j_uri: str, tmp_path: Path) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """The known-flow program run with --dataflow, pushed: (sqlite path, trial id, version ids by name)."""
    (tmp_path / "prog.py").write_text(PROG)
    done = run_kg("run", "--dataflow", "prog.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    db = tmp_path / ".kg" / "kg.db"
    nodes, _ = _graph(tmp_path)
    [a], [c], [written] = (_named(nodes, "<module>", n) for n in ("a", "c", "f.write"))
    rid = nodes[a]["run"]
    _kg("push", rid, "--to", neo4j_uri, "--no-spool", store=db)
    yield db, rid, {"a": a, "c": c, "written": written}
    from kg.stores.neo4j import Neo4jStore

    s = Neo4jStore(neo4j_uri)
    s.cypher("MATCH (n:KG) WHERE n.run = $r OR n.id = $r DETACH DELETE n", {"r": rid}, write=True)
    s.close()


def _written_file(store: str | Path, written: str) -> str:
    """The file version the value written to out.txt went into."""
    [row] = _json("cypher", "MATCH (f:FileVersion)-[:WAS_DERIVED_FROM]->(v:Variable {id: $v}) RETURN f.id AS f",
                  "--param", f"v={written}", store=store)  # type: ignore[misc]
    return str(row["f"])


def test_lineage_in_neo4j_goes_from_the_written_value_to_the_first_and_back(
        pushed: tuple[Path, str, dict[str, str]], neo4j_uri: str) -> None:
    db, _, v = pushed
    fv = _written_file(neo4j_uri, v["written"])
    def ids(*args: str) -> set[str]:
        return {row["id"] for row in _json("lineage", *args, store=neo4j_uri)}  # type: ignore[union-attr]

    assert {v["c"], v["a"]} <= ids(v["written"], "--up", "--depth", "12")
    assert {v["c"], v["written"], fv} <= ids(v["a"], "--down", "--depth", "8")
    for start, way in ((v["written"], "--up"), (v["a"], "--down"), (fv, "--up")):
        assert _json("lineage", start, way, store=neo4j_uri) == _json("lineage", start, way, store=db), (start, way)


def test_the_prov_json_from_neo4j_is_the_embedded_stores(pushed: tuple[Path, str, dict[str, str]],
                                                         neo4j_uri: str) -> None:
    db, rid, v = pushed
    neo, embedded = json.loads(_kg("export", rid, store=neo4j_uri)), json.loads(_kg("export", rid, store=db))
    assert _prov(neo) == _prov(embedded)
    derived = [r for r in neo["wasDerivedFrom"].values() if r["prov:generatedEntity"] == f"id:{v['c']}"]
    assert len(derived) == 2  # c <- add_one's return, c <- b: each relation once


def test_a_pull_keeps_each_record_once_and_draws_the_chain(pushed: tuple[Path, str, dict[str, str]],
                                                           neo4j_uri: str, tmp_path: Path) -> None:
    db, rid, _ = pushed
    other = tmp_path / "other" / "kg.db"
    _kg("pull", rid, "--from", neo4j_uri, store=other)
    _kg("pull", rid, "--from", neo4j_uri, store=other)  # again: nothing added

    def counts(store: Path) -> list[dict]:
        rows = _json("info", store=store)
        return [{k: x for k, x in row.items() if k != "store"} for row in rows]  # type: ignore[union-attr]

    assert counts(other) == counts(db)
    pulled = json.loads(_kg("export", rid, store=other))
    pulled["activity"][f"id:{rid}"].pop("kg:pulled_from")
    assert _prov(pulled) == _prov(json.loads(_kg("export", rid, store=db)))
    dot = _kg("dataflow", rid, "--variable", "c", store=other)
    for label in ("c@13", "b@12", "a@11", "v@4", "w@8"):
        assert label in dot, label


def test_sparql_and_prolog_over_neo4j_follow_the_derivations(pushed: tuple[Path, str, dict[str, str]],
                                                             neo4j_uri: str) -> None:
    _, rid, v = pushed
    rows = _json("sparql", "derivation-chain", rid, "-p", f"start={v['written']}", store=neo4j_uri)
    assert {v["c"], v["a"]} <= {r["earlier"] for r in rows}  # type: ignore[union-attr,index]
    goal = f"derived_from_star('{v['written']}', '{v['a']}')"
    assert _kg("prolog", goal, rid, store=neo4j_uri).strip() == "true"
    assert _kg("prolog", f"derived_from_star('{v['a']}', '{v['written']}')", rid, store=neo4j_uri).strip() == "false"
