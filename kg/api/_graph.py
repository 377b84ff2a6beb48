"""KnowledgeGraph: runs, tasks, lineage and queries of a store, as plain records (what `kg list/show/
lineage/sparql/cypher` print, for Python)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kg.api._records import Lineage, Record, RecordList, Rows, with_depth
from kg.exceptions import InputError, QueryError
from kg.model.records import Node
from kg.stores import Store, open_store

__all__ = ["KnowledgeGraph", "connect"]

_QUERY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


def connect(store: str | Store | None = None) -> KnowledgeGraph:
    """Open the knowledge graph in ``store``: a ``.db`` path, ``jsonl://`` / ``.jsonl`` file,
    ``bolt://`` / ``neo4j://`` URI, an open ``Store``, or None for the configured default
    (``KG_STORE``, then ``$KG_HOME/kg.db``)::

        import kg

        with kg.connect() as g:
            for run in g.runs(status="finished"):
                print(run.seq, run.name, run.duration)

    A store given as an object is left open on close(); one opened from a URI is closed."""
    if isinstance(store, Store):
        return KnowledgeGraph(store, owned=False)
    from kg.outbox import catch_up

    opened = open_store(store)
    catch_up(opened)  # a Neo4j store: what this machine captured for it is read too
    return KnowledgeGraph(opened, owned=True)


def _timestamp(value: Any, what: str) -> float:
    """Seconds since the epoch from a number, a datetime (naive = local time) or ISO text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"{what}={value!r} is not an ISO date/time (e.g. 2026-01-31 or 2026-01-31T12:00)") from None
    if isinstance(value, datetime):
        return value.timestamp()
    raise InputError(f"{what} must be a datetime, ISO text or seconds since the epoch, not {type(value).__name__}")


def _node_id(value: Any) -> str:
    return value.id if isinstance(value, (Record, Node)) else str(value)


class KnowledgeGraph:
    """The read side of a provkg store, for Python. A context manager: leaving it closes the store.

        with kg.connect("kg.db") as g:
            run = g.run(1)                       # like `kg show 1`
            table = g.tasks(run).to_pandas()     # its task tree as a DataFrame
            up = g.lineage(table.id.iloc[-1])    # where the last task's inputs came from
            nx_graph = up.to_networkx()
    """

    def __init__(self, store: Store, *, owned: bool = True) -> None:
        self.store = store
        self._owned = owned

    def __repr__(self) -> str:
        return f"KnowledgeGraph({self.store.uri!r})"

    # -- runs ------------------------------------------------------------------------
    def runs(self, *, kind: str | None = None, name: str | None = None, status: str | None = None,
             since: Any = None, until: Any = None, tags: str | Iterable[str] | None = None,
             **props: Any) -> RecordList:
        """Runs and trials in `kg list` order (their sequence number, ``Record.seq``).

        ``kind``: ``"Run"``, ``"Trial"`` (any case); ``name``: a shell pattern; ``status``: any case;
        ``since``/``until``: start time bounds (datetime, ISO text or epoch seconds); ``tags``: runs
        carrying every one of them; any other keyword: a prop equal to it (``user="ana"``)::

            g.runs(kind="trial", status="failed", since="2026-01-01")
        """
        low, high = (None if since is None else _timestamp(since, "since"),
                     None if until is None else _timestamp(until, "until"))
        wanted = {tags} if isinstance(tags, str) else set(tags or ())
        out = RecordList()
        for n in self.store.runs():
            r = Record.from_node(n)
            if kind is not None and r.kind.lower() != kind.lower():
                continue
            if not r.matches(name=name, status=status, **props):
                continue
            started = r.started
            if (low is not None or high is not None) and not isinstance(started, (int, float)):
                continue
            if (low is not None and started < low) or (high is not None and started > high):  # type: ignore[operator]
                continue
            if wanted and not wanted <= set(r.props.get("tags") or ()):
                continue
            out.append(r)
        return out

    def run(self, ref: str | int | Record) -> Record:
        """A run or trial by sequence number, full id or unique id prefix (as `kg show` takes it).
        Raises NotFound (AmbiguousReference for a prefix of several)."""
        if isinstance(ref, Record):
            ref = ref.id
        return Record.from_node(self.store.resolve_run(ref))

    def node(self, ref: str | Record) -> Record:
        """Any node by id (a task's ``<id>/out/<name>`` value included) or unique id prefix."""
        return Record.from_node(self.store.resolve_node(_node_id(ref)))

    def tasks(self, run: str | int | Record, *, kind: str | None = None, name: str | None = None,
              status: str | None = None, max_depth: int | None = None) -> RecordList:
        """The activities of a run (tasks, loop iterations, activations, file accesses) depth-first
        in start order, as `kg show` lists them; ``Record.depth`` is the nesting level (0: top).

        ``kind`` picks one kind before the tree is built: ``kind="Activation"`` on a trial gives the
        tree of `kg show N -a`. ``name`` (shell pattern), ``status`` (any case) and ``max_depth``
        filter the tree without changing the depths::

            g.tasks(1, status="error")          # the failed tasks of run 1
        """
        from kg.tree import tree_of  # the one tree walk `kg show` uses

        r = self.run(run)
        nodes = self.store.find_nodes(run=r.id, cls="Activity", kind=kind)
        # A trial's activations whose caller was not recorded are listed on their own, as `kg show -a` does.
        _total, tree = tree_of(nodes, r.id, orphan_children=r.kind != "Trial")
        out = with_depth(tree)
        if name is not None or status is not None:
            out = out.filter(name=name, status=status)
        if max_depth is not None:
            out = RecordList(t for t in out if (t.depth or 0) <= max_depth)
        return out

    # -- lineage ---------------------------------------------------------------------
    def lineage(self, node: str | Record, *, up: bool = True, depth: int = 10) -> Lineage:
        """Upstream (``up=True``: what ``node`` was derived from) or downstream lineage, up to ``depth``
        hops, as `kg lineage` computes it. ``node``: an id, unique prefix or Record::

            lin = g.lineage(task.id + "/out/y", up=True)
            lin.to_networkx()
        """
        if depth < 1:
            raise InputError(f"depth must be at least 1, not {depth}")
        start = self.store.resolve_node(_node_id(node))
        sg = self.store.lineage(start.id, direction="up" if up else "down", depth=depth)
        # sg.nodes also holds the other values of the activities passed on the way: only the nodes
        # reached (those with a depth) are the lineage, as `kg lineage` lists it.
        nodes = RecordList(Record.from_node(n, sg.depth[n.id]) for n in sg.nodes if n.id in sg.depth)
        return Lineage(Record.from_node(start, 0), "up" if up else "down", nodes, list(sg.edges))

    # -- queries ---------------------------------------------------------------------
    def cypher(self, query: str, **params: Any) -> Rows:
        """Run read-only Cypher (Neo4j stores only), or a named query from `kg query --list` by name
        (its parameters typed by its header, a ``run`` parameter resolved like `kg show`)::

            g.cypher("MATCH (t:Task {status: $s}) RETURN t.name AS name", s="ERROR")
            g.cypher("run-files", run=1)

        Graph nodes and relationships in results come back as Records and Edges."""
        run_cypher = getattr(self.store, "cypher", None)
        if run_cypher is None:
            raise QueryError(f"cypher() needs a Neo4j store; this graph is {self.store.uri} "
                             "(use sparql(), or kg.connect('bolt://...'))")
        if _QUERY_NAME.match(query.strip()):
            from kg.queries import get_query

            named = get_query(query.strip())
            params = named.bind({k: _node_id(v) for k, v in params.items()},
                                resolve_run=lambda ref: self.store.resolve_run(ref).id)
            query = named.text
        rows = run_cypher(query, params)
        return Rows(({k: _plain(v) for k, v in row.items()} for row in rows), list(rows[0]) if rows else [])

    def sparql(self, query: str, runs: str | int | Record | Iterable[str | int | Record] | None = None, *,
               literals: Mapping[str, str] | None = None, engine: str = "auto", ontology: bool = True,
               **params: Any) -> Rows | bool | str:
        """Run SPARQL over the RDF of ``runs`` (all when None): a query name (`kg sparql --list`), a
        ``.sparql`` file or the query text. Keyword ``params`` bind ``?name`` to a node (an id or
        Record), ``literals`` to strings. SELECT gives Rows, ASK a bool, CONSTRUCT Turtle text::

            g.sparql("lineage-files", runs=1, start=file_version_id)
        """
        from kg.export.sparql import find_query, run_sparql

        text, _source = find_query(query)
        if runs is None:
            ids = None
        else:
            refs = [runs] if isinstance(runs, (str, int, Record)) else list(runs)
            ids = [self.run(r).id for r in refs]
        nodes, edges = self.store.run_records(ids)
        res = run_sparql(nodes, edges, text, nodes_bound={k: _node_id(v) for k, v in params.items()},
                         literals=dict(literals or {}), engine=engine, ontology=ontology)
        if res.kind == "ask":
            return bool(res.answer)
        if res.kind == "graph":
            return res.text
        return Rows(res.rows, res.columns)

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        """Close the store (if connect() opened it). Safe to call twice."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> KnowledgeGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """A Neo4j driver value as plain data: our nodes as Records, relationships as Edges, paths as
    lists of Records, temporal values as ISO text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    from neo4j.graph import Node as GNode, Path as GPath, Relationship

    from kg.stores._neo4j_rows import edge_of, node_of

    if isinstance(value, GNode):
        raw = dict(value)
        if "id" in raw and "kind" in raw:
            return Record.from_node(node_of(raw, value.labels))
        return {"labels": sorted(value.labels), **raw}
    if isinstance(value, Relationship):
        src = value.start_node.get("id") if value.start_node is not None else None
        dst = value.end_node.get("id") if value.end_node is not None else None
        return edge_of(str(src or ""), value.type, str(dst or ""), dict(value))
    if isinstance(value, GPath):
        return [_plain(n) for n in value.nodes]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value
