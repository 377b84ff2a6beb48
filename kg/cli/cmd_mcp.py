"""kg mcp: serve the knowledge graph to LLM agents as read-only MCP tools over stdio."""
from __future__ import annotations

import click

from kg.cli._options import Ctx, pass_ctx
from kg.exceptions import ConfigError

__all__ = ["register"]


def register(cli: click.Group) -> None:
    @cli.command("mcp")
    @click.option("--store", "store_uri", metavar="PATH|URI", default=None,
                  help="The store to serve (as `kg --store`, here so a client config can put it after mcp).")
    @click.option("--name", default="provkg", show_default=True, help="The server name MCP clients see.")
    @pass_ctx
    def mcp_cmd(ctx: Ctx, store_uri: str | None, name: str) -> None:
        """Serve the store to an LLM agent as an MCP server (stdio, read-only).

        Tools: list_runs, show_run, lineage, search, list_queries and query (named
        SPARQL queries on any store, Cypher on Neo4j). Results are bounded by a
        `limit` argument and say when they were cut. Point an MCP client at this
        command; it speaks JSON-RPC on stdin/stdout until the client disconnects.
        Needs the mcp extra: pip install 'provkg[mcp]'. See docs/mcp.md.

        \b
        Example:
          kg mcp
          kg mcp --store ~/lab/.kg/kg.db
          kg --store bolt://127.0.0.1:7687 mcp --name lab-kb
        """
        import importlib.util

        if importlib.util.find_spec("mcp") is None:
            raise ConfigError("kg mcp needs the mcp package: pip install 'provkg[mcp]'")
        from kg.mcp_server import serve

        if store_uri is not None:
            ctx.close()
            ctx.store_uri = store_uri
        store = ctx.store  # opened now: a missing store is a one-line error, not a server that fails later
        serve(store, name)
