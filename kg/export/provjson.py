"""PROV-JSON (W3C member submission) out of, and into, the graph, streamed section by section."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from kg.exceptions import InputError
from kg.export._common import ID_NS, from_iso, iso
from kg.model.prov import exported_props
from kg.model.records import Edge, Node, check_edge, check_node
from kg.model.terms import KG_NS, RELATIONS, Kind, ProvClass, Relation

__all__ = ["write_provjson", "read_provjson", "PREFIXES"]

PREFIXES = {"kg": KG_NS, "id": ID_NS}
_SECTION = {ProvClass.ENTITY.value: "entity", ProvClass.ACTIVITY.value: "activity", ProvClass.AGENT.value: "agent"}
_CLASS_OF = {v: k for k, v in _SECTION.items()}
# PROV's own subtypes that our kinds imply; added beside kg:Kind so other tools understand them.
_PROV_TYPES = {Kind.PERSON.value: "prov:Person", Kind.SOFTWARE_AGENT.value: "prov:SoftwareAgent",
               Kind.PLAN.value: "prov:Plan", Kind.SCRIPT.value: "prov:Plan", Kind.CAMPAIGN.value: "prov:Collection"}
_KIND_OF_PROV = {"prov:Person": Kind.PERSON.value, "prov:SoftwareAgent": Kind.SOFTWARE_AGENT.value,
                 "prov:Organization": "Organization", "prov:Plan": Kind.PLAN.value,
                 "prov:Collection": "Collection", "prov:Bundle": "Bundle"}
_TIME_PROPS = {"started": "prov:startTime", "ended": "prov:endTime"}
_EDGE_PROV = {"time": "prov:time", "role": "prov:role"}


def _qn(node_id: str) -> str:
    return f"id:{node_id}"


def _attr(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return {"$": str(value), "type": "xsd:long"}
    if isinstance(value, float):
        return {"$": repr(value), "type": "xsd:double"}
    return {"$": orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode(), "type": "kg:json"}


def _node_record(n: Node) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    types = [{"$": f"kg:{n.kind}", "type": "prov:QUALIFIED_NAME"}]
    if n.kind in _PROV_TYPES:
        types.append({"$": _PROV_TYPES[n.kind], "type": "prov:QUALIFIED_NAME"})
    rec["prov:type"] = types if len(types) > 1 else types[0]
    for key, value in exported_props(n).items():
        if key == "seq":
            continue  # a store's numbering, not provenance
        if n.cls == ProvClass.ACTIVITY.value and key in _TIME_PROPS and isinstance(value, (int, float)):
            rec[_TIME_PROPS[key]] = iso(value)
        else:
            rec[f"kg:{key}"] = _attr(value)
    return rec


def _edge_record(e: Edge) -> dict[str, Any]:
    spec = RELATIONS[Relation(e.rel)]
    rec: dict[str, Any] = {spec.src_key: _qn(e.src), spec.dst_key: _qn(e.dst)}
    for key, value in e.props.items():
        if key == "time" and isinstance(value, (int, float)):
            rec["prov:time"] = iso(value)
        elif key == "role":
            rec["prov:role"] = str(value)
        elif key == "plan" and e.rel == Relation.WAS_ASSOCIATED_WITH.value:
            rec["prov:plan"] = _qn(str(value))
        else:
            rec[f"kg:{key}"] = _attr(value)
    return rec


def write_provjson(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], *, indent: bool = False) -> int:
    """Write one PROV-JSON document; returns the number of records. Memory stays flat: each
    section is spooled to a temporary file in one pass, then the sections are concatenated."""
    count = 0
    sep = ",\n" if indent else ","
    with tempfile.TemporaryDirectory(prefix="kg-provjson-") as tmp:
        files: dict[str, IO[str]] = {}

        def put(section: str, key: str, rec: dict[str, Any]) -> None:
            fh = files.get(section)
            if fh is None:
                fh = files[section] = open(os.path.join(tmp, section), "w+", encoding="utf-8")
            else:
                fh.write(sep)
            fh.write(json.dumps(key) + ":" + orjson.dumps(rec).decode())

        for n in nodes:
            put(_SECTION[n.cls], _qn(n.id), _node_record(n))
            count += 1
        for i, e in enumerate(edges):
            put(RELATIONS[Relation(e.rel)].provjson, f"_:r{i}", _edge_record(e))
            count += 1
        out.write('{"prefix":' + json.dumps(PREFIXES))
        order = ["entity", "activity", "agent"] + [s.provjson for s in RELATIONS.values()]
        for section in order:
            fh = files.get(section)
            if fh is None:
                continue
            out.write(f',\n"{section}":{{')
            fh.seek(0)
            while chunk := fh.read(1 << 20):
                out.write(chunk)
            out.write("}")
            fh.close()
        out.write("}\n")
    return count


# -- reading -----------------------------------------------------------------

def _local(qname: Any, prefixes: dict[str, str], where: str) -> str:
    if not isinstance(qname, str) or not qname:
        raise InputError(f"{where}: expected a qualified name, got {qname!r}")
    prefix, sep, local = qname.partition(":")
    if sep and prefix == "id":
        return local
    if sep and prefix in prefixes and prefixes[prefix] != ID_NS:
        return qname  # another tool's name: keep it whole, prefix included
    return qname


def _value(v: Any, where: str) -> Any:
    if isinstance(v, list):
        return [_value(x, where) for x in v]
    if not isinstance(v, dict):
        return v
    text, typ = v.get("$"), v.get("type")
    if typ == "kg:json":
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            raise InputError(f"{where}: bad kg:json value {text!r:.80}") from None
    if typ in ("xsd:long", "xsd:int", "xsd:integer", "xsd:short", "xsd:byte", "xsd:unsignedInt",
               "xsd:unsignedLong", "xsd:nonNegativeInteger", "xsd:positiveInteger"):
        return int(text)
    if typ in ("xsd:double", "xsd:float", "xsd:decimal"):
        return float(text)
    if typ == "xsd:boolean":
        return str(text).lower() in ("true", "1")
    if "lang" in v:
        return text
    return text if typ in (None, "xsd:string", "prov:QUALIFIED_NAME", "xsd:QName", "xsd:anyURI") else {
        "$": text, "type": typ}


def _attr_key(key: str) -> str:
    return key[3:] if key.startswith("kg:") else key


def read_provjson(data: str | bytes, source: str = "PROV-JSON") -> tuple[list[Node], list[Edge]]:
    """Parse a PROV-JSON document into nodes and edges; InputError names what is wrong."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InputError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: a PROV-JSON document is a JSON object")
    prefixes = dict(doc.get("prefix") or {})
    nodes: list[Node] = []
    edges: list[Edge] = []
    for section, cls in _CLASS_OF.items():
        for qname, rec in (doc.get(section) or {}).items():
            where = f"{source}: {section} {qname}"
            if not isinstance(rec, dict):
                raise InputError(f"{where}: expected an object")
            nodes.append(_read_node(qname, cls, rec, prefixes, where))
    by_section = {s.provjson: s for s in RELATIONS.values()}
    for section, recs in doc.items():
        spec = by_section.get(section)
        if spec is None:
            continue
        for rid, rec in (recs or {}).items():
            where = f"{source}: {section} {rid}"
            if not isinstance(rec, dict) or spec.src_key not in rec or spec.dst_key not in rec:
                raise InputError(f"{where}: needs {spec.src_key} and {spec.dst_key}")
            props: dict[str, Any] = {}
            for key, value in rec.items():
                if key in (spec.src_key, spec.dst_key):
                    continue
                if key == "prov:time":
                    props["time"] = from_iso(value)
                elif key == "prov:role":
                    props["role"] = _value(value, where)
                elif key == "prov:plan":
                    props["plan"] = _local(value, prefixes, where)
                elif key in spec.extra_keys:
                    props[_attr_key(key.replace("prov:", "prov_"))] = _local(value, prefixes, where)
                else:
                    props[_attr_key(key)] = _value(value, where)
            e = Edge(spec.rel.value, _local(rec[spec.src_key], prefixes, where),
                     _local(rec[spec.dst_key], prefixes, where), props)
            check_edge(e)
            edges.append(e)
    return nodes, edges


def _read_node(qname: str, cls: str, rec: dict[str, Any], prefixes: dict[str, str], where: str) -> Node:
    props: dict[str, Any] = {}
    kind = None
    extra_types: list[Any] = []
    for key, value in rec.items():
        if key == "prov:type":
            for t in value if isinstance(value, list) else [value]:
                name = t.get("$") if isinstance(t, dict) else t
                if isinstance(name, str) and name.startswith("kg:") and kind is None:
                    kind = name[3:]
                elif isinstance(name, str) and name in _KIND_OF_PROV:
                    kind = kind or _KIND_OF_PROV[name]
                    if not name.startswith("prov:") or name not in _PROV_TYPES.values():
                        extra_types.append(name)
                else:
                    extra_types.append(_value(t, where))
        elif key == "prov:startTime":
            props["started"] = from_iso(value)
        elif key == "prov:endTime":
            props["ended"] = from_iso(value)
        else:
            props[_attr_key(key)] = _value(value, where)
    if extra_types:
        props["prov_type"] = extra_types if len(extra_types) > 1 else extra_types[0]
    n = Node(_local(qname, prefixes, where), cls, kind or cls, props)
    check_node(n)
    return n


def iter_lines(fh: IO[str]) -> Iterator[str]:  # pragma: no cover - convenience for callers
    yield from fh
