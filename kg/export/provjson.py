"""PROV-JSON (W3C member submission) out of, and into, the graph, streamed section by section.

The mapping is lossless both ways for our own documents, and for documents written by
other PROV tools as far as the graph can hold them (see docs/exports.md):

- node ids in our ``id:`` namespace become bare ids; any other qualified name becomes
  its full IRI, which the writer turns back into a qualified name;
- ``kg:`` attributes become plain props; ``prov:`` attributes keep their ``prov:`` key;
  other namespaces' attributes are keyed by their full IRI;
- a typed literal whose type we do not map to a native value is kept as
  ``{"$": text, "type": <datatype IRI>}`` (``{"$": text, "lang": tag}`` for a language
  string; a qualified name value is ``{"$": <IRI>, "type": <prov:QUALIFIED_NAME IRI>}``);
- a relation's own identifier is the edge prop ``prov_id``; its qualifiers that name
  other records (prov:plan, prov:activity, prov:generation, prov:usage, prov:starter,
  prov:ender) are the edge props ``plan``, ``activity``, ``generation``, ``usage``,
  ``starter``, ``ender``;
- bundles, absent ends, several records on one edge key, mentionOf and zone-less times are
  represented as kg.export._common describes.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from datetime import datetime
from collections.abc import Iterable
from typing import IO, Any

import orjson

from kg.exceptions import InputError
from kg.export._common import (
    ABSENT,
    BUNDLE_PROP,
    ID_NS,
    NAIVE_PROP,
    RECORDS_PROP,
    UNKNOWN,
    UNKNOWN_SUBJECT,
    from_iso,
    iso,
    prov_records,
    scoped,
    unscoped,
)
from kg.model.prov import COMPACT_KEYS, explode, is_compact
from kg.model.records import Edge, Node, check_edge, check_node
from kg.model.terms import KG_NS, PROV_NS, RELATIONS, Kind, ProvClass, Relation, RelationSpec

__all__ = ["write_provjson", "read_provjson", "PREFIXES", "XSD_NS", "QNAME_TYPE", "is_iri", "Namespaces"]

XSD_NS = "http://www.w3.org/2001/XMLSchema#"
QNAME_TYPE = PROV_NS + "QUALIFIED_NAME"
# Qualified-name values: PROV-JSON's type, and the xsd:QName the prov library writes.
_QNAME_TYPES = frozenset({QNAME_TYPE, "http://www.w3.org/2001/XMLSchema#QName"})
PREFIXES = {"kg": KG_NS, "id": ID_NS}
# Prefixes PROV-JSON predefines (never declared) and a few we name when we meet them.
_BUILTIN = {"prov": PROV_NS, "xsd": XSD_NS}
_WELL_KNOWN = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
               "foaf": "http://xmlns.com/foaf/0.1/", "dct": "http://purl.org/dc/terms/",
               "schema": "https://schema.org/", "ex": "http://example.org/"}

_SECTION = {ProvClass.ENTITY.value: "entity", ProvClass.ACTIVITY.value: "activity", ProvClass.AGENT.value: "agent"}
_CLASS_OF = {v: k for k, v in _SECTION.items()}
# PROV's own subtypes that our kinds imply; written beside kg:Kind so other tools understand them.
_PROV_TYPES = {Kind.PERSON.value: "Person", Kind.SOFTWARE_AGENT.value: "SoftwareAgent",
               Kind.PLAN.value: "Plan", Kind.SCRIPT.value: "Plan", Kind.CAMPAIGN.value: "Collection"}
# A node of another tool typed only with a PROV subtype gets that subtype as its kind.
_KIND_OF_PROV = {"Person": Kind.PERSON.value, "SoftwareAgent": Kind.SOFTWARE_AGENT.value,
                 "Organization": "Organization", "Plan": Kind.PLAN.value, "Collection": "Collection",
                 "EmptyCollection": "Collection", "Bundle": "Bundle"}
_TIME_PROPS = {"started": "prov:startTime", "ended": "prov:endTime"}
# Qualifier keys that name other nodes: PROV-JSON key <-> edge prop.
_REF_KEYS = {"prov:plan": "plan", "prov:activity": "activity", "prov:generation": "generation",
             "prov:usage": "usage", "prov:starter": "starter", "prov:ender": "ender"}
_REF_PROPS = {v: k for k, v in _REF_KEYS.items()}
_NATIVE = {XSD_NS + "long": int, XSD_NS + "double": float}

# Prefixes the prov library writes without declaring them (rdf:XMLLiteral from PROV-XML).
_READ_DEFAULTS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
# PROV-Links' mentionOf(specific, general, bundle) is a specializationOf that also names the
# bundle where the general entity is described (prov:mentionOf is a sub-property of
# prov:specializationOf): a SPECIALIZATION_OF edge with the prop ``as_in_bundle`` (UNKNOWN
# when the document leaves the bundle out).
_MENTION = RelationSpec(Relation.SPECIALIZATION_OF, "mentionOf", "prov:specificEntity", "prov:generalEntity",
                        ProvClass.ENTITY, ProvClass.ENTITY, "mentionOf", ("prov:bundle",))
_REF_KEYS["prov:bundle"] = "as_in_bundle"
_REF_PROPS["as_in_bundle"] = "prov:bundle"


_IRI = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|urn:)")


def is_iri(node_id: str) -> bool:
    """True for ids that are IRIs of another namespace (imported from other tools):
    ``scheme://...`` or ``urn:...``; our own ids (``file:/path``, ``fv:...``) are not."""
    return _IRI.match(node_id) is not None


class Namespaces:
    """Turns IRIs into qualified names, declaring a prefix for each namespace it meets."""

    def __init__(self) -> None:
        self.used: dict[str, str] = dict(PREFIXES)   # prefix -> namespace IRI (declared ones)
        self._prefix_of = {ns: p for p, ns in {**_WELL_KNOWN, **_BUILTIN, **PREFIXES}.items()}

    def qname(self, iri: str) -> str:
        for cut in (iri.rfind("#"), iri.rfind("/"), iri.rfind(":")):
            if 0 < cut < len(iri) - 1:
                break
        else:
            cut = len(iri) - 1
        ns, local = iri[: cut + 1], iri[cut + 1:]
        for builtin, uri in _BUILTIN.items():
            if ns == uri:
                return f"{builtin}:{local}"
        prefix = self._prefix_of.get(ns)
        if prefix is None or (prefix in self.used and self.used[prefix] != ns):
            prefix = f"ns{len(self.used) + 1}"
            while prefix in self.used:
                prefix += "_"
            self._prefix_of[ns] = prefix
        self.used[prefix] = ns
        return f"{prefix}:{local}"

    def node(self, node_id: str) -> str:
        return self.qname(node_id) if is_iri(node_id) else f"id:{node_id}"

    def key(self, prop: str) -> str:
        if prop.startswith("prov:"):
            return prop
        return self.qname(prop) if is_iri(prop) else f"kg:{prop}"


def _double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def _typed(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("$"), str)
            and set(value) in ({"$", "type"}, {"$", "lang"}, {"$", "type", "lang"}))


def _attr(value: Any, ns: Namespaces, multi: bool = False) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"$": str(value), "type": "xsd:long"}
    if isinstance(value, float):
        return {"$": _double(value), "type": "xsd:double"}
    if _typed(value):
        out: dict[str, Any] = {"$": value["$"]}
        if value.get("type") in _QNAME_TYPES:
            return {"$": ns.node(value["$"]), "type": ns.qname(value["type"])}
        if "type" in value:
            out["type"] = ns.qname(value["type"]) if is_iri(value["type"]) else value["type"]
        if "lang" in value:
            out["lang"] = value["lang"]
        return out
    if multi and isinstance(value, list) and value:
        return [_attr(v, ns) for v in value]
    return {"$": orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode(), "type": "kg:json"}


def _node_types(n: Node, ns: Namespaces) -> list[Any]:
    extra = n.props.get("prov_type")
    extras = extra if isinstance(extra, list) else ([] if extra is None else [extra])
    prov_names = {e["$"][len(PROV_NS):] for e in extras if _typed(e) and e.get("type") in _QNAME_TYPES
                  and e["$"].startswith(PROV_NS)}
    types: list[Any] = []
    implied = _PROV_TYPES.get(n.kind)
    if n.kind != n.cls and not any(_KIND_OF_PROV.get(p) == n.kind for p in prov_names):
        types.append({"$": f"kg:{n.kind}", "type": "prov:QUALIFIED_NAME"})
        if implied and implied not in prov_names:
            types.append({"$": f"prov:{implied}", "type": "prov:QUALIFIED_NAME"})
    types += [_attr(e, ns) for e in extras]
    return types


def _node_record(n: Node, ns: Namespaces) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    types = _node_types(n, ns)
    if types:
        rec["prov:type"] = types if len(types) > 1 else types[0]
    compact = is_compact(n)
    for key, value in n.props.items():
        if key in _NOT_ATTRIBUTES or (compact and key in COMPACT_KEYS) or value is None:
            continue  # seq is a store's numbering; compact keys are written as explode's records;
            # None means absent (stores drop it on the next upsert)
        if n.cls == ProvClass.ACTIVITY.value and key in _TIME_PROPS and isinstance(value, (int, float)):
            rec[_TIME_PROPS[key]] = _time(value, key, n.props)
        else:
            k = ns.key(key)
            rec[k] = _attr(value, ns, multi=not k.startswith("kg:"))
    return rec


# Props that say where a record sits in the graph, not what PROV says of it.
_NOT_ATTRIBUTES = frozenset({"seq", "prov_type", "bundle", BUNDLE_PROP, NAIVE_PROP})


def _time(value: float, key: str, props: dict[str, Any]) -> str:
    text = iso(value)
    naive = props.get(NAIVE_PROP)
    return text[:-6] if isinstance(naive, list) and key in naive and text.endswith("+00:00") else text


def _spec(e: Edge) -> RelationSpec:
    return _MENTION if "as_in_bundle" in e.props and e.rel == _MENTION.rel.value else RELATIONS[Relation(e.rel)]


def _edge_record(e: Edge, spec: Any, ns: Namespaces) -> dict[str, Any]:
    bundle = e.props.get("bundle")
    rec: dict[str, Any] = {}
    for key, end in ((spec.src_key, e.src), (spec.dst_key, e.dst)):
        if end not in ABSENT:
            rec[key] = ns.node(unscoped(bundle, end))
    for key, value in e.props.items():
        if key in ("prov_id", "bundle", NAIVE_PROP) or value is None:
            continue
        if key == "time" and isinstance(value, (int, float)):
            rec["prov:time"] = _time(value, key, e.props)
        elif key == "role":
            rec["prov:role"] = _attr(value, ns, multi=True)
        elif key in _REF_PROPS and isinstance(value, str) and _REF_PROPS[key] in spec.extra_keys:
            if value != UNKNOWN:
                rec[_REF_PROPS[key]] = ns.node(value)
        else:
            k = ns.key(key)
            rec[k] = _attr(value, ns, multi=not k.startswith("kg:"))
    return rec


def write_provjson(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], *, indent: bool | str = False,
                   **_options: Any) -> int:
    """Write one PROV-JSON document; returns the number of records. Memory stays flat: each
    section is spooled to a temporary file in one pass, then the sections are concatenated
    after the prefixes (which are only known at the end). Records of a bundle (``bundle``
    prop) go to that bundle's sections; relations with their own id (imported ones) are held
    until the end, because PROV-JSON writes several records with one id as one list."""
    count = 0
    if isinstance(indent, str):  # from `kg export -O indent=true`
        indent = indent.lower() in ("1", "true", "yes", "on")
    sep = ",\n" if indent else ","
    ns = Namespaces()
    bundles: dict[str, None] = {}  # bundle ids in order of appearance (empty bundles too)
    named: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="kg-provjson-") as tmp:
        files: dict[tuple[str, str], IO[str]] = {}

        def put(bundle: str, section: str, key: str, rec: Any) -> None:  # a record, or a list of them
            fh = files.get((bundle, section))
            if fh is None:
                fh = files[bundle, section] = open(os.path.join(tmp, str(len(files))), "w+", encoding="utf-8")
            else:
                fh.write(sep)
            fh.write(json.dumps(key, ensure_ascii=False) + ":" + orjson.dumps(rec).decode())

        for n in nodes:
            role = n.props.get(BUNDLE_PROP)
            if role is not None:
                bundles[n.id] = None
                if role == "implicit":
                    continue  # the bundle's node is the graph's, not the document's
            bundle = n.props.get("bundle")
            if isinstance(bundle, str):
                bundles[bundle] = None
            put(bundle if isinstance(bundle, str) else "", _SECTION[n.cls], ns.node(unscoped(bundle, n.id)),
                _node_record(n, ns))
            count += 1
        for i, edge in enumerate(edges):
            for e in prov_records(edge):
                spec = _spec(e)
                bundle = e.props.get("bundle")
                where = bundle if isinstance(bundle, str) else ""
                if where:
                    bundles[where] = None
                rid = e.props.get("prov_id")
                if isinstance(rid, str):
                    named.setdefault((where, spec.provjson), {}).setdefault(ns.node(rid), []).append(
                        _edge_record(e, spec, ns))
                else:
                    put(where, spec.provjson, f"_:r{i}", _edge_record(e, spec, ns))
                count += 1
        for (where, section), by_id in named.items():
            for rid, recs in by_id.items():
                put(where, section, rid, recs[0] if len(recs) == 1 else recs)
        order = ["entity", "activity", "agent"] + [s.provjson for s in RELATIONS.values()] + [_MENTION.provjson]
        bundle_keys = {b: ns.node(b) for b in bundles}  # named before the prefixes are written
        prefixes = json.dumps(ns.used)
        out.write('{"prefix":' + prefixes)
        _write_sections(out, files, "", order)
        if bundles:
            out.write(',\n"bundle":{')
            for j, b in enumerate(bundles):
                out.write(("," if j else "") + json.dumps(bundle_keys[b], ensure_ascii=False)
                          + ':{"prefix":' + prefixes)
                _write_sections(out, files, b, order)
                out.write("}")
            out.write("}")
        out.write("}\n")
    return count


def _write_sections(out: IO[str], files: dict[tuple[str, str], IO[str]], bundle: str, order: list[str]) -> None:
    for section in order:
        fh = files.pop((bundle, section), None)
        if fh is None:
            continue
        out.write(f',\n"{section}":{{')
        fh.seek(0)
        while chunk := fh.read(1 << 20):
            out.write(chunk)
        out.write("}")
        fh.close()


# -- reading -----------------------------------------------------------------

class _Resolver:
    """Qualified names of one document -> our node ids, prop keys and IRIs."""

    def __init__(self, prefixes: dict[str, Any], source: str) -> None:
        self.prefixes = {**_READ_DEFAULTS, **_BUILTIN, **{k: str(v) for k, v in prefixes.items()}}
        self.source = source

    def iri(self, qname: Any, where: str) -> str:
        if not isinstance(qname, str) or not qname:
            raise InputError(f"{where}: expected a qualified name, got {qname!r:.80}")
        prefix, sep, local = qname.partition(":")
        if sep and prefix in self.prefixes:
            return self.prefixes[prefix] + local
        if "default" in self.prefixes and not (sep and local.startswith("//")):
            return self.prefixes["default"] + qname
        return ID_NS + qname  # an unprefixed name: one of ours

    def node(self, qname: Any, where: str) -> str:
        iri = self.iri(qname, where)
        return iri[len(ID_NS):] if iri.startswith(ID_NS) else iri

    def key(self, qname: str, where: str) -> str:
        iri = self.iri(qname, where)
        if iri.startswith(KG_NS):
            return iri[len(KG_NS):]
        if iri.startswith(PROV_NS):
            return "prov:" + iri[len(PROV_NS):]
        return iri

    def value(self, v: Any, where: str) -> Any:
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if not isinstance(v, dict):
            return v
        text, typ = v.get("$"), v.get("type")
        if not isinstance(text, str):
            raise InputError(f"{where}: a typed literal needs a string '$', got {v!r:.80}")
        type_iri = self.iri(typ, where) if isinstance(typ, str) else None
        if type_iri == KG_NS + "json":
            try:
                return json.loads(text)
            except ValueError:
                raise InputError(f"{where}: bad kg:json value {text!r:.80}") from None
        if type_iri in _NATIVE and "lang" not in v:
            try:
                return _NATIVE[type_iri](text)
            except ValueError:
                raise InputError(f"{where}: {text!r:.40} is not a valid {typ}") from None
        if type_iri in _QNAME_TYPES:
            return {"$": self.node(text, where), "type": type_iri}
        out: dict[str, Any] = {"$": text}
        if type_iri is not None:
            out["type"] = type_iri
        if "lang" in v:
            out["lang"] = v["lang"]
        return out


def read_provjson(data: str | bytes, source: str = "PROV-JSON") -> tuple[list[Node], list[Edge]]:
    """Parse a PROV-JSON document (bundles included) into nodes and edges; InputError names
    what is wrong."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InputError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: a PROV-JSON document is a JSON object")
    prefixes = _prefixes(doc, source)
    res = _Resolver(prefixes, source)
    nodes, edges = _read_records(doc, res, source, None)
    bundles = doc.get("bundle") or {}
    if not isinstance(bundles, dict):
        raise InputError(f"{source}: 'bundle' must map bundle ids to documents")
    declared = {n.id: n for n in nodes}
    for bq, bdoc in bundles.items():
        where = f"{source}: bundle {bq}"
        if not isinstance(bdoc, dict):
            raise InputError(f"{where}: expected an object")
        if "bundle" in bdoc:
            raise InputError(f"{where}: PROV bundles do not nest")
        # A bundle's own prefixes override the document's inside it, its own id included
        # (the prov library reads it so).
        bres = _Resolver({**prefixes, **_prefixes(bdoc, where)}, source)
        bid = bres.node(bq, where)
        bn, be = _read_records(bdoc, bres, where, bid)
        nodes += bn
        edges += be
        own = declared.get(bid)
        if own is not None:
            own.props[BUNDLE_PROP] = "declared"
        else:  # the graph needs the bundle's node; the document did not describe it as an entity
            nodes.append(Node(bid, ProvClass.ENTITY.value, "Bundle", {BUNDLE_PROP: "implicit"}))
    return nodes, _merge_same_key(edges)


def _prefixes(doc: dict[str, Any], source: str) -> dict[str, Any]:
    prefixes = doc.get("prefix") or {}
    if not isinstance(prefixes, dict):
        raise InputError(f"{source}: 'prefix' must map prefixes to namespace IRIs")
    return dict(prefixes)


def _read_records(doc: dict[str, Any], res: _Resolver, source: str,
                  bundle: str | None) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of one document or bundle; a bundle's are scoped to it (see ``scoped``)."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    for section, cls in _CLASS_OF.items():
        for qname, recs in (doc.get(section) or {}).items():
            where = f"{source}: {section} {qname}"
            for rec in recs if isinstance(recs, list) else [recs]:
                if not isinstance(rec, dict):
                    raise InputError(f"{where}: expected an object")
                nodes.append(_read_node(qname, cls, rec, res, where))
    by_section = {s.provjson: s for s in RELATIONS.values()}
    by_section["wasEndedby"] = RELATIONS[Relation.WAS_ENDED_BY]  # the schema's spelling
    by_section[_MENTION.provjson] = _MENTION
    for section, recs in doc.items():
        spec = by_section.get(section)
        if spec is None:
            if section not in ("prefix", "entity", "activity", "agent", "bundle"):
                raise InputError(f"{source}: unknown PROV-JSON section {section!r}")
            continue
        if not isinstance(recs, dict):
            raise InputError(f"{source}: section {section!r} must map ids to records")
        for rid, group in recs.items():
            where = f"{source}: {section} {rid}"
            # Several records under one id (allowed by PROV-JSON, merged only by PROV's
            # unification) are each kept.
            for rec in group if isinstance(group, list) else [group]:
                members = rec.get(spec.dst_key) if isinstance(rec, dict) else None
                if spec.rel is Relation.HAD_MEMBER and isinstance(members, list):
                    # hadMember(c, [e1, e2]) is shorthand for one membership per entity.
                    for m in members:
                        edges.append(_read_edge(spec, rid, {**rec, spec.dst_key: m}, res, where))
                    continue
                edges.append(_read_edge(spec, rid, rec, res, where))
    # A compact activity's props already stand for its parent link (see kg.model.prov):
    # storing the exported edge as well would give it twice on the next export.
    implied = {(e.src, e.rel, e.dst, str(e.props.get("role", "")))
               for n in nodes if is_compact(n) for e in explode(n)[1]}
    edges = [e for e in edges if (e.src, e.rel, e.dst, str(e.props.get("role", ""))) not in implied]
    if bundle is None:
        return nodes, edges
    nodes = [Node(scoped(bundle, n.id), n.cls, n.kind, {**n.props, "bundle": bundle}) for n in nodes]
    edges = [Edge(e.rel, scoped(bundle, e.src), scoped(bundle, e.dst), {**e.props, "bundle": bundle})
             for e in edges]
    return nodes, edges


def _merge_same_key(edges: list[Edge]) -> list[Edge]:
    """Stores key an edge by (src, rel, dst, role): records that share a key but differ (two
    ids for one usage, one id with two times, two generations by an unknown activity) become
    one edge whose ``prov_records`` prop lists each record's qualifiers."""
    groups: dict[tuple[str, str, str, str], list[Edge]] = {}
    for e in edges:
        role = e.props.get("role")
        groups.setdefault((e.src, e.rel, e.dst, role if isinstance(role, str) else ""), []).append(e)
    out: list[Edge] = []
    for group in groups.values():
        distinct: list[Edge] = []
        for e in group:
            if all(e.props != d.props for d in distinct):  # PROV documents are sets of records
                distinct.append(e)
        if len(distinct) == 1:
            out.append(distinct[0])
            continue
        first = distinct[0]
        shared: dict[str, Any] = {k: first.props[k] for k in ("role", "bundle") if k in first.props}
        recs = [{k: v for k, v in e.props.items() if k not in shared} for e in distinct]
        out.append(Edge(first.rel, first.src, first.dst, {**shared, RECORDS_PROP: recs}))
    return out


def _read_edge(spec: Any, rid: str, rec: Any, res: _Resolver, where: str) -> Edge:
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object")
    props: dict[str, Any] = {}
    if not rid.startswith("_:"):
        props["prov_id"] = res.node(rid, where)
    for key, value in rec.items():
        if key in (spec.src_key, spec.dst_key):
            continue
        if key == "prov:time":
            props["time"] = _read_time(value, "time", props, where, key)
        elif key == "prov:role":
            role = res.value(value, where)
            # Stores key an edge by a string role; several or typed roles stay a PROV attribute.
            props["role" if isinstance(role, str) else "prov:role"] = role
        elif key in _REF_KEYS and key in spec.extra_keys:
            props[_REF_KEYS[key]] = res.node(value, where)
        else:
            props[res.key(key, where)] = res.value(value, where)
    if spec is _MENTION:
        props.setdefault(_REF_KEYS["prov:bundle"], UNKNOWN)  # the mark of a mention, bundle or not
    # PROV-DM lets a relation leave out an end (wasGeneratedBy(e, -, -)): see UNKNOWN.
    ends = []
    for key, absent in ((spec.src_key, UNKNOWN_SUBJECT), (spec.dst_key, UNKNOWN)):
        end = res.node(rec[key], where) if key in rec else absent
        if end in ABSENT and key in rec:
            raise InputError(f"{where}: {end!r} marks an absent argument; it cannot be an id")
        ends.append(end)
    e = Edge(spec.rel.value, ends[0], ends[1], props)
    check_edge(e)
    return e


def _read_time(value: Any, name: str, props: dict[str, Any], where: str, key: str) -> float:
    if not isinstance(value, str):
        _bad(where, key, value)
    t = from_iso(value)
    if datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
        props.setdefault(NAIVE_PROP, []).append(name)
    return t


def _bad(where: str, key: str, value: Any) -> Any:
    raise InputError(f"{where}: {key} must be an ISO 8601 string, got {value!r:.80}")


def _read_node(qname: str, cls: str, rec: dict[str, Any], res: _Resolver, where: str) -> Node:
    props: dict[str, Any] = {}
    kind = None
    types: list[Any] = []
    for key, value in rec.items():
        if key == "prov:type":
            for t in value if isinstance(value, list) else [value]:
                tv = res.value(t, where)
                if (kind is None and _typed(tv) and tv.get("type") in _QNAME_TYPES
                        and tv["$"].startswith(KG_NS)):
                    kind = tv["$"][len(KG_NS):]
                else:
                    types.append(tv)
        elif key in ("prov:startTime", "prov:endTime") and cls == ProvClass.ACTIVITY.value:
            name = "started" if key == "prov:startTime" else "ended"
            props[name] = _read_time(value, name, props, where, key)
        else:
            props[res.key(key, where)] = res.value(value, where)
    prov_names = [t["$"][len(PROV_NS):] for t in types
                  if _typed(t) and t.get("type") in _QNAME_TYPES and t["$"].startswith(PROV_NS)]
    if kind is not None:
        implied = _PROV_TYPES.get(kind)
        # The PROV subtype our writer adds beside kg:Kind is implied by the kind again.
        types = [t for t in types if not (implied and _typed(t) and t.get("$") == PROV_NS + implied
                                          and t.get("type") in _QNAME_TYPES)]
    else:
        kind = next((_KIND_OF_PROV[p] for p in prov_names if p in _KIND_OF_PROV), None)
    if types:
        props["prov_type"] = types if len(types) > 1 else types[0]
    n = Node(res.node(qname, where), cls, kind or cls, props)
    check_node(n)
    return n
