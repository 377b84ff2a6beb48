"""Loop instrumentation: ``capture.Loop`` streams one task per iteration, ``LightweightLoop`` batches them.

    for epoch in (loop := capture.Loop(range(10), name="train", item_name="epoch")):
        loss = step(epoch)
        loop.end_iter({"loss": loss})

Why it is cheap: the caller's thread only appends an end time (and the item) to two
local lists per iteration; every 4096 iterations, or 0.2 s, or when the loop ends, one
packed chunk goes to the sink, whose flush thread expands it into one Task node per
iteration (id ``<loop id>/<index>``). Memory stays bounded (chunks, and the sink's cap
counted in iterations) however long the loop runs. Tasks called inside the loop body
nest under the Loop node.

Items and ``end_iter`` values are kept by reference (the values dict is copied) and
summarised on the flush thread: within 0.2 s for ``Loop``, at the end for
``LightweightLoop``. A mutable object changed in place after its iteration may be
recorded in its later state; numbers and strings (the usual case) are immutable.
"""
from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from capture._run import current_run
from capture._state import check_pressure, current_parent, ensure_sink, state, task_id
from capture.values import ATOMIC, summarize
from kg.config import settings
from kg.model import Edge, Kind, Node, ProvClass
from kg.segments import BLOCK_BITS, LIVE, Codec, Ctx, Keys, blocks, id_keys, register_codec
from kg.sink import register_expander

__all__ = ["Loop", "LightweightLoop"]

_ACT = ProvClass.ACTIVITY.value
_TASK = Kind.TASK.value
_LOOP = Kind.LOOP.value
CHUNK = 4096          # iterations per packed record: bounds memory and flush-thread batch size
CHUNK_SECONDS = 0.2   # a slow loop still streams: a chunk is sent at least this often


try:  # the LightweightLoop iterator in C, where it was built at install time
    from capture._clight import LoopIter as _CLoopIter, Pending as _CPending
except ImportError:
    _CLoopIter = _CPending = None


def _item_value(item: Any, limit: int | None = None) -> Any:
    return item if type(item) in ATOMIC and type(item) is not bytes else summarize(item, limit)


def decode_chunk(rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
                 only: int | None = None) -> None:
    """One packed chunk of iterations -> one Task node per iteration (``only``: just iteration ``only``)."""
    _, meta, base, t0, ts, items, vals, tail = rec
    lid, run, name, item_name, rng = meta
    limit = ctx.limit
    if type(rng) is tuple:  # a range as a segment stores it
        rng = range(*rng)
    values = None
    if vals and vals[0]:
        # (indices, values[, offset]): the lightweight form sends absolute indices and their offset,
        # so that the program only slices its lists; the index in the chunk is worked out here.
        off = vals[2] if len(vals) > 2 else 0
        values = {k - off: v for k, v in zip(vals[0], vals[1])} if off else dict(zip(vals[0], vals[1]))
    span = range(len(ts)) if only is None else range(only - base, only - base + 1) if 0 <= only - base < len(ts) \
        else range(0)
    for j in span:
        t1 = ts[j]
        i = base + j
        item = rng[i] if rng is not None else items[j]
        # Props in the order the embedded store gives nodes back (kg.model.records.stored_order).
        props: dict[str, Any] = {"index": i, "used": {item_name: _item_value(item, limit)}}
        if values is not None and j in values:
            # "telemetry" is the Loop's own reading (a dict of numbers), already JSON.
            props["generated"] = {k: v if k == "telemetry" else _item_value(v, limit) for k, v in values[j].items()}
        props["run"] = run
        props["name"] = f"{name}[{i}]"
        props["status"] = "FINISHED"
        props["parent"] = lid
        if t0 is not None:
            props["started"] = t0 if j == 0 else ts[j - 1]
            props["ended"] = t1
        nodes.append(Node(f"{lid}/{i}", _ACT, _TASK, props))
    if tail is not None and (only is None or only == base + len(ts)):
        # the iteration in progress when the loop was left (break or exception)
        item, t1, status, tail_values = tail
        i = base + len(ts)
        props = {"index": i, "used": {item_name: _item_value(item, limit)}}
        if tail_values:  # end_iter was called before the loop was left
            props["generated"] = {k: _item_value(v, limit) for k, v in tail_values.items()}
        props.update(run=run, name=f"{name}[{i}]", status=status, parent=lid)
        if t0 is not None:
            props.update(started=ts[-1] if ts else t0, ended=t1)
        nodes.append(Node(f"{lid}/{i}", _ACT, _TASK, props))


def _expand_chunk(rec: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    decode_chunk(rec, LIVE, nodes, edges)


_CHUNK_CODE = register_expander(_expand_chunk)
_UNSAFE = object()  # a chunk marshal must not take: the expander summarises its values
_atomic = ATOMIC.issuperset


def _safe_values(vals: Any) -> bool:
    return all(type(v) is dict and _atomic(map(type, v.values())) for v in vals[1]) if vals and vals[0] else True


class _ChunkCodec(Codec):
    """Loop iterations in segments: a chunk record holds up to 4,096 of one loop, ids ``<loop>/<i>``.

    Items and values are kept by reference until then: a chunk holding anything but atoms is
    left to the expander (marshal would write a buffer such as an array as bytes)."""

    name = "loop"
    code = _CHUNK_CODE
    segment = 4  # chunks of up to 4,096 iterations: a segment reads back up to 16,384 nodes

    def run_of(self, rec: tuple[Any, ...]) -> Any:
        return rec[1][1]

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        decode_chunk(rec, ctx, nodes, edges)

    def decode_one(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], n: int) -> None:
        decode_chunk(rec, ctx, nodes, [], only=n)  # a lookup needs one iteration, not the chunk's 4,096

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        return {_TASK}

    def prepare(self, recs: list[tuple[Any, ...]]) -> list[Any]:
        out: list[Any] = []
        for rec in recs:
            code, meta, base, t0, ts, items, vals, tail = rec
            rng = meta[4]
            if rng is not None:
                meta = (*meta[:4], (rng.start, rng.stop, rng.step))
            safe = (items is None or _atomic(map(type, items))) and _safe_values(vals) and (
                tail is None or (type(tail[0]) in ATOMIC and (not tail[3] or _atomic(map(type, tail[3].values())))))
            out.append((code, meta, base, t0, ts, items, vals,
                        None if tail is None else (*tail[:3], dict(tail[3]) if tail[3] else None)) if safe else _UNSAFE)
        return out

    @staticmethod
    def _span(rec: tuple[Any, ...]) -> tuple[str, int, int]:
        base, count = rec[2], len(rec[4]) + (rec[7] is not None)
        return rec[1][0] + "/", base, count

    def nodes(self, recs: list[tuple[Any, ...]]) -> int:
        return sum(self._span(rec)[2] for rec in recs)

    def keys(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None) -> tuple[int, Keys, Keys]:
        total = 0
        ids: Keys = set()
        for rec in recs:
            space, first, count = self._span(rec)
            total += count
            ids |= blocks(space, range(first, first + count + 1, 1 << BLOCK_BITS)) | blocks(space, [first + count])
        return total, ids, id_keys({rec[1][0] for rec in recs})

    def find(self, recs: list[tuple[Any, ...]], prefix: str, base: int | None, space: str, n: int) -> list[int]:
        out = []
        for i, rec in enumerate(recs):
            sp, first, count = self._span(rec)
            if sp == space and first <= n < first + count:
                out.append(i)
        return out


register_codec(_ChunkCodec())


def _backpressure(sink: Any, limit: int) -> None:
    """Keep the buffered iterations near the sink's cap: store them on this thread when they are due
    (Sink.check) or twice that is waiting (the loop then runs at the store's pace)."""
    if len(sink.buf) >= 2 * limit:
        sink.flush()
    else:
        sink.pressure()


def _length(items: Any, items_length: int | None) -> int | None:
    if items_length is not None:
        return int(items_length)
    try:
        return len(items)
    except TypeError:  # a plain iterator: unknown, and never materialised to find out
        return None


class _BaseLoop:
    """What both loop forms share: the Loop node, nesting, and the disabled fast path."""

    form = "streaming"

    def __init__(self, items: Iterable[Any] | int, name: str = "loop", item_name: str = "item",
                 items_length: int | None = None, parent: str | None = None, *,
                 run_id: str | None = None, parent_task_id: str | None = None) -> None:
        self.items: Iterable[Any] = range(items) if isinstance(items, int) else items
        self.name = name
        self.item_name = item_name
        self.items_length = _length(self.items, items_length)
        self.parent = parent or parent_task_id
        self.run_id = run_id
        self.n = 0
        self.id = ""
        self.iterations = 0
        self._v: Any = None

    def __len__(self) -> int:
        if self.items_length is None:
            raise TypeError(f"the length of loop {self.name!r} is unknown (pass items_length=)")
        return self.items_length

    def end_iter(self, values: dict[str, Any] | None = None) -> None:
        """Attach values produced by the current iteration (its ``generated``). No-op when capture is off."""
        if values:
            # A shallow copy (C speed); values are summarised on the flush thread, like the items.
            self._v = values.copy()

    def __iter__(self) -> Iterator[Any]:
        if not settings.enabled:
            return iter(self.items)
        try:
            if self.run_id:
                run = part = self.run_id
            else:
                run_obj = state.run or current_run()
                run, part = run_obj.id, run_obj.part  # part: this process's share of a joined run
            self.n = next(state.counter)
            self.id = task_id(self.n)
            parent = self.parent or (task_id(p) if (p := current_parent.get()) else part)
            self._started = time.time()
            ensure_sink()
            self._put_loop(run, parent, {"status": "RUNNING", "started": self._started})
        except Exception:  # capture must never break the loop
            if settings.strict:
                raise
            return iter(self.items)
        self._run, self._parent = run, parent
        return self._iterate(run)

    def _put_loop(self, run: str, parent: str, extra: dict[str, Any]) -> None:
        props: dict[str, Any] = {"run": run, "name": self.name, "parent": parent, "item_name": self.item_name,
                                 "form": self.form}
        if self.items_length is not None:
            props["items_length"] = self.items_length
        props.update(extra)
        state.put(Node(self.id, _ACT, _LOOP, props))  # type: ignore[misc]

    def _finish(self, count: int, status: str) -> None:
        self.iterations = count
        ended = time.time()
        self._put_loop(self._run, self._parent, {"status": status, "started": self._started, "ended": ended,
                                                 "duration": ended - self._started, "iterations": count})
        check_pressure()

    def _enter(self) -> Any:
        return current_parent.set(self.n)

    @staticmethod
    def _leave(token: Any) -> None:
        try:
            current_parent.reset(token)
        except (ValueError, RuntimeError):  # closed from another context (e.g. by the GC): nothing to undo
            pass

    def _iterate(self, run: str) -> Iterator[Any]:  # pragma: no cover - overridden
        raise NotImplementedError


class Loop(_BaseLoop):
    """Record each iteration as a Task (index, item, start, end, status, ``end_iter`` values), streaming.

    ``items`` may be a sized iterable, an int (``range(n)``) or a plain iterator
    (``items_length`` is then recorded if given; the iterator is never materialised).
    ``telemetry=True`` adds a telemetry reading at the end of each iteration (costly: ~0.1 ms)."""

    form = "streaming"

    def __init__(self, items: Iterable[Any] | int, name: str = "loop", item_name: str = "item",
                 items_length: int | None = None, parent: str | None = None, *, telemetry: bool = False,
                 run_id: str | None = None, parent_task_id: str | None = None) -> None:
        super().__init__(items, name, item_name, items_length, parent, run_id=run_id,
                         parent_task_id=parent_task_id)
        self.telemetry = telemetry

    def _iterate(self, run: str) -> Iterator[Any]:
        rng = self.items if type(self.items) is range else None  # range items are recomputed, not kept
        meta = (self.id, run, self.name, self.item_name, rng)
        put = state.put
        sink = state.sink
        # The sink's cap counts items and each item here holds up to CHUNK iterations.
        limit = max(1, (sink.cap if sink is not None else 0) // CHUNK)
        t = time.time
        read: Callable[[], dict[str, Any]] | None = None
        if self.telemetry:
            from capture import telemetry

            read = telemetry.read
        it = iter(self.items)
        base = 0
        t0 = self._started
        token = self._enter()
        status = "FINISHED"
        ts: list[float] = []
        items: list[Any] = []
        vi: list[int] = []   # iteration (in chunk) of each end_iter values dict; two flat lists, because
        vv: list[Any] = []   # a tuple per iteration would be a GC-tracked object per iteration
        item: Any = None
        try:
            while True:
                ts, items, vi, vv = [], [], [], []
                tsa, ita = ts.append, items.append
                deadline = t0 + CHUNK_SECONDS
                # islice pulls lazily from ``it``: breaking out of it leaves no item behind.
                for item in islice(it, CHUNK):
                    yield item
                    t1 = t()
                    tsa(t1)
                    ita(item)
                    if read is not None:
                        vi.append(len(ts) - 1)
                        vv.append(self._with_reading(read))
                    elif self._v is not None:
                        vi.append(len(ts) - 1)
                        vv.append(self._v)
                        self._v = None
                    if t1 >= deadline:
                        break
                n = len(ts)
                if n:
                    put((_CHUNK_CODE, meta, base, t0, tuple(ts), None if rng is not None else tuple(items),
                         (tuple(vi), tuple(vv)), None))
                    base += n
                    t0 = ts[-1]
                    if sink is not None and (sink.due or len(sink.buf) >= limit):
                        _backpressure(sink, limit)
                if n < CHUNK and not (n and ts[-1] >= deadline):
                    break
        except GeneratorExit:
            # Left at the yield (break, return or an exception in the loop body): the
            # iteration in progress is recorded as EXITED.
            status = "EXITED"
            n = len(ts)
            put((_CHUNK_CODE, meta, base, t0, tuple(ts), None if rng is not None else tuple(items),
                 (tuple(vi), tuple(vv)), (item, t(), "EXITED", self._v)))
            self._v = None
            base += n + 1
            raise
        except BaseException:
            # The source iterator raised: the completed iterations are kept, the loop is an ERROR.
            status = "ERROR"
            n = len(ts)
            if n:
                put((_CHUNK_CODE, meta, base, t0, tuple(ts), None if rng is not None else tuple(items),
                     (tuple(vi), tuple(vv)), None))
            base += n
            raise
        finally:
            self._leave(token)
            self._finish(base, status)

    def _with_reading(self, read: Any) -> dict[str, Any]:
        v = dict(self._v or {})
        self._v = None
        v["telemetry"] = read()
        return v


class LightweightLoop(_BaseLoop):
    """The cheapest form: no per-iteration times; all iterations are sent in one batch when the loop ends.

    Memory grows with the number of iterations (items of non-range iterables are kept
    until the end), so prefer ``Loop`` for unbounded streams."""

    form = "lightweight"

    def _iterate(self, run: str) -> Iterator[Any]:
        if _CLoopIter is None or not settings.native:
            return self._py_iterate(run)
        # The C iterator (capture/_clight.c): same batch, same statuses; end_iter goes straight to it.
        rng = self.items if type(self.items) is range else None
        seq = self.items if type(self.items) in (tuple, str) else None
        items: list[Any] | None = [] if rng is None and seq is None else None
        vi: list[int] = []
        vv: list[Any] = []
        token = self._enter()

        def finish(count: int, status: str) -> None:
            self._leave(token)
            self._send(run, count, rng, seq, items or [], vi, vv)
            self._finish(count, status)

        pending = _CPending()
        self.end_iter = pending.end_iter  # type: ignore[method-assign]
        return _CLoopIter(iter(self.items), items, vi, vv, finish, pending)  # type: ignore[no-any-return]

    def _py_iterate(self, run: str) -> Iterator[Any]:
        rng = self.items if type(self.items) is range else None
        seq = self.items if type(self.items) in (tuple, str) else None  # immutable: index into it later
        items: list[Any] = []
        vi: list[int] = []
        vv: list[Any] = []
        token = self._enter()
        i = -1
        status = "FINISHED"
        try:
            if rng is not None or seq is not None:
                for i, item in enumerate(self.items):
                    yield item
                    if self._v is not None:
                        vi.append(i)
                        vv.append(self._v)
                        self._v = None
            else:
                ita = items.append
                for i, item in enumerate(self.items):
                    ita(item)  # before the yield: an iteration left by break is still complete in the batch
                    yield item
                    if self._v is not None:
                        vi.append(i)
                        vv.append(self._v)
                        self._v = None
        except BaseException:
            status = "EXITED"
            if self._v is not None:  # end_iter of the iteration that was left
                vi.append(i)
                vv.append(self._v)
                self._v = None
            raise
        finally:
            self._leave(token)
            self._send(run, i + 1, rng, seq, items, vi, vv)
            self._finish(i + 1, status)

    def _send(self, run: str, count: int, rng: Any, seq: Any, items: list[Any], vi: list[int],
              vv: list[Any]) -> None:
        meta = (self.id, run, self.name, self.item_name, rng)
        put = state.put
        src = seq if seq is not None else items
        for base in range(0, count, CHUNK):
            n = min(CHUNK, count - base)
            chunk_items = None if rng is not None else tuple(src[base:base + n])
            # vi is ascending: this chunk's values are one slice of it (no loop over them here)
            lo, hi = bisect_left(vi, base), bisect_left(vi, base + n)
            # ts carries only the count here: lightweight iterations have no times of their own.
            put((_CHUNK_CODE, meta, base, None, (None,) * n, chunk_items, (tuple(vi[lo:hi]), tuple(vv[lo:hi]), base),
                 None))
        sink = state.sink
        if sink is not None:
            limit = max(1, sink.cap // CHUNK)
            if sink.due or len(sink.buf) >= limit:
                _backpressure(sink, limit)
