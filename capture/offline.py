"""Reading an offline capture (a ``KG_STORE=run.jsonl`` file) back as plain records, without a store."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from kg.exceptions import InputError

if TYPE_CHECKING:
    from kg.api import RecordList

__all__ = ["read_offline"]


def read_offline(path: str | os.PathLike[str] | None = None) -> RecordList:
    """Every node of an offline JSONL capture, in the order first written, as Records.

    A node written twice (a run at its start and at its end) is one record with its props merged,
    later values winning, as a store merges them. ``path`` None: the configured ``KG_STORE``, when
    that is a ``.jsonl`` file. Raises InputError naming the first malformed line::

        # KG_STORE=run.jsonl python train.py
        records = capture.read_offline("run.jsonl")
        tasks = records.filter(kind="Task")
        tasks[0].used, tasks[0].generated        # {'x': 21}, {'y': 42}
        tasks.to_pandas()                        # needs provkg[pandas]

    For the relations too (lineage, SPARQL), open the file as a graph: ``kg.connect("run.jsonl")``.
    """
    # imported here: `import capture` (every `kg run`) does not load the query API
    from kg.api import Record, RecordList
    from kg.stores.jsonl import read_records

    if path is None:
        path = _configured_file()
    nodes, _edges = read_records(path)
    merged: dict[str, Any] = {}
    for n in nodes:
        seen = merged.get(n.id)
        if seen is None:
            merged[n.id] = [n.cls, n.kind, dict(n.props)]
        else:
            seen[0], seen[1] = n.cls, n.kind
            seen[2].update(n.props)
    return RecordList(Record(nid, kind, cls, props) for nid, (cls, kind, props) in merged.items())


def _configured_file() -> str:
    from kg.config import store_uri

    uri = store_uri(None)
    if uri.startswith("jsonl://") or uri.endswith(".jsonl"):
        return uri.removeprefix("jsonl://")
    raise InputError(f"no offline capture to read: the store is {uri}, not a .jsonl file "
                     "(give read_offline a path, or set KG_STORE=run.jsonl)")
