"""The knowledge graph as an MCP server (``kg mcp``): read-only tools an LLM agent calls over stdio.

Tools: ``list_runs``, ``show_run``, ``lineage``, ``search``, ``list_queries`` and ``query``.
Every list is bounded (``limit``, default DEFAULT_LIMIT, at most MAX_LIMIT) and every result says
how many there were and whether it was cut; long texts are cut at TEXT_LIMIT characters. Nothing
here writes: there is no write tool, and Cypher runs in Neo4j's read mode."""
from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kg.exceptions import InputError, KGError
from kg.model.records import Node
from kg.stores.base import Store

__all__ = ["build_server", "serve", "KgTools", "DEFAULT_LIMIT", "MAX_LIMIT", "TEXT_LIMIT", "INSTRUCTIONS"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
TEXT_LIMIT = 300  # characters of one value (a summarised argument, an error) in a result
_SEARCH_SCAN = 200_000  # nodes looked at by one substring search, so a huge store answers in bounded time
_QUERY_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")  # a named query only: never a path or query text

INSTRUCTIONS = (
    "A W3C PROV provenance knowledge graph of Python runs (provkg). To find where a file came from: "
    "search(text=<file name>) for its id, then lineage(node=<id or path>, direction='up'): the "
    "'files' of the answer are the input files it was derived from. list_runs/show_run give runs "
    "and their task trees; list_queries/query run named SPARQL or Cypher queries. Lists are "
    "bounded by 'limit'; 'truncated' says when more exist.")

F = TypeVar("F", bound=Callable[..., Any])


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise InputError(f"limit must be at least 1 (got {limit})")
    return min(int(limit), MAX_LIMIT)


def _bounded(items: list[Any], total: int, limit: int, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {key: items, "total": total, "returned": len(items), "truncated": total > len(items)}
    if out["truncated"]:
        out["note"] = (f"showing {len(items)} of {total}; pass a larger limit (at most {MAX_LIMIT})"
                       + (" or narrow the request" if limit >= MAX_LIMIT else ""))
    return out


def _text(value: Any) -> Any:
    """A value as it goes into a result: scalars as they are, the rest as JSON cut to TEXT_LIMIT."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT - 1] + "…"


def node_view(n: Node, **extra: Any) -> dict[str, Any]:
    """The part of a node an agent needs, each value bounded."""
    p = n.props
    out: dict[str, Any] = {"id": n.id, "class": n.cls, "kind": n.kind}
    for key in ("name", "path", "status", "run", "tool", "started", "ended", "duration", "value", "used",
                "generated", "error_type", "error", "client", "session", "version"):
        if p.get(key) not in (None, "", {}, []):
            out[key] = _text(p[key])
    out.update(extra)
    return out


def _plain(value: Any) -> Any:
    """A Cypher driver value (node, relationship, path, temporal) as JSON-friendly data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "labels") and hasattr(value, "items"):  # a neo4j Node
        return {"labels": sorted(value.labels), **{k: _plain(v) for k, v in value.items()}}
    if hasattr(value, "nodes") and hasattr(value, "relationships"):  # a neo4j Path
        return [_plain(n) for n in value.nodes]
    if hasattr(value, "type") and hasattr(value, "start_node"):  # a neo4j Relationship
        return {"type": value.type, **{k: _plain(v) for k, v in value.items()}}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return _text(value)


class KgTools:
    """The tools' logic over one store, independent of MCP (so it reads and tests as plain Python).

    Sync tools run on worker threads: one lock keeps the store's connection to one caller at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()

    def locked(self, fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return fn(*args, **kwargs)
        return run  # type: ignore[return-value]

    # -- runs ----------------------------------------------------------------------------------------
    def list_runs(self, limit: int | None = None) -> dict[str, Any]:
        n = _limit(limit)
        runs = self.store.runs()
        newest = list(reversed(runs))[:n]  # the latest runs are the ones asked about
        rows = [{"seq": r.props.get("seq"), **node_view(r)} for r in newest]
        return _bounded(rows, len(runs), n, "runs")

    def show_run(self, run: str, limit: int | None = None) -> dict[str, Any]:
        from kg.tree import tree_of  # the tree walk `kg show` uses

        n = _limit(limit)
        node = self.store.resolve_run(run)
        total, tree = tree_of(self.store.find_nodes(run=node.id, cls="Activity"), node.id, n)
        tasks = [node_view(t, depth=d) for d, t in tree]
        out = {"run": {"seq": node.props.get("seq"), **node_view(node)}}
        for key in ("args", "argv", "user", "host", "python", "campaign", "tags"):
            if node.props.get(key) not in (None, "", [], {}):
                out["run"][key] = _text(node.props[key])
        out.update(_bounded(tasks, total, n, "tasks"))
        return out

    # -- nodes ---------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> Node:
        """A node by id or unique id prefix, or a file by path or unique name."""
        ref = ref.strip()
        if not ref:
            raise InputError("give a node id, id prefix, file path or file name")
        try:
            return self.store.resolve_node(ref)
        except KGError as first:
            for candidate in (f"file:{ref}",):
                found = self.store.get_node(candidate)
                if found is not None:
                    return found
            files = [f for f in self.store.find_nodes(kind="File", limit=_SEARCH_SCAN)
                     if ref in (f.props.get("name"), f.props.get("path"))]
            if len(files) == 1:
                return files[0]
            if len(files) > 1:
                raise InputError(f"{len(files)} files are named {ref!r}: give the path or id "
                                 f"({', '.join(f.id for f in files[:5])})") from None
            raise first from None

    def search(self, text: str, kind: str | None = None, limit: int | None = None) -> dict[str, Any]:
        n = _limit(limit)
        needle = text.strip().lower()
        if not needle:
            raise InputError("give some text to search for")
        hits: list[dict[str, Any]] = []
        total = scanned = 0
        for node in self.store.find_nodes(kind=kind or None, limit=_SEARCH_SCAN):
            scanned += 1
            p = node.props
            fields = (p.get("name"), p.get("path"), p.get("tool"), node.id)
            if any(isinstance(f, str) and needle in f.lower() for f in fields):
                total += 1
                if len(hits) < n:
                    hits.append(node_view(node))
        # Files and versions first: "where did this file come from" is the usual question.
        hits.sort(key=lambda h: (h["kind"] not in ("File", "FileVersion"), h["kind"], h["id"]))
        out = _bounded(hits, total, n, "nodes")
        if scanned >= _SEARCH_SCAN:
            out["truncated"] = True
            out["note"] = f"searched the first {_SEARCH_SCAN} nodes only; give a kind to narrow the search"
        return out

    def lineage(self, node: str, direction: str = "up", depth: int = 10, limit: int | None = None) -> dict[str, Any]:
        n = _limit(limit)
        if direction not in ("up", "down"):
            raise InputError(f"direction must be 'up' (what it came from) or 'down' (what it influenced), "
                             f"not {direction!r}")
        depth = max(1, min(int(depth), 100))
        start = self.resolve(node)
        starts = [start.id]
        if start.kind == "File":
            # A path stands for its versions: the lineage is theirs (each version specialises the file).
            starts = [e.src for e in self.store.find_edges(dst=start.id, rel="SPECIALIZATION_OF")] or starts
        by_id: dict[str, Node] = {start.id: start}
        depth_of: dict[str, int] = {start.id: 0}
        via: dict[str, str] = {}
        for s in starts:
            sg = self.store.lineage(s, direction=direction, depth=depth)
            by_id.update({x.id: x for x in sg.nodes})
            for nid, d in sg.depth.items():
                d += 0 if s == start.id else 1
                if nid not in depth_of or d < depth_of[nid]:
                    depth_of[nid] = d
            for e in sg.edges:
                via.setdefault(e.dst if direction == "up" else e.src, e.rel)
        if starts != [start.id]:
            for s in starts:
                via.setdefault(s, "SPECIALIZATION_OF")
        ordered = sorted((nid for nid in depth_of if nid != start.id), key=lambda i: (depth_of[i], i))
        rows = [node_view(by_id[i], depth=depth_of[i], via=via.get(i, "")) if i in by_id
                else {"id": i, "depth": depth_of[i], "via": via.get(i, "")} for i in ordered[:n]]
        files = [i for i in ordered if (by_id.get(i) and by_id[i].kind in ("FileVersion", "File"))
                 and i not in starts]
        out: dict[str, Any] = {"start": node_view(start), "direction": direction,
                               "files": [{"path": by_id[i].props.get("path"), "name": by_id[i].props.get("name"),
                                          "id": i, "depth": depth_of[i]} for i in files[:n]]}
        out.update(_bounded(rows, len(ordered), n, "nodes"))
        return out

    # -- named queries -------------------------------------------------------------------------------
    def list_queries(self) -> dict[str, Any]:
        from kg.queries import load_queries

        from kg.export.sparql import query_header

        rows = []
        for q in sorted(load_queries(None).values(), key=lambda q: (q.name, q.language)):
            row: dict[str, Any] = {"name": q.name, "language": q.language, "answers": q.answers}
            if q.language == "sparql":  # ?NAME - doc, bound to a node by query(params={NAME: node})
                row["parameters"] = query_header(q.path.read_text(encoding="utf-8")).get("parameters", "")
            else:
                row["parameters"] = [{"name": p.name, "type": p.type, "default": p.default, "doc": p.doc}
                                     for p in q.params]
            rows.append(row)
        return {"queries": rows, "cypher_available": hasattr(self.store, "cypher")}

    def _sparql_node(self, ref: str) -> str:
        """The node id a SPARQL parameter binds: ``ref`` resolved like lineage's node; a file with
        one version stands for that version (the queries follow versions, not paths)."""
        found = self.resolve(ref)
        if found.kind == "File":
            versions = [e.src for e in self.store.find_edges(dst=found.id, rel="SPECIALIZATION_OF")]
            if len(versions) == 1:
                return versions[0]
        return found.id

    def query(self, name: str, params: dict[str, str] | None = None, language: str = "auto",
              runs: list[str] | None = None, limit: int | None = None) -> dict[str, Any]:
        n = _limit(limit)
        if not _QUERY_NAME.match(name or ""):
            raise InputError(f"{name!r} is not a query name (see list_queries)")
        if language not in ("auto", "sparql", "cypher"):
            raise InputError(f"language must be auto, sparql or cypher, not {language!r}")
        cypher_ok = hasattr(self.store, "cypher")
        if language == "auto":
            from kg.queries import load_queries

            have = {q.language for q in load_queries(None).values() if q.name == name}
            language = "cypher" if "cypher" in have and (cypher_ok or "sparql" not in have) else "sparql"
        given = {str(k): str(v) for k, v in (params or {}).items()}
        if language == "cypher":
            if not cypher_ok:
                raise InputError(f"query {name!r} is Cypher, which needs a Neo4j store (kg mcp --store "
                                 "bolt://HOST:PORT); the .sparql queries work on any store")
            from kg.queries import get_query

            q = get_query(name, "cypher")
            bound = q.bind(given, resolve_run=lambda ref: self.store.resolve_run(ref).id)
            rows = [_plain(r) for r in self.store.cypher(q.text, bound)]  # type: ignore[attr-defined]
            columns = list(rows[0]) if rows else []
        else:
            from kg.export._common import select_records
            from kg.export.sparql import find_query, run_sparql

            text, _source = find_query(name)
            nodes, edges = select_records(self.store, list(runs) if runs else None)
            res = run_sparql(nodes, edges, text, nodes_bound={k: self._sparql_node(v) for k, v in given.items()})
            if res.kind == "ask":
                return {"language": "sparql", "answer": res.answer}
            if res.kind == "graph":
                raise InputError(f"query {name!r} builds a graph; use kg sparql for CONSTRUCT queries")
            rows, columns = [{k: _text(v) for k, v in r.items()} for r in res.rows], res.columns
        out: dict[str, Any] = {"language": language, "columns": columns}
        out.update(_bounded(rows[:n], len(rows), n, "rows"))
        return out


def _server_class() -> Any:
    try:  # mcp 2.x; mcp 1.x calls the same server FastMCP
        from mcp.server.mcpserver import MCPServer
    except ImportError:
        from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[attr-defined,no-redef]
    return MCPServer


def _tool_error() -> type[Exception]:
    try:
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[import-not-found,no-redef]
    return ToolError  # type: ignore[no-any-return]


def build_server(store: Store, name: str = "provkg") -> Any:
    """An MCP server (not yet running) whose read-only tools answer from ``store``."""
    tools = KgTools(store)
    server = _server_class()(name, instructions=INSTRUCTIONS)
    tool_error = _tool_error()

    def clean_errors(fn: F) -> F:
        # A KGError (unknown node, bad parameter) is the model's to read and correct: a tool error
        # with its message; anything else stays a crash whose text the SDK keeps on the server.
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KGError as exc:
                raise tool_error(str(exc)) from exc
        return run  # type: ignore[return-value]

    def tool(fn: F) -> F:
        server.tool()(clean_errors(tools.locked(fn)))
        return fn

    @tool
    def list_runs(limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """The captured runs and trials, newest first: seq number, id, name, status, times."""
        return tools.list_runs(limit)

    @tool
    def show_run(run: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """One run (id, unique id prefix or seq number) and its task tree: tasks with depth, inputs,
        outputs, status and errors, in start order."""
        return tools.show_run(run, limit)

    @tool
    def lineage(node: str, direction: str = "up", depth: int = 10, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Where a node came from (direction 'up') or what it influenced ('down'). node: an id, a
        unique id prefix, a file path or a unique file name. 'files' lists the files found on the way."""
        return tools.lineage(node, direction, depth, limit)

    @tool
    def search(text: str, kind: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Nodes whose name, path, tool or id contains text (case-insensitive), files first; kind
        narrows the search (File, FileVersion, Task, Trial, Run, Activation, Value, SoftwareAgent...)."""
        return tools.search(text, kind, limit)

    @tool
    def list_queries() -> dict[str, Any]:
        """The named queries (SPARQL, and Cypher for a Neo4j store) with their parameters."""
        return tools.list_queries()

    @tool
    def query(name: str, params: dict[str, str] | None = None, language: str = "auto",
              runs: list[str] | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Run a named query (see list_queries). SPARQL params bind ?NAME to a node id; Cypher params
        are typed by the query. runs restricts a SPARQL query to some runs (default: all)."""
        return tools.query(name, params, language, runs, limit)

    return server


def serve(store: Store, name: str = "provkg") -> None:
    """Serve the tools over stdio until the client closes the connection."""
    build_server(store, name).run()

