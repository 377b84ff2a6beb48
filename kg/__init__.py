"""provkg: a provenance knowledge graph for Python (W3C PROV in SQLite or Neo4j)."""
from __future__ import annotations

from typing import Any

from kg._version import __version__  # noqa: E402,F401

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


def __getattr__(name: str) -> Any:
    # kg.connect loads the query API (and with it the export and query modules) on first use:
    # `import kg` stays as cheap as every `kg run` start-up needs.
    if name == "connect":
        from kg.api import connect

        return connect
    raise AttributeError(f"module 'kg' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kg`` in IPython/Jupyter: the %kg_run, %%kg_run and %kg magics (kg.notebook)."""
    from kg.notebook import load_ipython_extension as load

    load(ipython)


__all__ = [
    "__version__",
    "connect", "open_store", "Store",
    "Node", "Edge", "node", "edge", "Kind", "ProvClass", "Relation",
    "KGError", "ConfigError", "StoreError", "SchemaError", "StoreUnavailable", "NotFound",
    "AmbiguousReference", "InputError", "QueryError", "CaptureError", "ExportError",
]
