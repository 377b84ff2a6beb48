"""Decorated tasks: ``@capture.task`` and its lightweight form (the caller's hot path and its expander)."""
from __future__ import annotations

import functools
import inspect
import itertools
import time
import traceback
from collections import deque
from collections.abc import Callable
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from capture._dataflow import LINKED as _LINKED, link as _link, may_link as _may_link
from capture._dataflow import produced as _produced, remember as _remember
from capture._run import current_run
from capture._state import check_pressure, current_parent, ensure_sink, state, task_id
from capture._spec import SPECS, TaskSpec, _finals, _snap_args, _snap_kwargs, _snap_result, spec_dump, spec_load
from capture.values import ATOMIC
from kg.config import settings
from kg.segments import LIVE, Ctx, NumberedCodec, register_codec, register_table
from kg.sink import register_expander
from kg.model import Edge, Node, ProvClass, Relation
from kg.model.records import stored_order

__all__ = ["task", "lightweight_task", "TaskSpec", "expand_task", "TASK_CODE", "put_task"]

try:  # the lightweight wrapper in C (capture/_clight.c), where it was built at install time
    from capture._clight import FullTask as _CFullTask, LightTask as _CLightTask
except ImportError:
    _CLightTask = _CFullTask = None

F = TypeVar("F", bound=Callable[..., Any])

_time = time.time
_atomic_superset = ATOMIC.issuperset
_cv_get = current_parent.get
_cv_set = current_parent.set
_cv_reset = current_parent.reset
_ACT = ProvClass.ACTIVITY.value
_USED = Relation.USED.value
_PRESSURE_MASK = 1023  # check the buffer cap every 1024 tasks: cheap, and bounds overshoot


def decode_task(item: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge]) -> None:
    """A packed task -> one compact Activity (see kg.model.prov.explode) in ``ctx``'s process."""
    # Layout: (code, spec, n, parent, run, t0, t1, kwargs, result, exc, extra, *args). The
    # arguments are spread into the record so that it holds only atoms (see kg.sink).
    _, spec_idx, n, parent_n, run, t0, t1, kwargs, result, exc, extra = item[:11]
    args = item[11:]
    limit = ctx.limit
    spec = ctx.specs[spec_idx] if type(spec_idx) is int else spec_idx
    prefix = ctx.prefix
    tid = f"t-{prefix}.{n:x}" if type(n) is int else n
    parent = (f"t-{prefix}.{parent_n:x}" if type(parent_n) is int else parent_n) if parent_n else run
    # Props in the order the embedded store gives nodes back (kg.model.records.stored_order).
    props: dict[str, Any] = {"duration": t1 - t0}
    used = kwargs if spec.args_handler is not None or type(spec_idx) is not int else spec.bind(args, kwargs, limit)
    if used:
        props["used"] = final = _finals(used, limit)
        for name, v in final.items():
            if type(v) is dict and "$from" in v:
                # Dataflow from another task: also a stored edge, so downstream lineage finds it.
                edges.append(Edge(_USED, tid, v["$from"], {"role": name, "run": run, "time": t0}))
    if exc is None:
        generated = spec.outputs(result)
        if generated:
            props["generated"] = _finals(generated, limit)
    else:
        props["error_type"] = type(exc).__qualname__
        props["error"] = str(exc)[:2000]
        props["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]
    if spec.tags:
        props["tags"] = spec.tags
    if spec.metadata:
        props["metadata"] = spec.metadata
    props["run"] = run
    props["name"] = spec.name
    props["status"] = "ERROR" if exc is not None else "FINISHED"
    props["parent"] = parent
    props["started"] = t0
    props["ended"] = t1
    if extra:
        props = stored_order({**props, **extra})
    nodes.append(Node(tid, _ACT, spec.kind, props))


def expand_task(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    """Flush-thread half of a task (this process's context)."""
    decode_task(item, LIVE, nodes, edges)


_TASK_CODE = register_expander(expand_task)


class _TaskCodec(NumberedCodec):
    """Full tasks in segments: numbered ``t-<prefix>.<n>``, the parent a task number or an id.

    Records whose values were summarised at the call, that raised, or whose spec is not
    registered (hand-made tasks) do not marshal: the expander stores them as nodes. So do
    telemetry tasks, whose readings are merged into the task's node by id."""

    name = "task"
    tag = "t"
    n_pos, parent_pos, run_pos = 2, 3, 4
    code = _TASK_CODE

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        decode_task(rec, ctx, nodes, edges)

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        return {SPECS[i].kind for i in set(map(_spec_of, recs))}

    def stored_edges(self, recs: list[tuple[Any, ...]]) -> list[Edge]:
        # An atom that was an earlier task's output ({"$from": ...} in the record): its USED edge.
        if not _LINKED[0]:
            return []
        out: list[Edge] = []
        for rec in recs:
            kw = rec[7]
            if dict in map(type, rec[11:]) or (type(kw) is dict and dict in map(type, kw.values())):
                nodes: list[Node] = []
                decode_task(rec, LIVE, nodes, out)
        return out

    def filters(self) -> bool:
        return bool(_TELEMETRY)

    def expanded(self, rec: tuple[Any, ...]) -> bool:
        return type(rec[1]) is int and SPECS[rec[1]].telemetry


_spec_of = itemgetter(1)
_TELEMETRY: list[TaskSpec] = []  # specs with telemetry=True (their records are not sealed)
register_codec(_TaskCodec())
register_table("specs", SPECS, spec_dump, spec_load)


def _put(item: tuple[Any, ...], n: int) -> None:
    p = state.put
    if p is None:
        p = ensure_sink().put
    p(item)
    if not n & _PRESSURE_MASK:
        check_pressure()


def _wrap_full(fn: Callable[..., Any], spec: TaskSpec) -> Callable[..., Any]:
    st = state
    cfg = settings
    handler = spec.args_handler
    out_name = spec.output_names[0] if spec.output_names else "result"

    def capture_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        if handler is not None:  # the handler's dict is the record; summarise it once, now
            return (), _snap_kwargs(handler(*args, **kwargs))
        if not _atomic_superset(map(type, args)):
            args = _snap_args(args)
        if kwargs and not _atomic_superset(map(type, kwargs.values())):
            kwargs = _snap_kwargs(kwargs)
        return args, kwargs

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            if not cfg.enabled:
                return await fn(*args, **kwargs)
            try:
                run_obj = st.run or current_run()
                run, part = run_obj.id, run_obj.part
                cargs, ckw = capture_inputs(args, kwargs)
            except Exception:  # capture must never break the call
                return await fn(*args, **kwargs)
            if _may_link(cargs, ckw):
                cargs, ckw = _link(cargs, ckw)
            n = next(st.counter)
            parent = _cv_get() or part
            token = _cv_set(n)
            t0 = _time()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _cv_reset(token)
                _put((_TASK_CODE, spec.idx, n, parent, run, t0, _time(), ckw, None, exc, None, *cargs), n)
                raise
            t1 = _time()
            _cv_reset(token)
            # As in the sync wrapper below (inlined in both: a helper call is ~5 % of a task's cost).
            if type(result) in ATOMIC:
                cres = result
                if not _remember(result, n, out_name):
                    _produced(result, n, out_name, 2)
            else:
                cres = _snap_result(result, spec, n)
            _put((_TASK_CODE, spec.idx, n, parent, run, t0, t1, ckw, cres, None, None, *cargs), n)
            return result
        return awrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not cfg.enabled:
            return fn(*args, **kwargs)
        run = st.run
        if run is None:
            try:
                run = current_run()
            except Exception:
                return fn(*args, **kwargs)
        if handler is None and _atomic_superset(map(type, args)) and (
                not kwargs or _atomic_superset(map(type, kwargs.values()))):
            cargs, ckw = args, kwargs or None
            if _may_link(cargs, ckw):  # an atom may be an earlier task's output
                cargs, ckw = _link(cargs, ckw)
        else:
            try:
                cargs, ckw = capture_inputs(args, kwargs)
                if _may_link(cargs, ckw):
                    cargs, ckw = _link(cargs, ckw)
            except Exception:
                return fn(*args, **kwargs)
        n = next(st.counter)
        parent = _cv_get() or run.part
        token = _cv_set(n)
        t0 = _time()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _cv_reset(token)
            _put((_TASK_CODE, spec.idx, n, parent, run.id, t0, _time(), ckw, None, exc, None, *cargs), n)
            raise
        t1 = _time()
        _cv_reset(token)
        if type(result) in ATOMIC:
            cres = result
            if not _remember(result, n, out_name):
                _produced(result, n, out_name, 2)
        else:
            cres = _snap_result(result, spec, n)
        p = st.put
        if p is None:
            _put((_TASK_CODE, spec.idx, n, parent, run.id, t0, t1, ckw, cres, None, None, *cargs), n)
        else:
            p((_TASK_CODE, spec.idx, n, parent, run.id, t0, t1, ckw, cres, None, None, *cargs))
            if not n & _PRESSURE_MASK:
                check_pressure()
        return result

    if _CFullTask is not None and cfg.native and handler is None and not spec.telemetry:
        # The C form takes the common call (all arguments atoms, a run and a sink in place) and
        # hands every other one to ``wrapper`` above, which stays the reference (capture/_clight.c).
        return functools.update_wrapper(_CFullTask(
            fn, st, cfg, _TASK_CODE, spec.idx, out_name, current_parent, wrapper, check_pressure,
            _may_link, _link, _remember, _produced, lambda result, n: _snap_result(result, spec, n)), fn)
    return wrapper


def decode_light(item: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge], n: int) -> None:
    """A lightweight task -> one compact Activity numbered ``n`` in ``ctx``'s process."""
    _, spec_idx, kwargs, result, run = item[:5]
    args = item[5:]
    spec = ctx.specs[spec_idx]
    limit = ctx.limit
    props: dict[str, Any] = {"lightweight": True}
    used = spec.bind(args, kwargs, limit)
    if used:
        props["used"] = _finals(used, limit)
    generated = spec.outputs(result)
    if generated:
        props["generated"] = _finals(generated, limit)
    props["run"] = run
    props["name"] = spec.name
    props["status"] = "FINISHED"
    props["parent"] = run
    nodes.append(Node(f"t-{ctx.prefix}.{n:x}", _ACT, spec.kind, props))


def _expand_light(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    decode_light(item, LIVE, nodes, edges, next(state.counter))


# Two codes for one record layout: values all atoms (the embedded store keeps the record as it
# is) or not (the expander summarises them: marshal would write a buffer such as an array as bytes).
_LIGHT_CODE = register_expander(_expand_light)
_LIGHT_PLAIN = register_expander(_expand_light)


class _LightCodec(_TaskCodec):
    """Lightweight tasks whose values are atoms: no number on the hot path, so each segment
    reserves its records' numbers."""

    name = "light"
    numbered = True
    run_pos = 4
    code = _LIGHT_PLAIN
    segment = 1024  # found by position (n - base): a lookup needs no scan, so segments can be larger

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        decode_light(rec, ctx, nodes, edges, n if n is not None else next(state.counter))

    def filters(self) -> bool:
        return False  # lightweight tasks have no telemetry

    def stored_edges(self, recs: list[tuple[Any, ...]]) -> list[Edge]:
        return []  # lightweight tasks do not link values

    def number(self, count: int) -> int:
        counter = state.counter
        first = next(counter)
        deque(islice(counter, count - 1), maxlen=0)  # the rest of the block, in C
        return first


register_codec(_LightCodec())


def _light_code(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    plain = type(result) in ATOMIC and _atomic_superset(map(type, args)) and (
        not kwargs or _atomic_superset(map(type, kwargs.values())))
    return _LIGHT_PLAIN if plain else _LIGHT_CODE


def _wrap_light(fn: Callable[..., Any], spec: TaskSpec) -> Callable[..., Any]:
    # The cheapest capture: one tuple appended per call. No times, no nesting; values are
    # kept by reference and summarised on the flush thread (mutating an argument after the
    # call can change what is recorded: use the full form when that matters).
    st = state
    cfg = settings

    def first(result: Any, args: tuple[Any, ...], kwargs: Any) -> None:
        # The slow path of both forms: no sink yet (this makes it) or no run yet.
        try:
            _put((_light_code(result, args, kwargs), spec.idx, kwargs or None, result, current_run().id, *args), 1)
        except Exception:
            pass

    if _CLightTask is not None and cfg.native:
        return functools.update_wrapper(_CLightTask(fn, st, cfg, _LIGHT_CODE, _LIGHT_PLAIN, spec.idx, first,
                                                            check_pressure), fn)

    calls = itertools.count(1)

    @functools.wraps(fn)
    def light(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        p = st.put
        if p is not None and cfg.enabled:
            p((_light_code(result, args, kwargs), spec.idx, kwargs or None, result, st.run.id if st.run else "",
               *args))
            if not next(calls) & _PRESSURE_MASK:
                check_pressure()
        elif cfg.enabled:
            first(result, args, kwargs)
        return result
    return light


def task(func: F | None = None, *, name: str | None = None, output_names: Any = None, tags: Any = None,
         metadata: dict[str, Any] | None = None, custom_metadata: dict[str, Any] | None = None,
         args_handler: Callable[..., dict[str, Any]] | None = None, lightweight: bool = False,
         telemetry: bool = False) -> Any:
    """Record each call of the decorated function as a Task of the current run.

    ``used`` is the bound arguments (by parameter name, defaults included),
    ``generated`` the return value named by ``output_names``. Exceptions are recorded
    (status ERROR) and re-raised unchanged. Works on sync and async functions."""

    def wrap(fn: F) -> F:
        spec = TaskSpec(fn, name or fn.__qualname__, output_names=output_names, tags=tags,
                        metadata=metadata or custom_metadata, args_handler=args_handler, telemetry=telemetry)
        if telemetry:  # readings at start and end, merged into the task's node (capture.telemetry)
            _TELEMETRY.append(spec)
            from capture.telemetry import with_telemetry

            return _wrap_full(with_telemetry(fn, spec), spec)  # type: ignore[return-value]
        if lightweight and not inspect.iscoroutinefunction(fn):
            return _wrap_light(fn, spec)  # type: ignore[return-value]
        return _wrap_full(fn, spec)  # type: ignore[return-value]

    return wrap(func) if func is not None else wrap


def lightweight_task(func: F | None = None, **options: Any) -> Any:
    """``@task(lightweight=True)``: records activity, inputs and outputs only, at the lowest cost."""
    return task(func, lightweight=True, **options)


TASK_CODE, put_task = _TASK_CODE, _put
