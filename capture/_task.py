"""Tasks: ``@capture.task``, its lightweight form, and hand-made ``capture.Task``."""
from __future__ import annotations

import argparse
import functools
import inspect
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from capture._run import current_run
from capture._state import current_parent, ensure_sink, state, task_id
from capture.values import ATOMIC, snapshot, summarize
from kg.config import settings
from kg.sink import register_expander
from kg.model import Edge, Kind, Node, ProvClass, Relation

__all__ = ["task", "lightweight_task", "Task", "TaskSpec"]

F = TypeVar("F", bound=Callable[..., Any])

_time = time.time
_atomic_superset = ATOMIC.issuperset
_cv_get = current_parent.get
_cv_set = current_parent.set
_cv_reset = current_parent.reset
_ACT = ProvClass.ACTIVITY.value
_USED = Relation.USED.value
_TASK = Kind.TASK.value
_PRESSURE_MASK = 1023  # check the buffer cap every 1024 tasks: cheap, and bounds overshoot


class _Snap:
    """A value summarised at call time (the original may change later)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


class _Flat:
    """An argparse.Namespace captured at call time: its attributes become inputs of their own."""

    __slots__ = ("v",)

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v


# Dataflow between tasks: the object a task returned, passed on to another task, is the
# same PROV entity. Outputs are remembered by id() with their summary (a bounded map);
# an input with the same id() and the same summary is that output, not a new Value.
_PRODUCED: dict[int, tuple[str, Any]] = {}
_PRODUCED_CAP = 10_000


def _remember(obj: Any, summary: Any, n: int, name: str) -> None:
    if len(_PRODUCED) >= _PRODUCED_CAP:
        try:
            del _PRODUCED[next(iter(_PRODUCED))]
        except (StopIteration, KeyError, RuntimeError):
            pass
    _PRODUCED[id(obj)] = (f"{task_id(n)}/out/{name}", summary)


def _snap(v: Any) -> Any:
    if isinstance(v, argparse.Namespace):
        return _Flat(snapshot(vars(v)))
    summary = summarize(v)
    made = _PRODUCED.get(id(v))
    if made is not None and made[1] == summary:
        return _Snap({"$from": made[0], "summary": summary})
    return _Snap(summary)


def _snap_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a if type(a) in ATOMIC else _snap(a) for a in args)


def _snap_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v if type(v) in ATOMIC else _snap(v) for k, v in kwargs.items()}


SPECS: list[TaskSpec] = []
_specs_lock = threading.Lock()


class TaskSpec:
    """What is fixed per decorated function: names, parameters, options. Built once."""

    __slots__ = ("idx", "name", "params", "defaults", "var_pos", "var_kw", "output_names", "tags", "metadata",
                 "args_handler", "kind", "telemetry")

    def __init__(self, fn: Callable[..., Any] | None, name: str, *, output_names: Any = None,
                 tags: Any = None, metadata: dict[str, Any] | None = None,
                 args_handler: Callable[..., dict[str, Any]] | None = None, kind: str = _TASK,
                 telemetry: bool = False, register: bool = True) -> None:
        self.name = name
        self.params: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.var_pos: str | None = None
        self.var_kw: str | None = None
        if fn is not None:
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                sig = None
            for p in (sig.parameters.values() if sig else ()):
                if p.kind is p.VAR_POSITIONAL:
                    self.var_pos = p.name
                elif p.kind is p.VAR_KEYWORD:
                    self.var_kw = p.name
                else:
                    if p.kind is not p.KEYWORD_ONLY:  # only these can be given by position
                        self.params.append(p.name)
                    if p.default is not p.empty:
                        self.defaults[p.name] = p.default
        if isinstance(output_names, str):
            output_names = [output_names]
        self.output_names = list(output_names) if output_names else None
        self.tags = [tags] if isinstance(tags, str) else (list(tags) if tags else None)
        self.metadata = dict(metadata) if metadata else None
        self.args_handler = args_handler
        self.kind = kind
        self.telemetry = telemetry
        # Records refer to their spec by index, so they hold only atoms (see kg.sink).
        self.idx = -1
        if register:
            with _specs_lock:
                self.idx = len(SPECS)
                SPECS.append(self)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> dict[str, Any]:
        """Argument values by parameter name, defaults included, Namespaces flattened."""
        params = self.params
        if len(args) <= len(params):
            used = dict(zip(params, args))
        else:
            used = dict(zip(params, args))
            extra = args[len(params):]
            used[self.var_pos or "args"] = _Snap(summarize([_final(a) for a in extra]))
        if kwargs:
            used.update(kwargs)
        if self.defaults and len(used) < len(params) + len(self.defaults):
            for k, v in self.defaults.items():
                if k not in used:
                    used[k] = v
        if _Flat not in map(type, used.values()):
            return used
        out: dict[str, Any] = {}
        for k, v in used.items():
            if type(v) is _Flat:
                out.update({nk: _Snap(nv) for nk, nv in v.v.items()})
            else:
                out[k] = v
        return out

    def outputs(self, result: Any) -> dict[str, Any]:
        """The return value by output name: tuples element-wise, dicts passed through."""
        names = self.output_names
        if type(result) is _Snap:  # summarised whole at call time
            return {names[0] if names else "result": result}
        if names:
            if len(names) > 1 and isinstance(result, (tuple, list)) and len(result) == len(names):
                return dict(zip(names, result))
            return {names[0]: result}
        if type(result) is dict:
            return {str(k): v for k, v in result.items()}
        if result is None:
            return {}
        return {"result": result}


def _unsnap(v: Any) -> Any:
    return v.v if type(v) is _Snap else v


def _final(v: Any) -> Any:
    """The JSON value recorded for ``v``: its call-time summary, or a summary made now."""
    return v.v if type(v) is _Snap else summarize(v)


def _finals(values: dict[str, Any]) -> dict[str, Any]:
    if _SCALARS.issuperset(map(type, values.values())):
        return values
    return {k: v if type(v) in _SCALARS else _final(v) for k, v in values.items()}


_SCALARS = frozenset({int, bool, type(None)})


def expand_task(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    """Flush-thread half of a task: one compact Activity (see kg.model.prov.explode)."""
    # Layout: (code, spec, n, parent, run, t0, t1, kwargs, result, exc, extra, *args). The
    # arguments are spread into the record so that it holds only atoms (see kg.sink).
    _, spec_idx, n, parent_n, run, t0, t1, kwargs, result, exc, extra = item[:11]
    args = item[11:]
    spec = SPECS[spec_idx] if type(spec_idx) is int else spec_idx
    tid = task_id(n) if type(n) is int else n
    parent = (task_id(parent_n) if type(parent_n) is int else parent_n) if parent_n else run
    props: dict[str, Any] = {"run": run, "name": spec.name, "parent": parent, "started": t0, "ended": t1,
                             "duration": t1 - t0, "status": "ERROR" if exc is not None else "FINISHED"}
    used = kwargs if spec.args_handler is not None or type(spec_idx) is not int else spec.bind(args, kwargs)
    if used:
        props["used"] = final = _finals(used)
        for name, v in final.items():
            if type(v) is dict and "$from" in v:
                # Dataflow from another task: also a stored edge, so downstream lineage finds it.
                edges.append(Edge(_USED, tid, v["$from"], {"role": name, "run": run, "time": t0}))
    if exc is None:
        generated = spec.outputs(result)
        if generated:
            props["generated"] = _finals(generated)
    else:
        props["error_type"] = type(exc).__qualname__
        props["error"] = str(exc)[:2000]
        props["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]
    if spec.tags:
        props["tags"] = spec.tags
    if spec.metadata:
        props["metadata"] = spec.metadata
    if extra:
        props.update(extra)
    nodes.append(Node(tid, _ACT, spec.kind, props))


_TASK_CODE = register_expander(expand_task)


def _put(item: tuple[Any, ...], n: int) -> None:
    p = state.put
    if p is None:
        p = ensure_sink().put
    p(item)
    if not n & _PRESSURE_MASK:
        sink = state.sink
        if sink is not None and len(sink.buf) >= sink.cap:
            sink.pressure()


def _wrap_full(fn: Callable[..., Any], spec: TaskSpec) -> Callable[..., Any]:
    st = state
    cfg = settings
    handler = spec.args_handler

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
            cres = result if type(result) in ATOMIC else _snap_result(result, spec, n)
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
        else:
            try:
                cargs, ckw = capture_inputs(args, kwargs)
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
        cres = result if type(result) in ATOMIC else _snap_result(result, spec, n)
        p = st.put
        if p is None:
            _put((_TASK_CODE, spec.idx, n, parent, run.id, t0, t1, ckw, cres, None, None, *cargs), n)
        else:
            p((_TASK_CODE, spec.idx, n, parent, run.id, t0, t1, ckw, cres, None, None, *cargs))
            if not n & _PRESSURE_MASK:
                _check_pressure()
        return result
    return wrapper


def _out(obj: Any, n: int, name: str) -> Any:
    if type(obj) in ATOMIC:
        return obj
    summary = summarize(obj)
    _remember(obj, summary, n, name)
    return _Snap(summary)


def _snap_result(result: Any, spec: TaskSpec, n: int) -> Any:
    # Tuples and dicts that are split into named outputs later: summarise their items, not the whole.
    names = spec.output_names
    if type(result) in (tuple, list) and names and len(names) > 1 and len(result) == len(names):
        return tuple(_out(r, n, name) for r, name in zip(result, names))
    if type(result) is dict and not names:
        return {k: _out(v, n, str(k)) for k, v in result.items()}
    return _out(result, n, names[0] if names else "result")


def _check_pressure() -> None:
    sink = state.sink
    if sink is not None and len(sink.buf) >= sink.cap:
        sink.pressure()


def _expand_light(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    _, spec_idx, kwargs, result, run = item[:5]
    args = item[5:]
    spec = SPECS[spec_idx]
    props: dict[str, Any] = {"run": run, "name": spec.name, "parent": run, "status": "FINISHED",
                             "lightweight": True}
    used = spec.bind(args, kwargs)
    if used:
        props["used"] = _finals(used)
    generated = spec.outputs(result)
    if generated:
        props["generated"] = _finals(generated)
    nodes.append(Node(task_id(next(state.counter)), _ACT, spec.kind, props))


_LIGHT_CODE = register_expander(_expand_light)


def _wrap_light(fn: Callable[..., Any], spec: TaskSpec) -> Callable[..., Any]:
    # The cheapest capture: one tuple appended per call. No times, no nesting; values are
    # kept by reference and summarised on the flush thread (mutating an argument after the
    # call can change what is recorded: use the full form when that matters).
    st = state
    cfg = settings

    @functools.wraps(fn)
    def light(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        p = st.put
        if p is not None and cfg.enabled:
            p((_LIGHT_CODE, spec.idx, kwargs or None, result, st.run.id if st.run else "", *args))
        elif cfg.enabled:
            try:
                _put((_LIGHT_CODE, spec.idx, kwargs or None, result, current_run().id, *args), 1)
            except Exception:
                pass
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
            from capture.telemetry import with_telemetry

            return _wrap_full(with_telemetry(fn, spec), spec)  # type: ignore[return-value]
        if lightweight and not inspect.iscoroutinefunction(fn):
            return _wrap_light(fn, spec)  # type: ignore[return-value]
        return _wrap_full(fn, spec)  # type: ignore[return-value]

    return wrap(func) if func is not None else wrap


def lightweight_task(func: F | None = None, **options: Any) -> Any:
    """``@task(lightweight=True)``: records activity, inputs and outputs only, at the lowest cost."""
    return task(func, lightweight=True, **options)


class Task:
    """A hand-made task: ``with Task("download", used={...}) as t: ... t.end(generated={...})``.

    ``Task(...).send()`` records it at once (ended = started); passing ``generated`` or
    ``status`` to the constructor ends it immediately."""

    def __init__(self, activity: str, used: dict[str, Any] | None = None, *, run_id: str | None = None,
                 parent: str | None = None, tags: Any = None, metadata: dict[str, Any] | None = None,
                 agent_id: str | None = None, generated: dict[str, Any] | None = None,
                 status: str | None = None, **extra: Any) -> None:
        self.activity = activity
        self.n = next(state.counter)
        self.id = task_id(self.n)
        self.run_id = run_id
        self.parent = parent
        self.parent_n = _cv_get()
        self.used = _snap_kwargs(used or {})
        self.spec = TaskSpec(None, activity, tags=tags, metadata=metadata, register=False)
        self.extra = {k: v for k, v in extra.items() if v is not None}
        if agent_id is not None:
            self.extra["agent_id"] = str(agent_id)
        self.started = _time()
        self.ended: float | None = None
        self._token: Any = None
        self._done = False
        if generated is not None or status is not None:
            self.end(generated=generated, status=status or "FINISHED")

    def __enter__(self) -> Task:
        self._token = _cv_set(self.n)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            _cv_reset(self._token)
            self._token = None
        if not self._done:
            if exc is not None:
                self._record(None, exc, "ERROR")
            else:
                self.end()

    def end(self, generated: dict[str, Any] | None = None, status: str = "FINISHED", **extra: Any) -> None:
        """Finish the task with its outputs and record it."""
        self.extra.update({k: (v if type(v) in ATOMIC else summarize(v)) for k, v in extra.items()})
        self.ended = _time()
        self._record(_snap_kwargs(generated or {}), None, status)

    def send(self) -> None:
        """Record the task now, without outputs (its end time is its start time)."""
        if not self._done:
            self.ended = self.started
            self._record({}, None, "SENT")

    def _record(self, generated: dict[str, Any] | None, exc: BaseException | None, status: str) -> None:
        if self._done or not settings.enabled:
            return
        self._done = True
        try:
            if self.run_id:
                run, part = self.run_id, self.run_id
            else:
                run_obj = current_run()
                run, part = run_obj.id, run_obj.part
            parent = self.parent or self.parent_n or part
            extra = dict(self.extra)
            extra["status"] = status if exc is None else "ERROR"
            _put((_TASK_CODE, self.spec, self.n, parent, run, self.started, self.ended or _time(),
                  self.used, generated if generated is not None else {}, exc, extra), self.n)
        except Exception:
            if settings.strict:
                raise
