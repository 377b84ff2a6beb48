"""Tasks that call arbitrary functions, and the seed's reload-and-retry debugging helpers."""
from __future__ import annotations

import importlib
import logging
import timeit
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from kg.engine.errors import WorkflowDefinitionError, WorkflowError
from kg.engine.patterns._docs import with_nice_docs

__all__ = ["CALLFUNC", "DEBUG_CYCLE", "debug_simple", "universal_repeater"]

_log = logging.getLogger("kg.engine.patterns")


def _get_mod_func(func: Any) -> tuple[ModuleType, Callable[..., Any]]:
    """The module of ``func`` (a callable or a dotted name) and the function, found again in it
    so that reloading the module picks up new code."""
    try:
        if callable(func):
            module = importlib.import_module(func.__module__)
            return module, getattr(module, func.__name__, func)  # closures are not module attributes
        modname, name = str(func).rsplit(".", 1)
        module = importlib.import_module(modname)
        return module, getattr(module, name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise WorkflowDefinitionError(f"cannot find the function {func!r}: {exc}", "CALLFUNC") from exc


def universal_repeater(mod: ModuleType, call: Callable[..., Any], stopper: Callable[..., Any] | None = None,
                       *args: Any, **kwargs: Any) -> None:
    """Call ``call(*args, **kwargs)``; after an error reload its module and call it again.

    With a ``stopper`` the call is repeated until ``stopper(*args, **kwargs)`` is true;
    without one it ends after the first success."""
    name = call.__name__
    while True:
        if callable(stopper) and stopper(*args, **kwargs):
            return
        try:
            call(*args, **kwargs)
        except Exception:
            _log.exception("call %s failed; reloading %s", name, mod.__name__)
            mod = importlib.reload(mod)
            call = getattr(mod, name)
            continue
        if stopper is None:
            return


def debug_simple(func: Any, *args: Any, **kwargs: Any) -> None:
    """Run ``func`` until it succeeds, reloading its module after each failure (not a task)."""
    mod, new_func = _get_mod_func(func)
    universal_repeater(mod, new_func, None, *args, **kwargs)


@with_nice_docs
def DEBUG_CYCLE(stmt: str, setup: str | None = None, onerror: str | None = None,
                debug_stopper: Callable[[Any, Any], Any] | None = None, **kwargs: Any) -> Callable[[Any, Any], None]:
    """Execute the code ``stmt`` again and again (``obj``, ``eng`` and ``kwargs`` in scope),
    printing how long each run took, until ``debug_stopper(obj, eng)`` is true.

    ``setup`` runs before each execution (e.g. ``import mod; importlib.reload(mod)`` to
    hot-plug new code); after an error ``onerror`` is run after it too. Without a stopper
    it repeats forever: it is an interactive debugging aid."""
    stopper = debug_stopper if callable(debug_stopper) else (lambda obj, eng: False)
    try:
        code = compile(stmt, "<DEBUG_CYCLE>", "exec")
    except SyntaxError as exc:
        raise WorkflowDefinitionError(f"DEBUG_CYCLE statement does not compile: {exc}", "DEBUG_CYCLE") from exc

    def x(obj: Any, eng: Any) -> None:
        failed = False
        while True:
            namespace = dict(kwargs, obj=obj, eng=eng)
            prelude = (setup or "") + (f"\n{onerror}" if failed and onerror else "")
            try:
                exec(prelude, namespace)  # noqa: S102 - running the user's code is the point
                start = timeit.default_timer()
                exec(code, namespace)  # noqa: S102
                print(f"Execution time: {timeit.default_timer() - start:.6f}")
                failed = False
            except Exception:
                eng.log.exception("DEBUG_CYCLE: %s failed", stmt)
                failed = True
            try:
                if stopper(obj, eng):
                    return
            except Exception:
                eng.log.exception("DEBUG_CYCLE: the stopper failed; stopping")
                return
    x.__name__ = "DEBUG_CYCLE"
    return x


@with_nice_docs
def CALLFUNC(func: Any, outkey: str | None = None, debug: bool = False,
             stopper: Callable[..., Any] | None = None, args: Iterable[Any] = (),
             oeargs: Iterable[str] = (), ekeys: Mapping[str, str] | None = None,
             okeys: Mapping[str, str] | None = None, **kwargs: Any) -> Callable[[Any, Any], None]:
    """Call ``func`` (a callable or a dotted name) with arguments taken from the token and engine.

    ``oeargs`` appends positional arguments: ``"Okey"`` is ``obj["key"]``, ``"Ekey"`` is
    ``eng.extra_data["key"]``, a bare key is looked up in the token, then the engine.
    ``ekeys``/``okeys`` map keyword names to engine/token keys. The result goes to
    ``obj[outkey]`` when ``outkey`` is given. ``debug`` retries with module reloads."""
    mod, new_func = _get_mod_func(func)
    fixed_args = list(args)
    oeargs = list(oeargs)
    ekeys = dict(ekeys or {})
    okeys = dict(okeys or {})

    def x(obj: Any, eng: Any) -> None:
        # Built fresh per call: the seed appended to one shared list, so arguments piled up.
        call_args = list(fixed_args)
        call_kwargs = dict(kwargs)
        try:
            for key in oeargs:
                first, rest = key[0], key[1:]
                if first == "O" and rest in obj:
                    call_args.append(obj[rest])
                elif first == "E" and rest in eng.extra_data:
                    call_args.append(eng.extra_data[rest])
                elif key in obj:
                    call_args.append(obj[key])
                elif key in eng.extra_data:
                    call_args.append(eng.extra_data[key])
                else:
                    raise WorkflowError(f"{key} is not inside obj nor eng, try specifying Okey or Ekey")
            for name, key in ekeys.items():
                call_kwargs[name] = eng.extra_data[key]
            for name, key in okeys.items():
                call_kwargs[name] = obj[key]
        except (KeyError, TypeError) as exc:
            raise WorkflowError(f"CALLFUNC {func!r}: argument not available: {exc!r}") from exc
        if debug:
            universal_repeater(mod, new_func, stopper, *call_args, **call_kwargs)
            return
        result = new_func(*call_args, **call_kwargs)
        if outkey:
            obj[outkey] = result
    x.__name__ = "CALLFUNC"
    return x
