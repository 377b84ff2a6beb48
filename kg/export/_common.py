"""Helpers shared by the exporters: time formatting, id prefixes, the records of a selection, and
how the graph holds the PROV that is more than a node or an edge (bundles, absent ends)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from kg.exceptions import InputError
from kg.model.records import Edge, Node
from kg.stores.base import Store

__all__ = ["iso", "from_iso", "ID_NS", "select_records", "UNKNOWN", "UNKNOWN_SUBJECT", "ABSENT", "BUNDLE_SEP",
           "BUNDLE_PROP", "RECORDS_PROP", "NAIVE_PROP", "scoped", "unscoped", "prov_records"]

# Node ids are qualified names in this namespace (``id:<node id>``) in every export.
ID_NS = "https://provkg.dev/id/"

# -- PROV the graph holds with more than a node or an edge (docs/exports.md, "All of PROV") --

# The ids that stand for an end PROV-DM lets a relation leave out (PROV-N writes it "-"):
# ``wasGeneratedBy(e, -, -)`` is an edge from e to UNKNOWN, ``actedOnBehalfOf(-, ag)`` one
# from UNKNOWN_SUBJECT to ag. No node has these ids. Two ids, not one: UNKNOWN only has
# edges in and UNKNOWN_SUBJECT only edges out, so no path (lineage) goes through either.
UNKNOWN = "-"
UNKNOWN_SUBJECT = "-subject"
ABSENT = frozenset({UNKNOWN, UNKNOWN_SUBJECT})
# Records described inside a bundle are nodes ``<bundle id>::<id>`` with a ``bundle`` prop.
BUNDLE_SEP = "::"
# On a bundle's own node: "declared" (the document describes it as an entity) or "implicit".
BUNDLE_PROP = "prov_bundle"
# Several PROV records on one edge key: the list of their qualifiers (see kg.export.provjson).
RECORDS_PROP = "prov_records"
# The time props (``time``, ``started``, ``ended``) whose PROV time had no zone: stored as UTC
# like every time, written back without an offset so the document stays what it was.
NAIVE_PROP = "prov_naive_times"


def scoped(bundle: str, node_id: str) -> str:
    """The graph id of record ``node_id`` described inside ``bundle``. PROV lets two bundles
    describe one id differently (even as an entity in one and an activity in the other), and a
    graph node has one class and one set of props, so each bundle's descriptions are its own
    nodes; the node's ``bundle`` prop says which prefix to strip on export."""
    return node_id if node_id in ABSENT else f"{bundle}{BUNDLE_SEP}{node_id}"


def unscoped(bundle: str | None, node_id: str) -> str:
    """The PROV id of a graph node id made by ``scoped``."""
    head = f"{bundle}{BUNDLE_SEP}"
    return node_id[len(head):] if bundle is not None and node_id.startswith(head) else node_id


def prov_records(e: Edge) -> list[Edge]:
    """The PROV records edge ``e`` stands for: itself, or one per entry of its ``prov_records``."""
    recs = e.props.get(RECORDS_PROP)
    if not isinstance(recs, list):
        return [e]
    shared = {k: v for k, v in e.props.items() if k != RECORDS_PROP}
    return [Edge(e.rel, e.src, e.dst, {**shared, **r}) for r in recs if isinstance(r, dict)]


def iso(t: float) -> str:
    """Seconds since the epoch as an ISO 8601 UTC timestamp with microseconds."""
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="microseconds")


def from_iso(text: str) -> float:
    """An ISO 8601 timestamp (PROV-JSON, PROV-N) as seconds since the epoch."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def select_records(store: Store, runs: list[str] | None, *,
                   expand: bool = True) -> tuple[Iterator[Node], Iterator[Edge]]:
    """The records of the named runs (id, prefix or number), or of the whole store when None;
    ``expand``: the full PROV (exports), else compact activities as stored (copies, bundles)."""
    ids = None if runs is None else [store.resolve_run(r).id for r in runs]
    return store.run_records(ids, expand=expand)


def jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (isinstance(value, float) and value != value)
