"""The tracer for Python < 3.12: ``sys.setprofile`` (call/return events only, no line events).

Not ``sys.settrace``: on 3.11 an active trace function makes the interpreter run its
line-event check on every instruction of every frame, library code included, while a
profile function costs only at calls and returns.

Where the C extension ``_cprofile`` was built, it is installed as the profile function
(PyEval_SetProfile) and handles the common events itself, passing the rest to the
Python profile function below, with which it shares the stack. ``KG_C=0``
turns it off."""
from __future__ import annotations

import dis
import sys
import threading
import time
from typing import Any

from capture.tracer._classify import Classifier
from capture.tracer._common import (
    ACT_CODE, NO_RESULT, SWEEP_MIN, Site, TraceOptions, TracerBase, next_number, summ_args, summ_value,
    sweep_closed)
from kg.config import settings

__all__ = ["ProfileTracer", "HAVE_C"]

try:
    from capture.tracer._cprofile import CProfiler
except ImportError:  # no compiler at install time: the Python profile function does everything
    CProfiler = None
HAVE_C = CProfiler is not None

_RETURN_OPS = frozenset(dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap)
_YIELD_OPS = frozenset(dis.opmap[n] for n in ("YIELD_VALUE",) if n in dis.opmap)
_RESUME_OP = dis.opmap.get("RESUME", -1)  # oparg & 3: 0 at the start, else after a yield or an await
_MISSING = object()
GEN_FLAGS = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator

# Stack entry layout (a list per open activation; index constants keep the hot path readable).
KEY, N, PARENT, SITE, LINE, ARGS, T0, USER, REC = range(9)


class ProfileTracer(TracerBase):
    """Records activations of user code, and calls from user code into libraries, per thread."""

    name = "setprofile"

    def __init__(self, run_id: str, classifier: Classifier, options: TraceOptions, sink: Any) -> None:
        super().__init__(run_id, classifier, options, sink)
        self._gens: list[dict[Any, list[Any]]] = []
        self._sweeps: list[Any] = []
        self._active = False
        self._cprofs: list[Any] = []
        self.use_c = HAVE_C and settings.native

    def native_records(self) -> int:
        return sum(c.records for c in self._cprofs)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self._active = True
        threading.setprofile(self._bootstrap)
        self._install(self._make())

    def stop(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        self._active = False

    def current(self) -> int:
        stack = self.stacks.get(threading.get_ident())
        if stack:
            return stack[-1][N]
        return 0

    def open_entries(self) -> list[tuple[int, list[Any]]]:
        out = [(tid, e) for tid, s in list(self.stacks.items()) for e in s]
        for sweep in self._sweeps:
            sweep()  # generators closed early ended: they are not open
        for gens in self._gens:
            out += [(0, e) for e in list(gens.values())]
            gens.clear()
        return out

    def _bootstrap(self, frame: Any, event: str, arg: Any) -> None:
        # First event on a new thread: give the thread its own stack and closure.
        if not self._active:
            sys.setprofile(None)
            return
        prof = self._make()
        self._install(prof)
        prof(frame, event, arg)

    def _install(self, prof: Any) -> None:
        # The C profile function takes the common events, ``prof`` the rest (same stack, same records).
        if not self.use_c:
            sys.setprofile(prof)
            return
        opts = self.opts
        c = CProfiler(prof, prof.kg_stack, prof.kg_gens, self.cls.codes, self.put, self.run_id, next_number,
                      summ_value, opts.values, frozenset(_ATOMS), NO_RESULT, ACT_CODE, self,
                      opts.depth or 1 << 30, opts.calls != "user", opts.values != "none", tuple(_RETURN_OPS),
                      self.cls.callable_site, opts.calls == "all", _list_copy, _PLAIN, settings.repr_limit)
        self._cprofs.append(c)
        c.install()

    # -- the hot path ------------------------------------------------------------------
    def _make(self) -> Any:
        stack: list[list[Any]] = []
        self.stacks[threading.get_ident()] = stack
        codes = self.cls.codes
        classify = self.cls.code
        lib_code = self.cls.lib_code
        callable_site = self.cls.callable_site
        opts = self.opts
        depth = opts.depth or 1 << 30
        lib_calls = opts.calls != "user"
        all_calls = opts.calls == "all"
        vmode = opts.values
        keep_values = vmode != "none"
        put = self.put
        run = self.run_id
        now = time.time
        nxt = next_number
        return_ops, yield_ops, resume_op = _RETURN_OPS, _YIELD_OPS, _RESUME_OP
        missing = _MISSING
        tracer = self
        pressure = self.pressure

        def enter(key: Any, site: Site, caller: Any, user: bool, args: tuple[Any, ...]) -> None:
            parent = stack[-1][N] if stack else 0
            if len(stack) >= depth:  # too deep: children attach to the deepest recorded ancestor
                stack.append([key, parent, parent, 0, 0, (), 0.0, user, False])
                return
            if args:
                args = summ_args(args, vmode)
            # The call line only means something in user code (not in importlib or a library loop).
            line = caller.f_lineno if stack and stack[-1][USER] and stack[-1][KEY] is caller else 0
            stack.append([key, nxt(), parent, site.idx, line, args, now(), user, True])

        gens: dict[Any, list[Any]] = {}  # running generators/coroutines: frame -> their one activation
        self._gens.append(gens)
        sweep_at = [SWEEP_MIN]

        def closed(e: list[Any]) -> None:  # a generator closed before its end: it finished
            if e[REC]:
                put((ACT_CODE, e[N], e[PARENT], run, e[SITE], e[LINE], e[T0], now(), e[ARGS], NO_RESULT,
                     "FINISHED", None, None))
                tracer._own += 1

        def sweep() -> None:
            sweep_at[0] = sweep_closed(gens, 1, closed)  # held: the entry's KEY

        self._sweeps.append(sweep)

        def finish(e: list[Any], frame: Any, arg: Any) -> None:
            status = "FINISHED"
            if arg is None:
                lasti = frame.f_lasti
                if lasti >= 0 and frame.f_code.co_code[lasti] not in return_ops:
                    status = "ERROR"  # unwound by an exception (the profiler is not told which)
            result = (arg if type(arg) in _ATOMS else summ_value(arg, vmode)) if keep_values else NO_RESULT
            put((ACT_CODE, e[N], e[PARENT], run, e[SITE], e[LINE], e[T0], now(), e[ARGS], result, status,
                 None, None))
            tracer._own += 1
            if not e[N] & 1023:
                pressure()

        def prof(frame: Any, event: str, arg: Any) -> None:
            try:
                if event == "call":
                    code = frame.f_code
                    site: Any = codes.get(code, missing)
                    if site is missing:
                        site = classify(code, frame.f_globals.get("__name__"))
                    if site is not None:
                        if code.co_flags & GEN_FLAGS:
                            # A generator is one activation from its first resumption to its end;
                            # it is not on the stack (its consumer is the caller of what it calls).
                            if frame not in gens:
                                args = site.getter(frame.f_locals) if keep_values and site.getter else ()
                                enter(frame, site, frame.f_back, True, args)
                                gens[frame] = stack.pop()
                                if len(gens) >= sweep_at[0]:
                                    sweep()
                            return
                        args = site.getter(frame.f_locals) if keep_values and site.getter is not None else ()
                        enter(frame, site, frame.f_back, True, args)
                    elif lib_calls and stack and stack[-1][USER] and frame.f_back is stack[-1][KEY]:
                        lsite = lib_code(code, frame.f_globals.get("__name__"))
                        if lsite is None:
                            return
                        args = lsite.getter(frame.f_locals) if keep_values and lsite.getter is not None else ()
                        enter(frame, lsite, frame.f_back, False, args)
                elif event == "return":
                    if stack and stack[-1][KEY] is frame:
                        e = stack.pop()
                        if e[REC]:
                            finish(e, frame, arg)
                    elif gens and frame in gens:
                        lasti = frame.f_lasti
                        if lasti >= 0:
                            co = frame.f_code.co_code
                            # suspended, not finished: at its yield, or (3.13) at the RESUME after it
                            if co[lasti] in yield_ops or (co[lasti] == resume_op and co[lasti + 1] & 3):
                                return
                        e = gens.pop(frame)
                        if e[REC]:
                            finish(e, frame, arg)
                elif event == "c_call":
                    if lib_calls and stack and stack[-1][KEY] is frame and stack[-1][USER]:
                        site = callable_site(arg)
                        if site is not None and (all_calls or site.kind == "library"):
                            enter(arg, site, frame, False, ())
                elif stack and stack[-1][KEY] is arg:  # c_return / c_exception of a recorded C call
                    e = stack.pop()
                    if e[REC]:
                        status = "FINISHED" if event == "c_return" else "ERROR"
                        put((ACT_CODE, e[N], e[PARENT], run, e[SITE], e[LINE], e[T0], now(), (), NO_RESULT, status,
                             None, None))
                        tracer._own += 1
            except Exception as exc:  # capture must never raise into the program
                tracer.fault(exc)

        prof.kg_stack, prof.kg_gens = stack, gens  # type: ignore[attr-defined]  # shared with the C half
        return prof


from capture.tracer._common import _list_copy  # noqa: E402
from capture.values import _PLAIN  # noqa: E402
from capture.values import ATOMIC as _ATOMS  # noqa: E402
