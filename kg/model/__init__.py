"""The PROV graph model: terms, ids and the Node/Edge records."""
from __future__ import annotations

from kg.model.records import Edge, Node, edge, node
from kg.model.terms import (
    KG_NS,
    LINEAGE_RELATIONS,
    PROV_NS,
    RELATIONS,
    TOP_LEVEL_KINDS,
    Kind,
    ProvClass,
    Relation,
    relation,
)

__all__ = [
    "Node", "Edge", "node", "edge", "Kind", "ProvClass", "Relation", "RELATIONS", "relation",
    "LINEAGE_RELATIONS", "TOP_LEVEL_KINDS", "KG_NS", "PROV_NS",
]
