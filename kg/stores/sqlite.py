"""The embedded default store: a property graph in one SQLite file (WAL, safe with several writers)."""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from kg import segments as seg
from kg.exceptions import SchemaError, StoreError
from kg.model.records import Edge, Node, check_label
from kg.model.terms import TOP_LEVEL_KINDS
from kg.stores import _segments
from kg.stores.base import Store

__all__ = ["SqliteStore", "SCHEMA_VERSION"]

SCHEMA_VERSION = 2

# The schema, in one place.  Nodes and edges are a property graph: the columns
# are what queries filter on (all indexed), ``props`` is the JSON of every
# property (columns included, so a node reads back from props alone).
# WITHOUT ROWID tables keyed by the natural key make the upsert a single B-tree.
SCHEMA = """
CREATE TABLE IF NOT EXISTS kg_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    id      TEXT PRIMARY KEY,
    cls     TEXT NOT NULL,          -- Entity | Activity | Agent
    kind    TEXT NOT NULL,          -- Run, Task, Value, FileVersion, ...
    run     TEXT,                   -- the run/trial the node belongs to (NULL: shared)
    name    TEXT,
    status  TEXT,
    parent  TEXT,                   -- enclosing task/activation (tree display)
    started REAL,                   -- seconds since epoch
    ended   REAL,
    seq     INTEGER,                -- 1, 2, 3... for runs and trials
    props   TEXT NOT NULL           -- JSON object
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_run    ON nodes(run, started);
CREATE INDEX IF NOT EXISTS nodes_kind   ON nodes(kind, started);
CREATE INDEX IF NOT EXISTS nodes_parent ON nodes(parent) WHERE parent IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS nodes_seq ON nodes(seq) WHERE seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS edges (
    src   TEXT NOT NULL,
    rel   TEXT NOT NULL,            -- USED, WAS_GENERATED_BY, ...
    dst   TEXT NOT NULL,
    role  TEXT NOT NULL DEFAULT '', -- part of the identity: a task may use one entity in two roles
    run   TEXT,
    props TEXT NOT NULL,
    PRIMARY KEY (src, rel, dst, role)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst, rel);
CREATE INDEX IF NOT EXISTS edges_run ON edges(run) WHERE run IS NOT NULL;
-- Compact activities also written through Store.write while a segment holds them: the node
-- here wins, and segment reads skip these ids.
CREATE TABLE IF NOT EXISTS seg_hidden (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;
""" + _segments.SCHEMA
# Version 1 had nodes and edges only: opening one adds the segment tables (nothing is rewritten).
MIGRATIONS = {1: _segments.SCHEMA + "CREATE TABLE IF NOT EXISTS seg_hidden (id TEXT PRIMARY KEY) WITHOUT ROWID;"}

_NODE_UPSERT = """
INSERT INTO nodes (id, cls, kind, run, name, status, parent, started, ended, props)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    cls = excluded.cls, kind = excluded.kind,
    run = coalesce(excluded.run, nodes.run), name = coalesce(excluded.name, nodes.name),
    status = coalesce(excluded.status, nodes.status), parent = coalesce(excluded.parent, nodes.parent),
    started = coalesce(excluded.started, nodes.started), ended = coalesce(excluded.ended, nodes.ended),
    props = CASE WHEN excluded.props = '{}' THEN nodes.props ELSE kg_merge(nodes.props, excluded.props) END
"""
_EDGE_UPSERT = """
INSERT INTO edges (src, rel, dst, role, run, props) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(src, rel, dst, role) DO UPDATE SET
    run = coalesce(excluded.run, edges.run),
    props = CASE WHEN excluded.props = '{}' THEN edges.props ELSE kg_merge(edges.props, excluded.props) END
"""
# "WHERE seq IS NOT NULL" lets max() read the partial index nodes_seq; without it, a scan of every node.
_ASSIGN_SEQ = """
UPDATE nodes SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM nodes WHERE seq IS NOT NULL)
WHERE id = ? AND seq IS NULL
"""

_dumps = orjson.dumps
_loads = orjson.loads


def _default(obj: Any) -> Any:
    # Props should already be JSON values; anything else is kept as its text.
    return repr(obj)


def _json(props: dict[str, Any]) -> str:
    try:
        return _dumps(props, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        # e.g. an int beyond 64 bits: keep every other value as it is, that one as text
        return _dumps(_sanitize(props), default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _sanitize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
        return value
    if isinstance(value, int):
        return value if -(2 ** 63) <= value < 2 ** 64 else str(value)
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return repr(value)


def _merge_props(old: str, new: str) -> str:
    """kg_merge(old, new) in SQL: the props a second write leaves, key by key, the later value
    winning (as Neo4j's ``+=``). Not json_patch: a merge patch deletes a key whose new value is
    null, nested ones too, so writing a record twice (a second pull) lost ``{"return": null}``."""
    merged = _loads(old)
    merged.update(_loads(new))
    return _json(merged)


_COLS = ("run", "name", "status", "parent", "started", "ended")
_COLSET = frozenset(_COLS)


def _node_row(n: Node) -> tuple[Any, ...]:
    # Indexed properties live in their columns only; props keeps the rest (smaller JSON, faster insert).
    p = n.props
    g = p.get
    rest = {k: v for k, v in p.items() if k not in _COLSET} if p else p
    return (n.id, n.cls, n.kind, g("run"), g("name"), g("status"), g("parent"), g("started"), g("ended"),
            _json(rest) if rest else "{}")


def _edge_row(e: Edge) -> tuple[Any, ...]:
    p = e.props
    return (e.src, e.rel, e.dst, p.get("role") or "", p.get("run"), _json(p) if p else "{}")


_NODE_SELECT = "SELECT id, cls, kind, props, seq, run, name, status, parent, started, ended FROM nodes"


def _node(row: Any) -> Node:
    props = _loads(row[3])
    for key, val in zip(_COLS, row[5:]):
        if val is not None:
            props[key] = val
    if row[4] is not None:
        props["seq"] = row[4]
    return Node(row[0], row[1], row[2], props)


def _edge(row: Any) -> Edge:
    return Edge(row[1], row[0], row[2], _loads(row[3]))


class SqliteStore(Store):
    """``SqliteStore(path)``: opens or creates the store; ``":memory:"`` for a private in-memory graph."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 60.0) -> None:
        self.path = str(path)
        self.uri = f"sqlite:///{self.path}"
        memory = self.path == ":memory:"
        if not memory:
            p = Path(self.path)
            if not p.exists():
                if not create:
                    raise StoreError(f"no store at {self.path}: nothing was captured there (capture with `kg run` "
                                     f"or capture.Run, or name another store with --store or KG_STORE)")
                p.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # The stdlib driver, one connection shared by the store's threads under _lock: every
        # statement is hand-written SQL, so an ORM or pool would only add start-up (kg run pays it).
        try:
            self._raw = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                        check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open ({_reason(exc)})") from None
        try:
            self._configure(self._raw)
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self._raw.close()
            raise SchemaError(f"{self.path}: not a provkg store ({_reason(exc)})") from None
        self.segments = _segments.SegmentReader(self._query)
        self._seg_spaces: set[str] | None = None  # spaces segments hold ids in (write() checks them)

    @staticmethod
    def _configure(dbapi_conn: sqlite3.Connection) -> None:
        # WAL lets readers run while a writer commits; NORMAL sync is durable at
        # checkpoint and never corrupts (a kill -9 loses at most the open batch).
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA page_size=16384")  # only takes effect on a new file; fewer B-tree splits on ingest
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA cache_size=-131072")
        # Checkpoint less often than every 1000 pages: bulk capture pays for fewer fsyncs.
        cur.execute("PRAGMA wal_autocheckpoint=8192")
        cur.close()
        dbapi_conn.create_function("kg_merge", 2, _merge_props, deterministic=True)

    def _init_schema(self) -> None:
        raw = self._raw
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "kg_meta" not in tables:
            raise SchemaError(f"{self.path}: a SQLite database but not a provkg store "
                              f"(tables: {', '.join(sorted(tables)[:5])})")
        if "kg_meta" in tables:
            row = raw.execute("SELECT value FROM kg_meta WHERE key='schema_version'").fetchone()
            found = row[0] if row else "none"
            version = int(found) if str(found).isdigit() else -1
            if version == SCHEMA_VERSION:
                return
            if version not in MIGRATIONS:
                raise SchemaError(f"{self.path}: store schema version {found}, this provkg reads "
                                  f"version {SCHEMA_VERSION}")
            self._migrate(version)
            return
        with self._tx():
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    raw.execute(stmt)
            raw.execute("INSERT OR IGNORE INTO kg_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            raw.execute("INSERT OR IGNORE INTO kg_meta VALUES ('application', 'provkg')")

    def _migrate(self, version: int) -> None:
        # In place and in one transaction: a store opened by an older provkg keeps every record.
        with self._tx() as raw:
            while version < SCHEMA_VERSION:
                for stmt in MIGRATIONS[version].split(";"):
                    if stmt.strip():
                        raw.execute(stmt)
                version += 1
            raw.execute("UPDATE kg_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    # -- transactions ----------------------------------------------------------
    class _Tx:
        def __init__(self, store: SqliteStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            # IMMEDIATE takes the write lock up front, so two processes queue on
            # busy_timeout instead of failing with "database is locked" mid-batch.
            self.store._raw.execute("BEGIN IMMEDIATE")
            return self.store._raw

        def __exit__(self, exc_type: Any, *_: Any) -> None:
            try:
                self.store._raw.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _tx(self) -> SqliteStore._Tx:
        return SqliteStore._Tx(self)

    # -- writing ---------------------------------------------------------------
    def write(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        nodes = list(nodes)
        held = self._held(nodes)
        if held:  # merged over the node a segment holds; the segment's copy is hidden from now on
            nodes = [Node(n.id, n.cls, n.kind, {**held[n.id].props, **n.props}) if n.id in held else n
                     for n in nodes]
        self.write_rows(*self.rows(nodes, edges), hidden=held)

    @staticmethod
    def rows(nodes: Iterable[Node], edges: Iterable[Edge]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The table rows of ``nodes`` and ``edges`` (checked labels; plain values)."""
        node_rows = [_node_row(n) for n in nodes]
        edge_rows = [_edge_row(e) for e in edges]
        # Kinds and relation types must be labels in every store (Neo4j too): check each new one once.
        for kind in {r[2] for r in node_rows}:
            check_label(kind)
        for rel in {r[1] for r in edge_rows}:
            check_label(rel, "relation")
        return node_rows, edge_rows

    def write_rows(self, node_rows: list[tuple[Any, ...]], edge_rows: list[tuple[Any, ...]],
                   sealed: seg.Sealed | None = None, hidden: Iterable[str] = ()) -> None:
        """Upsert rows made by ``rows``, and a sealed batch's segments, in one transaction."""
        hidden = [(i,) for i in hidden]
        if not node_rows and not edge_rows and not hidden and (sealed is None or not (sealed.segments or sealed.ctx)):
            return
        top = [(r[0],) for r in node_rows if r[2] in TOP_LEVEL_KINDS]
        try:
            with self._tx() as raw:
                if sealed is not None:
                    _segments.insert(raw, sealed)
                if node_rows:
                    raw.executemany(_NODE_UPSERT, node_rows)
                if edge_rows:
                    raw.executemany(_EDGE_UPSERT, edge_rows)
                if top:
                    raw.executemany(_ASSIGN_SEQ, top)
                if hidden:
                    raw.executemany("INSERT OR IGNORE INTO seg_hidden VALUES (?)", hidden)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: write failed ({_reason(exc)})") from None
        if sealed is not None and sealed.segments:
            self._seg_spaces = None

    def write_sealed(self, sealed: seg.Sealed, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        """Store a batch the sink sealed (kg.segments) with the nodes and edges of its other records."""
        self.write_rows(*self.rows(nodes, edges), sealed=sealed)

    def _held(self, nodes: list[Node]) -> dict[str, Node]:
        """Nodes among ``nodes`` (by id) that a segment holds and the nodes table does not yet."""
        spaces = self._seg_spaces
        if spaces is None:
            spaces = self._seg_spaces = {r[0] for r in self._query(
                "SELECT DISTINCT space FROM seg_keys WHERE role = 0")}
        if not spaces:
            return {}
        ids = [n.id for n in nodes if n.cls == "Activity" and seg.split_id(n.id)[0] in spaces]
        if not ids:
            return {}
        found = self.segments.get(ids)
        for i in self._hidden_among(list(found)):
            del found[i]
        return found

    # -- reading ---------------------------------------------------------------
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._raw.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: read failed ({_reason(exc)})") from None

    def get_node(self, id: str) -> Node | None:
        rows = self._query(_NODE_SELECT + " WHERE id = ?", (id,))
        if rows:
            return _node(rows[0])
        return self.segments.get([id]).get(id)

    def _hidden_among(self, ids: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += [r[0] for r in self._query(
                f"SELECT id FROM seg_hidden WHERE id IN ({','.join('?' * len(chunk))})", chunk)]
        return out

    def _hidden(self) -> set[str]:
        return {r[0] for r in self._query("SELECT id FROM seg_hidden")}

    _PAGE = 5000

    def _pages(self, select: str, where: list[str], params: list[Any], key: tuple[str, ...],
               limit: int | None) -> Iterator[Any]:
        # Keyset pagination: a long export streams in pages without holding the lock
        # (or a read transaction) between pages, so capture can keep writing meanwhile.
        # The key columns are the last ones of each row.
        cols = ", ".join(key)
        last: tuple[Any, ...] | None = None
        left = limit
        while left is None or left > 0:
            conds = list(where)
            args = list(params)
            if last is not None:
                conds.append(f"({cols}) > ({', '.join('?' * len(key))})")
                args += last
            page = self._PAGE if left is None else min(self._PAGE, left)
            sql = select + (" WHERE " + " AND ".join(conds) if conds else "") + f" ORDER BY {cols} LIMIT {page}"
            rows = self._query(sql, args)
            yield from rows
            if len(rows) < page:
                return
            last = tuple(rows[-1][-len(key):])
            if left is not None:
                left -= len(rows)

    def find_nodes(self, *, kind: str | None = None, run: str | None = None, cls: str | None = None,
                   parent: str | None = None, name: str | None = None, id_prefix: str | None = None,
                   limit: int | None = None) -> Iterator[Node]:
        where, params = [], []
        for col, val in (("kind", kind), ("run", run), ("cls", cls), ("parent", parent), ("name", name)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if id_prefix is not None:
            where.append("id >= ? AND id < ?")
            params += [id_prefix, id_prefix + "\U0010ffff"]
        select = _NODE_SELECT.replace(" FROM nodes", ", id FROM nodes")
        left = limit
        for row in self._pages(select, where, params, ("id",), limit):
            yield _node(row)
            if left is not None:
                left -= 1
        if cls not in (None, "Activity") or (left is not None and left <= 0):
            return
        # Then the compact activities that segments hold (tasks, activations, loop iterations).
        hidden = self._hidden()
        found = self.segments.scan(run=run, kind=kind, name=name, parent=parent, id_prefix=id_prefix)
        if hidden:
            found = (n for n in found if n.id not in hidden)
        if left is None:
            yield from found
            return
        for n in found:
            yield n
            left -= 1
            if left <= 0:
                return

    def find_edges(self, *, src: str | None = None, dst: str | None = None, rel: str | None = None,
                   run: str | None = None) -> Iterator[Edge]:
        where, params = [], []
        for col, val in (("src", src), ("dst", dst), ("rel", rel), ("run", run)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        select = "SELECT src, rel, dst, props, src, rel, dst, role FROM edges"
        for row in self._pages(select, where, params, ("src", "rel", "dst", "role"), None):
            yield _edge(row)

    def runs(self) -> list[Node]:
        rows = self._query(_NODE_SELECT + " WHERE seq IS NOT NULL ORDER BY seq")
        return [_node(r) for r in rows]

    def resolve_run(self, ref: str | int) -> Node:
        text = str(ref).strip()
        if text.isdigit() and not text.startswith("0"):  # 12 is run 12; 0192 is an id prefix
            rows = self._query(_NODE_SELECT + " WHERE seq = ?", (int(text),))
            if rows:
                return _node(rows[0])
        return super().resolve_run(text)

    def counts(self) -> dict[str, int]:
        n = self._query("SELECT count(*) FROM nodes")[0][0]
        n += self.segments.count() - self._query("SELECT count(*) FROM seg_hidden")[0][0]
        m = self._query("SELECT count(*) FROM edges")[0][0]
        return {"nodes": n, "edges": m}

    def get_nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        ids = list(ids)
        out: dict[str, Node] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._query(f"{_NODE_SELECT} WHERE id IN ({marks})", chunk):
                out[r[0]] = _node(r)
        missing = [i for i in ids if i not in out]
        if missing:
            out.update(self.segments.get(missing))
        return out

    def edges_of(self, ids: Iterable[str], *, direction: str) -> list[Edge]:
        ids = list(ids)
        col = "src" if direction == "up" else "dst"
        out: list[Edge] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out += [_edge(r) for r in self._query(
                f"SELECT src, rel, dst, props FROM edges WHERE {col} IN ({marks})", chunk)]
        return out

    def children_of(self, ids: Iterable[str]) -> list[Node]:
        ids = list(ids)
        out: list[Node] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out += [_node(r) for r in self._query(f"{_NODE_SELECT} WHERE parent IN ({marks})", chunk)]
        hidden = self._hidden()
        return out + [n for n in self.segments.children(ids) if n.id not in hidden]

    def dependents_of(self, ids: Iterable[str]) -> list[Node]:
        hidden = self._hidden()
        return [n for n in self.segments.dependents(ids) if n.id not in hidden]

    def close(self) -> None:
        with self._lock:
            self._raw.close()


def _reason(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text[:200]
