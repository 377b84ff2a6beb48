"""Provenance of workflow-engine runs: attach a recorder to an engine, get PROV for every step.

    from capture.engine import record_engine
    record_engine(eng)          # before eng.process(...)

Records (all against the current capture Run, or ``run_id``):

* the engine run as an Activity of kind ``WorkflowRun`` (informed by the Run; a
  resumed or restarted run is also informed by the run it continues), ended by the
  engine's signals: finished, halted (message, action, task, token) or error;
* each task run on a token as a compact Activity of kind ``Callback``: ``used`` is the
  token version it read, ``parent`` the WorkflowRun, status FINISHED / HALTED / ERROR;
* each token version as an Entity of kind ``Token`` with a summary of the token's data,
  WAS_GENERATED_BY the task that changed it and WAS_DERIVED_FROM the version before.
  A new version is made only when the data changed: a cheap structural fingerprint of
  the token is compared after each task and the data summarised only when it differs.

The caller's thread builds one tuple of atoms per task (see ``kg.sink``); nodes and
edges are made on the flush thread."""
from __future__ import annotations

import time
from typing import Any

import orjson

from capture._run import current_run
from capture._state import check_pressure, ensure_sink, state, task_id
from capture.values import summarize
from kg.engine import signals
from kg.engine.errors import HaltProcessing, JumpCall, WorkflowTransition
from kg.model import Edge, Kind, Node, ProvClass, Relation
from kg.segments import LIVE, Ctx, NumberedCodec, register_codec
from kg.sink import register_expander

__all__ = ["EngineRecorder", "record_engine"]

_time = time.time
_ACT, _ENT = ProvClass.ACTIVITY.value, ProvClass.ENTITY.value
_CALLBACK, _TOKEN, _WFRUN = Kind.CALLBACK.value, Kind.TOKEN.value, Kind.WORKFLOW_RUN.value
_WGB = Relation.WAS_GENERATED_BY.value
_WDF, _WIB, _SPEC = Relation.WAS_DERIVED_FROM.value, Relation.WAS_INFORMED_BY.value, Relation.SPECIALIZATION_OF.value
_ATOMS = frozenset({int, float, bool, str, bytes, type(None)})
_atomic = _ATOMS.issuperset
_UNKNOWN = object()
_PRESSURE_MASK = 1023  # check the buffer cap every 1024 records, as capture tasks do
_FP_ITEMS = 64  # containers up to this size are fingerprinted; bigger ones are summarised


def _fp(obj: Any, depth: int = 0) -> Any:
    """A value equal to an earlier fingerprint iff the token's data did not change (for
    atoms and small nested lists/dicts); ``_UNKNOWN`` when it cannot tell cheaply."""
    t = type(obj)
    if t in _ATOMS:
        return obj
    if depth > 3:
        return _UNKNOWN
    if t is list or t is tuple:
        if len(obj) > _FP_ITEMS:
            return _UNKNOWN
        if _atomic(map(type, obj)):
            return (t, *obj)
        out = tuple(_fp(x, depth + 1) for x in obj)
        return _UNKNOWN if _UNKNOWN in out else (t, *out)
    if t is dict:
        if len(obj) > _FP_ITEMS:
            return _UNKNOWN
        if _atomic(map(type, obj.values())):
            return (dict, *obj.items())
        items = tuple((k, _fp(v, depth + 1)) for k, v in obj.items())
        return _UNKNOWN if any(v is _UNKNOWN for _, v in items) else (dict, *items)
    return _UNKNOWN


def _summary(obj: Any) -> bytes:
    return orjson.dumps(summarize(obj), default=repr)


def decode_callback(item: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge]) -> None:
    """A packed engine callback -> its Callback activity (and the token version it made, if any)."""
    (_, n, wfr, run, name, t0, t1, tok, vin, vout, summary, status, err_type, err, pos) = item
    aid = f"t-{ctx.prefix}.{n:x}"
    # Props in the order the embedded store gives nodes back (kg.model.records.stored_order).
    props: dict[str, Any] = {"duration": t1 - t0, "token": tok, "position": list(pos),
                             "used": {"token": {"$from": vin}}}
    if err_type:
        props["error_type"] = err_type
        props["error"] = err
    props.update(run=run, name=name, status=status, parent=wfr, started=t0, ended=t1)
    # One record per task: USED is in the compact props (explode and lineage expand it);
    # a stored edge as well would double what the store writes per task.
    nodes.append(Node(aid, _ACT, _CALLBACK, props))
    if vout:
        version = int(vout.rpartition(".")[2])
        nodes.append(Node(vout, _ENT, _TOKEN, {"run": run, "name": f"token {tok} v{version}", "token": tok,
                                               "version": version, "value": orjson.loads(summary),
                                               "workflow_run": wfr}))
        edges.append(Edge(_WGB, vout, aid, {"role": "token", "run": run, "time": t1}))
        edges.append(Edge(_WDF, vout, vin, {"run": run}))


def _expand_callback(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    decode_callback(item, LIVE, nodes, edges)


_CALLBACK_CODE = register_expander(_expand_callback)


class _CallbackCodec(NumberedCodec):
    """Engine callbacks in segments: ``t-<prefix>.<n>`` under their WorkflowRun. A callback that made
    a new token version is stored by the expander (the version is an entity of its own)."""

    name = "callback"
    tag = "t"
    n_pos, parent_pos, run_pos = 1, 2, 3
    code = _CALLBACK_CODE

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        decode_callback(rec, ctx, nodes, edges)

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        return {_CALLBACK}

    def filters(self) -> bool:
        return True

    def expanded(self, rec: tuple[Any, ...]) -> bool:
        return bool(rec[9])  # a new token version


register_codec(_CallbackCodec())


class EngineRecorder:
    """Records one engine's runs (see the module doc). ``detach()`` stops recording."""

    def __init__(self, eng: Any, *, run_id: str | None = None, name: str | None = None) -> None:
        self.eng = eng
        self.run_id = run_id
        self.name = name
        self.workflow_run: str | None = None   # id of the WorkflowRun being recorded
        self.previous_run: str | None = None
        self._objects: Any = None
        self._tokens: dict[int, list[Any]] = {}  # token index -> [version id, fingerprint, version]
        self._cur: list[Any] = ["", _UNKNOWN, 0]
        self._tok = -1
        self._last_t = 0.0
        self._run = ""
        self._wfr = ""
        self._open = False
        self._hooks = (("before_processing", self._before_processing), ("before_object", self._before_object),
                       ("after_callback", self._after_callback))
        self._signals = ((signals.workflow_finished, self._finished), (signals.workflow_halted, self._halted),
                         (signals.workflow_error, self._error))
        for event, hook in self._hooks:
            eng.hooks.connect(event, hook)
        for sig, fn in self._signals:
            sig.connect(fn, sender=eng, weak=False)

    def detach(self) -> None:
        """Stop recording this engine."""
        for event, hook in self._hooks:
            self.eng.hooks.disconnect(event, hook)
        for sig, fn in self._signals:
            sig.disconnect(fn, sender=self.eng)

    # -- the engine run ----------------------------------------------------------
    def _before_processing(self, eng: Any, objects: Any) -> None:
        if self._open:  # a restart from inside a task: the same engine run goes on
            return
        put = ensure_sink().put
        if self.run_id:
            self._run = part = self.run_id
        else:
            run_obj = state.run or current_run()
            self._run, part = run_obj.id, run_obj.part  # part: this process's share of a joined run
        n = next(state.counter)
        self._wfr = self.workflow_run = task_id(n)
        if objects is not self._objects:
            self._objects = objects
            self._tokens = {}
            self._tok = -1
        now = self._last_t = _time()
        wf_id = getattr(eng, "workflow_id", None)
        props: dict[str, Any] = {
            "run": self._run, "parent": part, "status": "RUNNING", "started": now,
            "name": self.name or getattr(eng, "name", None) or type(eng).__name__, "engine": eng.id,
            "tokens": len(objects), "token_pos": eng.state.token_pos, "callback_pos": list(eng.state.callback_pos),
        }
        if wf_id:
            props["workflow"] = wf_id
        put(Node(self._wfr, _ACT, _WFRUN, props))
        if self.previous_run:
            put(Edge(_WIB, self._wfr, self.previous_run, {"role": "continues", "run": self._run}))
        self._open = True

    def _end(self, eng: Any, status: str, **extra: Any) -> None:
        if not self._open:
            return
        self._open = False
        now = _time()
        props: dict[str, Any] = {"run": self._run, "status": status, "ended": now, "token_pos": eng.state.token_pos,
                                 "callback_pos": list(eng.state.callback_pos)}
        props.update({k: v for k, v in extra.items() if v is not None})
        ensure_sink().put(Node(self._wfr, _ACT, _WFRUN, props))
        self.previous_run = self._wfr
        if self._tok >= 0:
            self._tokens[self._tok] = self._cur

    def _finished(self, eng: Any, **_: Any) -> None:
        self._end(eng, "FINISHED")

    def _halted(self, eng: Any, **_: Any) -> None:
        exc = eng.last_exception
        self._end(eng, "HALTED", halt_message=str(getattr(exc, "message", exc) or ""),
                  halt_action=getattr(exc, "action", None), task=eng.current_taskname, token=eng.state.token_pos)

    def _error(self, eng: Any, **_: Any) -> None:
        exc = eng.last_exception
        self._end(eng, "ERROR", error_type=type(exc).__qualname__ if exc is not None else None,
                  error=str(exc)[:2000] if exc is not None else None, task=eng.current_taskname,
                  token=eng.state.token_pos)

    # -- tokens and tasks ----------------------------------------------------------
    def _before_object(self, eng: Any, objects: Any, obj: Any) -> None:
        if self._tok >= 0:
            self._tokens[self._tok] = self._cur
        index = self._tok = eng.state.token_pos
        cur = self._tokens.get(index)
        if cur is None:  # first sight of this token: its version 0, with its data
            vid = f"{self._wfr}/token/{index}.0"
            cur = [vid, _fp(obj), 0]
            props: dict[str, Any] = {"run": self._run, "name": f"token {index} v0", "token": index, "version": 0,
                                     "value": summarize(obj), "workflow_run": self._wfr}
            put = ensure_sink().put
            put(Node(vid, _ENT, _TOKEN, props))
            wf_id = getattr(eng, "workflow_id", None)
            if wf_id:  # the persistent token this version is a state of
                put(Edge(_SPEC, vid, f"{wf_id}/token/{index}", {"run": self._run}))
        self._cur = cur
        self._last_t = _time()

    def _after_callback(self, eng: Any, callback: Any, obj: Any, exc: BaseException | None) -> None:
        t1 = _time()
        if exc is not None and type(exc) is JumpCall and hasattr(callback, "_kg_jump"):
            return  # a loop's own jump back (FOR, WHILE): engine machinery, not a task
        cur = self._cur
        vin = cur[0]
        t = type(obj)
        if t in _ATOMS:
            fp = obj
        elif t is list and len(obj) <= _FP_ITEMS and _atomic(map(type, obj)):
            fp = (list, *obj)  # the common small token, without a call
        else:
            fp = _fp(obj)
        if fp is _UNKNOWN:
            summary = _summary(obj)
            fp = summary
        else:
            summary = b""
        if fp != cur[1]:
            if not summary:
                summary = _summary(obj)
            version = cur[2] + 1
            vout = f"{self._wfr}/token/{self._tok}.{version}"
            self._cur = [vout, fp, version]
        else:
            vout = ""
        if exc is None:
            status, err_type, err = "FINISHED", "", ""
        elif isinstance(exc, HaltProcessing):
            status, err_type, err = "HALTED", "HaltProcessing", str(exc.message)[:2000]
        elif isinstance(exc, WorkflowTransition):
            status, err_type, err = "FINISHED", type(exc).__name__, ""
        else:
            status, err_type, err = "ERROR", type(exc).__qualname__, str(exc)[:2000]
        n = next(state.counter)
        p = state.put
        if p is None:
            p = ensure_sink().put
        p((_CALLBACK_CODE, n, self._wfr, self._run, getattr(callback, "__name__", "?"),
           self._last_t, t1, self._tok, vin, vout, summary, status, err_type, err, tuple(eng.state.callback_pos)))
        if not n & _PRESSURE_MASK:
            check_pressure()
        self._last_t = t1


def record_engine(eng: Any, *, run_id: str | None = None, name: str | None = None) -> EngineRecorder:
    """Record ``eng``'s runs as provenance (see the module doc); returns the recorder.

    ``run_id`` records against that run instead of the current capture Run (a Celery
    worker passes the id of the run that sent it the work)."""
    return EngineRecorder(eng, run_id=run_id, name=name)
