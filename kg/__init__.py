"""provkg: a provenance knowledge graph for Python (W3C PROV in SQLite or Neo4j)."""
from __future__ import annotations

__version__ = "0.1.0"

from kg.exceptions import (  # noqa: E402
    AmbiguousReference,
    CaptureError,
    ConfigError,
    ExportError,
    InputError,
    KGError,
    NotFound,
    QueryError,
    SchemaError,
    StoreError,
    StoreUnavailable,
)
from kg.model import Edge, Kind, Node, ProvClass, Relation, edge, node  # noqa: E402
from kg.stores import Store, open_store  # noqa: E402

__all__ = [
    "__version__",
    "open_store", "Store",
    "Node", "Edge", "node", "edge", "Kind", "ProvClass", "Relation",
    "KGError", "ConfigError", "StoreError", "SchemaError", "StoreUnavailable", "NotFound",
    "AmbiguousReference", "InputError", "QueryError", "CaptureError", "ExportError",
]
