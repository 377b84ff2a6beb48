"""Agent tasks: ``@capture.agent_task`` records each call of a tool served by an MCP server.

    server = MCPServer("lab")            # mcp 2.x (FastMCP in mcp 1.x works the same way)

    @server.tool()
    @capture.agent_task                  # below @server.tool(): it wraps the function the server calls
    def summarise(text: str, prompt: str = "") -> str:
        ...

Each call is a Task activity (props ``tool``, ``used``, ``generated`` or ``error``, ``prompt``,
timing, ``status``, tags ``mcp-tool``) associated with the calling MCP client and session (a
SoftwareAgent, role ``caller``) and with the server (a SoftwareAgent, role ``server``).

The wrapper needs the request's MCP ``Context`` to know who called. A tool that takes one
(``ctx: Context``) is read as it is; otherwise the wrapper declares one more keyword-only
parameter annotated ``Context``: the server fills it and leaves it out of the input schema,
so the tool's schema is the same as without the decorator."""
from __future__ import annotations

import functools
import inspect
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from capture._run import current_run
from capture._spec import TaskSpec, snap_kwargs
from capture._state import current_parent, ensure_sink, state, task_id
from capture._task import TASK_CODE, put_task
from capture.values import summarize
from kg.config import settings
from kg.model import Kind, ProvClass, Relation, edge, node
from kg.sink import on_sink_change

__all__ = ["agent_task", "record_prompt", "PROMPT_ARGS", "CONTEXT_PARAM"]

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("capture.agents")

# Arguments that carry what the model was asked: also kept as the activity's ``prompt``.
PROMPT_ARGS = ("prompt", "messages", "message", "system_prompt", "instructions", "query")
# The keyword the wrapper adds when the tool has no Context parameter of its own.
CONTEXT_PARAM = "kg_mcp_context"
_TAGS = ["mcp-tool"]

_time = time.time
_cv_get = current_parent.get
_cv_set = current_parent.set
_cv_reset = current_parent.reset

# What the running call noted with record_prompt(): a dict per call, per asyncio task / thread.
_notes: ContextVar[dict[str, Any] | None] = ContextVar("kg_agent_notes", default=None)


def record_prompt(prompt: Any = None, *, response: Any = None, **props: Any) -> None:
    """Inside an agent task: record the prompt/messages the tool built (and the model's
    ``response``, or other props) on the tool call's activity. Outside one: does nothing."""
    notes = _notes.get()
    if notes is None:
        return
    try:
        for key, value in (("prompt", prompt), ("response", response), *props.items()):
            if value is not None:
                notes[key] = summarize(value)
    except Exception:
        if settings.strict:
            raise


def _context_class() -> type | None:
    """The MCP server ``Context`` class of the installed SDK (2.x, else 1.x), or None."""
    try:
        from mcp.server.mcpserver import Context
    except ImportError:
        try:
            from mcp.server.fastmcp import Context  # type: ignore[attr-defined,no-redef]  # mcp 1.x
        except ImportError:
            return None
    return Context  # type: ignore[no-any-return]


def _context_param(fn: Callable[..., Any], ctx_cls: type | None) -> str | None:
    """The name of ``fn``'s own Context parameter, if it has one."""
    if ctx_cls is None:
        return None
    try:
        import typing

        hints = typing.get_type_hints(fn)
    except Exception:
        return None
    for name, hint in hints.items():
        for h in (hint, *getattr(hint, "__args__", ())):
            if inspect.isclass(h) and issubclass(h, ctx_cls):
                return name
    return None


# -- who called: the client and its session ------------------------------------------------------
_session_ids: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_session_count = itertools.count(1)
_agents_written: set[str] = set()  # agent nodes are written once per sink (a new sink may be a new store)
on_sink_change(lambda _sink: _agents_written.clear())


def _attr(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        try:
            obj = getattr(obj, name)
        except Exception:  # the SDK's properties raise outside a request
            return None
    return obj


def _caller(ctx: Any) -> dict[str, Any]:
    """What the request context tells about the caller (every field optional)."""
    session = _attr(ctx, "session")
    params = _attr(session, "client_params")
    info = _attr(params, "clientInfo") or _attr(params, "client_info")
    connection = _attr(session, "_connection")
    sid = _attr(connection, "session_id") or _attr(ctx, "session_id")
    if sid is None:
        # stdio has no transport session id: one per connection (or session object), per process.
        key = connection if connection is not None else session
        if key is not None:
            try:
                sid = _session_ids.get(key)
                if sid is None:
                    sid = _session_ids[key] = f"mcp-{state.prefix}.{next(_session_count)}"
            except TypeError:  # not weak-referenceable
                sid = f"mcp-{state.prefix}.{id(key):x}"
    return {
        "client": _attr(info, "name"), "client_version": _attr(info, "version"),
        "client_title": _attr(info, "title"), "session": sid,
        "client_id": _attr(ctx, "client_id"), "request_id": _str(_attr(ctx, "request_id")),
        "protocol_version": _attr(ctx, "protocol_version") or _attr(params, "protocolVersion"),
        "server": _attr(ctx, "mcp_server", "name") or _attr(ctx, "fastmcp", "name"),
    }


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _agent_records(call_id: str, run: str, t0: float, who: dict[str, Any]) -> list[Any]:
    # Agents carry no run (like a run's Person): one client session may call tools in several runs,
    # and exports of a run reach them through its edges.
    recs: list[Any] = []
    if who.get("session") or who.get("client"):
        aid = f"agent:mcp:{who.get('session') or who.get('client')}"
        if aid not in _agents_written:
            _agents_written.add(aid)
            recs.append(node(aid, ProvClass.AGENT, Kind.SOFTWARE_AGENT, name=who.get("client") or "mcp-client",
                             version=who.get("client_version"), title=who.get("client_title"),
                             session=who.get("session"), client_id=who.get("client_id"),
                             protocol_version=who.get("protocol_version")))
        recs.append(edge(Relation.WAS_ASSOCIATED_WITH, call_id, aid, role="caller", run=run, time=t0))
    if who.get("server"):
        sid = f"agent:mcp-server:{who['server']}@{state.prefix}"
        if sid not in _agents_written:
            _agents_written.add(sid)
            recs.append(node(sid, ProvClass.AGENT, Kind.SOFTWARE_AGENT, name=who["server"], role="mcp-server"))
        recs.append(edge(Relation.WAS_ASSOCIATED_WITH, call_id, sid, role="server", run=run, time=t0))
    return recs


# -- the wrapper ---------------------------------------------------------------------------------
class _Call:
    """One tool call being recorded: opened before the tool runs, closed after."""

    __slots__ = ("spec", "n", "run", "parent", "t0", "used", "extra", "token", "notes_token", "ctx")

    def __init__(self, spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: Any) -> None:
        self.spec = spec
        run_obj = state.run or current_run()
        self.run = run_obj.id
        self.n = next(state.counter)
        self.parent = _cv_get() or run_obj.part
        used = spec.bind(args, kwargs)
        self.used = snap_kwargs(used)
        extra: dict[str, Any] = {"tool": spec.name}
        prompt = {k: used[k] for k in PROMPT_ARGS if used.get(k) is not None}
        if prompt:  # summarised like any value: a short text stays as it is, a long one is cut
            extra["prompt"] = summarize(next(iter(prompt.values())) if len(prompt) == 1 else prompt)
        self.ctx = ctx
        self.extra = extra
        self.token = _cv_set(self.n)
        self.notes_token = _notes.set({})
        self.t0 = _time()

    def close(self, result: Any, exc: BaseException | None) -> None:
        t1 = _time()
        _cv_reset(self.token)
        notes = _notes.get() or {}
        _notes.reset(self.notes_token)
        extra = self.extra
        extra.update(notes)
        who = _caller(self.ctx) if self.ctx is not None else {}
        for key in ("client", "client_version", "session", "request_id"):
            if who.get(key) is not None:
                extra[key] = who[key]
        generated = None if exc is not None else snap_kwargs({"result": result})
        put_task((TASK_CODE, self.spec, self.n, self.parent, self.run, self.t0, t1, self.used,
                  generated if generated is not None else {}, exc, extra), self.n)
        sink = ensure_sink()
        for rec in _agent_records(task_id(self.n), self.run, self.t0, who):
            sink.put(rec)


def _open(spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: Any) -> _Call | None:
    if not settings.enabled:
        return None
    try:
        return _Call(spec, args, kwargs, ctx)
    except Exception as exc:
        _fault(exc)
        return None


def _close(call: _Call | None, result: Any, exc: BaseException | None) -> None:
    if call is None:
        return
    try:
        call.close(result, exc)
    except Exception as fault:
        _fault(fault)


_warned = False


def _fault(exc: BaseException) -> None:
    """A capture fault is logged once, never raised into the tool (unless strict, for tests)."""
    global _warned
    if settings.strict:
        raise exc
    if not _warned:
        _warned = True
        log.warning("provkg agent task capture fault (reported once): %r", exc)


def agent_task(func: F | None = None, *, name: str | None = None, tags: Any = None,
               metadata: dict[str, Any] | None = None) -> Any:
    """Record each call of an MCP tool as a Task with its arguments, result or error, prompt,
    timing and calling agent. Put it below ``@server.tool()``; sync and async tools both work,
    and the tool's input schema is unchanged. Capture faults never reach the tool's caller."""

    def wrap(fn: F) -> F:
        ctx_cls = _context_class()
        own = _context_param(fn, ctx_cls)
        all_tags = _TAGS + ([tags] if isinstance(tags, str) else list(tags or []))
        spec = TaskSpec(fn, name or fn.__name__, tags=all_tags, metadata=metadata, register=False)
        if own is not None:  # the Context is one of the tool's arguments: not an input worth keeping
            spec.params = [p for p in spec.params if p != own]
        added = ctx_cls is not None and own is None

        def split(kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            if added:
                ctx = kwargs.pop(CONTEXT_PARAM, None)
                return ctx, kwargs
            if own is not None:
                ctx = kwargs.get(own)
                return ctx, {k: v for k, v in kwargs.items() if k != own}
            return None, kwargs

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                ctx, recorded = split(kwargs)
                call = _open(spec, args, recorded, ctx)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    _close(call, None, exc)
                    raise
                _close(call, result, None)
                return result
            wrapper: Callable[..., Any] = awrapper
        else:
            @functools.wraps(fn)
            def swrapper(*args: Any, **kwargs: Any) -> Any:
                ctx, recorded = split(kwargs)
                call = _open(spec, args, recorded, ctx)
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    _close(call, None, exc)
                    raise
                _close(call, result, None)
                return result
            wrapper = swrapper
        if added:
            _declare_context(wrapper, fn, ctx_cls)
        return wrapper  # type: ignore[return-value]

    return wrap(func) if func is not None else wrap


def _declare_context(wrapper: Callable[..., Any], fn: Callable[..., Any], ctx_cls: Any) -> None:
    """Give ``wrapper`` one more keyword-only parameter annotated Context (default None), so the
    server passes the request context; servers leave Context parameters out of the schema."""
    try:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        extra = inspect.Parameter(CONTEXT_PARAM, inspect.Parameter.KEYWORD_ONLY, default=None,
                                  annotation=ctx_cls)
        at = len(params)
        if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD:
            at -= 1
        params.insert(at, extra)
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        # A new dict: functools.wraps shares fn's own, which must stay as the user wrote it.
        wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), CONTEXT_PARAM: ctx_cls}
    except (TypeError, ValueError) as exc:  # no signature to extend: calls are recorded without a caller
        _fault(exc)
