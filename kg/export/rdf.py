"""RDF out of the graph: PROV-O plus our ontology (ontology/kg.ttl).

N-Triples are streamed straight from the records (memory stays flat at any size);
Turtle and JSON-LD are made by rdflib from those triples, so they hold the whole
graph in memory (use ``rdf_format=nt`` for big exports)."""
from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import orjson

from kg.exceptions import ExportError
from kg.export import register_exporter
from kg.export._common import ABSENT, BUNDLE_PROP, ID_NS, NAIVE_PROP, UNKNOWN, iso, prov_records, unscoped
from kg.export.provjson import is_iri
from kg.model.prov import COMPACT_KEYS, is_compact
from kg.model.records import Edge, Node
from kg.model.terms import KG_NS, PROV_NS, Relation

__all__ = ["write_rdf", "iter_ntriples", "node_iri", "id_of_iri", "ontology_path", "RDF_FORMATS", "QUALIFIED"]

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "turtle": "turtle", "ttl": "turtle", "jsonld": "json-ld",
               "json-ld": "json-ld", "xml": "xml", "nq": "nquads", "nquads": "nquads", "trig": "trig"}
# Formats with named graphs: a PROV bundle's records go to the graph named by the bundle's IRI.
_QUAD_FORMATS = frozenset({"nquads", "trig"})
_TYPE = f"<{RDF_NS}type>"
_PROV_CLASS = {"Entity": f"<{PROV_NS}Entity>", "Activity": f"<{PROV_NS}Activity>", "Agent": f"<{PROV_NS}Agent>"}
_PROV_SUBTYPE = {"Person": "Person", "SoftwareAgent": "SoftwareAgent", "Plan": "Plan", "Script": "Plan",
                 "Campaign": "Collection", "Bundle": "Bundle"}
_TIMES = {"started": f"<{PROV_NS}startedAtTime>", "ended": f"<{PROV_NS}endedAtTime>"}

# Relation -> (qualified property, influence class, property naming the object) in PROV-O.
# hadMember, specializationOf and alternateOf have no qualified form: only the direct triple.
QUALIFIED: dict[str, tuple[str, str, str]] = {
    Relation.USED.value: ("qualifiedUsage", "Usage", "entity"),
    Relation.WAS_GENERATED_BY.value: ("qualifiedGeneration", "Generation", "activity"),
    Relation.WAS_ASSOCIATED_WITH.value: ("qualifiedAssociation", "Association", "agent"),
    Relation.WAS_ATTRIBUTED_TO.value: ("qualifiedAttribution", "Attribution", "agent"),
    Relation.WAS_DERIVED_FROM.value: ("qualifiedDerivation", "Derivation", "entity"),
    Relation.WAS_INFORMED_BY.value: ("qualifiedCommunication", "Communication", "activity"),
    Relation.WAS_STARTED_BY.value: ("qualifiedStart", "Start", "entity"),
    Relation.WAS_ENDED_BY.value: ("qualifiedEnd", "End", "entity"),
    Relation.WAS_INVALIDATED_BY.value: ("qualifiedInvalidation", "Invalidation", "activity"),
    Relation.ACTED_ON_BEHALF_OF.value: ("qualifiedDelegation", "Delegation", "agent"),
    Relation.WAS_INFLUENCED_BY.value: ("qualifiedInfluence", "Influence", "influencer"),
}
_DIRECT = {r.value: "<" + PROV_NS + r.value.lower().split("_")[0]
           + "".join(w.capitalize() for w in r.value.lower().split("_")[1:]) + ">" for r in Relation}
# Edge props naming nodes, and the PROV-O property of the qualified influence that holds them.
_REF_PROPS = {"plan": "hadPlan", "activity": "hadActivity", "starter": "hadActivity",
              "ender": "hadActivity", "generation": "hadGeneration", "usage": "hadUsage"}
# Node props whose string values name other nodes: written as IRIs so queries can join on them.
_NODE_REFS = frozenset({"run", "parent", "bundle"})

_IRI_BAD = re.compile(r"[\x00-\x20<>\"{}|^`\\\ud800-\udfff]")
_ID_BAD = re.compile(r"[\x00-\x20<>\"{}|^`\\%#?\ud800-\udfff]")
_LIT_BAD = re.compile(r"[\"\\\x00-\x1f\x7f\ud800-\udfff]")
_LIT_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LANG = re.compile(r"^[a-zA-Z]+(-[a-zA-Z0-9]+)*$")


def _pct(m: re.Match[str]) -> str:
    ch = m.group(0)
    return quote("\ufffd" if "\ud800" <= ch <= "\udfff" else ch, safe="")


def _enc(text: str, bad: re.Pattern[str]) -> str:
    """Percent-encode the characters ``bad`` matches (reversibly for ids: % itself is encoded)."""
    return text if bad.search(text) is None else bad.sub(_pct, text)


def node_iri(node_id: str) -> str:
    """The IRI of a node: ``ID_NS`` + the id, percent-encoded where IRIs forbid it.
    Ids that are IRIs already (imported from other tools) are kept."""
    if is_iri(node_id):
        return _enc(node_id, _IRI_BAD)
    return ID_NS + _enc(node_id, _ID_BAD)


def id_of_iri(iri: str) -> str:
    """The node id an IRI stands for (inverse of node_iri)."""
    return unquote(iri[len(ID_NS):]) if iri.startswith(ID_NS) else iri


def _literal_text(text: str) -> str:
    if _LIT_BAD.search(text) is None:
        return f'"{text}"'

    def one(m: re.Match[str]) -> str:
        ch = m.group(0)
        if ch in _LIT_ESC:
            return _LIT_ESC[ch]
        if "\ud800" <= ch <= "\udfff":
            return "\ufffd"
        return f"\\u{ord(ch):04X}"

    return '"' + _LIT_BAD.sub(one, text) + '"'


def _double(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "INF" if v > 0 else "-INF"
    return repr(v)


def _objects(value: Any, multi: bool) -> list[str]:
    """The RDF terms for one prop value (several for a multi-valued PROV attribute)."""
    if isinstance(value, bool):
        return [f'"{"true" if value else "false"}"^^<{XSD}boolean>']
    if isinstance(value, int):
        return [f'"{value}"^^<{XSD}integer>']
    if isinstance(value, float):
        return [f'"{_double(value)}"^^<{XSD}double>']
    if isinstance(value, str):
        return [_literal_text(value)]
    if isinstance(value, dict) and isinstance(value.get("$"), str) and set(value) <= {"$", "type", "lang"}:
        typ = value.get("type")
        if typ == PROV_NS + "QUALIFIED_NAME":
            return [f"<{node_iri(value['$'])}>"]
        lang = value.get("lang")
        if isinstance(lang, str) and _LANG.match(lang):
            return [_literal_text(value["$"]) + "@" + lang]
        if isinstance(typ, str) and is_iri(typ):
            return [_literal_text(value["$"]) + f"^^<{_enc(typ, _IRI_BAD)}>"]
        return [_literal_text(value["$"])]
    if multi and isinstance(value, list):
        return [o for v in value for o in _objects(v, False)]
    text = orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    return [_literal_text(text) + f"^^<{KG_NS}json>"]


class _Keys(dict):  # type: ignore[type-arg]
    """Prop key -> predicate IRI (cached: there are few distinct keys)."""

    def __missing__(self, key: str) -> str:
        if key.startswith("prov:"):
            iri = PROV_NS + _enc(key[5:], _ID_BAD)
        elif is_iri(key):
            iri = _enc(key, _IRI_BAD)
        else:
            iri = KG_NS + _enc(key, _ID_BAD)
        self[key] = f"<{iri}>"
        return self[key]


def _in_graph(lines: list[str], bundle: Any, quads: bool) -> str:
    """The lines of one record; with ``quads``, a bundle's in the bundle's named graph. (A raw
    " .\n" only ends a line: literals escape their newlines.)"""
    text = "".join(lines)
    if quads and isinstance(bundle, str):
        return text.replace(" .\n", f" <{node_iri(bundle)}> .\n")
    return text


def iter_ntriples(nodes: Iterable[Node], edges: Iterable[Edge], counter: list[int] | None = None, *,
                  quads: bool = False) -> Iterator[str]:
    """N-Triples lines, a few per record, streamed. ``counter[0]`` counts records. With
    ``quads``, N-Quads: records of a PROV bundle are in the bundle's named graph, under their
    PROV ids; without, they keep their graph ids (``<bundle>::<id>``) and a ``kg:bundle`` link."""
    keys = _Keys()
    kinds: dict[str, str] = {}
    count = 0

    def ident(node_id: str, bundle: Any) -> str:
        return node_iri(unscoped(bundle, node_id) if quads and isinstance(bundle, str) else node_id)

    for n in nodes:
        bundle = n.props.get("bundle")
        s = f"<{ident(n.id, bundle)}>"
        out = [f"{s} {_TYPE} {_PROV_CLASS[n.cls]} .\n"]
        if n.kind != n.cls:
            k = kinds.get(n.kind)
            if k is None:
                k = kinds[n.kind] = f"<{KG_NS}{_enc(n.kind, _ID_BAD)}>"
            out.append(f"{s} {_TYPE} {k} .\n")
            sub = _PROV_SUBTYPE.get(n.kind)
            if sub:
                out.append(f"{s} {_TYPE} <{PROV_NS}{sub}> .\n")
        compact = is_compact(n)
        is_act = n.cls == "Activity"
        for key, value in n.props.items():
            if (compact and key in COMPACT_KEYS) or value is None or key in (BUNDLE_PROP, NAIVE_PROP):
                continue
            if key == "bundle" and quads:
                continue  # the named graph says it
            if key == "prov_type":
                for o in _objects(value, True):
                    out.append(f"{s} {_TYPE if o.startswith('<') else keys['prov:type']} {o} .\n")
                continue
            if is_act and key in _TIMES and isinstance(value, (int, float)):
                out.append(f'{s} {_TIMES[key]} "{iso(value)}"^^<{XSD}dateTime> .\n')
                continue
            pred = keys[key]
            if key in _NODE_REFS and isinstance(value, str):
                out.append(f"{s} {pred} <{node_iri(value)}> .\n")
                continue
            for o in _objects(value, not pred.startswith("<" + KG_NS)):
                out.append(f"{s} {pred} {o} .\n")
        count += 1
        yield _in_graph(out, bundle, quads)
    for i, edge in enumerate(edges):
        for j, e in enumerate(prov_records(edge)):
            count += 1
            blank = f"_:q{i}" if j == 0 else f"_:q{i}x{j}"  # one record: the name it always had
            yield _in_graph(_edge_triples(e, blank, keys, ident), e.props.get("bundle"), quads)
    if counter is not None:
        counter[0] = count


def _edge_triples(e: Edge, blank: str, keys: _Keys, ident: Any) -> list[str]:
    """The triples of one relation: the direct one, and the qualified influence when the
    relation has qualifiers. An end PROV leaves out (ABSENT) has no triple: the direct form
    needs both ends, the qualified one is written without it."""
    p = e.props
    bundle = p.get("bundle")
    s = None if e.src in ABSENT else f"<{ident(e.src, bundle)}>"
    o = None if e.dst in ABSENT else f"<{ident(e.dst, bundle)}>"
    out: list[str] = []
    mention = p.get("as_in_bundle")
    if e.rel == Relation.SPECIALIZATION_OF.value and isinstance(mention, str):
        # PROV-Links: mentionOf (a sub-property of specializationOf) and the bundle it names.
        if s is not None and o is not None:
            out.append(f"{s} <{PROV_NS}mentionOf> {o} .\n")
        if s is not None and mention != UNKNOWN:
            out.append(f"{s} <{PROV_NS}asInBundle> <{node_iri(mention)}> .\n")
        return out
    if s is not None and o is not None:
        out.append(f"{s} {_DIRECT[e.rel]} {o} .\n")
    q = QUALIFIED.get(e.rel)
    if q is not None and (s is None or o is None or any(k not in ("run", "bundle") for k in p)):
        rid = p.get("prov_id")
        b = f"<{node_iri(rid)}>" if isinstance(rid, str) else blank
        if s is not None:
            out.append(f"{s} <{PROV_NS}{q[0]}> {b} .\n")
        out.append(f"{b} {_TYPE} <{PROV_NS}{q[1]}> .\n")
        if o is not None:
            out.append(f"{b} <{PROV_NS}{q[2]}> {o} .\n")
        for key, value in p.items():
            if key in ("prov_id", "bundle", NAIVE_PROP) or value is None:
                continue
            if key == "time" and isinstance(value, (int, float)):
                out.append(f'{b} <{PROV_NS}atTime> "{iso(value)}"^^<{XSD}dateTime> .\n')
            elif key in _REF_PROPS and isinstance(value, str):
                out.append(f"{b} <{PROV_NS}{_REF_PROPS[key]}> <{node_iri(value)}> .\n")
            else:
                pred = keys[key]
                for obj in _objects(value, not pred.startswith("<" + KG_NS)):
                    out.append(f"{b} {pred} {obj} .\n")
    return out


def ontology_path() -> Path:
    """Our ontology (a copy of ontology/kg.ttl shipped as package data)."""
    return Path(str(resources.files("kg") / "data" / "ontology" / "kg.ttl"))


def write_rdf(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], *, rdf_format: str = "turtle",
              ontology: str | bool = False, **_options: Any) -> int:
    """Write RDF (``rdf_format`` nt|turtle|jsonld|xml, or nq|trig with PROV bundles as named
    graphs); ``ontology=true`` adds kg.ttl's triples."""
    fmt = RDF_FORMATS.get(str(rdf_format).lower())
    if fmt is None:
        raise ExportError(f"unknown RDF format {rdf_format!r} (choose from nt, turtle, jsonld, xml, nq, trig)")
    with_onto = str(ontology).lower() in ("1", "true", "yes")
    counter = [0]
    quads = fmt in _QUAD_FORMATS
    if fmt in ("nt", "nquads"):
        buf: list[str] = []
        for chunk in iter_ntriples(nodes, edges, counter, quads=quads):
            buf.append(chunk)
            if len(buf) >= 2048:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        if with_onto:
            out.write(_ontology_graph().serialize(format="nt"))
        return counter[0]
    graph = build_graph(nodes, edges, counter, ontology=with_onto, quads=quads)
    graph.bind("prov", PROV_NS)
    graph.bind("kg", KG_NS)
    graph.bind("id", ID_NS)
    graph.bind("xsd", XSD)
    text = graph.serialize(format=fmt)
    out.write(text if isinstance(text, str) else text.decode("utf-8"))
    return counter[0]


def _ontology_graph() -> Any:
    import rdflib

    g = rdflib.Graph()
    g.parse(ontology_path(), format="turtle")
    return g


def build_graph(nodes: Iterable[Node], edges: Iterable[Edge], counter: list[int] | None = None, *,
                ontology: bool = False, quads: bool = False) -> Any:
    """An rdflib Graph of the records (in memory: for queries and the non-streamed formats);
    with ``quads``, a Dataset whose named graphs are the PROV bundles."""
    import rdflib

    data = io.StringIO()
    for chunk in iter_ntriples(nodes, edges, counter, quads=quads):
        data.write(chunk)
    if quads:
        ds = rdflib.Dataset()
        if ontology:
            ds.default_graph += _ontology_graph()  # type: ignore[attr-defined]
        ds.parse(data=data.getvalue(), format="nquads")
        return ds
    g = _ontology_graph() if ontology else rdflib.Graph()
    g.parse(data=data.getvalue(), format="nt")
    return g


register_exporter("rdf", write_rdf)
register_exporter("nt", lambda nodes, edges, out, **o: write_rdf(nodes, edges, out, **{**o, "rdf_format": "nt"}))
