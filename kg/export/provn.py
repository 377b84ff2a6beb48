"""PROV-N out of the graph, written by the ``prov`` library from our PROV-JSON.

``prov`` builds the whole document in memory, so PROV-N is for runs, not for
million-record exports (use provjson or nt for those)."""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from typing import IO, Any

from kg.exceptions import ExportError
from kg.export import register_exporter
from kg.export.provjson import write_provjson
from kg.model.records import Edge, Node

__all__ = ["write_provn", "to_prov_document"]


def to_prov_document(nodes: Iterable[Node], edges: Iterable[Edge]) -> tuple[Any, int]:
    """A ``prov.model.ProvDocument`` of the records, and the record count."""
    from prov.model import ProvDocument

    buf = io.StringIO()
    count = write_provjson(nodes, edges, buf)
    with warnings.catch_warnings():
        # prov warns about local parts PROV-N must escape (ids with '/', '@', ...); it escapes them.
        warnings.simplefilter("ignore")
        try:
            doc = ProvDocument.deserialize(content=buf.getvalue(), format="json")
        except Exception as exc:  # prov raises its own and builtin errors for what it cannot model
            raise ExportError(f"the prov library could not read the records: {exc}") from None
    return doc, count


def write_provn(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], **_options: Any) -> int:
    """Write one PROV-N document; returns the number of records."""
    doc, count = to_prov_document(nodes, edges)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.write(doc.serialize(format="provn"))
    out.write("\n")
    return count


register_exporter("provn", write_provn)
