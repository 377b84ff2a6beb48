"""All of PROV: every document of the prov library's test corpus loads into a fresh store and
exports back equal (``ProvDocument.__eq__``) as PROV-JSON and as PROV-XML; PROV-XML and PROV-N
load; formats `kg load` cannot read are refused with one line."""
from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kg.export import export
from kg.export._common import BUNDLE_PROP, UNKNOWN, UNKNOWN_SUBJECT, select_records
from kg.export.provjson import read_provjson
from kg.export.provxml import prov_reads, read_provxml
from kg.stores.sqlite import SqliteStore
from tests.conftest import run_kg

prov_model = pytest.importorskip("prov.model")
ProvDocument = prov_model.ProvDocument

# The corpus: the PROV-JSON files of prov's own tests (398 in prov 3.2.3; shipped in its wheel
# under prov/tests/json) and the documents prov/tests/examples.py builds in code.
_PROV_TESTS = Path(prov_model.__file__).resolve().parent.parent / "tests"
JSON_FILES = sorted((_PROV_TESTS / "json").glob("*.json"))


def _examples() -> dict[str, Callable[[], Any]]:
    try:
        from prov.tests.examples import tests
    except ImportError:
        return {}
    return {f"examples.py:{name}": build for name, build in tests}


EXAMPLES = _examples()
CORPUS = [f.name for f in JSON_FILES] + sorted(EXAMPLES)
# A sample through the real command line (a subprocess each): every bundle and mention
# document, relations with absent ends, several records under one id, typed attributes.
CLI_SAMPLE = [n for n in CORPUS if n.startswith(("bundle", "mention"))] + [
    n for n in ("generation1.json", "delegation2.json", "influence1.json", "scruffy-generation2-M.json",
                "scruffy-start4-S.json", "end10.json", "derivation9.json", "primer.json") if n in CORPUS]


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prov warns about documents its tests make on purpose
        return fn()


def _original(name: str) -> tuple[Any, bytes]:
    """The corpus document as prov reads it, and its PROV-JSON text."""
    if name in EXAMPLES:
        doc = _quiet(EXAMPLES[name])
        return doc, _quiet(lambda: doc.serialize(format="json")).encode()
    path = _PROV_TESTS / "json" / name
    return _quiet(lambda: ProvDocument.deserialize(path, format="json")), path.read_bytes()


def _parse(text: str, fmt: str) -> Any:
    return _quiet(lambda: ProvDocument.deserialize(content=text, format=fmt))


def _through_store(nodes: list[Any], edges: list[Any], tmp_path: Path, fmt: str) -> str:
    store = SqliteStore(tmp_path / f"{fmt}.db")
    try:
        store.write(nodes, edges)
        buf = io.StringIO()
        export(fmt, *select_records(store, None), buf)
    finally:
        store.close()
    return buf.getvalue()


def test_the_corpus_is_there() -> None:
    if not JSON_FILES:
        pytest.skip(f"the installed prov has no tests/json corpus ({_PROV_TESTS})")
    assert len(JSON_FILES) >= 398 and len(EXAMPLES) >= 9


@pytest.mark.parametrize("name", CORPUS)
def test_provjson_round_trip(name: str, tmp_path: Path) -> None:
    doc, text = _original(name)
    nodes, edges = read_provjson(text, name)
    assert _parse(_through_store(nodes, edges, tmp_path, "provjson"), "json") == doc


def _prov_xml_reason(doc: Any) -> str | None:
    """Why prov itself cannot round-trip ``doc`` through PROV-XML, or None when it can."""
    try:
        back = _parse(_quiet(lambda: doc.serialize(format="xml")), "xml")
    except Exception as exc:  # whatever prov raises is the reason
        return f"prov cannot round-trip it through PROV-XML: {type(exc).__name__}: {exc}"
    return None if back == doc else "prov reads its own PROV-XML of it back unequal"


@pytest.mark.parametrize("name", CORPUS)
def test_provxml_round_trip(name: str, tmp_path: Path) -> None:
    pytest.importorskip("lxml", reason="PROV-XML needs prov[xml] (lxml)")
    doc, text = _original(name)
    reason = _prov_xml_reason(doc)
    if reason:
        pytest.skip(reason)
    nodes, edges = read_provjson(text, name)
    xml = _through_store(nodes, edges, tmp_path, "provxml")
    assert _parse(xml, "xml") == doc
    # ... and loading that XML into another store gives the same document again.
    nodes, edges = read_provxml(xml.encode(), name)
    again = tmp_path / "again"
    again.mkdir()
    assert _parse(_through_store(nodes, edges, again, "provjson"), "json") == doc


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_load_export_round_trip(name: str, tmp_path: Path) -> None:
    doc, text = _original(name)
    src = tmp_path / "doc.json"
    src.write_bytes(text)
    env = {"KG_STORE": str(tmp_path / "kg.db")}
    r = run_kg("load", str(src), env=env)
    assert r.returncode == 0, r.stderr
    r = run_kg("export", "--all", "-F", "provjson", env=env)
    assert r.returncode == 0, r.stderr
    assert _parse(r.stdout, "json") == doc
    if _prov_xml_reason(doc) is None:
        r = run_kg("export", "--all", "-F", "provxml", "-o", str(tmp_path / "doc.xml"), env=env)
        assert r.returncode == 0, r.stderr
        env2 = {"KG_STORE": str(tmp_path / "kg2.db")}
        assert run_kg("load", str(tmp_path / "doc.xml"), env=env2).returncode == 0
        r = run_kg("export", "--all", "-F", "provjson", env=env2)
        assert _parse(r.stdout, "json") == doc


def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    doc, text = _original("bundle2.json")
    nodes, edges = read_provjson(text, "bundle2.json")
    store = SqliteStore(tmp_path / "kg.db")
    store.write(nodes, edges)
    store.write(*read_provjson(text, "bundle2.json"))
    buf = io.StringIO()
    export("provjson", *select_records(store, None), buf)
    store.close()
    assert _parse(buf.getvalue(), "json") == doc


def test_graph_representation() -> None:
    """Bundles: their records are nodes ``<bundle>::<id>`` with a ``bundle`` prop, beside the
    bundle's own node; absent ends: edges to UNKNOWN / from UNKNOWN_SUBJECT; mentionOf:
    SPECIALIZATION_OF with ``as_in_bundle``."""
    ex = "http://example.org/"
    nodes, edges = read_provjson(
        '{"prefix": {"ex": "http://example.org/"},'
        ' "bundle": {"ex:b": {"entity": {"ex:e": {}}, "activity": {"ex:e2": {}}}},'
        ' "wasGeneratedBy": {"ex:g": {"prov:entity": "ex:e"}},'
        ' "actedOnBehalfOf": {"_:d": {"prov:responsible": "ex:ag"}},'
        ' "mentionOf": {"_:m": {"prov:specificEntity": "ex:e", "prov:generalEntity": "ex:e1",'
        ' "prov:bundle": "ex:b"}}}')
    by_id = {n.id: n for n in nodes}
    assert by_id[f"{ex}b::{ex}e"].props == {"bundle": f"{ex}b"}
    assert by_id[f"{ex}b"].kind == "Bundle" and by_id[f"{ex}b"].props[BUNDLE_PROP] == "implicit"
    gen = next(e for e in edges if e.rel == "WAS_GENERATED_BY")
    assert (gen.src, gen.dst, gen.props) == (f"{ex}e", UNKNOWN, {"prov_id": f"{ex}g"})
    delegation = next(e for e in edges if e.rel == "ACTED_ON_BEHALF_OF")
    assert (delegation.src, delegation.dst) == (UNKNOWN_SUBJECT, f"{ex}ag")
    mention = next(e for e in edges if e.rel == "SPECIALIZATION_OF")
    assert mention.props == {"as_in_bundle": f"{ex}b"}


def test_named_graphs_in_rdf(tmp_path: Path) -> None:
    rdflib = pytest.importorskip("rdflib")
    _, text = _original("bundle2.json")
    store = SqliteStore(tmp_path / "kg.db")
    store.write(*read_provjson(text, "bundle2.json"))
    buf = io.StringIO()
    export("rdf", *select_records(store, None), buf, rdf_format="trig")
    store.close()
    trig = buf.getvalue()
    ds = rdflib.Dataset()
    ds.parse(data=trig, format="trig")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    ex = rdflib.Namespace("http://example.org/")
    # ex:a1 is an entity in bundle1 and an activity in bundle2: each graph says its own.
    assert (ex.a1, rdflib.RDF.type, prov.Entity) in ds.graph(ex.bundle2)
    assert (ex.e1, rdflib.RDF.type, prov.Activity) in ds.graph(ex.bundle2)
    assert (ex.a1, rdflib.RDF.type, prov.Activity) in ds.graph(ex.bundle1)


def test_provn_loads_or_is_refused_in_one_line(tmp_path: Path) -> None:
    doc, _ = _original("bundle2.json")
    src = tmp_path / "doc.provn"
    src.write_text(_quiet(lambda: doc.serialize(format="provn")))
    env = {"KG_STORE": str(tmp_path / "kg.db")}
    r = run_kg("load", str(src), env=env)
    if prov_reads("provn"):  # prov 3 parses PROV-N
        assert r.returncode == 0, r.stderr
        r = run_kg("export", "--all", "-F", "provjson", env=env)
        assert _parse(r.stdout, "json") == doc
        return
    _assert_refused(r, tmp_path, "PROV-N")


@pytest.mark.parametrize("suffix, what", [(".ttl", "RDF"), (".nt", "RDF"), (".pl", "Prolog"), (".dot", "dot")])
def test_export_only_formats_are_refused_in_one_line(suffix: str, what: str, tmp_path: Path) -> None:
    src = tmp_path / f"doc{suffix}"
    src.write_text("whatever\n")
    r = run_kg("load", str(src), env={"KG_STORE": str(tmp_path / "kg.db")})
    _assert_refused(r, tmp_path, what)


def _assert_refused(r: Any, tmp_path: Path, what: str) -> None:
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kg: error:") and what in lines[0], r.stderr
    for fmt in ("jsonl", "provjson", "provxml", "provn"):
        assert fmt in lines[0]
    from kg.stores import open_store

    with open_store(str(tmp_path / "kg.db")) as s:
        assert s.counts() == {"nodes": 0, "edges": 0}


def test_bad_xml_is_refused_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("lxml")
    src = tmp_path / "bad.xml"
    src.write_text("<prov:document xmlns:prov='http://www.w3.org/ns/prov#'><unclosed></prov:document>")
    env = {"KG_STORE": str(tmp_path / "kg.db")}
    r = run_kg("load", str(src), env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "PROV-XML" in r.stderr, r.stderr
