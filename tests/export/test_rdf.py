"""RDF (PROV-O + kg.ttl), SPARQL lineage over it, and the ontology itself."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
import rdflib.compare
from conftest import export_text, records
from export_demo import FILE_INFLUENCE, HOSTILE, LINEAGE_FILES_OF_REPORT, REPORT_V, TRIAL
from rdflib.namespace import OWL, PROV, RDF, RDFS

from kg.export.rdf import QUALIFIED, id_of_iri, node_iri, write_rdf
from kg.export.sparql import find_query, query_header, run_sparql
from kg.model import Kind, ProvClass, node
from kg.model.terms import KG_NS, RELATIONS
from tests.conftest import ROOT, run_kg

KG = rdflib.Namespace(KG_NS)
ONTOLOGY = ROOT / "ontology" / "kg.ttl"


def _graph(text: str, fmt: str) -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(data=text, format=fmt)
    return g


def test_ntriples_turtle_jsonld_hold_the_same_graph(demo_store: Any) -> None:
    nt = _graph(export_text("rdf", demo_store, rdf_format="nt"), "nt")
    ttl = _graph(export_text("rdf", demo_store, rdf_format="turtle"), "turtle")
    jsonld = _graph(export_text("rdf", demo_store, rdf_format="jsonld"), "json-ld")
    assert len(nt) > 400
    assert rdflib.compare.isomorphic(nt, ttl)
    assert rdflib.compare.isomorphic(nt, jsonld)


def test_prov_o_terms(demo_store: Any) -> None:
    g = _graph(export_text("rdf", demo_store, rdf_format="nt"), "nt")
    trial, report = rdflib.URIRef(node_iri(TRIAL)), rdflib.URIRef(node_iri(REPORT_V))
    assert (trial, RDF.type, PROV.Activity) in g and (trial, RDF.type, KG.Trial) in g
    assert g.value(trial, PROV.startedAtTime).toPython().year == 2023
    assert (report, PROV.wasGeneratedBy, rdflib.URIRef(node_iri("act:report"))) in g
    gen = g.value(report, PROV.qualifiedGeneration)
    assert (gen, RDF.type, PROV.Generation) in g and g.value(gen, PROV.atTime) is not None
    alice = rdflib.URIRef(node_iri("agent:person:alice"))
    assert (alice, RDF.type, PROV.Person) in g
    assoc = next(g.objects(trial, PROV.qualifiedAssociation))
    assert g.value(assoc, PROV.hadPlan) == rdflib.URIRef(node_iri("script:analysis.py@s1"))
    # Every PROV-O term we write exists in PROV-O (rdflib's closed PROV namespace raises otherwise).
    for p in set(g.predicates()) | set(g.objects(predicate=RDF.type)):
        if str(p).startswith(str(PROV)):
            assert PROV[str(p)[len(str(PROV)):]] == p


def test_every_relation_maps_to_prov_o() -> None:
    for rel, spec in RELATIONS.items():
        assert PROV[spec.prov_o]  # raises for a term PROV-O does not have
        if rel.value in QUALIFIED:
            q, cls, obj = QUALIFIED[rel.value]
            assert PROV[q] and PROV[cls] and PROV[obj]


def test_hostile_ids_and_values_make_valid_rdf() -> None:
    ids = [HOSTILE, "a b<c>d\"e{f}|g^h`i\\j", "100%", "q?x#frag", "ü/𝄞", "http://example.org/x y"]
    nodes = [node(i, ProvClass.ENTITY, Kind.VALUE, name=HOSTILE, value={"repr": HOSTILE}) for i in ids]
    buf = io.StringIO()
    write_rdf(nodes, [], buf, rdf_format="nt")
    g = _graph(buf.getvalue(), "nt")
    subjects = {str(s) for s in g.subjects(RDF.type, PROV.Entity)}
    assert {id_of_iri(s) for s in subjects} == set(ids[:-1]) | {"http://example.org/x%20y"}
    assert {str(o) for o in g.objects(predicate=KG.name)} == {HOSTILE}


def test_sparql_lineage_query_returns_the_right_files(demo_store: Any) -> None:
    text, _ = find_query("lineage-files")
    for engine in ("rdflib", "oxigraph"):
        if engine == "oxigraph":
            pytest.importorskip("pyoxigraph")
        n, e = records(demo_store, [TRIAL])
        res = run_sparql(n, e, text, nodes_bound={"start": REPORT_V}, engine=engine)
        assert {r["file"] for r in res.rows} == LINEAGE_FILES_OF_REPORT, engine
        n, e = records(demo_store)
        res = run_sparql(n, e, find_query("file-influence")[0], engine=engine)
        assert {(r["from"], r["to"]) for r in res.rows} == FILE_INFLUENCE, engine


def test_kg_sparql_cli(demo_env: dict[str, str]) -> None:
    r = run_kg("sparql", "lineage-files", "1", "-p", f"start={REPORT_V}", "--format", "json", env=demo_env)
    assert r.returncode == 0, r.stderr
    assert {row["file"] for row in json.loads(r.stdout)} == LINEAGE_FILES_OF_REPORT
    r = run_kg("sparql", str(ROOT / "queries" / "derivation-chain.sparql"), "-p", "start=fv:out.csv@h4",
               "--format", "csv", env=demo_env)
    assert r.returncode == 0 and "fv:out.csv@h3" in r.stdout, r.stderr
    r = run_kg("sparql", "ASK { ?x a <https://provkg.dev/ns/kg#Trial> }", env=demo_env)
    assert r.stdout.strip() == "true"
    r = run_kg("sparql", "SELECT ?x WHERE { ?x a nope:Nope }", env=demo_env)
    assert r.returncode == 1 and r.stderr.startswith("kg: error: SPARQL") and "Traceback" not in r.stderr
    r = run_kg("sparql", "no-such-query", env=demo_env)
    assert r.returncode == 1 and "no query named" in r.stderr


def test_named_queries_have_headers_and_run(demo_store: Any) -> None:
    files = sorted((ROOT / "queries").glob("*.sparql"))
    assert len(files) >= 5
    params = {"start": REPORT_V, "source": "file:data.csv", "run": TRIAL}
    for f in files:
        head = query_header(f.read_text())
        assert head.get("name") == f.stem and head.get("parameters") and head.get("answers"), f
        n, e = records(demo_store)
        used = {k: v for k, v in params.items() if f"?{k}" in f.read_text()}
        if f.stem == "derivation-chain":
            used["start"] = "fv:out.csv@h4"
        res = run_sparql(n, e, f.read_text(), nodes_bound=used)
        assert res.rows, f  # each answers something on the demo
    assert any("+" in f.read_text() and "prov:used|" in f.read_text() for f in files)  # a property path


def test_ontology_is_valid_and_covers_every_kind() -> None:
    g = rdflib.Graph()
    g.parse(ONTOLOGY, format="turtle")
    packaged = ROOT / "kg" / "data" / "ontology" / "kg.ttl"
    assert packaged.read_bytes() == ONTOLOGY.read_bytes(), "copy ontology/kg.ttl to kg/data/ontology/"
    base = {ProvClass.ENTITY.value: PROV.Entity, ProvClass.ACTIVITY.value: PROV.Activity,
            ProvClass.AGENT.value: PROV.Agent}
    prov_sub = {PROV.Person: PROV.Agent, PROV.SoftwareAgent: PROV.Agent, PROV.Plan: PROV.Entity,
                PROV.Collection: PROV.Entity, PROV.Agent: PROV.Agent, PROV.Entity: PROV.Entity,
                PROV.Activity: PROV.Activity}
    expected_cls = {"Run": "Activity", "Trial": "Activity", "Task": "Activity", "Loop": "Activity",
                    "Activation": "Activity", "WorkflowRun": "Activity", "Callback": "Activity",
                    "Restore": "Activity", "FileAccess": "Activity", "RunPart": "Activity", "Person": "Agent", "SoftwareAgent": "Agent", "Host": "Agent",
                    "Worker": "Agent"}
    for kind in Kind:
        term = KG[kind.value]
        assert (term, RDF.type, OWL.Class) in g, kind
        assert g.value(term, RDFS.label) and g.value(term, RDFS.comment), kind
        parent = g.value(term, RDFS.subClassOf)
        assert parent in prov_sub, (kind, parent)
        assert prov_sub[parent] == base[expected_cls.get(kind.value, "Entity")], kind
    for prop in ("run", "parent", "name", "role", "value", "status", "seq"):
        assert (KG[prop], RDF.type, None) in g, prop
    assert (KG.json, RDF.type, RDFS.Datatype) in g


def test_export_uses_only_declared_kg_classes(demo_store: Any) -> None:
    onto = rdflib.Graph()
    onto.parse(ONTOLOGY, format="turtle")
    g = _graph(export_text("rdf", demo_store, rdf_format="nt"), "nt")
    for cls in set(g.objects(predicate=RDF.type)):
        if str(cls).startswith(KG_NS):
            assert (cls, RDF.type, OWL.Class) in onto, cls


def test_docs_map_every_label_and_relation() -> None:
    doc = (ROOT / "docs" / "ontology.md").read_text()
    for kind in Kind:
        assert f"`{kind.value}`" in doc, kind
    for rel, spec in RELATIONS.items():
        assert f"`{rel.value}`" in doc and f"prov:{spec.prov_o}" in doc, rel


def test_with_ontology_option(demo_store: Any, tmp_path: Path) -> None:
    text = export_text("rdf", demo_store, [TRIAL], rdf_format="nt", ontology="true")
    g = _graph(text, "nt")
    assert (KG.FileVersion, RDFS.subClassOf, PROV.Entity) in g
