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
from kg.export._common import ID_NS, iso
from kg.export.provjson import is_iri
from kg.model.prov import COMPACT_KEYS, is_compact
from kg.model.records import Edge, Node
from kg.model.terms import KG_NS, PROV_NS, Relation

__all__ = ["write_rdf", "iter_ntriples", "node_iri", "id_of_iri", "ontology_path", "RDF_FORMATS", "QUALIFIED"]

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "turtle": "turtle", "ttl": "turtle", "jsonld": "json-ld",
               "json-ld": "json-ld", "xml": "xml"}
_TYPE = f"<{RDF_NS}type>"
_PROV_CLASS = {"Entity": f"<{PROV_NS}Entity>", "Activity": f"<{PROV_NS}Activity>", "Agent": f"<{PROV_NS}Agent>"}
_PROV_SUBTYPE = {"Person": "Person", "SoftwareAgent": "SoftwareAgent", "Plan": "Plan", "Script": "Plan",
                 "Campaign": "Collection"}
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
_NODE_REFS = frozenset({"run", "parent"})

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


def iter_ntriples(nodes: Iterable[Node], edges: Iterable[Edge], counter: list[int] | None = None
                  ) -> Iterator[str]:
    """N-Triples lines, a few per record, streamed. ``counter[0]`` counts records."""
    keys = _Keys()
    kinds: dict[str, str] = {}
    count = 0
    for n in nodes:
        s = f"<{node_iri(n.id)}>"
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
            if (compact and key in COMPACT_KEYS) or value is None:
                continue
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
        yield "".join(out)
    for i, e in enumerate(edges):
        s, o = f"<{node_iri(e.src)}>", f"<{node_iri(e.dst)}>"
        out = [f"{s} {_DIRECT[e.rel]} {o} .\n"]
        q = QUALIFIED.get(e.rel)
        p = e.props
        if q is not None and any(k != "run" for k in p):
            rid = p.get("prov_id")
            b = f"<{node_iri(rid)}>" if isinstance(rid, str) else f"_:q{i}"
            out.append(f"{s} <{PROV_NS}{q[0]}> {b} .\n{b} {_TYPE} <{PROV_NS}{q[1]}> .\n"
                       f"{b} <{PROV_NS}{q[2]}> {o} .\n")
            for key, value in p.items():
                if key == "prov_id" or value is None:
                    continue
                if key == "time" and isinstance(value, (int, float)):
                    out.append(f'{b} <{PROV_NS}atTime> "{iso(value)}"^^<{XSD}dateTime> .\n')
                elif key in _REF_PROPS and isinstance(value, str):
                    out.append(f"{b} <{PROV_NS}{_REF_PROPS[key]}> <{node_iri(value)}> .\n")
                else:
                    pred = keys[key]
                    for obj in _objects(value, not pred.startswith("<" + KG_NS)):
                        out.append(f"{b} {pred} {obj} .\n")
        count += 1
        yield "".join(out)
    if counter is not None:
        counter[0] = count


def ontology_path() -> Path:
    """Our ontology (a copy of ontology/kg.ttl shipped as package data)."""
    return Path(str(resources.files("kg") / "data" / "ontology" / "kg.ttl"))


def write_rdf(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], *, rdf_format: str = "turtle",
              ontology: str | bool = False, **_options: Any) -> int:
    """Write RDF (``rdf_format`` nt|turtle|jsonld|xml); ``ontology=true`` adds kg.ttl's triples."""
    fmt = RDF_FORMATS.get(str(rdf_format).lower())
    if fmt is None:
        raise ExportError(f"unknown RDF format {rdf_format!r} (choose from nt, turtle, jsonld, xml)")
    with_onto = str(ontology).lower() in ("1", "true", "yes")
    counter = [0]
    if fmt == "nt":
        buf: list[str] = []
        for chunk in iter_ntriples(nodes, edges, counter):
            buf.append(chunk)
            if len(buf) >= 2048:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        if with_onto:
            out.write(_ontology_graph().serialize(format="nt"))
        return counter[0]
    graph = build_graph(nodes, edges, counter, ontology=with_onto)
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
                ontology: bool = False) -> Any:
    """An rdflib Graph of the records (in memory: for queries and the non-streamed formats)."""
    import rdflib

    data = io.StringIO()
    for chunk in iter_ntriples(nodes, edges, counter):
        data.write(chunk)
    g = _ontology_graph() if ontology else rdflib.Graph()
    g.parse(data=data.getvalue(), format="nt")
    return g


register_exporter("rdf", write_rdf)
register_exporter("nt", lambda nodes, edges, out, **o: write_rdf(nodes, edges, out, **{**o, "rdf_format": "nt"}))
