"""kg export / load: moving provenance out of and into a store."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from kg.cli._options import Ctx, pass_ctx, progress
from kg.exceptions import InputError

# Listed here, not read from kg.export's registry, so that every `kg` command does not import
# the exporters at start-up; tests/core/test_cli.py checks this list against the registry.
FORMATS = ("bundle", "dot", "nt", "prolog", "provjson", "provn", "provxml", "rdf")

__all__ = ["register", "LOADERS"]


def _load_jsonl(path: str, bad: list[str] | None = None) -> tuple[list[Any], list[Any]]:
    from kg.stores.jsonl import read_records

    return read_records(path, bad=bad)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _load_provjson(path: str) -> tuple[list[Any], list[Any]]:
    from kg.export.provjson import read_provjson

    return read_provjson(_read(path), source=path)


def _load_provxml(path: str) -> tuple[list[Any], list[Any]]:
    from kg.export.provxml import read_provxml

    return read_provxml(_read(path), source=path)


def _load_provn(path: str) -> tuple[list[Any], list[Any]]:
    from kg.export.provxml import prov_reads, read_with_prov

    if not prov_reads("provn"):
        raise InputError(f"{path}: the installed prov library has no PROV-N parser (prov 3 has one); "
                         f"kg load reads {_LOADABLE}")
    return read_with_prov(_read(path), "provn", path)


def _load_bundle(path: str) -> tuple[list[Any], list[Any]]:
    from kg.export.bundle import read_bundle

    return read_bundle(path)


# format -> loader(path) -> (nodes, edges); parsing completes before anything is written.
LOADERS: dict[str, Callable[..., tuple[list[Any], list[Any]]]] = {
    "jsonl": _load_jsonl, "provjson": _load_provjson, "provxml": _load_provxml, "provn": _load_provn,
    "bundle": _load_bundle}
# File name ending -> format, when --format is not given (anything else is read as JSONL).
_SUFFIXES = {".json": "provjson", ".xml": "provxml", ".provx": "provxml", ".provn": "provn", ".jsonl": "jsonl",
             ".kgb": "bundle", ".zip": "bundle"}
_LOADABLE = "jsonl (.jsonl), provjson (.json), provxml (.xml), provn (.provn), bundle (.kgb)"
# What `kg export` writes but `kg load` cannot read back: refused by name, not misread as JSONL.
_EXPORT_ONLY = {".ttl": "RDF", ".nt": "RDF", ".rdf": "RDF", ".jsonld": "RDF", ".nq": "RDF", ".trig": "RDF",
                ".pl": "Prolog", ".dot": "dot", ".gv": "dot"}


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _EXPORT_ONLY:
        raise InputError(f"{path}: kg load does not read {_EXPORT_ONLY[suffix]}; it reads {_LOADABLE}")
    return _SUFFIXES.get(suffix, "jsonl")


def register(cli: click.Group) -> None:
    @cli.command("export")
    @click.argument("runs", nargs=-1)
    @click.option("--all", "all_runs", is_flag=True, help="Export the whole store.")
    @click.option("--format", "-F", "fmt", default="provjson", show_default=True,
                  help=f"Output format: {', '.join(FORMATS)}.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Write to FILE (default: standard output).")
    @click.option("--rdf-format", type=click.Choice(["turtle", "nt", "jsonld", "xml", "nq", "trig"]), default=None,
                  help="With --format rdf: the RDF serialisation (default turtle; nq and trig keep "
                       "PROV bundles as named graphs).")
    @click.option("--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
                  help="Format option, e.g. -O rdf_format=nt, -O depth=3 (repeatable).")
    @pass_ctx
    def export_cmd(ctx: Ctx, runs: tuple[str, ...], all_runs: bool, fmt: str, output: str | None,
                   rdf_format: str | None, options: tuple[str, ...]) -> None:
        """Export runs (or --all) as PROV-JSON or another format.

        RUNS are ids, unique prefixes or sequence numbers. The file is written
        completely or not at all. provjson, provxml and provn write PROV bundles as
        bundles; `kg load` reads provjson, provxml and provn back. bundle writes one
        archive with the runs and the file contents they need: `kg load` on another
        machine, then `kg restore`, brings the files back.

        \b
        Example:
          kg export 1 --format provjson -o run1.json
          kg export --all -F provjson > everything.json
          kg export --all -F provxml -o everything.xml
          kg export 1 -F rdf --rdf-format nt -o run1.nt
          kg export 3 -F bundle -o trial3.kgb     (runs + contents; kg load trial3.kgb)
        """
        from kg.export import EXPORTERS, export
        from kg.export._common import select_records

        if not runs and not all_runs:
            raise click.UsageError("name at least one run, or --all")
        if fmt not in EXPORTERS:
            raise click.BadParameter(f"choose from {', '.join(sorted(EXPORTERS))}", param_hint="--format")
        opts: dict[str, Any] = {}
        for item in options:
            key, sep, value = item.partition("=")
            if not sep:
                raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
            opts[key.replace("-", "_")] = value
        if rdf_format:
            if fmt != "rdf":
                raise click.BadParameter("only with --format rdf", param_hint="--rdf-format")
            opts["rdf_format"] = rdf_format
        # A bundle is a copy for another store (kg load): compact activities stay compact.
        nodes, edges = select_records(ctx.store, None if all_runs else list(runs), expand=fmt != "bundle")
        binary = EXPORTERS[fmt][1]
        if output is None:
            out = sys.stdout.buffer if binary else sys.stdout
            export(fmt, nodes, edges, out, **opts)
            return
        nodes = progress(nodes, label="nodes")  # a bar on a terminal; silent in pipes and CI
        edges = progress(edges, label="edges")
        tmp = Path(output + ".part")
        try:
            fh: IO[Any] = open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8")
            with fh:
                n = export(fmt, nodes, edges, fh, **opts)
            tmp.replace(output)
        finally:
            tmp.unlink(missing_ok=True)
        click.echo(f"wrote {n} records to {output}", err=True)

    @cli.command("load")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--format", "-F", "fmt", type=click.Choice(sorted(LOADERS)), default=None,
                  help="Input format (default: from the file name: .json PROV-JSON, .xml PROV-XML, "
                       ".provn PROV-N, .kgb bundle, otherwise JSONL).")
    @click.option("--skip-bad", is_flag=True,
                  help="JSONL: load the good records and report each bad line, instead of loading nothing.")
    @pass_ctx
    def load_cmd(ctx: Ctx, file: str, fmt: str | None, skip_bad: bool) -> None:
        """Import an offline JSONL capture, a PROV document (PROV-JSON, PROV-XML,
        PROV-N) or a bundle (`kg export -F bundle`: runs with their file contents) into
        the store.

        PROV documents load whole: bundles, relations with absent ends, mentionOf (see
        docs/exports.md); PROV-XML and PROV-N are parsed by the prov library. The whole
        file is checked first; a malformed line or record is reported and nothing is
        written (with --skip-bad, a JSONL file's good records are loaded and every bad
        line is reported). Loading the same file twice changes nothing.

        \b
        Example:
          kg load .kg/offline.jsonl
          kg load --skip-bad damaged.jsonl
          kg load --format provjson other-tool.json
          kg load paper.provn
          kg load trial3.kgb      (then: kg restore N --into DIR)
        """
        fmt = fmt or _format_of(file)
        if skip_bad and fmt != "jsonl":
            raise click.UsageError("--skip-bad is for JSONL files")
        bad: list[str] = []
        nodes, edges = LOADERS[fmt](file, bad) if skip_bad else LOADERS[fmt](file)
        for reason in bad:
            click.echo(f"kg: skipped {reason}", err=True)
        ctx.writable.write(nodes, edges)
        skipped = f"; {len(bad)} bad lines skipped" if bad else ""
        click.echo(f"loaded {len(nodes)} nodes and {len(edges)} edges from {file}{skipped}", err=True)
