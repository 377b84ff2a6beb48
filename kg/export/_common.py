"""Helpers shared by the exporters: time formatting, id prefixes, the records of a selection."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from kg.exceptions import InputError
from kg.model.records import Edge, Node
from kg.stores.base import Store

__all__ = ["iso", "from_iso", "ID_NS", "select_records"]

# Node ids are qualified names in this namespace (``id:<node id>``) in every export.
ID_NS = "https://provkg.dev/id/"


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


def select_records(store: Store, runs: list[str] | None) -> tuple[Iterator[Node], Iterator[Edge]]:
    """The records of the named runs (id, prefix or number), or of the whole store when None."""
    ids = None if runs is None else [store.resolve_run(r).id for r in runs]
    return store.run_records(ids)


def jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (isinstance(value, float) and value != value)
