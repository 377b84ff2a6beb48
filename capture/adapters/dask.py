"""Dask: a scheduler plugin that records every Dask task (function, inputs, output, worker, timing).

    client = Client(...)
    with capture.Run(name="etl"):
        capture.adapters.dask.instrument(client)
        result = graph.compute()

Each finished (or failed) task becomes a Task node ``dask:<run>:<key>`` whose ``used``
values are its upstream tasks' outputs (key, type, bytes) and whose ``generated`` is its
own output (type, bytes); USED edges point at the upstream outputs, so ``kg lineage``
follows a Dask graph. The worker is an Agent (kind Worker) associated with the task.

The plugin runs where the scheduler runs. With a LocalCluster that is this process, so
records join the current run directly; a remote scheduler records through its own
sink (set ``KG_STORE`` there, e.g. ``redis://...``), joined to the run by its id.
"""
from __future__ import annotations

from typing import Any

from capture._run import current_run
from capture._state import current_parent, put, task_id
from capture.adapters import require
from capture.values import summarize
from kg.model import Edge, Kind, Node, ProvClass, Relation

__all__ = ["instrument", "ProvSchedulerPlugin", "dask_task_id"]

_ACT = ProvClass.ACTIVITY.value
_AGENT = ProvClass.AGENT.value
_TASK = Kind.TASK.value
_WORKER = Kind.WORKER.value
_USED = Relation.USED.value
_ASSOC = Relation.WAS_ASSOCIATED_WITH.value


def dask_task_id(run: str, key: Any) -> str:
    """The graph id of Dask task ``key`` in run ``run`` (deterministic: recomputing merges)."""
    return f"dask:{run}:{_key_str(key)}"


def _key_str(key: Any) -> str:
    if isinstance(key, tuple):
        return "(" + ",".join(_key_str(k) for k in key) + ")"
    return str(key)


def _func_name(ts: Any) -> str | None:
    spec = getattr(ts, "run_spec", None)
    fn = getattr(spec, "func", None)
    if fn is None and isinstance(spec, tuple) and spec and callable(spec[0]):
        fn = spec[0]
    if fn is None:
        return None
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def _literal_args(ts: Any) -> dict[str, Any]:
    # Arguments given in the graph itself (not produced by other tasks): summarised.
    spec = getattr(ts, "run_spec", None)
    args = getattr(spec, "args", None)
    out: dict[str, Any] = {}
    if not isinstance(args, tuple):
        return out
    for i, a in enumerate(args):
        inner = getattr(a, "value", a)  # DataNode wraps literals
        if type(a).__name__ in ("Alias", "TaskRef", "Task") or type(inner).__name__ in ("Alias", "TaskRef", "Task"):
            continue
        out[f"arg{i}"] = summarize(inner)
    return out


try:
    from distributed.diagnostics.plugin import SchedulerPlugin as _Base
except ImportError:  # the dask extra is not installed: instrument() says which extra to install
    _Base = object  # type: ignore[assignment,misc]


class ProvSchedulerPlugin(_Base):  # type: ignore[misc,valid-type]
    """Records processing -> memory|erred transitions as Task nodes of run ``run_id``."""

    name = "provkg"

    def __init__(self, run_id: str, parent: str | None = None) -> None:
        self.run_id = run_id
        self.parent = parent or run_id
        self.scheduler: Any = None
        self.recorded = 0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start != "processing" or finish not in ("memory", "erred"):
            return
        try:
            self._record(key, finish, kwargs)
        except Exception:  # never disturb the scheduler
            pass

    def _record(self, key: Any, finish: str, kw: dict[str, Any]) -> None:
        run = self.run_id
        tid = dask_task_id(run, key)
        ts = self.scheduler.tasks.get(key) if self.scheduler is not None else None
        props: dict[str, Any] = {"run": run, "parent": self.parent, "dask_key": _key_str(key),
                                 "status": "FINISHED" if finish == "memory" else "ERROR"}
        name = None
        if ts is not None:
            name = _func_name(ts)
            props["prefix"] = ts.prefix.name if getattr(ts, "prefix", None) is not None else None
        props["name"] = name or (props.get("prefix") or _key_str(key))
        stops = [s for s in (kw.get("startstops") or []) if s.get("action") == "compute"]
        if stops:
            props["started"], props["ended"] = stops[0]["start"], stops[-1]["stop"]
            props["duration"] = props["ended"] - props["started"]
        worker = kw.get("worker")
        if worker is None and ts is not None and getattr(ts, "processing_on", None) is not None:
            worker = ts.processing_on.address
        if worker:
            props["worker"] = str(worker)
        used: dict[str, Any] = {}
        edges: list[Edge] = []
        if ts is not None:
            used.update(_literal_args(ts))
            for dep in ts.dependencies:
                dname = _key_str(dep.key)
                used[dname] = {"dask_key": dname, "type": getattr(dep, "type", None),
                               "nbytes": getattr(dep, "nbytes", None)}
                edges.append(Edge(_USED, tid, f"{dask_task_id(run, dep.key)}/out/result",
                                  {"role": dname, "run": run, "time": props.get("started")}))
        if used:
            props["used"] = used
        if finish == "memory":
            props["generated"] = {"result": {"type": kw.get("typename"), "nbytes": kw.get("nbytes")}}
        else:
            props["error"] = str(kw.get("exception_text") or kw.get("exception") or "")[:2000]
        put(Node(tid, _ACT, _TASK, {k: v for k, v in props.items() if v is not None}))
        if worker:
            wid = f"dask-worker:{worker}"
            put(Node(wid, _AGENT, _WORKER, {"name": str(worker), "run": run}))
            edges.append(Edge(_ASSOC, tid, wid, {"role": "worker", "run": run}))
        for e in edges:
            put(e)
        self.recorded += 1


def instrument(client: Any, *, run_id: str | None = None) -> Any:
    """Register the provenance plugin on ``client``'s scheduler; returns the plugin."""
    require("distributed", "dask")
    run = run_id or current_run().id
    n = current_parent.get()
    plugin = ProvSchedulerPlugin(run, task_id(n) if n else run)
    client.register_plugin(plugin)
    return plugin
