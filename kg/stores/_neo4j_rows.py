"""How records become Neo4j rows and back: property encoding and the grouped rows of a write."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from kg.exceptions import InputError
from kg.model.prov import explode, is_compact, kept_relations, value_owner
from kg.model.records import Edge, Node, check_label
from kg.model.terms import TOP_LEVEL_KINDS, ProvClass

__all__ = ["prepare", "node_of", "edge_of", "encode", "decode", "Rows", "linked_values"]

_CLASSES = tuple(c.value for c in ProvClass)
# ``_in`` / ``_out``: the names of a compact activity's plain argument / result values (their ids
# are ``<activity>/in|out/<name>``), native lists so that Cypher (the named lineage queries) can
# list the values the activity keeps as props; a read gives the props without them.
_NAMES = ("_in", "_out")
_RESERVED = frozenset({"id", "kind", "_json", *_NAMES})
_ERESERVED = frozenset({"_json"})
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1
_dumps = orjson.dumps


_JSON_OPT = orjson.OPT_NON_STR_KEYS


def _to_json(v: Any) -> str:
    try:
        return _dumps(v, default=repr, option=_JSON_OPT).decode()
    except (TypeError, orjson.JSONEncodeError):  # ints beyond 64 bits and the like
        import json

        return json.dumps(v, default=repr)


def _from_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        import json

        try:
            return json.loads(text)
        except ValueError:
            return text


_NATIVE = frozenset({str, float, bool})


def _native_list(v: list[Any]) -> bool:
    # Neo4j arrays are homogeneous and non-empty here (an empty list reads back typeless).
    if not v:
        return False
    t = type(v[0])
    if t is int:
        return all(type(x) is int and _INT_MIN <= x <= _INT_MAX for x in v)
    return t in _NATIVE and all(type(x) is t for x in v)


def _encode(props: dict[str, Any], reserved: frozenset[str]) -> tuple[dict[str, Any], list[str] | None]:
    out: dict[str, Any] = {}
    js: list[str] | None = None
    for k, v in props.items():
        if type(k) is not str:
            k = str(k)
        if k in reserved or k[:1] == "~":
            k = "~" + k
        t = type(v)
        if t in _NATIVE or v is None or (t is int and _INT_MIN <= v <= _INT_MAX) or (t is list and _native_list(v)):
            out[k] = v
        else:
            out[k] = _to_json(v)
            if js is None:
                js = []
            js.append(k)
    return out, js


def _decode(raw: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    js = raw.get("_json")
    props: dict[str, Any] = {}
    for k, v in raw.items():
        if k in skip:
            continue
        if js is not None and k in js:
            v = _from_json(v)
        props[k[1:] if k[:1] == "~" else k] = v
    return props


_NODE_SKIP = _RESERVED
_EDGE_SKIP = frozenset({"_json"})


def _node_of(raw: dict[str, Any], labels: Iterable[str]) -> Node:
    cls = next((lab for lab in labels if lab in _CLASSES), _CLASSES[0])
    return Node(raw["id"], cls, raw["kind"], _decode(raw, _NODE_SKIP))


def _edge_of(src: str, rel: str, dst: str, raw: dict[str, Any]) -> Edge:
    props = _decode(raw, _EDGE_SKIP)
    if props.get("role") == "":
        del props["role"]  # stored as "" only to take part in the edge's identity
    return Edge(rel, src, dst, props)


# -- the rows of a write ----------------------------------------------------------------
@dataclass
class Rows:
    """A write's rows: nodes grouped by (class, kind), relationships by type, the ids of runs to
    number; and what linking asks of the store (see ``_prepare``)."""

    nodes: dict[tuple[str, str], list[dict[str, Any]]]
    top: list[str]
    edges: dict[str, list[dict[str, Any]]]
    unresolved: list[str] = field(default_factory=list)  # linking Values whose activity is elsewhere
    compact: list[Node] = field(default_factory=list)     # compact activities written here
    plan: Any = None  # the store's transactions for ``edges``, made ahead on a copy's reader thread

    @property
    def count(self) -> int:
        return sum(map(len, self.nodes.values())) + sum(map(len, self.edges.values()))


def linked_values(ids: Iterable[str], owners: Mapping[str, Node],
                  exploded: dict[str, tuple[list[Node], list[Edge]]] | None = None,
                  ) -> tuple[list[Node], list[Edge], list[str]]:
    """The Value entities ``ids`` (``<activity>/in|out/<name>``) with the relation to their activity,
    exploded from ``owners`` (activity id -> node; ``exploded`` holds those exploded already);
    and the ids whose activity is not there."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    missing: list[str] = []
    exploded = {} if exploded is None else exploded
    for vid in ids:
        owner = value_owner(vid)
        act = owners.get(owner[0]) if owner else None
        if act is None or not is_compact(act):
            missing.append(vid)
            continue
        if act.id not in exploded:
            exploded[act.id] = explode(act)
        values, rels = exploded[act.id]
        found = [v for v in values if v.id == vid]
        if not found:  # no such argument or result: the link stays a placeholder
            missing.append(vid)
            continue
        nodes += found
        edges += [e for e in rels if vid in (e.src, e.dst)]
    return nodes, edges, missing


# Merging props: ``+=`` replaces the keys it names; the ``_json`` list keeps the JSON-encoded
# keys not overwritten by this write, plus this write's.
def _prepare(nodes: Iterable[Node], edges: Iterable[Edge], *, values: str = "linked") -> Rows:
    """Rows grouped by (class, kind) and relation, duplicates merged, compact activities in the
    graph's shape (docs/neo4j-store.md): with ``values="linked"`` an activity keeps its plain
    arguments and results as props and gets edges to its parent and to the entities it references;
    a Value entity (with its USED / WAS_GENERATED_BY) is written only where an edge reaches it (a
    value that links two activities). ``values="all"`` writes every Value entity, as explode makes them."""
    node_rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
    edge_rows: dict[tuple[str, str, str, Any], tuple[str, str, str, Any, dict[str, Any]]] = {}
    extra: list[Edge] = []
    compact: dict[str, Node] = {}
    exploded: dict[str, tuple[list[Node], list[Edge]]] = {}
    names: dict[str, dict[str, list[str]]] = {}  # compact activity -> {"_in": [...], "_out": [...]}

    def add_node(n: Node) -> None:
        cls, kind = n.cls, n.kind
        if cls not in _CLASSES:
            raise InputError(f"node {n.id!r}: unknown PROV class {cls!r}")
        check_label(kind)
        if kind != cls and kind in _CLASSES:
            raise InputError(f"node {n.id!r}: kind {kind!r} is another PROV class than {cls!r}")
        if not isinstance(n.id, str) or not n.id:
            raise InputError(f"node without a string id: {n!r:.200}")
        prev = node_rows.get(n.id)
        if prev is None or (prev[0], prev[1]) != (cls, kind):
            node_rows[n.id] = (cls, kind, dict(n.props))
        else:
            prev[2].update(n.props)

    def add_edge(e: Edge) -> None:
        check_label(e.rel, "relation")
        if not isinstance(e.src, str) or not e.src or not isinstance(e.dst, str) or not e.dst:
            raise InputError(f"{e.rel} edge without string endpoints: {e!r:.200}")
        role = e.props.get("role")
        role = "" if role is None else role
        key = (e.src, e.rel, e.dst, role)
        prev = edge_rows.get(key)
        if prev is None:
            edge_rows[key] = (e.src, e.rel, e.dst, role, dict(e.props))
        else:
            prev[4].update(e.props)

    for n in nodes:
        add_node(n)
        if is_compact(n):
            if values == "all":
                vnodes, vedges = explode(n)
                for v in vnodes:
                    add_node(v)
                extra += vedges
            else:
                compact[n.id] = n
                exploded[n.id] = done = explode(n)  # once: linking below needs it again
                names[n.id] = _value_names(done[0])
                extra += kept_relations(n, done[1])
    for e in edges:
        add_edge(e)
    for e in extra:
        add_edge(e)
    unresolved: list[str] = []
    if values != "all":
        # An edge that reaches a Value of a compact activity makes that Value a node of its own.
        linking = sorted({end for s, _, d, _ in edge_rows for end in (s, d)
                          if end not in node_rows and value_owner(end) is not None})
        vnodes, vedges, unresolved = linked_values(linking, compact, exploded)
        for v in vnodes:
            add_node(v)
        for e in vedges:
            add_edge(e)

    node_groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    top: list[str] = []
    for nid, (cls, kind, props) in node_rows.items():
        props.pop("seq", None)  # the store numbers runs itself
        p, js = _encode(props, _RESERVED)
        if nid in names:
            p.update(names[nid])
        row: dict[str, Any] = {"id": nid, "p": p}
        if js:
            row["j"] = js
        node_groups[(cls, kind)].append(row)
        if kind in TOP_LEVEL_KINDS:
            top.append(nid)
    edge_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for src, rel, dst, role, props in edge_rows.values():
        props["role"] = role
        p, js = _encode(props, _ERESERVED)
        row = {"s": src, "d": dst, "role": p["role"], "p": p}
        if js:
            row["j"] = js
        edge_groups[rel].append(row)
    return Rows(dict(node_groups), top, dict(edge_groups), unresolved, list(compact.values()))


def _value_names(values: list[Node]) -> dict[str, list[str]]:
    """``{"_in": names, "_out": names}`` of the Values ``explode`` made for an activity (a list
    only where non-empty: Neo4j cannot store an empty list with its type)."""
    out: dict[str, list[str]] = {}
    for v in values:
        out.setdefault("_in" if v.id.endswith("/in/" + v.props["name"]) else "_out", []).append(v.props["name"])
    return out


prepare, node_of, edge_of, encode, decode = _prepare, _node_of, _edge_of, _encode, _decode
