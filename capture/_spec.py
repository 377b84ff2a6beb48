"""What a task records of its arguments and results: call-time snapshots and the per-function spec."""
from __future__ import annotations

import argparse
import inspect
import threading

import orjson
from collections.abc import Callable
from typing import Any

from capture._dataflow import produced
from capture._state import task_id
from capture.values import ATOMIC, snapshot, summarize
from kg.model import Kind

__all__ = ["TaskSpec", "SPECS", "snap_args", "snap_kwargs", "snap_result", "finals"]

_TASK = Kind.TASK.value


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

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
             limit: int | None = None) -> dict[str, Any]:
        """Argument values by parameter name, defaults included, Namespaces flattened."""
        params = self.params
        if len(args) <= len(params):
            used = dict(zip(params, args))
        else:
            used = dict(zip(params, args))
            extra = args[len(params):]
            used[self.var_pos or "args"] = _Snap(summarize([_final(a, limit) for a in extra], limit))
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


def _final(v: Any, limit: int | None = None) -> Any:
    """The JSON value recorded for ``v``: its call-time summary, or a summary made now.
    A dict is an atom that was an earlier task's output (capture._dataflow.link)."""
    t = type(v)
    if t is _Snap:
        return v.v
    if t is dict:
        return {"$from": v["$from"], "summary": summarize(v["summary"], limit)}
    return summarize(v, limit)


def _finals(values: dict[str, Any], limit: int | None = None) -> dict[str, Any]:
    if _SCALARS.issuperset(map(type, values.values())):
        return values
    return {k: v if type(v) in _SCALARS else _final(v, limit) for k, v in values.items()}


def spec_dump(spec: TaskSpec) -> str:
    """A spec as the store keeps it beside its tasks' segments (defaults summarised, as recorded)."""
    return orjson.dumps({
        "name": spec.name, "params": spec.params, "defaults": _finals(spec.defaults), "var_pos": spec.var_pos,
        "var_kw": spec.var_kw, "output_names": spec.output_names, "tags": spec.tags, "metadata": spec.metadata,
        "kind": spec.kind, "handler": spec.args_handler is not None, "telemetry": spec.telemetry,
    }, default=repr).decode()


def spec_load(text: str) -> TaskSpec:
    """A stored spec, for decoding its tasks (not registered: it is another process's)."""
    d = orjson.loads(text)
    spec = TaskSpec(None, d["name"], output_names=d["output_names"], tags=d["tags"], metadata=d["metadata"],
                    kind=d["kind"], telemetry=d["telemetry"], register=False)
    spec.params = d["params"]
    # Stored defaults are final values already: wrapped so that binding does not summarise them again.
    spec.defaults = {k: v if type(v) in _SCALARS or type(v) is str else _Snap(v) for k, v in d["defaults"].items()}
    spec.var_pos, spec.var_kw = d["var_pos"], d["var_kw"]
    spec.args_handler = _stored_handler if d["handler"] else None
    return spec


def _stored_handler(*args: Any, **kwargs: Any) -> dict[str, Any]:  # pragma: no cover - never called
    raise RuntimeError("a stored spec's args_handler is not callable; its records hold the handler's result")


_SCALARS = frozenset({int, bool, type(None)})


def _out(obj: Any, n: int, name: str) -> Any:
    if type(obj) in ATOMIC:
        if obj is not None:
            produced(obj, n, name)  # an item of a tuple or dict: matched by identity only
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


snap_args, snap_kwargs, snap_result, finals = _snap_args, _snap_kwargs, _snap_result, _finals
