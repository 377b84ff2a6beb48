"""Exporters: one module per format, registered here by name."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, Any

from kg.exceptions import ExportError
from kg.model.records import Edge, Node

__all__ = ["EXPORTERS", "register_exporter", "export"]

Exporter = Callable[..., int]
# name -> (writer(nodes, edges, out, **options) -> record count, binary?)
EXPORTERS: dict[str, tuple[Exporter, bool]] = {}


def register_exporter(name: str, writer: Exporter, *, binary: bool = False) -> None:
    """Make ``kg export --format NAME`` write with ``writer``."""
    EXPORTERS[name] = (writer, binary)


def export(fmt: str, nodes: Iterable[Node], edges: Iterable[Edge], out: IO[Any], **options: Any) -> int:
    """Write the records in format ``fmt``; ExportError names the formats there are."""
    try:
        writer, _ = EXPORTERS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(sorted(EXPORTERS))})") from None
    return writer(nodes, edges, out, **options)


def _register_builtin() -> None:
    from kg.export.provjson import write_provjson

    register_exporter("provjson", write_provjson)
    # Each format module registers itself when it imports; one whose optional dependency is
    # missing is left out (any other import error is a bug and is raised).
    import importlib

    for mod in ("kg.export.provn", "kg.export.provxml", "kg.export.rdf", "kg.export.prolog", "kg.export.dot",
                "kg.export.bundle"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            continue


_register_builtin()
