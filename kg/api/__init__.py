"""The Python query API: ``kg.connect()`` and the plain records it returns.

    import kg

    with kg.connect() as g:                      # the configured store (KG_STORE, $KG_HOME/kg.db)
        run = g.run(1)                           # like `kg show 1`
        df = g.tasks(run).to_pandas()            # its task tree as a table (needs provkg[pandas])
        lin = g.lineage(df.id.iloc[0], up=False) # what depends on the first task
        graph = lin.to_networkx()                # a networkx.MultiDiGraph

See docs/python-api.md."""
from __future__ import annotations

from kg.api._graph import KnowledgeGraph, connect
from kg.api._records import Lineage, Record, RecordList, Rows

__all__ = ["connect", "KnowledgeGraph", "Record", "RecordList", "Rows", "Lineage"]
