"""PROV-XML out of, and PROV-XML / PROV-N into, the graph, through the ``prov`` library.

Both directions go through PROV-JSON, the format our reader and writer map losslessly:
``prov`` turns our PROV-JSON into a ``ProvDocument`` and writes it as XML; on the way in,
``prov`` parses the XML (or PROV-N) and writes PROV-JSON that ``read_provjson`` loads. So
the graph mapping (bundles, absent ends, mentionOf) lives in one place, kg.export.provjson,
and the XML is what ``prov`` writes and reads. Like PROV-N, the document is built in memory.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from typing import IO, Any

from kg.exceptions import ExportError, InputError
from kg.export import register_exporter
from kg.export.provjson import read_provjson
from kg.export.provn import to_prov_document
from kg.model.records import Edge, Node

__all__ = ["write_provxml", "read_provxml", "read_with_prov", "prov_reads"]

_NAMES = {"xml": "PROV-XML", "provn": "PROV-N"}


def write_provxml(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], **_options: Any) -> int:
    """Write one PROV-XML document; returns the number of records."""
    doc, count = to_prov_document(nodes, edges)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prov warns about ids XML must escape; it escapes them
        try:
            text = doc.serialize(format="xml")
        except Exception as exc:  # prov raises builtin errors for what XML cannot carry
            raise ExportError(f"the prov library could not write PROV-XML: {exc}") from None
    out.write(text if isinstance(text, str) else text.decode("utf-8"))
    out.write("\n")
    return count


def prov_reads(fmt: str) -> bool:
    """True if the installed ``prov`` parses ``fmt``: "xml" always; "provn" from prov 3 on
    (prov 2 has a PROV-N writer but no parser)."""
    if fmt != "provn":
        return fmt == "xml"
    try:
        import prov.serializers.provn_parser  # noqa: F401
    except ImportError:
        return False
    return True


def read_with_prov(data: bytes, fmt: str, source: str) -> tuple[list[Node], list[Edge]]:
    """Parse ``data`` (``fmt`` "xml" or "provn") with ``prov`` into nodes and edges."""
    from prov.model import ProvDocument

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            doc = ProvDocument.deserialize(content=data, format=fmt)
            text = str(doc.serialize(format="json"))
        except Exception as exc:  # prov raises lxml's, its own and builtin errors for bad input
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{source}: not a valid {_NAMES.get(fmt, fmt)} document ({first})") from None
    return read_provjson(text, source)


def read_provxml(data: bytes, source: str = "PROV-XML") -> tuple[list[Node], list[Edge]]:
    """Parse a PROV-XML document into nodes and edges; InputError names what is wrong."""
    return read_with_prov(data, "xml", source)


register_exporter("provxml", write_provxml)
