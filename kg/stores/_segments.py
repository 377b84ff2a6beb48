"""The embedded store's segments (see kg.segments): their tables, how a batch is written, how nodes are read."""
from __future__ import annotations

import marshal
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kg import segments as seg
from kg.exceptions import StoreError
from kg.model.records import Edge, Node

__all__ = ["SCHEMA", "SegmentReader", "insert"]

# One row per segment of up to kg.segments.SEGMENT records of one code and one run, the
# records marshalled as they were packed. ``seg_keys`` finds a segment by the ids it holds
# (role 0) and by the ids of its records' parents (role 1), a row per 1,024 numbers of a
# space; ``seg_ctx`` holds what decoding a process's records needs (kg.segments.Ctx).
SCHEMA = """
CREATE TABLE IF NOT EXISTS segs (
    seg   INTEGER PRIMARY KEY,
    codec TEXT NOT NULL,            -- kg.segments codec name: act, task, light, loop, callback
    proc  TEXT NOT NULL,            -- id prefix of the process that captured the records
    run   TEXT NOT NULL,
    kinds TEXT NOT NULL,            -- ' Task Loop ': kinds of the nodes it holds, space-separated
    count INTEGER NOT NULL,         -- nodes it holds
    lim   INTEGER NOT NULL,         -- the capturing process's repr limit
    base  INTEGER,                  -- first number of records numbered by their segment
    data  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS segs_run ON segs(run);
CREATE TABLE IF NOT EXISTS seg_keys (
    space TEXT NOT NULL,
    block INTEGER NOT NULL,
    role  INTEGER NOT NULL,         -- 0: ids of its records, 1: ids of their parents (or of what they derive from)
    seg   INTEGER NOT NULL,
    PRIMARY KEY (space, block, role, seg)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seg_ctx (
    proc  TEXT NOT NULL,
    tab   TEXT NOT NULL,            -- sites | specs
    idx   INTEGER NOT NULL,
    data  TEXT NOT NULL,            -- JSON
    PRIMARY KEY (proc, tab, idx)
) WITHOUT ROWID;
"""

_SEG_INSERT = "INSERT INTO segs (seg, codec, proc, run, kinds, count, lim, base, data) VALUES (?,?,?,?,?,?,?,?,?)"
_KEY_INSERT = "INSERT OR IGNORE INTO seg_keys (space, block, role, seg) VALUES (?,?,?,?)"
_CTX_INSERT = "INSERT OR IGNORE INTO seg_ctx (proc, tab, idx, data) VALUES (?,?,?,?)"
_SELECT = "SELECT seg, codec, proc, run, lim, base, kinds, data FROM segs"


def insert(raw: sqlite3.Connection, sealed: seg.Sealed) -> None:
    """Write a sealed batch's segments, keys and context (inside the caller's write transaction)."""
    if sealed.ctx:
        raw.executemany(_CTX_INSERT, sealed.ctx)
    if not sealed.segments:
        return
    # Numbered here, under the write lock: segment ids follow the order of writing.
    first = raw.execute("SELECT coalesce(max(seg), 0) + 1 FROM segs").fetchone()[0]
    rows, keys = [], []
    for i, (codec, proc, run, kinds, count, lim, base, data, ids, parents) in enumerate(sealed.segments):
        sid = first + i
        rows.append((sid, codec, proc, run, kinds, count, lim, base, data))
        keys += [(space, block, 0, sid) for space, block in ids]
        keys += [(space, block, 1, sid) for space, block in parents]
    raw.executemany(_SEG_INSERT, rows)
    raw.executemany(_KEY_INSERT, keys)


class _Segment:
    """One segment read back: its records (kept, in a small cache), decoded into nodes when asked."""

    __slots__ = ("sid", "codec", "proc", "run", "lim", "base", "kinds", "recs")

    def __init__(self, row: Any) -> None:
        self.sid, name, self.proc, self.run, self.lim, self.base, self.kinds, data = row
        self.codec = seg.codec_named(name)
        try:
            self.recs: list[tuple[Any, ...]] = marshal.loads(data)
        except (ValueError, EOFError, TypeError) as exc:
            raise StoreError(f"segment {self.sid} is damaged ({exc})") from None

    def decode(self, ctx: seg.Ctx) -> list[Node]:
        """Every node of the segment (decoders give props in the store's order: kg.model.records.stored_order)."""
        nodes: list[Node] = []
        edges: list[Edge] = []  # the relations a record stands for are exploded by readers (kg.model.prov)
        decode, base, recs = self.codec.decode, self.base, self.recs
        for i, rec in enumerate(recs):
            decode(rec, ctx, nodes, edges, None if base is None else base + i)
        return nodes

    def one(self, ctx: seg.Ctx, i: int, n: int) -> list[Node]:
        """The node numbered ``n`` that record ``i`` holds (a record may hold several: a loop chunk)."""
        nodes: list[Node] = []
        self.codec.decode_one(self.recs[i], ctx, nodes, n)
        return nodes


class SegmentReader:
    """Reads the nodes held in segments for a SqliteStore (``query`` runs one statement under its lock)."""

    CACHE = 64  # decoded segments kept: lineage walks return to the same ones

    def __init__(self, query: Callable[[str, Iterable[Any]], list[Any]]) -> None:
        self._query = query
        self._cache: OrderedDict[int, _Segment] = OrderedDict()
        self._ctx: dict[tuple[str, int], tuple[seg.Ctx, int]] = {}
        self._lock = threading.RLock()

    # -- segments and contexts ------------------------------------------------
    def _segment(self, row: Any) -> _Segment:
        with self._lock:
            found = self._cache.get(row[0])
            if found is not None:
                self._cache.move_to_end(row[0])
                return found
            s = _Segment(row)
            self._cache[s.sid] = s
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
            return s

    def _segments(self, where: str, params: Iterable[Any]) -> Iterator[_Segment]:
        # Paged by segment id, so a long read holds no transaction (capture goes on meanwhile).
        last = 0
        while True:
            rows = self._query(f"{_SELECT} WHERE seg > ? {where} ORDER BY seg LIMIT 64", [last, *params])
            for row in rows:
                yield self._segment(row)
            if len(rows) < 64:
                return
            last = rows[-1][0]

    def _by_ids(self, sids: Iterable[int]) -> list[_Segment]:
        sids = sorted(set(sids))
        out = []
        for i in range(0, len(sids), 500):
            chunk = sids[i:i + 500]
            out += [self._segment(r) for r in
                    self._query(f"{_SELECT} WHERE seg IN ({','.join('?' * len(chunk))}) ORDER BY seg", chunk)]
        return out

    def ctx(self, s: _Segment) -> seg.Ctx:
        """The decoding context of the process that wrote ``s`` (reloaded when a newer segment needs more)."""
        key = (s.proc, s.lim)
        with self._lock:
            held = self._ctx.get(key)
            if held is not None and held[1] >= s.sid:
                return held[0]
            top = self._query("SELECT coalesce(max(seg), 0) FROM segs", ())[0][0]
            tables = {}
            for name in ("sites", "specs"):
                rows = self._query("SELECT data FROM seg_ctx WHERE proc = ? AND tab = ? ORDER BY idx", (s.proc, name))
                tables[name] = seg.load_table(name, [r[0] for r in rows]) if rows else []
            ctx = seg.Ctx(s.proc, s.lim, tables["sites"], tables["specs"])
            self._ctx[key] = (ctx, top)
            return ctx

    def _decode(self, s: _Segment, at: tuple[int, int] | None = None) -> list[Node]:
        try:
            ctx = self.ctx(s)
            return s.decode(ctx) if at is None else s.one(ctx, *at)
        except StoreError:
            raise
        except Exception as exc:  # a record its codec cannot read: name the segment, not a traceback
            raise StoreError(f"segment {s.sid} ({s.codec.name}) cannot be read: {exc!r}") from None

    # -- what SqliteStore asks ------------------------------------------------
    def count(self) -> int:
        return int(self._query("SELECT coalesce(sum(count), 0) FROM segs", ())[0][0])

    def _candidates(self, keys: Iterable[tuple[str, int]], role: int) -> set[int]:
        found: set[int] = set()
        for space, block in set(keys):
            found.update(r[0] for r in self._query(
                "SELECT seg FROM seg_keys WHERE space = ? AND block = ? AND role = ?", (space, block, role)))
        return found

    def get(self, ids: Iterable[str]) -> dict[str, Node]:
        """The nodes with these ids that segments hold."""
        want: dict[tuple[str, int], str] = {}
        for i in ids:
            space, n = seg.split_id(i)
            if n >= 0:
                want[(space, n)] = i
        if not want:
            return {}
        keys = {(space, n >> seg.BLOCK_BITS) for space, n in want}
        out: dict[str, Node] = {}
        for s in self._by_ids(self._candidates(keys, 0)):
            for (space, n), text in want.items():
                for i in s.codec.find(s.recs, s.proc, s.base, space, n):
                    for node in self._decode(s, (i, n)):
                        if node.id == text:
                            out[text] = node
        return out

    def children(self, ids: Iterable[str]) -> list[Node]:
        """Nodes whose parent is one of ``ids``."""
        targets = set(ids)
        if not targets:
            return []
        out = []
        for s in self._by_ids(self._candidates(seg.id_keys(targets), 1)):
            out += [n for n in self._decode(s) if n.props.get("parent") in targets]
        return out

    def dependents(self, ids: Iterable[str]) -> list[Node]:
        """Nodes whose ``derived`` (a compact entity's WAS_DERIVED_FROM) names one of ``ids``: found
        through the key rows of the ids their records derive from (role 1, as parents')."""
        targets = set(ids)
        if not targets:
            return []
        out = []
        for s in self._by_ids(self._candidates(seg.id_keys(targets), 1)):
            out += [n for n in self._decode(s) if not targets.isdisjoint(n.props.get("derived") or ())]
        return out

    def scan(self, *, run: str | None = None, kind: str | None = None, name: str | None = None,
             parent: str | None = None, id_prefix: str | None = None) -> Iterator[Node]:
        """Nodes of segments matching every given filter, in segment order."""
        if parent is not None:
            nodes: Iterable[Node] = self.children([parent])
            yield from (n for n in nodes if _match(n, run, kind, name, id_prefix))
            return
        where, params = [], []
        if run is not None:
            where.append("AND run = ?")
            params.append(run)
        if kind is not None:
            where.append("AND kinds LIKE ?")
            params.append(f"% {kind} %")
        for s in self._segments(" ".join(where), params):
            if id_prefix is not None and not _may_hold(s, id_prefix):
                continue
            nodes = self._decode(s)
            if name is None and id_prefix is None and (kind is None or s.kinds == f" {kind} "):
                yield from nodes  # the segment's run and kinds already match: no node to filter
            else:
                yield from (n for n in nodes if _match(n, None, kind, name, id_prefix))


def _may_hold(s: _Segment, id_prefix: str) -> bool:
    # Ids start with a tag and the process prefix ("a-<prefix>."), or with a loop's id.
    probe = id_prefix[2:] if id_prefix[1:2] == "-" else ""
    return not probe or s.proc.startswith(probe[:len(s.proc)]) or probe.startswith(s.proc)


def _match(n: Node, run: str | None, kind: str | None, name: str | None, id_prefix: str | None) -> bool:
    p = n.props
    return ((run is None or p.get("run") == run) and (kind is None or n.kind == kind)
            and (name is None or p.get("name") == name) and (id_prefix is None or n.id.startswith(id_prefix)))
