"""Segments: the hot capture records stored as they were packed, and turned into PROV when read.

Tasks, activations and loop iterations are the numerous records. Expanding each into a Node
with JSON props and writing one SQLite row per record cost ~10 µs; a bare ``executemany`` of
even a narrow row costs 1-2 µs on a small machine. So the embedded store keeps them the way
the producers packed them (tuples of atoms): the sink groups a batch by record code and run,
cuts it into segments of ``SEGMENT`` records and stores each as one ``marshal`` blob (~0.25
µs per record) with the keys that find it again. Reading decodes the records with the same
functions that expand them for the other stores, given the context of the process that made
them (its id prefix, repr limit, task specs and call sites, stored beside the segments).

A producer module registers a ``Codec`` for its record code. The reader imports that module
by the codec's name (``CODEC_MODULES``) when it meets a segment of it, so a store can be read
by a process that captured nothing.

Ids: every hot record's id is ``<space><number>``, the space ending in ``.`` (hexadecimal
number: ``t-<prefix>.1f``) or ``/`` (decimal: a loop iteration ``<loop id>/7``). Segments are
found by (space, number >> ``BLOCK_BITS``) for their ids and for their parents' ids.
"""
from __future__ import annotations

import importlib
import marshal
from collections.abc import Callable, Iterable
from itertools import groupby, repeat
from operator import itemgetter, rshift
from typing import Any

from kg.model.records import Edge, Node

__all__ = ["Codec", "Ctx", "LIVE", "Sealed", "register_codec", "register_table", "codec_named", "seal",
           "split_id", "join_id", "SEGMENT", "BLOCK_BITS", "CtxWriter", "load_table"]

SEGMENT = 256     # records per segment: a lookup unmarshals one segment (~0.2 ms), a write costs one row
BLOCK_BITS = 10   # a key row per 1,024 numbers of a space that a segment's ids (or parents) fall in
BIG_SEGMENT = 400  # bytes a node: a segment above that average is checked for records with long values
BIG_RECORD = 256   # ... and a record above this a node (plus 4 x the repr limit) goes to the expander

# Which module registers each codec (imported by a reader that meets one of its segments).
CODEC_MODULES = {
    "act": "capture.tracer._common",
    "task": "capture._task",
    "light": "capture._task",
    "loop": "capture.loops",
    "callback": "capture.engine",
    "flow": "capture._flowrec",
}

Keys = set[tuple[str, int]]


def split_id(text: str) -> tuple[str, int]:
    """``(space, number)`` of an id; ``(id, -1)`` when it does not end in a canonical number."""
    cut = max(text.rfind("."), text.rfind("/"))
    tail = text[cut + 1:]
    if cut < 0 or not tail:
        return text, -1
    try:
        n = int(tail, 16 if text[cut] == "." else 10)
    except ValueError:
        return text, -1
    # Only canonical forms round-trip through join_id ("0a", "+1", "1_0" are other ids).
    if n < 0 or (format(n, "x") if text[cut] == "." else str(n)) != tail:
        return text, -1
    return text[:cut + 1], n


def join_id(space: str, n: int) -> str:
    """The id ``split_id`` took apart."""
    if n < 0:
        return space
    return f"{space}{n:x}" if space.endswith(".") else f"{space}{n}"


def blocks(space: str, numbers: Iterable[int]) -> Keys:
    """The key rows of ``numbers`` in ``space``."""
    if type(numbers) is range and numbers.step == 1:
        return {(space, b) for b in range(numbers.start >> BLOCK_BITS, ((numbers.stop - 1) >> BLOCK_BITS) + 1)} \
            if numbers else set()
    return {(space, b) for b in set(map(rshift, numbers, repeat(BLOCK_BITS)))}


def py_keys(recs: list[tuple[Any, ...]], n_pos: int, parent_pos: int,
            bits: int) -> tuple[set[int], set[int], set[str], bool]:
    """(blocks of the records' numbers, blocks of their parents' numbers, parents that are ids,
    whether some record is at the top of its run): the Python form of kg._ckeys.keys."""
    ids = {r[n_pos] >> bits for r in recs}
    parents: set[int] = set()
    named: set[str] = set()
    top = False
    for r in recs:
        p = r[parent_pos]
        if type(p) is int:
            if p > 0:
                parents.add(p >> bits)
            else:
                top = True
        elif type(p) is str and p:
            named.add(p)
        else:
            top = True
    return ids, parents, named, top


def _native_keys() -> Callable[..., tuple[set[int], set[int], set[str], bool]]:
    # One pass in C where it was built (KG_C=0: the Python form).
    from kg.config import settings

    if settings.native:
        try:
            from kg._ckeys import keys  # type: ignore[import-not-found]  # a C extension
            return keys  # type: ignore[no-any-return]
        except ImportError:
            pass
    return py_keys


_keys = _native_keys()


def id_keys(ids: Iterable[str]) -> Keys:
    """The key rows of full ids (parents that are runs, loops, workflow runs...)."""
    out: Keys = set()
    for text in set(ids):
        space, n = split_id(text)
        out.add((space, n >> BLOCK_BITS))
    return out


class Ctx:
    """What decoding a process's records needs: its id prefix, repr limit, task specs and call sites.

    ``LIVE`` is the capturing process's own (the sink's expanders use it); a reader builds one
    per (process, limit) from the store's ``seg_ctx`` rows."""

    __slots__ = ("prefix", "limit", "sites", "specs")

    def __init__(self, prefix: str, limit: int, sites: list[Any] | None = None,
                 specs: list[Any] | None = None) -> None:
        self.prefix = prefix
        self.limit = limit
        self.sites: list[Any] = sites if sites is not None else []
        self.specs: list[Any] = specs if specs is not None else []


class _LiveCtx(Ctx):
    """This process: the prefix and limit are read when used (a fork redraws the prefix)."""

    __slots__ = ()

    def __init__(self) -> None:  # noqa: D107 - the slots are properties here
        pass

    @property  # type: ignore[override]
    def prefix(self) -> str:
        from kg.ids import process_prefix

        return process_prefix()

    @property  # type: ignore[override]
    def limit(self) -> int:
        from kg.config import settings

        return settings.repr_limit


LIVE: Ctx = _LiveCtx()
# The live tables are the producers' own lists (appended to as specs and sites are made).
_LIVE_TABLES: dict[str, list[Any]] = {"sites": [], "specs": []}
_TABLE_DUMP: dict[str, Callable[[Any], str]] = {}
_TABLE_LOAD: dict[str, Callable[[str], Any]] = {}


def register_table(name: str, live: list[Any], dump: Callable[[Any], str], load: Callable[[str], Any]) -> None:
    """Declare a context table (``sites``, ``specs``): the live list, and how an entry is stored and read."""
    _LIVE_TABLES[name] = live
    _TABLE_DUMP[name] = dump
    _TABLE_LOAD[name] = load
    setattr(_LiveCtx, name, property(lambda self, _l=live: _l))


def load_table(name: str, rows: Iterable[str]) -> list[Any]:
    """Entries of a stored context table, in index order (the module that made them is imported)."""
    if name not in _TABLE_LOAD:
        for module in set(CODEC_MODULES.values()):
            importlib.import_module(module)
    load = _TABLE_LOAD[name]
    return [load(r) for r in rows]


class CtxWriter:
    """Remembers which context entries a store already has, per process prefix (a sink owns one)."""

    def __init__(self) -> None:
        self.written: dict[tuple[str, str], int] = {}

    def rows(self, prefix: str) -> list[tuple[str, str, int, str]]:
        """(prefix, table, index, json) of the entries made since the last call."""
        out = []
        for name, live in _LIVE_TABLES.items():
            if name not in _TABLE_DUMP:
                continue
            start = self.written.get((prefix, name), 0)
            end = len(live)
            if end > start:
                dump = _TABLE_DUMP[name]
                out += [(prefix, name, i, dump(live[i])) for i in range(start, end)]
                self.written[(prefix, name)] = end
        return out


class Codec:
    """How one record code is stored in segments and read back.

    ``decode(rec, ctx, nodes, edges, n)`` appends the record's Activity node(s) (``n``: its
    number, for records numbered by their segment); it is also the record's expander for the
    stores that take Nodes. Subclasses give ``run_of``, ``keys`` and ``find``."""

    name = ""
    code = -1
    numbered = False   # records carry no number: the segment gives them base, base + 1, ...
    segment = SEGMENT  # records per segment

    def run_of(self, rec: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        raise NotImplementedError

    def nodes(self, recs: list[tuple[Any, ...]]) -> int:
        """How many nodes ``recs`` stand for (one a record, unless overridden)."""
        return len(recs)

    def decode_one(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], n: int) -> None:
        """Append the node numbered ``n`` that ``rec`` holds (one node a record, unless overridden)."""
        self.decode(rec, ctx, nodes, [], n)

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        raise NotImplementedError

    def keys(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None) -> tuple[int, Keys, Keys]:
        """(nodes the records stand for, key rows of their ids, key rows of their parents' ids)."""
        raise NotImplementedError

    def find(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None, space: str, n: int) -> list[int]:
        """Indices of the records that may hold id (space, n)."""
        raise NotImplementedError

    def prepare(self, recs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The records as stored (marshal-able); those left as they were go to the expanders."""
        return recs

    def filters(self) -> bool:
        """True if some records of this code must go to the expander (see ``expanded``)."""
        return False

    def expanded(self, rec: tuple[Any, ...]) -> bool:
        """True for a record the expander stores instead (it makes nodes or edges of its own)."""
        return False

    def split(self, recs: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """(records for segments, records for the expander)."""
        if not self.filters():
            return recs, []
        keep, _, rest = _partition(recs, recs, self.expanded)
        return keep, rest

    def number(self, count: int) -> int:
        """For ``numbered`` codecs: reserve ``count`` numbers of this process, return the first."""
        raise NotImplementedError

    def stored_edges(self, recs: list[tuple[Any, ...]]) -> list[Any]:
        """Edges of these records that must be stored as edges beside their segment: reading the
        segment makes them too, but a lookup from their other end (downstream lineage) only finds
        stored edges."""
        return []


class NumberedCodec(Codec):
    """One Activity per record, id ``<tag>-<prefix>.<n>``, n and parent (a number of the same
    space, a full id, or 0 for the run) at fixed places in the record."""

    tag = "t"
    n_pos = 1
    parent_pos = 2
    run_pos = 3

    def __init__(self) -> None:
        self.run_of = itemgetter(self.run_pos)  # type: ignore[method-assign]
        self._n = itemgetter(self.n_pos)
        self._parent = itemgetter(self.parent_pos)

    def space(self, prefix: str) -> str:
        return f"{self.tag}-{prefix}."

    def keys(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None) -> tuple[int, Keys, Keys]:
        space = self.space(prefix)
        top = id_keys([self.run_of(recs[0])])  # the run: the parent of records at the top (one run a segment)
        if self.numbered:
            return len(recs), blocks(space, range(base or 0, (base or 0) + len(recs))), top
        ids, parents, named, at_top = _keys(recs, self.n_pos, self.parent_pos, BLOCK_BITS)
        pkeys = {(space, b) for b in parents}
        if named:
            pkeys |= id_keys(named)
        if at_top:
            pkeys |= top
        return len(recs), {(space, b) for b in ids}, pkeys

    def find(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None, space: str, n: int) -> list[int]:
        if space != self.space(prefix):
            return []
        if self.numbered and base is not None:
            return [n - base] if base <= n < base + len(recs) else []
        return [i for i, m in enumerate(map(self._n, recs)) if m == n]


_BY_CODE: dict[int, Codec] = {}
_BY_NAME: dict[str, Codec] = {}


def register_codec(codec: Codec) -> Codec:
    """Make ``codec`` the way records of ``codec.code`` are sealed and read."""
    _BY_CODE[codec.code] = codec
    _BY_NAME[codec.name] = codec
    return codec


def codec_named(name: str) -> Codec:
    """The codec of a stored segment (its producer module is imported the first time)."""
    codec = _BY_NAME.get(name)
    if codec is None:
        module = CODEC_MODULES.get(name)
        if module is None:
            from kg.exceptions import StoreError

            raise StoreError(f"segment of unknown kind {name!r} (written by a newer provkg?)")
        importlib.import_module(module)
        codec = _BY_NAME[name]
    return codec


class Sealed:
    """A batch made ready for a segment store: segment rows, their key rows, context rows, and the
    records that still go through the expanders (``rest``)."""

    __slots__ = ("segments", "rest", "ctx", "count")

    def __init__(self) -> None:
        # (codec, proc, run, kinds, count, limit, base, data, id keys, parent keys)
        self.segments: list[tuple[Any, ...]] = []
        self.rest: list[Any] = []
        self.ctx: list[tuple[str, str, int, str]] = []
        self.count = 0  # nodes the segments stand for


_code_of = itemgetter(0)
_dumps = marshal.dumps


def seal(batch: list[Any], prefix: str, limit: int, writer: CtxWriter) -> Sealed:
    """Group ``batch`` into segments (see the module doc); what cannot be sealed is left in ``rest``."""
    out = Sealed()
    for code, grp in groupby(batch, key=_code_of):
        codec = _BY_CODE.get(code) if type(code) is int else None
        recs = list(grp)
        if codec is None:  # Nodes, Edges, and records of codes without a codec
            out.rest += recs
            continue
        recs, bad = codec.split(recs)
        out.rest += bad
        for run, same_run in groupby(recs, key=codec.run_of):
            same = list(same_run)
            size = codec.segment
            for i in range(0, len(same), size):
                _seal_one(codec, same[i:i + size], run, prefix, limit, out)
    if out.segments:
        out.ctx = writer.rows(prefix)
    return out


def _partition(stored: list[Any], recs: list[Any],
               test: Callable[[Any], bool]) -> tuple[list[Any], list[Any], list[Any]]:
    """Of the same records as stored (``stored``) and as captured (``recs``): (stored forms and
    captured forms of those whose stored form fails ``test``, captured forms of those it passes:
    they go to the expander)."""
    keep, keep_src, rest = [], [], []
    for rec, src in zip(stored, recs):
        if test(rec):
            rest.append(src)
        else:
            keep.append(rec)
            keep_src.append(src)
    return keep, keep_src, rest


def _unmarshallable(rec: Any) -> bool:
    try:
        _dumps(rec)
        return False
    except ValueError:
        return True


def _seal_one(codec: Codec, recs: list[tuple[Any, ...]], run: Any, prefix: str, limit: int, out: Sealed) -> None:
    stored = codec.prepare(recs)
    try:
        data = _dumps(stored)
    except ValueError:  # an object marshal cannot write (a summary object, an exception...)
        stored, recs, rest = _partition(stored, recs, _unmarshallable)
        out.rest += rest
        if not stored:
            return
        data = _dumps(stored)
    if len(data) > BIG_SEGMENT * codec.nodes(stored):
        # Some records hold long strings or bytes (kept by reference): the expander summarises those,
        # so a segment never stores a value beyond ~BIG_RECORD bytes (a 1 MB argument stays out).
        big = BIG_RECORD + 4 * limit
        stored, recs, rest = _partition(stored, recs, lambda rec: len(_dumps(rec)) > big * codec.nodes([rec]))
        out.rest += rest
        if not stored:
            return
        data = _dumps(stored)
    if type(run) is not str:
        out.rest += recs
        return
    out.rest += codec.stored_edges(stored)
    base = codec.number(len(stored)) if codec.numbered else None
    count, ids, parents = codec.keys(stored, prefix, base)
    out.segments.append((codec.name, prefix, run, " " + " ".join(sorted(codec.kinds(stored))) + " ", count,
                         limit, base, data, ids, parents))
    out.count += count
