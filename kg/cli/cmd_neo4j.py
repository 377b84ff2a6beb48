"""kg push / pull / query / cypher: the Neo4j knowledge base from the command line."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from kg.cli._options import Ctx, emit_rows, output_option, pass_ctx, progress
from kg.config import kg_home, store_uri
from kg.exceptions import ConfigError, InputError
from kg import content
from kg.hub_client import hub_cli, is_hub_url, mark_pulled
from kg.outbox import follow as follow_outbox, push_outbox, pusher_lock, release
from kg.push import CopyReport, copy_runs, default_neo4j_uri, replay_spools, spool_files, total_records
from kg.stores import Store, is_server_uri, open_store

__all__ = ["register"]


def _neo4j(uri: str | None) -> Store:
    target = default_neo4j_uri(uri)
    if not is_server_uri(target):
        raise ConfigError(f"{target!r} is not a Neo4j URI (bolt://HOST:PORT or neo4j://HOST:PORT)")
    return open_store(target)


def _bar(total: int | None, label: str) -> Any:
    bar = progress(range(0), total=total, label=label)
    return bar if hasattr(bar, "update") else None


def _local_store(ctx: Ctx) -> Store | None:
    """The embedded store to copy from/to; None when it does not exist (push then only replays spools)."""
    uri = store_uri(ctx.store_uri)
    if is_server_uri(uri):
        return ctx.peek  # push sends the outbox itself (and says so); ctx.store would first
    path = uri.removeprefix("sqlite:///")
    if "://" not in path and not path.endswith(".jsonl") and not os.path.exists(path):
        return None
    return ctx.store


def _plain(value: Any) -> Any:
    """A driver value (node, relationship, path, temporal) as JSON-friendly data."""
    from neo4j.graph import Node as GNode, Path as GPath, Relationship

    if isinstance(value, GNode):
        return {"labels": sorted(value.labels), **dict(value)}
    if isinstance(value, Relationship):
        return {"type": value.type, "src": value.start_node.get("id") if value.start_node else None,
                "dst": value.end_node.get("id") if value.end_node else None, **dict(value)}
    if isinstance(value, GPath):
        return [_plain(n) for n in value.nodes]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def _params(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        out[key] = value
    return out


def _query_store(ctx: Ctx, uri: str | None) -> Store:
    if uri is None and is_server_uri(store_uri(ctx.store_uri)):
        return ctx.store
    return _neo4j(uri)


def _bulk(ctx: Ctx, target: Store, runs: tuple[str, ...], csv_dir: Path | None, import_with: str | None) -> None:
    from kg.bulk import bulk_import

    source = _local_store(ctx)
    if source is None or source.uri == target.uri:
        target.close()
        raise InputError(f"no embedded store at {store_uri(ctx.store_uri)} to bulk-load from")
    directory = csv_dir or kg_home() / "bulk" / time.strftime("%Y%m%d-%H%M%S")
    try:
        files, seconds = bulk_import(source, target, directory, list(runs) or None, import_with)
    finally:
        target.close()
    click.echo(f"wrote {files.node_count} nodes and {files.edge_count} relationships as CSV in {directory}", err=True)
    if seconds is None:
        click.echo("import them into the stopped server's empty database with one of:\n"
                   f"  {files.command('scripts/neo4j import --')}\n"
                   f"  docker compose run --rm -v {directory}:/import neo4j "
                   f"{files.command('neo4j-admin', root='/import')}", err=True)
        return
    again = open_store(target.uri)  # the store's constraints and indexes, on the imported data
    try:
        again.counts()
    finally:
        again.close()
    click.echo(f"imported {files.records} records in {seconds:.1f}s ({files.records / seconds:,.0f}/s) "
               f"into {target.uri}", err=True)


def _contents_option(text: str) -> Any:
    return click.option("--contents", metavar="DIR", default=None, help=text)


def _hashes(store: Store, runs: list[str]) -> list[str]:
    """The contents the runs' records name (file versions, scripts, modules)."""
    from kg.hub_client import content_hashes

    return content_hashes(store.run_records(runs)[0]) if runs else []


def _restore_needs(store: Store, runs: list[str]) -> list[str]:
    """The contents `kg restore` would write for the trials among ``runs``."""
    from kg.restore import plan_restore

    return [it.sha256 for r in store.get_nodes(runs).values() if r.kind == "Trial"
            for it in plan_restore(store, r)]


def register(cli: click.Group) -> None:
    @cli.command("push")
    @click.argument("runs", nargs=-1)
    @click.option("--to", "to", metavar="URI", default=None,
                  help="Neo4j to push to (default: $KG_NEO4J_URI, config 'neo4j', bolt://127.0.0.1:7687), "
                       "or a hub experiment http://HOST:PORT/experiments/NAME (kg serve).")
    @click.option("--no-spool", is_flag=True, help="Do not replay capture spools from $KG_HOME/spool.")
    @click.option("-v", "--verbose", is_flag=True, help="Also report the time taken and transactions retried.")
    @click.option("--follow", is_flag=True,
                  help="Keep running: send write-behind captures ($KG_HOME/outbox) as they are written.")
    @click.option("--until-idle", type=float, metavar="SECONDS", default=None,
                  help="With --follow: stop after SECONDS with nothing being captured or left to send.")
    @click.option("--outbox-only", is_flag=True, help="Send only the write-behind outbox (not runs or spools).")
    @click.option("--bulk", "bulk", is_flag=True,
                  help="First load of an empty database: write CSV for `neo4j-admin database import full`.")
    @click.option("--csv-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="With --bulk: where the CSV goes (default $KG_HOME/bulk/<time>).")
    @click.option("--import-with", metavar="COMMAND", default=lambda: os.environ.get("KG_NEO4J_IMPORT"),
                  help="With --bulk: run the import with COMMAND + neo4j-admin arguments, e.g. "
                       "'scripts/neo4j import --' (default $KG_NEO4J_IMPORT; none: print the commands).")
    @click.option("--token", default=None, help="Hub token (default: $KG_TOKEN).")
    @_contents_option("Also copy the file contents the pushed runs need into DIR, a content store on a "
                      "shared disk (default: $KG_SHARED_CONTENT, config 'shared_content').")
    @pass_ctx
    def push_cmd(ctx: Ctx, runs: tuple[str, ...], to: str | None, no_spool: bool, verbose: bool,
                 follow: bool, until_idle: float | None, outbox_only: bool, bulk: bool, csv_dir: Path | None,
                 import_with: str | None, token: str | None, contents: str | None) -> None:
        """Copy runs (all when none named) into Neo4j, or with their file contents into a hub experiment.

        Also delivers records that captures spooled while Neo4j was unreachable
        ($KG_HOME/spool/*.jsonl; each file is deleted once committed). Pushing
        again adds nothing.

        Captures made with a Neo4j store (KG_STORE=bolt://...) are written
        locally first ($KG_HOME/outbox) and sent by a background pusher; `kg push`
        sends whatever is left, `kg push --follow` keeps sending as they are written.

        \b
        Example:
          kg push                      # every run, plus pending spools and outbox
          kg push 3 4 --to bolt://kb.example.org:7687
          kg push --follow -v          # a daemon for write-behind captures
          kg push --bulk --import-with 'scripts/neo4j import --'   # first load, offline
          kg push 3 --to http://hub.example.org:5000/experiments/paper   (runs + contents)
        """
        if is_hub_url(to):
            return hub_cli(ctx, "push", str(to), runs, token)
        target = _neo4j(to)
        if bulk:
            _bulk(ctx, target, runs, csv_dir, import_with)
            return
        report = CopyReport()
        started = time.perf_counter()
        lock = None
        try:
            if follow:
                lock = pusher_lock(target.uri)
                if lock is None:
                    click.echo("kg push: another `kg push --follow` is sending this outbox", err=True)
                    return
            source = None if outbox_only else _local_store(ctx)
            if source is not None and source.uri != target.uri:
                bar = _bar(None if runs else total_records(source), "push")
                report = copy_runs(source, target, list(runs) or None,
                                   on_progress=bar.update if bar is not None else None)
                if bar is not None:
                    bar.close()
            elif runs:
                raise InputError(f"no embedded store at {store_uri(ctx.store_uri)} to push runs from")
            if not no_spool and not outbox_only and spool_files():
                bar = _bar(None, "spool")
                replay_spools(target, report=report, on_progress=bar.update if bar is not None else None)
                if bar is not None:
                    bar.close()
            if follow:
                follow_outbox(target, until_idle=until_idle, report=report, on_round=lambda r: click.echo(
                    f"sent {r.outbox_files} outbox files ({r.outbox_records} records)", err=True) if verbose else None)
            else:
                push_outbox(target, report=report)
        finally:
            release(lock)
            target.close()
        msg = f"pushed {len(report.runs)} runs ({report.nodes} nodes, {report.edges} edges) to {target.uri}"
        if report.spools:
            msg += f"; replayed {report.spools} spool files ({report.spooled_records} records)"
        if report.outbox_files:
            msg += f"; sent {report.outbox_files} outbox files ({report.outbox_records} records)"
        shared = content.shared_root(contents)
        if shared is not None and source is not None and report.runs:
            copied, size = content.copy_between(_hashes(source, report.runs), None, shared)
            msg += f"; {copied} contents ({size:,} bytes) copied to {shared}"
        click.echo(msg, err=True)
        if verbose:
            click.echo(f"push took {time.perf_counter() - started:.2f}s; "
                       f"{getattr(target, 'retries', 0)} transactions retried after a transient error", err=True)

    @cli.command("pull")
    @click.argument("runs", nargs=-1)
    @click.option("--from", "from_", metavar="URI", default=None,
                  help="Neo4j to pull from (default: $KG_NEO4J_URI, config 'neo4j', bolt://127.0.0.1:7687), "
                       "or a hub experiment http://HOST:PORT/experiments/NAME (kg serve).")
    @click.option("--token", default=None, help="Hub token (default: $KG_TOKEN).")
    @_contents_option("Also copy the file contents the pulled runs need from DIR, the shared content store "
                      "`kg push --contents DIR` filled (default: $KG_SHARED_CONTENT, config 'shared_content').")
    @pass_ctx
    def pull_cmd(ctx: Ctx, runs: tuple[str, ...], from_: str | None, token: str | None, contents: str | None) -> None:
        """Copy runs (all when none named) from Neo4j, or with their contents from a hub experiment.

        RUNS are ids, unique prefixes or numbers as Neo4j knows them. Pulling again
        adds nothing.

        \b
        Example:
          kg pull 0192f1c3 --from bolt://kb.example.org:7687
          kg pull                      # everything
          kg pull --from http://hub.example.org:5000/experiments/paper   (runs + contents)
        """
        if is_hub_url(from_):
            return hub_cli(ctx, "pull", str(from_), runs, token)
        source = _neo4j(from_)
        try:
            if source.uri == ctx.writable.uri:
                raise InputError("the embedded store is this Neo4j itself; nothing to pull")
            bar = _bar(None if runs else total_records(source), "pull")
            report = copy_runs(source, ctx.writable, list(runs) or None,
                               on_progress=bar.update if bar is not None else None)
            if bar is not None:
                bar.close()
            mark_pulled(ctx.writable, report.runs, source.uri)
        finally:
            source.close()
        msg = f"pulled {len(report.runs)} runs ({report.nodes} nodes, {report.edges} edges) from {source.uri}"
        shared = content.shared_root(contents)
        if shared is not None:
            copied, size = content.copy_between(_hashes(ctx.writable, report.runs), shared, None)
            msg += f"; {copied} contents ({size:,} bytes) copied from {shared}"
        # What `kg restore` would need and cannot find (a library module's hash names no kept content)
        lacking = sorted({sha for sha in _restore_needs(ctx.writable, report.runs) if not content.has(sha)})
        click.echo(msg, err=True)
        if lacking:
            where = f"{shared} lacks them" if shared else "Neo4j keeps records, not file contents"
            click.echo(f"kg pull: {len(lacking)} file contents of these runs are not here ({where}): "
                       "`kg restore` cannot bring those files back; the pusher can share them with "
                       "`kg push --contents DIR` and you pull with --contents DIR, or use a hub "
                       "(kg push/pull --to/--from http://HOST:PORT/experiments/NAME)", err=True)

    @cli.command("query")
    @click.argument("name", required=False)
    @click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
                  help="A query parameter (repeatable); sent as a parameter, never pasted into Cypher.")
    @click.option("--uri", metavar="URI", default=None,
                  help="Neo4j to query (default: --store if it is Neo4j, else $KG_NEO4J_URI / config 'neo4j').")
    @click.option("--list", "list_", is_flag=True, help="List the named queries and their parameters.")
    @click.option("--show", is_flag=True, help="Print the query's Cypher instead of running it.")
    @output_option
    @pass_ctx
    def query_cmd(ctx: Ctx, name: str | None, params: tuple[str, ...], uri: str | None, list_: bool,
                  show: bool, fmt: str) -> None:
        """Run a named Cypher query (see --list) against Neo4j.

        Parameters are typed by the query's header; a `run` parameter takes a run
        id, unique prefix or number.

        \b
        Example:
          kg query --list
          kg query upstream-lineage --param entity=fv:3f5a... --param depth=5
          kg query run-files --param run=1 -F csv
        """
        from kg.queries import get_query, load_queries

        if list_ or not name:
            rows = [{"name": q.name, "parameters": " ".join(
                        f"{p.name}:{p.type}" + ("" if p.required else f"={p.default}") for p in q.params),
                     "answers": q.answers} for q in sorted(load_queries().values(), key=lambda q: q.name)]
            emit_rows(rows, fmt)
            return
        q = get_query(name)
        if show:
            click.echo(q.text, nl=False)
            return
        store = _query_store(ctx, uri)
        bound = q.bind(_params(params), resolve_run=lambda ref: store.resolve_run(ref).id)
        rows = store.cypher(q.text, bound)  # type: ignore[attr-defined]
        emit_rows([_plain(r) for r in rows], fmt)

    @cli.command("cypher")
    @click.argument("query")
    @click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
                  help="A string parameter $NAME (repeatable).")
    @click.option("--write", is_flag=True, help="Allow the query to change the graph.")
    @click.option("--uri", metavar="URI", default=None,
                  help="Neo4j to query (default: --store if it is Neo4j, else $KG_NEO4J_URI / config 'neo4j').")
    @output_option
    @pass_ctx
    def cypher_cmd(ctx: Ctx, query: str, params: tuple[str, ...], write: bool, uri: str | None, fmt: str) -> None:
        """Run ad-hoc Cypher against Neo4j; read-only unless --write.

        Without --write the transaction is opened in read mode, so Neo4j itself
        refuses CREATE, MERGE, SET and DELETE.

        \b
        Example:
          kg cypher "MATCH (t:Task {status: 'ERROR'}) RETURN t.name, t.error LIMIT 10"
          kg cypher "MATCH (n:KG {id: \\$id}) RETURN n" --param id=t-abc.1
        """
        store = _query_store(ctx, uri)
        rows = store.cypher(query, _params(params), write=write)  # type: ignore[attr-defined]
        emit_rows([_plain(r) for r in rows], fmt)
