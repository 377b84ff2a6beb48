"""The shared knowledge base: the Store contract on a Neo4j server (Bolt), written with ``UNWIND … MERGE``.

Graph layout (docs/neo4j-store.md has the full story):

* every stored node has the labels ``KG``, its PROV class (``Entity``/``Activity``/``Agent``)
  and its kind (``Task``, ``Value``...), the properties ``id`` and ``kind``, and its props;
* an edge endpoint that was never written as a node is a *placeholder*: label ``KG`` only,
  no ``kind`` (the SQLite store keeps dangling edges the same way: the node reads as absent);
* relationship type = ``Edge.rel``; identity (src, rel, dst, role) with ``role`` "" when absent;
* props that Neo4j cannot hold natively (maps, mixed or empty lists, huge ints) are JSON
  strings, and their keys are listed in the ``_json`` property, so a round trip is lossless;
  a user prop that collides with ``id``/``kind``/``_json``/``_in``/``_out`` or starts with
  ``~`` is stored under ``~`` + its name;
* compact activities (kg.model.prov) keep their plain argument and result values as the props
  ``used``/``generated`` (JSON), the names of those values as the lists ``_in``/``_out`` (for
  Cypher: the named lineage queries), and get the relationships that reach beyond them:
  WAS_INFORMED_BY their parent and USED / WAS_GENERATED_BY of the entities they reference. A
  Value node (with its USED / WAS_GENERATED_BY) exists where a value links two activities (an
  edge reaches it), so Cypher and the Browser traverse dataflow; with ``KG_NEO4J_VALUES=all``
  every value is a node. Readers explode the rest as the embedded store does (Store.run_records,
  lineage), so exports and ``kg pull`` give the full PROV either way.

Writes: every row of a ``write`` is checked before anything is sent; the rows then go in
statements of ``WRITE_BATCH`` rows, each its own transaction, run by ``settings.neo4j_writers``
sessions at once (nodes first, then relationships, then run numbers). On this project's 2-core
test machine that is 2.5x faster than one transaction per write (a large transaction's state
slows every MERGE in it), and parallel sessions add 1.7x. A write interrupted midway leaves
some statements applied; every statement is an idempotent upsert, so writing the same records
again completes it (the sink spools the whole batch, ``kg push`` re-sends it).

Labels and relationship types cannot be query parameters: they are checked against an
identifier pattern and backtick-quoted; every value is a parameter."""
from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from kg.config import load_config, settings
from kg.exceptions import ConfigError, KGError, NotFound, QueryError, StoreError, StoreUnavailable
from kg.model.records import check_label, Edge, Node
from kg.model.terms import LINEAGE_RELATIONS, ProvClass, Relation
from kg.model.prov import explode, is_compact, owners, value_ids, value_owner
from kg.stores._neo4j_rows import Rows, _edge_of, _node_of, _prepare, linked_values
from kg.stores.base import Store, Subgraph

__all__ = ["Neo4jStore", "check_label", "neo4j_settings", "BATCH", "WRITE_BATCH"]

BATCH = 5000          # ids per UNWIND read
WRITE_BATCH = 2000    # rows per UNWIND write, one transaction each (2,000-5,000 measured best)
_PAGE = 2000          # records fetched per round trip while streaming
_CLASSES = tuple(c.value for c in ProvClass)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BASE = "KG"          # the label every provkg node carries (one unique id index for all classes)
_DOWN_FOR = 5.0       # after a failed connection, fail fast for this long (the sink spools meanwhile)


def _q(name: str) -> str:
    return f"`{name}`"  # only ever applied to names that passed check_label


def neo4j_settings() -> dict[str, str | None]:
    """User, password and database from ``KG_NEO4J_*`` or ``$KG_HOME/config.toml [kg] neo4j_*``."""
    cfg = load_config()
    out: dict[str, str | None] = {}
    for key in ("user", "password", "database"):
        val = os.environ.get(f"KG_NEO4J_{key.upper()}") or cfg.get(f"neo4j_{key}")
        out[key] = str(val) if val not in (None, "") else None
    return out


# -- property encoding ------------------------------------------------------------
_JSON_MERGE = """
WITH {var}, r{extra}, [k IN coalesce({var}._json, []) WHERE NOT k IN keys(r.p)] + coalesce(r.j, []) AS js
SET {var}._json = CASE size(js) WHEN 0 THEN null ELSE js END"""

_NODE_WRITE = """
UNWIND $rows AS r
MERGE (n:KG {{id: r.id}})
WITH n, r, labels(n) AS before
SET n:{labels}, n += r.p, n.kind = $kind""" + _JSON_MERGE.format(var="n", extra=", before") + """
WITH n, before WHERE size(before) > 1 AND any(l IN before WHERE NOT l IN $keep)
RETURN n.id AS id, [l IN before WHERE NOT l IN $keep] AS stale"""

_EDGE_WRITE = """
UNWIND $rows AS r
MERGE (a:KG {{id: r.s}})
MERGE (b:KG {{id: r.d}})
MERGE (a)-[e:{rel} {{role: r.role}}]->(b)
SET e += r.p""" + _JSON_MERGE.format(var="e", extra="")

_ASSIGN_SEQ = """
MATCH (n:KG {id: $id}) WHERE n.seq IS NULL
WITH n, COLLECT { MATCH (x:KG) WHERE x.seq IS NOT NULL RETURN x.seq ORDER BY x.seq DESC LIMIT 1 } AS top
MERGE (c:KGMeta {key: 'seq'})
  ON CREATE SET c.value = coalesce(head(top), 0)
SET c.value = c.value + 1
WITH n, c
SET n.seq = c.value"""

# What a compact activity stands for but Neo4j holds as records too (see _prepare): a Value
# node ``<activity>/in|out/<name>`` with its USED / WAS_GENERATED_BY, the WAS_INFORMED_BY its
# parent; and what a compact entity (a Variable of `kg run --dataflow`) stands for, kept as edges
# so Cypher and lineage traverse them: WAS_DERIVED_FROM its ``derived``, WAS_GENERATED_BY its
# ``generated_by``. Readers that explode compact records (run_records) skip these stored copies.
_NOT_IMPLIED_NODE = """NOT (n:Value AND (
  EXISTS { MATCH (n)-[:WAS_GENERATED_BY]->(a:Activity) WHERE n.id = a.id + '/out/' + n.name } OR
  EXISTS { MATCH (a:Activity)-[:USED]->(n) WHERE n.id = a.id + '/in/' + n.name }))"""
_NOT_IMPLIED_EDGE = """NOT (
  (type(e) = 'WAS_INFORMED_BY' AND e.role = 'parent' AND a.parent = b.id) OR
  (type(e) = 'USED' AND b.id = a.id + '/in/' + e.role) OR
  (type(e) = 'WAS_GENERATED_BY' AND a.id = b.id + '/out/' + e.role) OR
  (type(e) = 'WAS_DERIVED_FROM' AND a:Entity AND b.id IN coalesce(a.derived, [])) OR
  (type(e) = 'WAS_GENERATED_BY' AND e.role = 'dataflow' AND a.generated_by = b.id))"""
_MARK_PENDING = "UNWIND $ids AS id MATCH (p:KG {id: id}) WHERE p.kind IS NULL SET p:KGPending"

_EDGE_RETURN = "RETURN a.id AS s, type(e) AS t, b.id AS d, properties(e) AS p"
_NODE_RETURN = "RETURN properties(n) AS p, labels(n) AS l"


class Neo4jStore(Store):
    """``Neo4jStore("bolt://host:7687")``: the Store contract on a Neo4j 5 server.

    Credentials and database come from ``KG_NEO4J_USER`` / ``KG_NEO4J_PASSWORD`` /
    ``KG_NEO4J_DATABASE`` or the ``neo4j_user`` / ``neo4j_password`` / ``neo4j_database`` keys
    of ``$KG_HOME/config.toml [kg]`` (or ``user:password@`` in the URI); they are never part
    of ``uri`` or ``describe()``."""

    derives_kept_relations = True  # _prepare adds kept_relations to every compact activity

    def __init__(self, uri: str, *, retry_time: float | None = None) -> None:
        import neo4j

        self._neo4j = neo4j
        parts = urlsplit(uri)
        conf = neo4j_settings()
        user, password = conf["user"], conf["password"]
        if parts.username:  # user:password@host in the URI: use it, never show it
            user, password = unquote(parts.username), unquote(parts.password or "")
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            netloc += f":{parts.port}" if parts.port else ""
            parts = parts._replace(netloc=netloc)
        self.uri = urlunsplit(parts._replace(query="", fragment=""))
        self.database = conf["database"]
        auth = (user, password or "") if user else None
        retry = retry_time if retry_time is not None else float(os.environ.get("KG_NEO4J_RETRY_TIME", "5"))
        try:
            self._driver = neo4j.GraphDatabase.driver(
                self.uri, auth=auth, max_transaction_retry_time=retry, connection_timeout=5.0,
                connection_acquisition_timeout=30.0, user_agent="provkg",
                notifications_min_severity="OFF")
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise ConfigError(f"bad Neo4j URI {self.uri!r}: {exc}") from None
        self._lock = threading.Lock()
        self._ready = False
        self._rel_indexed: set[str] = set()
        self._down_until = 0.0
        self._pool: Any = None  # the writers' threads (see _run_all), started on the first large write
        self._retry_time = retry
        self.retries = 0  # write transactions retried after a transient error (kg push -v shows them)

    # -- plumbing ------------------------------------------------------------------
    def _session(self, read: bool = False) -> Any:
        mode = self._neo4j.READ_ACCESS if read else self._neo4j.WRITE_ACCESS
        return self._driver.session(database=self.database, default_access_mode=mode, fetch_size=_PAGE)

    def _wrap(self, exc: BaseException) -> KGError:
        ex = self._neo4j.exceptions
        if isinstance(exc, (ex.ServiceUnavailable, ex.SessionExpired, OSError)):
            self._down_until = time.monotonic() + _DOWN_FOR
            return StoreUnavailable(f"Neo4j at {self.uri} is unreachable ({_first_line(exc)})")
        if isinstance(exc, ex.AuthError):
            return ConfigError(f"Neo4j at {self.uri} refused the credentials "
                               "(set KG_NEO4J_USER / KG_NEO4J_PASSWORD)")
        if isinstance(exc, ex.Neo4jError) and (exc.code or "").startswith("Neo.ClientError.Database"):
            return ConfigError(f"Neo4j at {self.uri}: {_first_line(exc)}")
        return StoreError(f"Neo4j at {self.uri}: {_first_line(exc)}")

    def _guard(self) -> None:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable(f"Neo4j at {self.uri} is unreachable (retrying in a few seconds)")
        if not self._ready:
            self._setup()

    def _read(self, query: str, **params: Any) -> list[Any]:
        self._guard()
        try:
            with self._session(read=True) as s:
                return list(s.execute_read(lambda tx: list(tx.run(query, params))))
        except self._neo4j.exceptions.DriverError as exc:
            raise self._wrap(exc) from None
        except self._neo4j.exceptions.Neo4jError as exc:
            raise self._wrap(exc) from None

    def _stream(self, query: str, **params: Any) -> Iterator[Any]:
        # One auto-commit query whose records arrive _PAGE at a time: memory stays flat on
        # long exports, and an open read never blocks writers in Neo4j.
        self._guard()
        ex = self._neo4j.exceptions
        try:
            with self._session(read=True) as s:
                yield from s.run(query, params)
        except (ex.DriverError, ex.Neo4jError) as exc:
            raise self._wrap(exc) from None

    # -- schema --------------------------------------------------------------------
    def _setup(self) -> None:
        with self._lock:
            if self._ready:
                return
            wanted = {
                "kg_id": f"CREATE CONSTRAINT kg_id IF NOT EXISTS FOR (n:{_BASE}) REQUIRE n.id IS UNIQUE",
                "kg_seq": f"CREATE CONSTRAINT kg_seq IF NOT EXISTS FOR (n:{_BASE}) REQUIRE n.seq IS UNIQUE",
                "kg_meta_key": "CREATE CONSTRAINT kg_meta_key IF NOT EXISTS FOR (n:KGMeta) REQUIRE n.key IS UNIQUE",
            }
            for cls in _CLASSES:
                wanted[f"kg_{cls.lower()}_id"] = (f"CREATE CONSTRAINT kg_{cls.lower()}_id IF NOT EXISTS "
                                                  f"FOR (n:{cls}) REQUIRE n.id IS UNIQUE")
            for prop in ("run", "parent", "name"):
                wanted[f"kg_{prop}"] = f"CREATE INDEX kg_{prop} IF NOT EXISTS FOR (n:{_BASE}) ON (n.{prop})"
            rels = [r.value for r in Relation]
            for rel in rels:
                wanted[_rel_index_name(rel)] = _rel_index(rel)
            try:
                with self._session() as s:
                    have = {r["name"] for r in s.run("SHOW INDEXES YIELD name")}
                    for name, stmt in wanted.items():
                        if name not in have:
                            _schema_run(s, stmt)
                    if "kg_meta_key" not in have or "kg_seq" not in have:
                        s.run("CALL db.awaitIndexes(300)").consume()
            except (self._neo4j.exceptions.DriverError, self._neo4j.exceptions.Neo4jError) as exc:
                raise self._wrap(exc) from None
            self._rel_indexed.update(rels)
            self._ready = True

    def _index_rels(self, rels: Iterable[str]) -> None:
        new = [r for r in rels if r not in self._rel_indexed]
        if not new:
            return
        with self._session() as s:
            for rel in new:
                _schema_run(s, _rel_index(rel))
        self._rel_indexed.update(new)

    # -- writing -------------------------------------------------------------------
    def write(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        self.import_prepared(self.prepare_import(nodes, edges))

    def prepare_import(self, nodes: Iterable[Node], edges: Iterable[Edge]) -> Rows:
        rows = _prepare(nodes, edges, values=settings.neo4j_values)
        rows.plan = _plan_edges(rows.edges)  # here, on the reader thread, not while the server waits
        return rows

    def import_prepared(self, prepared: Rows) -> None:
        if not prepared.nodes and not prepared.edges:
            return
        self._guard()
        try:
            self._write_rows(prepared)
            self._link(prepared)
        except (self._neo4j.exceptions.DriverError, self._neo4j.exceptions.Neo4jError) as exc:
            raise self._wrap(exc) from None

    def _write_rows(self, rows: Rows) -> None:
        self._index_rels(rows.edges)
        jobs = []
        for (cls, kind), group in rows.nodes.items():
            query = _NODE_WRITE.format(labels=f"{cls}:{_q(kind)}" if kind != cls else cls)
            keep = [_BASE, cls, kind]
            jobs += [[(query, {"rows": group[i:i + WRITE_BATCH], "kind": kind, "keep": keep})]
                     for i in range(0, len(group), WRITE_BATCH)]
        # a node re-written with another kind or class (or a placeholder a link waited on, see
        # _link): drop the labels of the old one, one statement per set of labels
        stale: dict[tuple[str, ...], list[str]] = {}
        for r in self._run_all(jobs):
            stale.setdefault(tuple(r["stale"]), []).append(r["id"])
        self._run_all([[(f"UNWIND $ids AS id MATCH (n:KG {{id: id}}) REMOVE n:{':'.join(map(_q, labels))}",
                         {"ids": ids[i:i + WRITE_BATCH]})]
                       for labels, ids in stale.items() for i in range(0, len(ids), WRITE_BATCH)])
        first, parallel = rows.plan or _plan_edges(rows.edges)  # why: see _plan_edges
        for job in first:
            self._run_all([job])
        self._run_groups(parallel)
        for nid in rows.top:  # in order: runs are numbered as they were written
            self._run_all([[(_ASSIGN_SEQ, {"id": nid})]])

    def _link(self, rows: Rows) -> None:
        """Make the Value entities that link activities across writes (``_prepare`` makes those
        whose activity is in the same write). A value used here whose activity was written
        earlier is exploded from the stored activity. One whose activity has not arrived yet is
        a placeholder labelled ``KGPending`` until that activity is written; the activity's
        write looks for such placeholders (one small read of the ids of all that wait). Marking and then looking for the activity again
        closes the race with another process writing that activity meanwhile."""
        todo = rows.unresolved
        if todo:
            have = self._existing(todo)
            todo = [v for v in todo if v not in have]
        if todo:
            todo = self._materialise(todo, self.get_nodes(owners(todo)))
        if todo:
            self._write_tx([(_MARK_PENDING, {"ids": todo})])
            self._materialise(todo, self.get_nodes(owners(todo)))
        if not rows.compact:
            return
        # Few placeholders wait at any time: their ids (one small read) are matched here, rather
        # than sending every value id of the write to be looked up (a read of 20,000 ids per
        # batch, for as long as one placeholder anywhere waited).
        pending = [r["id"] for r in self._read("MATCH (p:KGPending) RETURN p.id AS id LIMIT $n", n=BATCH)]
        if not pending:
            return
        if len(pending) < BATCH:
            mine = {n.id for n in rows.compact}
            waiting = [v for v in pending if (o := value_owner(v)) is not None and o[0] in mine]
        else:
            wanted = [v for n in rows.compact for v in value_ids(n)]
            waiting = [r["id"] for i in range(0, len(wanted), BATCH) for r in self._read(
                "UNWIND $ids AS id MATCH (p:KG {id: id}) WHERE p:KGPending RETURN id", ids=wanted[i:i + BATCH])]
        if waiting:
            self._materialise(waiting, {n.id: n for n in rows.compact})

    def _materialise(self, ids: list[str], owners: dict[str, Node]) -> list[str]:
        """Write the Value entities ``ids`` exploded from ``owners``; the ids whose owner is not there."""
        nodes, edges, missing = linked_values(ids, owners)
        if nodes:
            self._write_rows(_prepare(nodes, edges, values="all"))
        return missing

    def _existing(self, ids: list[str]) -> set[str]:
        """The ids among ``ids`` of nodes stored as nodes (not placeholders)."""
        out: set[str] = set()
        for i in range(0, len(ids), BATCH):
            out.update(r["id"] for r in self._read(
                "UNWIND $ids AS id MATCH (n:KG {id: id}) WHERE n.kind IS NOT NULL RETURN id", ids=ids[i:i + BATCH]))
        return out

    def _run_all(self, jobs: list[list[_Stmt]]) -> list[Any]:
        """Run each job (its statements, (query, params) each) in its own write transaction,
        several sessions at once; the records they return. Transient errors are retried."""
        if not jobs:
            return []

        one = self._write_tx

        if settings.neo4j_writers > 1 and len(jobs) > 1:
            try:
                results = self._writers().map(one, jobs)
            except RuntimeError:
                # At interpreter exit (the sink's last flush runs in atexit) no thread can be
                # started or given work: write on this one. Any job already given ran; writing it
                # again changes nothing.
                pass
            else:
                return [r for rows in results for r in rows]
        return [r for job in jobs for r in one(job)]

    def _run_groups(self, groups: list[list[list[_Stmt]]]) -> None:
        """Run each group's transactions in turn, the groups several sessions at once."""
        if len(groups) == 1 or settings.neo4j_writers == 1:
            for txs in groups:
                self._run_all(txs)
            return

        def one(txs: list[list[_Stmt]]) -> None:
            for tx in txs:
                self._write_tx(tx)

        groups = sorted(groups, key=lambda txs: -sum(len(p["rows"]) for tx in txs for _, p in tx))  # largest first
        try:
            list(self._writers().map(one, groups))
        except RuntimeError:  # at interpreter exit: on this thread (see _run_all)
            for txs in groups:
                for tx in txs:
                    self._write_tx(tx)

    def _write_tx(self, job: list[_Stmt]) -> list[Any]:
        """One write transaction, retried on transient errors (the driver's own retry would log a
        multi-line warning each time); each retry is counted in ``self.retries``."""
        ex = self._neo4j.exceptions
        deadline = time.monotonic() + self._retry_time
        delay = 0.05
        while True:
            try:
                with self._session() as s:
                    tx = s.begin_transaction()
                    try:
                        rows = [r for query, params in job for r in tx.run(query, params)]
                        tx.commit()
                    finally:
                        tx.close()
                    return rows
            except (ex.DriverError, ex.Neo4jError) as exc:
                if not exc.is_retryable() or time.monotonic() > deadline:
                    raise
                with self._lock:
                    self.retries += 1
                time.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 2.0)

    def _writers(self) -> Any:
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=settings.neo4j_writers,
                                                thread_name_prefix="kg-neo4j-writer")
            return self._pool

    # -- reading -------------------------------------------------------------------
    def get_node(self, id: str) -> Node | None:
        rows = self._read(f"MATCH (n:KG {{id: $id}}) WHERE n.kind IS NOT NULL {_NODE_RETURN}", id=id)
        return _node_of(rows[0]["p"], rows[0]["l"]) if rows else None

    def find_nodes(self, *, kind: str | None = None, run: str | None = None, cls: str | None = None,
                   parent: str | None = None, name: str | None = None, id_prefix: str | None = None,
                   limit: int | None = None) -> Iterator[Node]:
        return self._nodes(kind=kind, run=run, cls=cls, parent=parent, name=name, id_prefix=id_prefix, limit=limit)

    def stored_nodes(self, run: str | None) -> Iterator[Node]:
        return self._nodes(run=run, where=_NOT_IMPLIED_NODE)

    def stored_edges(self, run: str | None) -> Iterator[Edge]:
        return self._edges(run=run, where=_NOT_IMPLIED_EDGE)

    def _nodes(self, *, kind: str | None = None, run: str | None = None, cls: str | None = None,
               parent: str | None = None, name: str | None = None, id_prefix: str | None = None,
               limit: int | None = None, where: str | None = None) -> Iterator[Node]:
        labels = _BASE
        for lab in (cls, kind):
            if lab is not None:
                if not _IDENT.match(lab):
                    return iter(())  # no node can have it: kinds are identifiers
                labels += ":" + _q(lab)
        conds = ["n.kind IS NOT NULL"] + ([where] if where else [])
        params: dict[str, Any] = {}
        for key, val in (("run", run), ("parent", parent), ("name", name)):
            if val is not None:
                conds.append(f"n.{key} = ${key}")
                params[key] = val
        if id_prefix is not None:
            conds.append("n.id STARTS WITH $prefix")
            params["prefix"] = id_prefix
        query = f"MATCH (n:{labels}) WHERE {' AND '.join(conds)} {_NODE_RETURN} ORDER BY n.id"
        if limit is not None:
            query += " LIMIT $limit"
            params["limit"] = int(limit)
        return (_node_of(r["p"], r["l"]) for r in self._stream(query, **params))

    def find_edges(self, *, src: str | None = None, dst: str | None = None, rel: str | None = None,
                   run: str | None = None) -> Iterator[Edge]:
        return self._edges(src=src, dst=dst, rel=rel, run=run)

    def _edges(self, *, src: str | None = None, dst: str | None = None, rel: str | None = None,
               run: str | None = None, where: str | None = None) -> Iterator[Edge]:
        if rel is not None and not _IDENT.match(rel):
            return iter(())
        params: dict[str, Any] = {}
        a = "(a:KG {id: $src})" if src is not None else "(a:KG)"
        b = "(b:KG {id: $dst})" if dst is not None else "(b:KG)"
        if src is not None:
            params["src"] = src
        if dst is not None:
            params["dst"] = dst
        conds = [where] if where else []
        if run is not None:
            conds.append("e.run = $run")
            params["run"] = run
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        if rel is not None:
            query = f"MATCH {a}-[e:{_q(rel)}]->{b} {where} {_EDGE_RETURN}"
        elif run is not None and src is None and dst is None:
            # A relationship index is per type: one indexed branch per type beats one scan of all.
            types = [t for t in self._rel_types() if _IDENT.match(t)]
            if not types:
                return iter(())
            query = " UNION ALL ".join(f"MATCH {a}-[e:{_q(t)}]->{b} {where} {_EDGE_RETURN}" for t in types)
        else:
            query = f"MATCH {a}-[e]->{b} {where} {_EDGE_RETURN}"
        return (_edge_of(r["s"], r["t"], r["d"], r["p"]) for r in self._stream(query, **params))

    def _rel_types(self) -> list[str]:
        return [r["t"] for r in self._read("CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t")]

    def runs(self) -> list[Node]:
        rows = self._read(f"MATCH (n:KG) WHERE n.seq IS NOT NULL AND n.kind IS NOT NULL {_NODE_RETURN} "
                          "ORDER BY n.seq")
        return [_node_of(r["p"], r["l"]) for r in rows]

    def resolve_run(self, ref: str | int) -> Node:
        text = str(ref).strip()
        if text.isdigit() and not text.startswith("0"):  # 12 is run 12; 0192 is an id prefix
            rows = self._read(f"MATCH (n:KG {{seq: $seq}}) {_NODE_RETURN}", seq=int(text))
            if rows:
                return _node_of(rows[0]["p"], rows[0]["l"])
        return super().resolve_run(text)

    def counts(self) -> dict[str, int]:
        # Count-store lookups (constant time): placeholders have no class label, so they are not counted.
        rows = self._read("CALL () { MATCH (n:Entity) RETURN count(n) AS c UNION ALL "
                          "MATCH (n:Activity) RETURN count(n) AS c UNION ALL "
                          "MATCH (n:Agent) RETURN count(n) AS c } RETURN sum(c) AS nodes")
        edges = self._read("MATCH ()-[r]->() RETURN count(r) AS c")
        return {"nodes": int(rows[0]["nodes"]), "edges": int(edges[0]["c"])}

    def get_nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Node] = {}
        for i in range(0, len(ids), BATCH):
            for r in self._read(f"UNWIND $ids AS id MATCH (n:KG {{id: id}}) WHERE n.kind IS NOT NULL "
                                f"{_NODE_RETURN}", ids=ids[i:i + BATCH]):
                n = _node_of(r["p"], r["l"])
                out[n.id] = n
        return out

    def edges_of(self, ids: Iterable[str], *, direction: str) -> list[Edge]:
        ids = list(dict.fromkeys(ids))
        pattern = "(a:KG {id: id})-[e]->(b:KG)" if direction == "up" else "(a:KG)-[e]->(b:KG {id: id})"
        out: list[Edge] = []
        for i in range(0, len(ids), BATCH):
            out += [_edge_of(r["s"], r["t"], r["d"], r["p"])
                    for r in self._read(f"UNWIND $ids AS id MATCH {pattern} {_EDGE_RETURN}", ids=ids[i:i + BATCH])]
        return out

    def children_of(self, ids: Iterable[str]) -> list[Node]:
        ids = list(dict.fromkeys(ids))
        out: list[Node] = []
        for i in range(0, len(ids), BATCH):
            out += [_node_of(r["p"], r["l"]) for r in self._read(
                f"UNWIND $ids AS pid MATCH (n:KG {{parent: pid}}) WHERE n.kind IS NOT NULL {_NODE_RETURN}",
                ids=ids[i:i + BATCH])]
        return out

    def lineage(self, start: str, *, direction: str = "up", depth: int = 10,
                relations: Iterable[str] = LINEAGE_RELATIONS) -> Subgraph:
        """One variable-length match (breadth-first, each node once) plus one batch for the edges."""
        rels = sorted({check_label(r, "relation") for r in relations})
        depth = int(depth)
        if not self._read("MATCH (s:KG {id: $id}) WHERE s.kind IS NOT NULL RETURN 1 AS ok", id=start):
            if value_owner(start) is not None:  # a Value its activity keeps as a prop: hop by hop
                return super().lineage(start, direction=direction, depth=depth, relations=rels)
            raise NotFound(f"no node {start!r}")
        if depth < 1 or not rels:
            first = self.get_node(start)
            return Subgraph([first] if first else [], [], {start: 0})
        types = "|".join(_q(r) for r in rels)
        arrow = f"-[:{types}]->" if direction == "up" else f"<-[:{types}]-"
        rows = self._read(
            f"MATCH (s:KG {{id: $id}}) MATCH p = (s){arrow}{{1,{depth}}}(m:KG) WHERE m <> s "
            "RETURN m.id AS id, min(length(p)) AS d", id=start) if depth <= 3 else self._lineage_bfs(
            start, types, arrow, depth)
        dist: dict[str, int] = {start: 0}
        for r in rows:
            dist.setdefault(r["id"], int(r["d"]))
        near = [i for i, d in dist.items() if d < depth]
        edges: list[Edge] = []
        pattern = (f"(a:KG {{id: id}})-[e:{types}]->(b:KG)" if direction == "up"
                   else f"(a:KG)-[e:{types}]->(b:KG {{id: id}})")
        for i in range(0, len(near), BATCH):
            edges += [_edge_of(r["s"], r["t"], r["d"], r["p"]) for r in self._read(
                f"UNWIND $ids AS id MATCH {pattern} {_EDGE_RETURN}", ids=near[i:i + BATCH])]
        nodes = self.get_nodes(dist)
        edges += _values_reached(nodes, dist, depth, set(rels), direction == "up")
        return Subgraph(list(nodes.values()), edges, dist)

    def _lineage_bfs(self, start: str, types: str, arrow: str, depth: int) -> list[Any]:
        # Deeper than a few hops, enumerating paths multiplies on shared ancestry; a breadth-first
        # search over distinct nodes (shortest path to each) stays linear in what it reaches.
        return self._read(
            f"MATCH (s:KG {{id: $id}}) MATCH p = ANY SHORTEST (s){arrow}{{1,{depth}}}(m:KG) "
            "RETURN m.id AS id, length(p) AS d", id=start)

    # -- Cypher for the CLI ----------------------------------------------------------
    def cypher(self, query: str, params: dict[str, Any] | None = None, *, write: bool = False) -> list[dict[str, Any]]:
        """Run ``query`` with ``params`` and return its rows. Read-only unless ``write``: the
        session is opened in READ mode, so the server itself refuses a write."""
        self._guard()
        ex = self._neo4j.exceptions

        def work(tx: Any) -> list[dict[str, Any]]:
            return [dict(r.items()) for r in tx.run(query, params or {})]

        try:
            with self._session(read=not write) as s:
                return list(s.execute_write(work) if write else s.execute_read(work))
        except ex.Neo4jError as exc:
            if (exc.code or "").startswith("Neo.ClientError"):
                raise QueryError(_first_line(exc)) from None
            raise self._wrap(exc) from None
        except ex.DriverError as exc:
            raise self._wrap(exc) from None

    def describe(self) -> dict[str, Any]:
        return {"store": self.uri, **({"database": self.database} if self.database else {}), **self.counts()}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        try:
            self._driver.close()
        except Exception:  # closing twice, or a broken connection: nothing left to release
            pass


def _values_reached(nodes: dict[str, Node], dist: dict[str, int], depth: int, rels: set[str],
                    up: bool) -> list[Edge]:
    """The Values that compact activities among ``nodes`` keep as props (Neo4j holds no node for
    a value that links nothing): added to ``nodes`` and ``dist`` one hop past their activity, with
    the relations that reach them, as the hop-by-hop lineage of Store finds them."""
    out: list[Edge] = []
    for n in list(nodes.values()):
        if not is_compact(n) or dist.get(n.id, depth) >= depth:
            continue
        values, edges = explode(n)
        by_id = {v.id: v for v in values}
        for e in edges:
            far = e.dst if up else e.src
            if e.rel in rels and (e.src if up else e.dst) == n.id and far in by_id and far not in nodes:
                nodes[far] = by_id[far]
                dist.setdefault(far, dist[n.id] + 1)
                out.append(e)
    return out


_Stmt = tuple[str, dict[str, Any]]
_HUB = 32  # a node on this many rows (a run, an agent, a file read by every task) never decides placement
# A chunk takes new rows up to this many; rows that follow an endpoint into it come on top (an
# activity's other relations), so a chunk of a task graph ends near 3x this. Half a transaction
# gives groups of one or two transactions: enough groups that the writers finish together (five
# groups of three transactions for two writers left one idle for a sixth of the edge phase).
_CHUNK = WRITE_BATCH // 2


def _plan_edges(edge_groups: dict[str, list[dict[str, Any]]]) -> tuple[list[list[_Stmt]], list[list[list[_Stmt]]]]:
    """The edge transactions of a write: (first, parallel). ``first`` is a list of transactions
    (each a list of statements); ``parallel`` a list of *groups*, each a list of transactions of
    at most ``WRITE_BATCH`` rows that one session runs in turn (a group can grow past that size
    while it keeps an activity's rows together, and a large transaction slows every MERGE in it).

    A relationship MERGE locks both its endpoints, and two sessions that lock the same agents
    or files in different orders deadlock. So rows are placed in transactions of about
    ``WRITE_BATCH`` rows, a row going where one of its (non-hub) endpoints already went, which
    keeps an activity's rows together; a node touched by more than one transaction is *shared*.
    Each parallel transaction keeps the rows of at most one shared node (its most frequent one):
    two transactions then never each hold a lock the other wants. Every other row touching a
    shared node goes to the *first* transactions, ordered by relation and endpoints, run one at
    a time before the parallel ones."""
    degree: dict[str, int] = {}
    for rows in edge_groups.values():
        for r in rows:
            degree[r["s"]] = degree.get(r["s"], 0) + 1
            degree[r["d"]] = degree.get(r["d"], 0) + 1
    home: dict[str, int] = {}
    chunks: list[list[tuple[str, dict[str, Any]]]] = [[]]
    for rel in sorted(edge_groups):
        for r in edge_groups[rel]:
            k = None
            for end in (r["s"], r["d"]):
                if degree[end] < _HUB and end in home:
                    k = home[end]
                    break
            if k is None:
                if len(chunks[-1]) >= _CHUNK:
                    chunks.append([])
                k = len(chunks) - 1
            chunks[k].append((rel, r))
            for end in (r["s"], r["d"]):
                if degree[end] < _HUB:
                    home.setdefault(end, k)
    touched: dict[str, int] = {}
    shared_ids: set[str] = set()
    for k, chunk in enumerate(chunks):
        for _, r in chunk:
            for end in (r["s"], r["d"]):
                if touched.setdefault(end, k) != k:
                    shared_ids.add(end)
    first: dict[str, list[dict[str, Any]]] = {}
    parallel: list[list[list[_Stmt]]] = []
    for chunk in chunks:
        freq: dict[str, int] = {}
        for _, r in chunk:
            for end in (r["s"], r["d"]):
                if end in shared_ids:
                    freq[end] = freq.get(end, 0) + 1
        keep = max(freq, key=lambda i: (freq[i], i)) if freq else None
        mine: dict[str, list[dict[str, Any]]] = {}
        for rel, r in chunk:
            ends = {e for e in (r["s"], r["d"]) if e in shared_ids}
            (first if ends and ends != {keep} else mine).setdefault(rel, []).append(r)
        if mine:
            parallel.append(_pack(sorted(mine.items())))
    # The first rows are few (chunk boundaries): packed as tightly, in the fixed order; each of
    # their transactions is a round trip both writers wait for.
    ordered = _pack((rel, sorted(first[rel], key=lambda r: (r["s"], r["d"], str(r["role"])))) for rel in sorted(first))
    return ordered, parallel


def _pack(rows_by_rel: Iterable[tuple[str, list[dict[str, Any]]]]) -> list[list[_Stmt]]:
    """The edge statements for each (relation, rows), in order, in transactions of up to
    ``WRITE_BATCH`` rows (a transaction may hold statements of several relations)."""
    txs: list[list[_Stmt]] = []
    room = 0
    for rel, rows in rows_by_rel:
        while rows:
            if room == 0:
                txs.append([])
                room = WRITE_BATCH
            piece, rows = rows[:room], rows[room:]
            txs[-1].append((_EDGE_WRITE.format(rel=_q(rel)), {"rows": piece}))
            room -= len(piece)
    return txs


def _rel_index_name(rel: str) -> str:
    return f"kg_rel_{rel.lower()}_run"


def _rel_index(rel: str) -> str:
    return f"CREATE INDEX {_rel_index_name(rel)} IF NOT EXISTS FOR ()-[r:{_q(rel)}]-() ON (r.run)"


def _schema_run(session: Any, stmt: str) -> None:
    import neo4j

    try:
        session.run(stmt).consume()
    except neo4j.exceptions.ClientError as exc:
        # Another process created the same index a moment ago: that is what we wanted.
        if "EquivalentSchemaRule" not in (exc.code or "") and "already exists" not in str(exc):
            raise


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else type(exc).__name__
