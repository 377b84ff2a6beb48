"""Helper tasks: sub-workflows, reading/writing engine and token data, retries, profiling, calls."""
from __future__ import annotations

import cProfile
import functools
import inspect
import pstats
import sys
from collections.abc import Callable, Iterable
from typing import Any

from kg.engine.errors import WorkflowDefinitionError, WorkflowError, WorkflowTransition
from kg.engine.patterns._debug import DEBUG_CYCLE, CALLFUNC, debug_simple, universal_repeater
from kg.engine.patterns._docs import with_nice_docs

__all__ = ["with_nice_docs", "RUN_WF", "EMPTY_CALL", "ENG_GET", "ENG_SET", "OBJ_GET", "OBJ_SET",
           "ERROR", "TRY", "PROFILE", "DEBUG_CYCLE", "CALLFUNC", "debug_simple", "universal_repeater"]

Task = Callable[[Any, Any], Any]


@with_nice_docs
def RUN_WF(workflow: Any, engine: Any = None, data_connector: Task | None = None,
           pass_eng: Iterable[str] = (), pass_always: bool | None = None, outkey: str | None = "RUN_WF",
           reinit: bool = False) -> Task:
    """Run ``workflow`` in a sub-engine on the current token (a halt there halts this engine too).

    :param engine: class of the sub-engine; default: the calling engine's class.
    :param data_connector: ``(obj, eng) -> tokens`` for the sub-engine; default ``[obj]``.
    :param pass_eng: keys of ``extra_data`` copied into the sub-engine, on the first call
        only unless ``pass_always`` or ``reinit``.
    :param outkey: the sub-engine is kept in ``eng.extra_data[outkey]`` and reused.
    :param reinit: make a new sub-engine on every call.
    """
    if reinit and not outkey:
        raise WorkflowDefinitionError("Cannot use `reinit` without `outkey`.", "RUN_WF")
    pending = list(pass_eng)  # keys still to pass; the seed emptied the caller's list instead

    def x(obj: Any, eng: Any) -> None:
        new_eng = None
        if outkey and not reinit:
            new_eng = eng.extra_data.get(outkey)
        if new_eng is None:
            new_eng = engine() if engine is not None else eng.duplicate()
        new_eng.callbacks.replace(workflow)
        if outkey:
            eng.extra_data[outkey] = new_eng
        for key in list(pending):
            new_eng.extra_data[key] = eng.extra_data[key]
            if not pass_always and not reinit:
                pending.remove(key)
        # The seed passed a bare token, so a dict token was iterated as its keys.
        new_eng.process(data_connector(obj, eng) if data_connector else [obj])
    x.__name__ = "RUN_WF"
    return x


def EMPTY_CALL(obj: Any, eng: Any) -> None:
    """A task that does nothing."""


@with_nice_docs
def ENG_GET(something: str) -> Task:
    """``eng.extra_data[something]`` (set to None when missing)."""
    def x(obj: Any, eng: Any) -> Any:
        return eng.extra_data.setdefault(something, None)
    x.__name__ = "ENG_GET"
    return x


@with_nice_docs
def ENG_SET(key: str, value: Any) -> Task:
    """Set ``eng.extra_data[key] = value`` (``value`` is fixed when the workflow is defined)."""
    def x(obj: Any, eng: Any) -> None:
        eng.extra_data[key] = value
    x.__name__ = "ENG_SET"
    return x


@with_nice_docs
def OBJ_GET(something: str | Iterable[str], cond: str = "all") -> Task:
    """Read keys of the token.

    One key: its value when present and truthy, else False. Several keys: with ``cond``
    "any" the first truthy value; "many" a dict of the truthy ones; "all" that dict only
    when every key is truthy, else False."""
    mode = cond.lower()

    def x(obj: Any, eng: Any) -> Any:
        if isinstance(something, str):
            return something in obj and obj[something]
        if mode == "any":
            for key in something:
                if key in obj and obj[key]:
                    return obj[key]
            return None
        found = {}
        for key in something:
            if key in obj and obj[key]:
                found[key] = obj[key]
            elif mode != "many":
                return False
        return found
    x.__name__ = "OBJ_GET"
    return x


@with_nice_docs
def OBJ_SET(key: str, value: Any) -> Task:
    """Set ``obj[key] = value`` (``value`` is fixed when the workflow is defined)."""
    def x(obj: Any, eng: Any) -> None:
        obj[key] = value
    x.__name__ = "OBJ_SET"
    return x


@with_nice_docs
def ERROR(msg: str = "Error in the workflow") -> Task:
    """A task that fails with ``msg`` (and the module that defined it)."""
    frame = inspect.currentframe()
    # Skip the with_nice_docs wrapper to name the module that wrote ERROR(...).
    caller_frame = frame.f_back.f_back if frame and frame.f_back else None
    module = inspect.getmodule(caller_frame) if caller_frame else None
    caller = getattr(module, "__file__", "") or ""

    def x(obj: Any, eng: Any) -> None:
        raise WorkflowError(f"in {caller} : {msg}")
    x.__name__ = "ERROR"
    return x


@with_nice_docs
def TRY(onecall: Task, retry: int = 1, onfailure: Any = Exception, verbose: bool = True) -> Task:
    """Run ``onecall``, retrying ``retry`` more times when it raises (transitions pass through).

    After the last failure: with the default ``onfailure`` the last error is raised again;
    an exception class or instance is raised (from it); another callable is called as
    ``onfailure(obj, eng)``."""
    if not callable(onecall):
        raise WorkflowDefinitionError("You can wrap only one callable with TRY", "TRY")

    def x(obj: Any, eng: Any) -> None:
        tries = max(1, 1 + retry)
        for attempt in range(tries):
            try:
                onecall(obj, eng)
                return
            except WorkflowTransition:
                raise
            except Exception as exc:
                if verbose:
                    eng.log.error("Error reported from the call (attempt %d of %d)",
                                  attempt + 1, tries, exc_info=True)
                last = exc
        if onfailure is Exception:
            raise last
        if isinstance(onfailure, BaseException):
            raise onfailure from last
        if isinstance(onfailure, type) and issubclass(onfailure, BaseException):
            raise onfailure(f"Error after attempting to run: {onecall!r}") from last
        if callable(onfailure):
            onfailure(obj, eng)
            return
        raise WorkflowError(f"Error after attempting to run: {onecall!r}") from last
    x.__name__ = "TRY"
    return x


@with_nice_docs
def PROFILE(call: Any, output: str | None = None,
            stats: Iterable[str] = ("time", "calls", "cumulative", "pcalls")) -> Task:
    """Run ``call`` (a task, or a task list run in a sub-engine) under cProfile.

    Without ``output`` the statistics are printed to stdout; with it they are dumped to
    ``output`` and written sorted by each key of ``stats`` to ``output.stats-KEY``."""
    def x(obj: Any, eng: Any) -> None:
        if isinstance(call, (list, tuple)):
            sub = eng.duplicate()
            sub.callbacks.replace(call)
            target: Callable[[], Any] = functools.partial(sub.process, [obj])
        else:
            target = functools.partial(call, obj, eng)
        profiler = cProfile.Profile()
        try:
            profiler.runcall(target)
        finally:
            if output:
                profiler.dump_stats(output)
                for key in stats or ():
                    with open(f"{output}.stats-{key}", "w") as fo:
                        pstats.Stats(output, stream=fo).strip_dirs().sort_stats(key).print_stats()
            else:
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("stdname").print_stats()
    x.__name__ = "PROFILE"
    return x
