"""Compact activities and entities, and their PROV expansion.

Hot capture paths (tasks, activations) store one node per call: an Activity whose
``used`` / ``generated`` props hold the argument and return summaries and whose
``parent`` prop names the enclosing activity. ``explode`` turns such a node into the
PROV it stands for: Value entities ``<id>/in/<name>`` and ``<id>/out/<name>``, USED and
WAS_GENERATED_BY relations (with role and time), and WAS_INFORMED_BY its parent.
The ids are deterministic, so exploding twice, or importing an exploded export, gives
the same graph (one write per call instead of seven is what makes capture cheap).

A compact entity (a Variable of `kg run --dataflow`) has ``derived``, the ids it WAS_DERIVED_FROM,
and ``generated_by``, the activity (or trial) that WAS_GENERATED_BY it."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kg.model.records import Edge, Node
from kg.model.terms import Kind, ProvClass, Relation

__all__ = ["explode", "ref_keys", "ref_relations", "is_compact", "value_owner", "exported_props", "kept_relations",
           "value_ids", "owners",
           "COMPACT_KEYS"]

COMPACT_KEYS = ("used", "generated", "derived", "generated_by")
_ENT, _VALUE = ProvClass.ENTITY.value, Kind.VALUE.value
_USED, _WGB, _WIB = Relation.USED.value, Relation.WAS_GENERATED_BY.value, Relation.WAS_INFORMED_BY.value
_WDF = Relation.WAS_DERIVED_FROM.value


def is_compact(n: Node) -> bool:
    """True if ``n`` carries PROV that ``explode`` expands."""
    p = n.props
    if n.cls == _ENT:
        return "generated_by" in p or "derived" in p
    return n.cls == ProvClass.ACTIVITY.value and ("used" in p or "generated" in p or "parent" in p)


def value_owner(value_id: str) -> tuple[str, str, str] | None:
    """For a virtual Value id ``<activity>/in|out/<name>``: (activity id, "in"|"out", name)."""
    head, sep, name = value_id.rpartition("/")
    if not sep:
        return None
    owner, sep, direction = head.rpartition("/")
    if not sep or direction not in ("in", "out"):
        return None
    return owner, direction, name


def owners(value_ids: Iterable[str]) -> set[str]:
    """The activities the Value ids ``<activity>/in|out/<name>`` belong to."""
    return {o[0] for v in value_ids if (o := value_owner(v)) is not None}


def ref_relations(n: Node) -> list[Edge]:
    """The relations ``explode(n)`` makes for used/generated values that are references
    ``{"$from": id}`` to other entities: the only relations of a compact activity that are also
    stored as edges. Read from the props, without exploding."""
    p = n.props
    run = p.get("run")
    out = []
    for key, rel, t in (("used", _USED, p.get("started")), ("generated", _WGB, p.get("ended"))):
        for name, value in (p.get(key) or {}).items():
            if type(value) is dict and "$from" in value:
                ref, props = str(value["$from"]), _relation_props(name, run, t)
                out.append(Edge(rel, n.id, ref, props) if rel == _USED else Edge(rel, ref, n.id, props))
    return out


def ref_keys(n: Node) -> list[tuple[str, str, str, str]]:
    """(src, rel, dst, role) of each of ``ref_relations(n)``."""
    return [(e.src, e.rel, e.dst, e.props["role"]) for e in ref_relations(n)]


def _relation_props(name: str, run: Any, t: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"role": name}
    if run is not None:
        props["run"] = run
    if t is not None:
        props["time"] = t
    return props


def explode(n: Node) -> tuple[list[Node], list[Edge]]:
    """The Value entities and relations that compact node ``n`` stands for."""
    p = n.props
    run = p.get("run")
    if n.cls == _ENT:
        return [], _entity_relations(n.id, p, run)
    nodes: list[Node] = []
    edges: list[Edge] = []
    for key, direction, rel, t in (("used", "in", _USED, p.get("started")),
                                   ("generated", "out", _WGB, p.get("ended"))):
        values = p.get(key)
        if not values:
            continue
        for name, value in values.items():
            eprops = _relation_props(name, run, t)
            if type(value) is dict and "$from" in value:
                # an entity that exists on its own (another activity's output, a token
                # version): the relation points at it, no Value is made
                ref = str(value["$from"])
                edges.append(Edge(rel, n.id, ref, eprops) if rel == _USED else Edge(rel, ref, n.id, eprops))
                continue
            vid = f"{n.id}/{direction}/{name}"
            vprops: dict[str, Any] = {"name": name, "value": value}
            if run is not None:
                vprops["run"] = run
            nodes.append(Node(vid, _ENT, _VALUE, vprops))
            edges.append(Edge(rel, n.id, vid, eprops) if rel == _USED else Edge(rel, vid, n.id, eprops))
    parent = p.get("parent")
    if parent and parent != n.id:
        eprops = {"role": "parent"}
        if run is not None:
            eprops["run"] = run
        edges.append(Edge(_WIB, n.id, parent, eprops))
    return nodes, edges


def value_ids(n: Node) -> list[str]:
    """The ids of the Value entities ``explode(n)`` makes (references to other entities make none)."""
    p = n.props
    return [f"{n.id}/{direction}/{name}"
            for key, direction in (("used", "in"), ("generated", "out"))
            for name, value in (p.get(key) or {}).items()
            if not (type(value) is dict and "$from" in value)]


def kept_relations(n: Node, relations: list[Edge] | None = None) -> list[Edge]:
    """The relations of compact ``n`` that reach beyond its own values: WAS_INFORMED_BY its parent
    and the USED / WAS_GENERATED_BY of references to other entities. A graph store keeps these as
    edges (traversals need them) while the values themselves stay props of ``n``. ``relations``:
    ``explode(n)[1]`` when the caller has it already."""
    out = []
    for e in explode(n)[1] if relations is None else relations:
        owner = value_owner(e.dst if e.src == n.id else e.src)
        if owner is None or owner[0] != n.id:
            out.append(e)
    return out


def exported_props(n: Node) -> dict[str, Any]:
    """The props of ``n`` as exported: the compact keys are expressed by explode's records instead."""
    if not is_compact(n):
        return n.props
    return {k: v for k, v in n.props.items() if k not in COMPACT_KEYS}


def _entity_relations(nid: str, p: dict[str, Any], run: Any) -> list[Edge]:
    base: dict[str, Any] = {} if run is None else {"run": run}
    edges = [Edge(_WDF, nid, str(src), dict(base)) for src in p.get("derived") or ()]
    by = p.get("generated_by")
    if by:
        edges.append(Edge(_WGB, nid, str(by), {"role": "dataflow", **base}))
    return edges
