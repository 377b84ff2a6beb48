"""PROV-JSON: W3C schema validity, round trips through the prov library and through kg load,
and documents written by other PROV tools."""
from __future__ import annotations

import io
import json
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import export_text
from export_demo import HOSTILE, TRIAL

from kg.exceptions import InputError
from kg.export.provjson import read_provjson, write_provjson
from tests.conftest import run_kg

HERE = Path(__file__).resolve().parent
# The schema linked from the W3C PROV-JSON member submission (section 2.3), verbatim.
SCHEMA = json.loads((HERE / "prov-json.schema.json").read_text())


def _schema_fixed() -> dict[str, Any]:
    """The schema with its one erratum fixed: it spells the root section `wasEndedby`
    (and forbids other keys), while the submission's text and every tool write `wasEndedBy`."""
    s = json.loads(json.dumps(SCHEMA))
    s["properties"]["wasEndedBy"] = s["properties"]["wasEndedby"]
    return s


def _times(doc: dict[str, Any]) -> list[str]:
    out = []
    for section in doc.values():
        if isinstance(section, dict):
            for rec in section.values():
                if isinstance(rec, dict):
                    out += [v for k, v in rec.items() if k in ("prov:time", "prov:startTime", "prov:endTime")]
    return out


def _validate(doc: dict[str, Any], schema: dict[str, Any]) -> None:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema).validate(doc)
    for t in _times(doc):  # the schema's format: date-time, checked here (no rfc3339 checker installed)
        assert datetime.fromisoformat(t).tzinfo is not None, t


def _prov(text: str) -> Any:
    from prov.model import ProvDocument

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ProvDocument.deserialize(content=text, format="json")


def test_demo_trial_validates_against_w3c_schema(demo_store: Any) -> None:
    doc = json.loads(export_text("provjson", demo_store, [TRIAL]))
    _validate(doc, SCHEMA)
    assert {"entity", "activity", "agent", "used", "wasGeneratedBy", "wasDerivedFrom",
            "specializationOf"} <= set(doc)


def test_every_relation_validates_with_the_wasEndedBy_erratum(demo_store: Any) -> None:
    doc = json.loads(export_text("provjson", demo_store))
    _validate(doc, _schema_fixed())
    assert "wasEndedBy" in doc
    with pytest.raises(jsonschema.ValidationError, match="wasEndedBy"):
        _validate(doc, SCHEMA)  # the verbatim schema rejects the spelling everyone uses


def test_captured_run_validates(captured_store: Any) -> None:
    doc = json.loads(export_text("provjson", captured_store))
    _validate(doc, SCHEMA)
    kinds = {t["$"] for sec in ("activity",) for rec in doc[sec].values()
             for t in (rec["prov:type"] if isinstance(rec["prov:type"], list) else [rec["prov:type"]])}
    assert {"kg:Run", "kg:Task"} <= kinds


def test_export_prov_load_reexport_equal(demo_store: Any) -> None:
    text = export_text("provjson", demo_store)
    doc = _prov(text)
    again = _prov(doc.serialize(format="json"))
    assert doc == again
    sections = json.loads(text)
    assert len(doc.get_records()) == sum(len(v) for k, v in sections.items() if k != "prefix")


def test_export_kg_load_reexport_equal(demo_store: Any, tmp_path: Path) -> None:
    first = export_text("provjson", demo_store)
    path = tmp_path / "demo.json"
    path.write_text(first)
    env = {"KG_STORE": str(tmp_path / "reloaded.db")}
    r = run_kg("load", "--format", "provjson", str(path), env=env)
    assert r.returncode == 0, r.stderr
    r = run_kg("export", "--all", "-F", "provjson", env=env)
    assert r.returncode == 0, r.stderr
    assert _prov(r.stdout) == _prov(first)
    assert _normal(json.loads(r.stdout)) == _normal(json.loads(first))
    # Loading the same file twice changes nothing.
    run_kg("load", "--format", "provjson", str(path), env=env)
    assert _normal(json.loads(run_kg("export", "--all", env=env).stdout)) == _normal(json.loads(first))


def _normal(doc: dict[str, Any]) -> dict[str, Any]:
    """Relation keys (_:rN) depend on record order; compare relations as sorted lists."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if k in ("prefix", "entity", "activity", "agent"):
            out[k] = v
        else:
            out[k] = sorted(json.dumps(r, sort_keys=True) for r in v.values())
    return out


def test_hostile_strings_round_trip() -> None:
    from kg.model import Kind, ProvClass, Relation, edge, node

    nodes = [node(f"v:{HOSTILE}", ProvClass.ENTITY, Kind.VALUE, name=HOSTILE, value={"repr": HOSTILE}, n=3),
             node("a:1", ProvClass.ACTIVITY, Kind.TASK, started=1.5, ended=2.25, tags=[HOSTILE])]
    edges = [edge(Relation.USED, "a:1", f"v:{HOSTILE}", role=HOSTILE, time=1.75)]
    buf = io.StringIO()
    write_provjson(nodes, edges, buf)
    _validate(json.loads(buf.getvalue()), SCHEMA)
    n2, e2 = read_provjson(buf.getvalue())
    assert sorted(n2) == sorted(nodes)
    assert e2 == edges


def _foreign_document() -> Any:
    """A document another tool would write: its own namespaces, relation ids, typed and
    language-tagged values, several values per attribute, PROV subtypes. (Times carry a
    zone: a time without one is read as UTC and written back with +00:00.)"""
    from prov.model import Literal, ProvDocument
    from prov.constants import XSD_INT, XSD_DATETIME, PROV

    d = ProvDocument()
    ex = d.add_namespace("ex", "http://example.org/ns/")
    d.add_namespace("dc", "http://purl.org/dc/elements/1.1/")
    e1 = d.entity("ex:data", {"dc:title": "Data set", "ex:rows": Literal("10", XSD_INT),
                              "prov:label": Literal("données", langtag="fr"), "prov:type": ex["Dataset"]})
    e2 = d.entity("ex:chart", {"prov:value": 3.5, "ex:when": Literal("2020-01-02T03:04:05+01:00", XSD_DATETIME)})
    a = d.activity("ex:plot", "2020-01-02T03:00:00+01:00", "2020-01-02T03:05:00+01:00", {"ex:tool": "matplotlib"})
    ag = d.agent("ex:ann", {"prov:type": PROV["Person"], "ex:email": "ann@example.org"})
    org = d.agent("ex:lab", {"prov:type": PROV["Organization"]})
    plan = d.entity("ex:recipe", {"prov:type": PROV["Plan"]})
    d.used(a, e1, "2020-01-02T03:01:00+01:00", identifier="ex:u1", other_attributes={"prov:role": "input"})
    d.wasGeneratedBy(e2, a, "2020-01-02T03:04:00+01:00", other_attributes=[("prov:role", "output"), ("prov:role", "figure")])
    d.wasDerivedFrom(e2, e1, a, identifier="ex:d1")
    d.wasAssociatedWith(a, ag, plan, other_attributes={"prov:role": "author"})
    d.wasAttributedTo(e2, ag)
    d.actedOnBehalfOf(ag, org, a)
    d.wasInformedBy("ex:plot", "ex:fetch")
    d.activity("ex:fetch")
    d.wasStartedBy(a, e1, "ex:fetch", "2020-01-02T03:00:00+01:00")
    d.wasEndedBy(a, e2, "ex:fetch", "2020-01-02T03:05:00+01:00")
    d.wasInvalidatedBy(e1, a, "2020-01-02T03:05:00+01:00")
    d.specializationOf(e2, "ex:chart-general")
    d.entity("ex:chart-general")
    d.alternateOf(e2, "ex:chart-copy")
    d.entity("ex:chart-copy")
    d.wasInfluencedBy(e2, ag)
    coll = d.collection("ex:all")
    d.hadMember(coll, e1)
    d.hadMember(coll, e2)
    return d


def test_foreign_document_imports_and_exports_back_equal(tmp_path: Path) -> None:
    original = _foreign_document()
    path = tmp_path / "foreign.json"
    path.write_text(original.serialize(format="json"))
    env = {"KG_STORE": str(tmp_path / "kg.db")}
    r = run_kg("load", "--format", "provjson", str(path), env=env)
    assert r.returncode == 0, r.stderr
    r = run_kg("export", "--all", "-F", "provjson", env=env)
    assert r.returncode == 0, r.stderr
    back = _prov(r.stdout)
    assert back == original
    _validate(json.loads(r.stdout), _schema_fixed())


def test_foreign_kinds_and_ids_in_the_graph(tmp_path: Path) -> None:
    nodes, edges = read_provjson(_foreign_document().serialize(format="json"))
    by_id = {n.id: n for n in nodes}
    assert by_id["http://example.org/ns/ann"].kind == "Person"
    assert by_id["http://example.org/ns/lab"].kind == "Organization"
    assert by_id["http://example.org/ns/data"].props["http://purl.org/dc/elements/1.1/title"] == "Data set"
    assert by_id["http://example.org/ns/plot"].props["started"] == datetime.fromisoformat(
        "2020-01-02T03:00:00+01:00").timestamp()
    used = next(e for e in edges if e.rel == "USED")
    assert used.props["prov_id"] == "http://example.org/ns/u1" and used.props["role"] == "input"


def _prov_examples() -> list[Path]:
    try:
        import prov
    except ImportError:
        return []
    root = Path(prov.__file__).parent / "tests" / "json"
    return sorted(root.glob("*.json")) if root.is_dir() else []


def test_prov_library_examples_round_trip() -> None:
    """The PROV-JSON examples shipped with the prov library's tests (when installed with them):
    every one exports back equal (tests/export/test_prov_corpus.py goes through a store too)."""
    examples = _prov_examples()
    if not examples:
        pytest.skip("the installed prov has no tests/json examples")
    equal, refused = 0, {}
    for f in examples:
        try:
            nodes, edges = read_provjson(f.read_bytes(), f.name)
        except InputError as exc:
            refused[f.name] = str(exc)
            continue
        buf = io.StringIO()
        write_provjson(nodes, edges, buf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from prov.model import ProvDocument

            assert ProvDocument.deserialize(f, format="json") == _prov(buf.getvalue()), f.name
        equal += 1
    # PROV-DM allows all of them: relations with an end left out, bundles, mentionOf (#16).
    assert refused == {} and equal == len(examples)


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ("[]", "JSON object"),
    ('{"entity": {"id:a": 3}}', "expected an object"),
    ('{"activity": {"id:a": {"prov:startTime": 5}}}', "ISO 8601"),
    ('{"entity": {"id:a": {"kg:v": {"$": "x", "type": "xsd:long"}}}}', "not a valid xsd:long"),
    ('{"wasGeneratedBy": {"_:g": {"prov:entity": "id:a", "prov:activity": "id:b", "prov:time": "yesterday"}}}',
     "not an ISO 8601 time"),
])
def test_malformed_input_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_provjson(text, "bad.json")


def test_cli_load_refuses_malformed_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"entity": {"id:a": {}}, "wasGeneratedBy": {"_:g": {"prov:entity": "id:a", '
                   '"prov:time": "yesterday"}}}')
    env = {"KG_STORE": str(tmp_path / "kg.db")}
    r = run_kg("load", "--format", "provjson", str(bad), env=env)
    assert r.returncode == 1
    assert r.stderr.startswith("kg: error:") and "not an ISO 8601 time" in r.stderr
    from kg.stores import open_store

    with open_store(str(tmp_path / "kg.db")) as s:
        assert s.counts() == {"nodes": 0, "edges": 0}
