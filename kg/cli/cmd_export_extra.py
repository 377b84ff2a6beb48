"""kg sparql / kg prolog: querying exports of runs without leaving the command line."""
from __future__ import annotations

from typing import Any

import click

from kg.cli._options import Ctx, emit_rows, output_option, pass_ctx

__all__ = ["register"]


def _pairs(items: tuple[str, ...], hint: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=hint)
        out[key.lstrip("?$")] = value
    return out


def _emit(rows: list[dict[str, Any]], cols: list[str], fmt: str) -> None:
    emit_rows(rows, fmt, cols)


def register(cli: click.Group) -> None:
    @cli.command("sparql")
    @click.argument("query", required=False)
    @click.argument("runs", nargs=-1)
    @click.option("--param", "-p", "params", multiple=True, metavar="NAME=NODE",
                  help="Bind ?NAME to the IRI of node NODE (an id), e.g. -p start=fv:out.csv@ab12.")
    @click.option("--literal", "-l", "literals", multiple=True, metavar="NAME=TEXT",
                  help="Bind ?NAME to the string TEXT.")
    @click.option("--engine", type=click.Choice(["auto", "rdflib", "oxigraph"]), default="auto",
                  show_default=True, help="SPARQL engine; auto = pyoxigraph when installed (about 10x faster "
                  "on lineage queries), else rdflib.")
    @click.option("--no-ontology", is_flag=True, help="Query the records only, without ontology/kg.ttl.")
    @click.option("--list", "list_queries", is_flag=True, help="List the named queries and exit.")
    @output_option
    @pass_ctx
    def sparql_cmd(ctx: Ctx, query: str | None, runs: tuple[str, ...], params: tuple[str, ...],
                   literals: tuple[str, ...], engine: str, no_ontology: bool, list_queries: bool,
                   fmt: str) -> None:
        """Run a SPARQL query over the RDF (PROV-O + kg.ttl) of runs (all runs if none are named).

        QUERY is a query name from queries/ (e.g. lineage-files), a .sparql file, or
        the query text. Node ids in results are printed without the id: IRI prefix.

        \b
        Example:
          kg sparql lineage-files 1 -p start=fv:report.txt@h5
          kg sparql 'SELECT ?f WHERE { ?f a <https://provkg.dev/ns/kg#File> }'
          kg sparql --list
        """
        from kg.export.sparql import find_query, query_dirs, query_header, run_sparql

        if list_queries:
            seen: dict[str, dict[str, Any]] = {}
            for d in query_dirs():
                for f in sorted(d.glob("*.sparql")) if d.is_dir() else []:
                    head = query_header(f.read_text(encoding="utf-8"))
                    seen.setdefault(f.stem, {"name": f.stem, "parameters": head.get("parameters", ""),
                                             "answers": head.get("answers", "")})
            emit_rows(list(seen.values()), fmt, ["name", "parameters", "answers"])
            return
        if not query:
            raise click.UsageError("give a QUERY (name, file or text), or --list")
        text, _source = find_query(query)
        from kg.export._common import select_records

        nodes, edges = select_records(ctx.store, list(runs) or None)
        res = run_sparql(nodes, edges, text, nodes_bound=_pairs(params, "--param"),
                         literals=_pairs(literals, "--literal"), engine=engine, ontology=not no_ontology)
        if res.kind == "ask":
            click.echo("true" if res.answer else "false")
        elif res.kind == "graph":
            click.echo(res.text, nl=False)
        else:
            _emit(res.rows, res.columns, fmt)

    @cli.command("prolog")
    @click.argument("goal")
    @click.argument("runs", nargs=-1)
    @click.option("--limit", type=int, default=None, help="Stop after this many solutions.")
    @output_option
    @pass_ctx
    def prolog_cmd(ctx: Ctx, goal: str, runs: tuple[str, ...], limit: int | None, fmt: str) -> None:
        """Answer a Prolog GOAL over the facts and rules of runs (all runs if none are named).

        The facts are those of `kg export --format prolog`, the rules those of
        kg/data/prolog/rules.pl (lineage/2, file_lineage/2, file_influence/2,
        derivation_chain/3, activation_ancestor/2, ...). Prints one row per solution,
        `true` for a solution without variables, and `false` when there is none.

        \b
        Example:
          kg prolog "file_lineage('fv:report.txt@h5', F)" 1
          kg prolog "file_influence(From, To)" --format json
        """
        from kg.export._common import select_records
        from kg.export.swipl import run_prolog

        nodes, edges = select_records(ctx.store, list(runs) or None)
        res = run_prolog(nodes, edges, goal, limit=limit)
        if not res.rows:
            click.echo("false")
        elif not res.columns:
            click.echo("true")
        else:
            _emit(res.rows, res.columns, fmt)
