"""The tracer for Python >= 3.12: ``sys.monitoring`` (PEP 669).

PY_START returns DISABLE for library code, so after its first call a library function
costs nothing. User code gets a local PY_RETURN event; a generator or coroutine is one
activation from its first resumption to its end, so its resumptions cost nothing. Calls from user
code into libraries are seen at their call site (CALL, then C_RETURN/C_RAISE for C
callables, or a local PY_RETURN on the library function's code); CALL is disabled at
every call site inside library code.

Where the C extension ``_cprofile`` was built, its ``CMonitor`` takes the PY_START,
PY_RETURN and CALL events first and handles the common ones (a user function starts or
returns, a call of a user function, library code) in C, passing the rest to the Python
callbacks below, with which it shares the per-thread stacks. ``KG_C=0`` turns it off."""
from __future__ import annotations

import sys
import threading
import time
import types
from typing import Any

from capture.tracer._classify import Classifier, own_type
from capture.tracer._common import (
    ACT_CODE, NO_RESULT, SWEEP_MIN, Site, TraceOptions, TracerBase, _list_copy, next_number, summ_args, summ_value,
    sweep_closed)
from capture.values import _PLAIN, ATOMIC
from kg.config import settings
from kg.exceptions import CaptureError

__all__ = ["MonitoringTracer", "HAVE_C"]

try:
    from capture.tracer._cprofile import CMonitor
except ImportError:  # no compiler at install time (or an older extension): Python callbacks only
    CMonitor = None
HAVE_C = CMonitor is not None

KEY, N, PARENT, SITE, LINE, ARGS, T0, USER, REC, CALLER = range(10)
_GEN_FLAGS = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator: calling only creates the object
_FUNCTION = types.FunctionType
_METHOD = types.MethodType
_MISSING = object()


class MonitoringTracer(TracerBase):
    """Records activations of user code, and calls from user code into libraries, on every thread."""

    name = "sys.monitoring"

    def __init__(self, run_id: str, classifier: Classifier, options: TraceOptions, sink: Any) -> None:
        super().__init__(run_id, classifier, options, sink)
        self.tool: int | None = None
        self._local = threading.local()
        self._local_codes: set[Any] = set()
        self._gens: dict[Any, list[Any]] = {}  # running generators/coroutines: frame -> activation
        self._sweep: Any = None
        self._cmon: Any = None
        self.use_c = HAVE_C and settings.native

    def native_records(self) -> int:
        return self._cmon.records if self._cmon is not None else 0

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        for tool in (mon.PROFILER_ID, 3, 4, mon.OPTIMIZER_ID):
            try:
                mon.use_tool_id(tool, "provkg")
            except ValueError:
                continue
            self.tool = tool
            break
        else:
            raise CaptureError("no free sys.monitoring tool id (another profiler or debugger holds them all)")
        ev = mon.events
        cbs = self._callbacks()
        if self.use_c:  # the C callbacks first; they pass what they do not handle to the Python ones
            opts = self.opts
            self._cmon = c = CMonitor(
                cbs[ev.PY_START], cbs[ev.PY_RETURN], cbs[ev.CALL], self._local, self.cls.codes, self.put,
                self.run_id, next_number, summ_value, opts.values, frozenset(ATOMIC), NO_RESULT, ACT_CODE, self,
                _list_copy, mon.DISABLE, opts.depth or 1 << 30, opts.values != "none", _PLAIN, settings.repr_limit)
            cbs.update({ev.PY_START: c.start, ev.PY_RETURN: c.ret, ev.CALL: c.call})
        for event, fn in cbs.items():
            mon.register_callback(self.tool, event, fn)
        events = ev.PY_START | ev.PY_UNWIND
        if self.opts.calls != "user":
            events |= ev.CALL | ev.C_RETURN | ev.C_RAISE
        mon.set_events(self.tool, events)

    def stop(self) -> None:
        if self.tool is None:
            return
        mon = sys.monitoring  # type: ignore[attr-defined]
        tool, self.tool = self.tool, None
        mon.set_events(tool, 0)
        for code in list(self._local_codes):
            try:
                mon.set_local_events(tool, code, 0)
            except Exception:
                pass
        for event in (mon.events.PY_START, mon.events.PY_RESUME, mon.events.PY_RETURN, mon.events.PY_YIELD,
                      mon.events.PY_UNWIND, mon.events.CALL, mon.events.C_RETURN, mon.events.C_RAISE):
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)

    def current(self) -> int:
        stack = getattr(self._local, "s", None)
        return stack[-1][N] if stack else 0

    def open_entries(self) -> list[tuple[int, list[Any]]]:
        out = [(tid, e) for tid, s in list(self.stacks.items()) for e in s]
        if self._sweep is not None:
            self._sweep()  # generators closed early ended: they are not open
        out += [(0, e) for e in list(self._gens.values())]
        self._gens.clear()
        return out

    # -- the hot path --------------------------------------------------------------
    def _callbacks(self) -> dict[int, Any]:
        mon = sys.monitoring  # type: ignore[attr-defined]
        ev = mon.events
        DISABLE = mon.DISABLE
        tool = self.tool
        set_local = mon.set_local_events
        local_codes = self._local_codes
        user_local = ev.PY_RETURN
        gens = self._gens
        local = self._local
        stacks = self.stacks
        codes = self.cls.codes
        classify = self.cls.code
        lib_code = self.cls.lib_code
        lib_codes = self.cls.lib_codes
        callable_site = self.cls.callable_site
        opts = self.opts
        depth = opts.depth or 1 << 30
        all_calls = opts.calls == "all"
        vmode = opts.values
        keep_values = vmode != "none"
        put = self.put
        run = self.run_id
        now = time.time
        nxt = next_number
        getframe = sys._getframe
        missing = _MISSING
        atoms = ATOMIC
        tracer = self
        pressure = self.pressure

        def new_stack() -> list[list[Any]]:
            s: list[list[Any]] = []
            local.s = s
            stacks[threading.get_ident()] = s
            return s

        def push(stack: list[list[Any]], key: Any, site: Site, line: int, user: bool, args: Any) -> None:
            parent = stack[-1][N] if stack else 0
            if len(stack) >= depth:
                stack.append([key, parent, parent, 0, 0, (), 0.0, user, False])
                return
            if args:
                args = summ_args(args, vmode)
            stack.append([key, nxt(), parent, site.idx, line, args, now(), user, True])

        def record(e: list[Any], result: Any, status: str, err: Any) -> None:
            if keep_values and result is not NO_RESULT and type(result) not in atoms:
                result = summ_value(result, vmode)
            put((ACT_CODE, e[N], e[PARENT], run, e[SITE], e[LINE], e[T0], now(), e[ARGS], result, status, err, None))
            tracer._own += 1
            if not e[N] & 1023:
                pressure()

        sweep_at = [SWEEP_MIN]

        def closed(e: list[Any]) -> None:  # a generator closed before its end: it finished
            if e[REC]:
                record(e, NO_RESULT, "FINISHED", None)

        def sweep() -> None:
            sweep_at[0] = sweep_closed(gens, 0, closed)

        self._sweep = sweep

        def pop_to(stack: list[list[Any]], key: Any) -> list[Any] | None:
            # The innermost entry for ``key``; entries above it were left open by a jump we did
            # not see (a generator closed by throw(), a C call that raised from a callback).
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][KEY] is key:
                    e = stack[i]
                    for lost in stack[i + 1:]:
                        if lost[REC]:
                            record(lost, NO_RESULT, "ERROR", None)
                    del stack[i:]
                    return e
            return None

        def on_start(code: Any, offset: int) -> Any:
            try:
                site: Any = codes.get(code, missing)
                if site is missing:
                    frame = getframe(1)
                    site = classify(code, frame.f_globals.get("__name__"))
                    if site is not None:
                        set_local(tool, code, user_local)
                        local_codes.add(code)
                if site is None:
                    return DISABLE
                try:
                    stack = local.s
                except AttributeError:
                    stack = new_stack()
                frame = getframe(1)
                args = site.getter(frame.f_locals) if keep_values and site.getter is not None else ()
                back = frame.f_back
                line = back.f_lineno if back is not None and stack and stack[-1][USER] and \
                    stack[-1][KEY] is back.f_code else 0
                push(stack, code, site, line, True, args)
                if code.co_flags & _GEN_FLAGS:
                    # A generator is one activation from its first resumption to its end; it is not
                    # on the stack (what it calls is attributed to whoever resumes it).
                    gens[frame] = stack.pop()
                    if len(gens) >= sweep_at[0]:
                        sweep()
            except Exception as exc:
                tracer.fault(exc)
            return None

        def on_return(code: Any, offset: int, retval: Any) -> Any:
            try:
                stack = local.s
            except AttributeError:
                return None
            try:
                if stack and stack[-1][KEY] is code:
                    e = stack[-1]
                    if not e[USER]:
                        frame = getframe(1)
                        if frame.f_back is not e[CALLER]:
                            return None  # the library function calling itself: not the boundary call
                        if e[REC] and keep_values:
                            site = lib_codes[code]
                            if site.getter is not None:
                                e[ARGS] = summ_args(site.getter(frame.f_locals), vmode)
                    stack.pop()
                elif code in lib_codes:
                    return None  # a library function that user code calls, called here from the library
                elif code.co_flags & _GEN_FLAGS:
                    e = gens.pop(getframe(1), None)
                    if e is None:
                        return None
                else:
                    e = pop_to(stack, code)
                    if e is None:
                        return None
                if e[REC]:
                    record(e, retval if keep_values else NO_RESULT, "FINISHED", None)
            except Exception as exc:
                tracer.fault(exc)
            return None

        def on_unwind(code: Any, offset: int, exc: BaseException) -> Any:
            try:
                stack = local.s
            except AttributeError:
                return None
            try:
                if code.co_flags & _GEN_FLAGS and gens:
                    e = gens.pop(getframe(1), None)
                    if e is not None and e[REC]:
                        if type(exc) is GeneratorExit:  # closed before its end (close(), any()): not an error
                            record(e, NO_RESULT, "FINISHED", None)
                        else:
                            record(e, NO_RESULT, "ERROR", _err(exc))
                    return None
                if not stack:
                    return None
                if stack[-1][KEY] is code:
                    e = stack.pop()
                elif codes.get(code) is not None:
                    e = pop_to(stack, code)
                    if e is None:
                        return None
                else:
                    return None
                if e[REC]:
                    record(e, NO_RESULT, "ERROR", _err(exc))
            except Exception as fault:
                tracer.fault(fault)
            return None

        def on_call(code: Any, offset: int, fn: Any, arg0: Any) -> Any:
            try:
                site = codes.get(code, missing)
                if site is None:
                    return DISABLE  # a call site inside library code
                if site is missing:
                    return None  # code we never saw start (the runner's own frames)
                tp = type(fn)
                if tp is _METHOD:
                    fn = fn.__func__
                    tp = type(fn)
                if tp is _FUNCTION:
                    fcode = fn.__code__
                    fsite: Any = codes.get(fcode, missing)
                    if fsite is missing:
                        fsite = classify(fcode, fn.__module__)
                        if fsite is not None:
                            set_local(tool, fcode, user_local)
                            local_codes.add(fcode)
                    if fsite is not None:
                        return None  # user code: its PY_START records it
                    lsite = lib_codes.get(fcode)
                    if lsite is None:
                        lsite = lib_code(fcode, fn.__module__)
                        if lsite is None:
                            return None
                        set_local(tool, fcode, ev.PY_RETURN)
                        local_codes.add(fcode)
                    try:
                        stack = local.s
                    except AttributeError:
                        stack = new_stack()
                    caller = getframe(1)
                    push(stack, fcode, lsite, caller.f_lineno, False, ())
                    if fcode.co_flags & _GEN_FLAGS:  # creates a generator: nothing runs yet
                        e = stack.pop()
                        if e[REC]:
                            record(e, NO_RESULT, "FINISHED", None)
                    else:
                        stack[-1].append(caller)
                    return None
                csite = callable_site(fn)
                if csite is None:
                    # provkg's own hook object (`kg run --dataflow`'s __kg_df__): that call site
                    # calls nothing else, so it costs nothing from now on
                    return DISABLE if own_type(tp) else None
                if csite.kind == "builtin" and not all_calls:
                    return DISABLE  # len(), list.append(): the call site is not recorded again
                try:
                    stack = local.s
                except AttributeError:
                    stack = new_stack()
                push(stack, fn, csite, getframe(1).f_lineno, False, (arg0,) if keep_values and arg0 is not
                     mon.MISSING else ())
            except Exception as exc:
                tracer.fault(exc)
            return None

        def c_exit(status: str) -> Any:
            # C_RETURN and C_RAISE: the library call made from user code ends, with this status.
            def on_c_exit(code: Any, offset: int, fn: Any, arg0: Any) -> Any:
                try:
                    stack = local.s
                except AttributeError:
                    return None
                if stack and stack[-1][KEY] is fn:
                    e = stack.pop()
                    if e[REC]:
                        record(e, NO_RESULT, status, None)
                return None
            return on_c_exit

        on_c_return, on_c_raise = c_exit("FINISHED"), c_exit("ERROR")

        return {ev.PY_START: on_start, ev.PY_RETURN: on_return, ev.PY_UNWIND: on_unwind, ev.CALL: on_call,
                ev.C_RETURN: on_c_return, ev.C_RAISE: on_c_raise}


def _err(exc: BaseException) -> tuple[str, str]:
    try:
        msg = str(exc)[:500]
    except Exception:
        msg = "<unprintable>"
    return type(exc).__qualname__, msg
