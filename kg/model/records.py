"""Node and Edge: the two record shapes every producer emits and every store keeps."""
from __future__ import annotations

import re
from typing import Any, NamedTuple

from kg.exceptions import InputError
from kg.model.terms import RELATIONS, Kind, ProvClass, Relation

__all__ = ["Node", "Edge", "NODE_COLUMNS", "node", "edge", "check_node", "check_edge", "check_label",
           "stored_order"]

# Properties that stores keep in their own indexed columns as well as in the props.
NODE_COLUMNS = ("run", "name", "status", "parent", "started", "ended")
_COLUMN_SET = frozenset(NODE_COLUMNS)


def stored_order(props: dict[str, Any]) -> dict[str, Any]:
    """``props`` in the order the embedded store gives every node back: the other props first, then
    the column props that are not None, in ``NODE_COLUMNS`` order. The decoders of hot records
    build their props in this order directly; this is for the rare record with extra props."""
    out = {k: v for k, v in props.items() if k not in _COLUMN_SET}
    for key in NODE_COLUMNS:
        val = props.get(key)
        if val is not None:
            out[key] = val
    return out


class Node(NamedTuple):
    """A PROV element. ``props`` holds everything else; its ``run``, ``name``, ``status``,
    ``parent``, ``started`` and ``ended`` keys are indexed by the stores.

    Times are seconds since the epoch (float, UTC)."""

    id: str
    cls: str   # ProvClass value
    kind: str  # Kind value (or a user kind declared in the ontology)
    props: dict[str, Any]


class Edge(NamedTuple):
    """A PROV relation from its subject ``src`` to its object ``dst``.

    Its identity is (src, rel, dst, role): writing it again updates its props.
    Qualifiers live in ``props``: ``time``, ``role``, ``plan``, plus ``run``."""

    rel: str  # Relation value
    src: str
    dst: str
    props: dict[str, Any]


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABELS_OK: set[str] = set()
_CLASSES = frozenset(c.value for c in ProvClass)


def check_label(name: str, what: str = "kind") -> str:
    """``name`` if it can be a graph label / relationship type (every store needs that); InputError otherwise."""
    if type(name) is str and name in _LABELS_OK:  # a handful of kinds and relations, checked once per record on writes
        return name
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InputError(f"{what} {name!r} is not an identifier (letters, digits, underscore)")
    if len(_LABELS_OK) < 10_000:
        _LABELS_OK.add(name)
    return name
_RELS = frozenset(r.value for r in Relation)


def node(id: str, cls: ProvClass | str, kind: Kind | str, **props: Any) -> Node:
    """Build a Node, dropping ``None`` props (absent and None mean the same)."""
    return Node(id, str(getattr(cls, "value", cls)), str(getattr(kind, "value", kind)),
                {k: v for k, v in props.items() if v is not None})


def edge(rel: Relation | str, src: str, dst: str, **props: Any) -> Edge:
    """Build an Edge, dropping ``None`` props."""
    return Edge(str(getattr(rel, "value", rel)), src, dst, {k: v for k, v in props.items() if v is not None})


def check_node(n: Node) -> None:
    """Raise InputError if ``n`` is not a well-formed node (used on import, not on the hot path)."""
    if not isinstance(n.id, str) or not n.id:
        raise InputError(f"node without a string id: {n!r:.200}")
    if n.cls not in _CLASSES:
        raise InputError(f"node {n.id!r}: unknown PROV class {n.cls!r}")
    check_label(n.kind)
    if not isinstance(n.props, dict):
        raise InputError(f"node {n.id!r}: props must be an object")


def check_edge(e: Edge) -> None:
    """Raise InputError if ``e`` is not a well-formed edge."""
    if e.rel not in _RELS:
        raise InputError(f"unknown relation {e.rel!r}")
    if not isinstance(e.src, str) or not e.src or not isinstance(e.dst, str) or not e.dst:
        raise InputError(f"{e.rel} edge without string endpoints: {e!r:.200}")
    if not isinstance(e.props, dict):
        raise InputError(f"{e.rel} edge {e.src!r}->{e.dst!r}: props must be an object")
    RELATIONS[Relation(e.rel)]  # every relation has a spec
