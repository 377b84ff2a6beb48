"""The recorder behind `kg run --dataflow`'s hook calls, and how its records are stored and read.

``recorder(...)`` makes the hook that the rewritten script calls as ``__kg_df__(site, value)``
(capture.finegrained): in C where built (capture/_cflowrec.c), else ``PyRecorder`` below, the
reference form with the same records. Per assignment it numbers a new version of the site's
slot, looks up the current versions of the slots the site read (its sources), notes the user
function activation it happened in (the top of the tracer's stack for this thread), and keeps
the value (an atom or a small tuple of atoms by reference; anything else summarised now, since
it may change later). Versions go to the sink in chunks of ``CHUNK``:
``(code, run, first n, [(info, value, sources, activation, iteration), ...])``.

Read back, a chunk is one Variable entity per version (id ``<trial>/df/<n>``) whose ``derived``
and ``generated_by`` props stand for its WAS_DERIVED_FROM and WAS_GENERATED_BY relations
(kg.model.prov explodes them), so the embedded store keeps ~4,000 versions in one row.
"""
from __future__ import annotations

import io
import logging
import os
import threading
import time
from typing import Any

from capture.finegrained import CALL, FILE, STORED, WRITTEN, Sites
from capture.tracer._common import _final, _type_summary, summ_value
from kg.config import settings
from kg.model import Edge, Kind, Node, ProvClass, Relation
from kg.segments import BLOCK_BITS, LIVE, Codec, Ctx, Keys, blocks, register_codec
from kg.sink import register_expander

__all__ = ["PyRecorder", "Writes", "recorder", "written_links", "decode_chunk", "CHUNK", "FLOW_CODE", "variable_id"]

CHUNK = 1024  # versions per record sent to the sink
_ATOMS = (int, float, bool, type(None), str, bytes)
_ENT, _VARIABLE = ProvClass.ENTITY.value, Kind.VARIABLE.value
_WDF = Relation.WAS_DERIVED_FROM.value
_ACT_N, _ACT_REC = 1, 8  # a tracer stack entry: its activation number, and whether it is recorded


def variable_id(run: str, n: int) -> str:
    return f"{run}/df/{n}"


def keep(v: Any, limit: int) -> Any:
    """What is stored of a value that is not kept by reference: its final summary, made now."""
    try:
        return _final(summ_value(v, "full"), limit)
    except Exception:
        return {"type": type(v).__name__}


class Writes:
    """The versions written to files by ``f.write(x)``, ``print(x, file=f)``, ``json.dump(x, f)``:
    ``items`` holds (version n, absolute path, time). The recorder calls it with (FILE, the file
    object, pair) and (WRITTEN, the version, pair), in the order the program evaluates them (the
    file first for ``f.write``, last for the others); ``pair`` (the FILE site) matches the two.
    A half left by an exception is replaced when that site runs again."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[int, Any]] = {}
        self.items: list[tuple[int, str, float]] = []

    def __call__(self, kind: int, x: Any, pair: int) -> None:
        if kind == FILE:
            # Only real files: reading an attribute of any other object could run the program's code.
            name = x.name if isinstance(x, io.IOBase) and hasattr(x, "name") else None
            x = os.path.abspath(os.fsdecode(name)) if isinstance(name, (str, bytes)) else None
        other = self.pending.pop(pair, None)
        if other is None or other[0] == kind:
            self.pending[pair] = (kind, x)
            return
        path, n = (x, other[1]) if kind == FILE else (other[1], x)
        if path is not None:
            self.items.append((n, path, time.time()))


class PyRecorder:
    """The hook in Python: ``__call__(site, value) -> value`` (see the module docstring)."""

    def __init__(self, sites: Sites, run: str, code: int, put: Any, check: Any, stacks: dict[int, list[Any]],
                 limit: int, writes: Writes) -> None:
        self.table = sites.table
        self.run, self.code, self.put, self.check, self.stacks, self.limit = run, code, put, check, stacks, limit
        self.writes = writes
        self.cur = [0] * len(sites.slots)          # slot -> its current version + 1 (0: none yet)
        self.pending = [-1] * len(sites.functions)  # function -> the call site about to call it
        self.hits = [0] * len(sites.table)
        self.count = 0
        self.faults = 0
        self.chunk: list[tuple[Any, ...]] = []
        self.base = 0

    def __call__(self, site: int, value: Any) -> Any:
        try:
            self._record(site, value)
        except Exception as exc:  # capture never raises into the program
            self._fault(exc)
        return value

    def _record(self, site: int, value: Any) -> None:
        kind, target, reads, fn, info = self.table[site]
        if kind == CALL:
            self.pending[target] = site
            return
        if kind == FILE:
            self.writes(kind, value, fn)
            return
        cur = self.cur
        sources: list[int] = []
        for r in reads:
            if r < 0:  # a parameter: the argument in that position at the call site that called fn
                call = self.pending[fn] if fn >= 0 else -1
                args = self.table[call][2] if call >= 0 else ()
                j = -r - 1
                r = args[j] if j < len(args) else -1
                if r < 0:
                    continue
            v = cur[r]
            if v and v - 1 not in sources:
                sources.append(v - 1)
        self.hits[site] += 1
        n = self.count
        self.count = n + 1
        cur[target] = n + 1
        kept = _type_summary(value) if kind == STORED else self._kept(value)
        self.chunk.append((info, kept, tuple(sources), self._activation(), self.hits[site]))
        if kind == WRITTEN:
            self.writes(kind, n, fn)
        if len(self.chunk) >= CHUNK:
            self.flush()

    def _small(self, v: Any) -> bool:
        t = type(v)
        return t in _ATOMS and not ((t is str or t is bytes) and len(v) > self.limit)

    def _kept(self, v: Any) -> Any:
        """A value as the chunk holds it: small atoms and small tuples of them by reference, a small
        list of them as a copy (both summarised when read, as activations' are), the rest summarised now."""
        if self._small(v):
            return v
        t = type(v)
        if (t is tuple or t is list) and len(v) <= 16 and all(map(self._small, v)):
            return v if t is tuple else list(v)
        return keep(v, self.limit)

    def _activation(self) -> int:
        stack = self.stacks.get(threading.get_ident())
        for e in reversed(stack or ()):
            if e[_ACT_REC]:
                return int(e[_ACT_N])
        return 0

    def flush(self) -> None:
        """Send the versions recorded since the last flush to the sink (called at the end too)."""
        if self.chunk:
            chunk, self.chunk = self.chunk, []
            self.put((self.code, self.run, self.base, chunk))
            self.base += len(chunk)
            self.check()

    def _fault(self, exc: BaseException) -> None:
        self.faults += 1
        if self.faults == 1:
            logging.getLogger("kg.dataflow").warning("provkg dataflow fault (reported once): %r", exc)


def written_links(store: Any, trial_id: str, writes: Writes) -> list[Edge]:
    """A file version WAS_DERIVED_FROM each value written to it: the version the access that was
    open at the time of the write left (the file's accesses are in the store by now)."""
    if not writes.items:
        return []
    from capture._fileprov import version_id
    from kg._trialdata import accesses

    trial = store.get_node(trial_id)
    done = [a.props for a in (accesses(store, trial) if trial is not None else []) if a.props.get("after")]
    out = []
    for n, path, t in writes.items:
        open_then = [a for a in done if a.get("path") == path and (a.get("started") or 0) <= t <= (a.get("ended") or 0)]
        if open_then:
            a = min(open_then, key=lambda a: a.get("ended") or 0)
            out.append(Edge(_WDF, version_id(a["after"], path), variable_id(trial_id, n),
                            {"role": "written", "run": trial_id}))
    return out


def recorder(sites: Sites, run: str, sink: Any, stacks: dict[int, list[Any]]) -> Any:
    """The hook for a script rewritten into ``sites``: the C form where built (and KG_C is not 0)."""
    args = (sites, run, FLOW_CODE, sink.put, sink.check, stacks, settings.repr_limit, Writes())
    if settings.native:
        try:
            from capture._cflowrec import Recorder  # type: ignore[import-not-found]  # a C extension
        except ImportError:
            pass
        else:
            return Recorder(*args, keep, _type_summary)
    return PyRecorder(*args)


def decode_chunk(rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], only: int | None = None) -> None:
    """A chunk of versions -> one compact Variable entity each (``only``: just version ``only``)."""
    _, run, base, versions = rec
    limit, prefix = ctx.limit, ctx.prefix
    span = range(len(versions)) if only is None else range(only - base, only - base + 1) \
        if 0 <= only - base < len(versions) else range(0)
    for j in span:
        (name, scope, line, col), value, sources, act, iteration = versions[j]
        # Props in the order the embedded store gives nodes back (kg.model.records.stored_order).
        props: dict[str, Any] = {"scope": scope, "line": line, "col": col, "value": _final(value, limit)}
        if iteration > 1:
            props["iteration"] = iteration
        if sources:
            props["derived"] = [f"{run}/df/{s}" for s in sources]
        props["generated_by"] = f"a-{prefix}.{act:x}" if act else run
        props["run"] = run
        props["name"] = name
        nodes.append(Node(f"{run}/df/{base + j}", _ENT, _VARIABLE, props))


def _expand(rec: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    decode_chunk(rec, LIVE, nodes)


FLOW_CODE = register_expander(_expand)


def _py_source_blocks(versions: list[tuple[Any, ...]], bits: int) -> set[int]:
    """The blocks of the version numbers a chunk's versions derive from (the C form: _cflowrec)."""
    return {s >> bits for v in versions for s in v[2]}


def _native_blocks() -> Any:
    if settings.native:
        try:
            from capture._cflowrec import source_blocks  # type: ignore[import-not-found]  # a C extension
            return source_blocks
        except ImportError:
            pass
    return _py_source_blocks


_source_blocks = _native_blocks()


class _FlowCodec(Codec):
    """Chunks of versions in segments: ids ``<trial>/df/<n>``, numbered by the chunk."""

    name = "flow"
    code = FLOW_CODE
    segment = 4  # chunks of up to CHUNK versions: a segment holds up to 4,096

    def run_of(self, rec: tuple[Any, ...]) -> Any:
        return rec[1]

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        decode_chunk(rec, ctx, nodes)

    def decode_one(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], n: int) -> None:
        decode_chunk(rec, ctx, nodes, only=n)

    def nodes(self, recs: list[tuple[Any, ...]]) -> int:
        return sum(len(r[3]) for r in recs)

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        return {_VARIABLE}

    def keys(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None) -> tuple[int, Keys, Keys]:
        # (the blocks of the versions they derive from stand as parents': downstream lineage finds them)
        ids: Keys = set()
        sources: Keys = set()
        for r in recs:
            space = f"{r[1]}/df/"
            ids |= blocks(space, range(r[2], r[2] + len(r[3])))
            sources |= {(space, b) for b in _source_blocks(r[3], BLOCK_BITS)}
        return self.nodes(recs), ids, sources

    def find(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None, space: str, n: int) -> list[int]:
        return [i for i, r in enumerate(recs) if space == f"{r[1]}/df/" and r[2] <= n < r[2] + len(r[3])]


register_codec(_FlowCodec())
