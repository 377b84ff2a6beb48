"""Turning code objects and callables into Sites: user code, library code, builtins."""
from __future__ import annotations

import sys
import threading
import types
from typing import Any

from capture.tracer._common import Site, UserCode, code_argnames, code_name

__all__ = ["Classifier", "own_type"]

_BUILTIN_FN = types.BuiltinFunctionType
_FUNCTION = types.FunctionType
_METHOD = types.MethodType


class Classifier:
    """Caches, per code object or callable, the Site it is recorded as (None: not recorded)."""

    def __init__(self, user: UserCode, main_file: str | None) -> None:
        self.user = user
        self.main_file = main_file
        self.codes: dict[Any, Site | None] = {}     # code object -> user Site, or None for library code
        self.lib_codes: dict[Any, Site] = {}        # library code object -> its boundary Site
        self.callables: dict[Any, Site | None] = {}  # C callable key -> Site (None: builtin, not recorded)
        self.user_types: dict[type, bool] = {}
        self._lock = threading.Lock()

    # -- Python code -----------------------------------------------------------
    def code(self, code: types.CodeType, module_name: str | None) -> Site | None:
        """The Site of a user code object, None for library code (cached)."""
        site: Site | None = None
        if self.user(code.co_filename):
            if code.co_name == "<module>" and code.co_filename == self.main_file:
                module_name = "__main__"
            name = code_name(code, module_name)
            if module_name and module_name != "__main__" and code.co_name != "<module>":
                name = f"{module_name}.{name}"  # a local module's function: say which module
            site = Site(name, code.co_filename, code.co_firstlineno, "user",
                        code_argnames(code), module_name)
        self.codes[code] = site
        return site

    def lib_code(self, code: types.CodeType, module_name: str | None) -> Site | None:
        """The Site of a library function entered straight from user code (None: provkg's own hooks)."""
        site = self.lib_codes.get(code)
        if site is None:
            if _ours(module_name) or code.co_filename.startswith("<frozen importlib"):
                return None  # provkg's own hooks; the import system (an import is not a call)
            name = code_name(code, module_name)
            full = f"{module_name}.{name}" if module_name and code.co_name != "<module>" else name
            site = self.lib_codes[code] = Site(full, code.co_filename, code.co_firstlineno, "library",
                                               code_argnames(code), module_name)
        return site

    # -- other callables ---------------------------------------------------------
    def callable_site(self, fn: Any) -> Site | None:
        """The Site of a non-Python callable called from user code (None if it is user-defined)."""
        key = _key(fn)
        try:
            return self.callables[key]
        except KeyError:
            pass
        except TypeError:  # unhashable callable object: classify every time
            return self._callable_site(fn)
        site = self.callables[key] = self._callable_site(fn)
        return site

    def _callable_site(self, fn: Any) -> Site | None:
        tp = type(fn)
        if own_type(tp) or _ours(getattr(fn, "__module__", None)):
            return None  # provkg's own hooks (file capture) are not the program's calls
        if tp is _BUILTIN_FN:
            owner = getattr(fn, "__self__", None)
            name = getattr(fn, "__name__", "?")
            if owner is None or isinstance(owner, types.ModuleType):
                mod = getattr(fn, "__module__", None) or getattr(owner, "__name__", None) or "builtins"
                kind = "builtin" if mod == "builtins" else "library"
                return Site(name if kind == "builtin" else f"{mod}.{name}", "", 0, kind, (), mod)
            otype = owner if isinstance(owner, type) else type(owner)
            if self.is_user_type(otype):
                return None
            mod = otype.__module__
            kind = "builtin" if mod == "builtins" else "library"
            qual = f"{otype.__qualname__}.{name}"
            return Site(qual if kind == "builtin" else f"{mod}.{qual}", "", 0, kind, (), mod)
        if isinstance(fn, type):
            if self.is_user_type(fn):
                return None
            mod = fn.__module__
            kind = "builtin" if mod == "builtins" else "library"
            return Site(fn.__qualname__ if kind == "builtin" else f"{mod}.{fn.__qualname__}", "", 0, kind, (),
                        mod)
        objclass = getattr(fn, "__objclass__", None)  # method descriptors: str.join, list.append
        if isinstance(objclass, type):
            mod = objclass.__module__
            kind = "builtin" if mod == "builtins" else "library"
            qual = f"{objclass.__qualname__}.{getattr(fn, '__name__', '?')}"
            return Site(qual if kind == "builtin" else f"{mod}.{qual}", "", 0, kind, (), mod)
        if self.is_user_type(tp):
            return None
        mod = tp.__module__
        kind = "builtin" if mod == "builtins" else "library"
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or tp.__qualname__
        return Site(name if kind == "builtin" else f"{mod}.{name}", "", 0, kind, (), mod)

    def is_user_type(self, tp: type) -> bool:
        hit = self.user_types.get(tp)
        if hit is None:
            mod = sys.modules.get(tp.__module__)
            f = getattr(mod, "__file__", None) if mod is not None else None
            hit = self.user_types[tp] = isinstance(f, str) and self.user(f)
        return hit


def _ours(module: Any) -> bool:
    return isinstance(module, str) and (module.startswith(("capture.", "kg.")) or module in ("capture", "kg"))


def own_type(tp: type) -> bool:
    """True for the type of a callable object of provkg's own (a hook the rewritten script calls)."""
    return _ours(getattr(tp, "__module__", None))


def _key(fn: Any) -> Any:
    # Bound builtin methods are new objects at every call: key them by (owner type, name).
    if type(fn) is _BUILTIN_FN:
        owner = getattr(fn, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            return (type(owner) if not isinstance(owner, type) else owner, fn.__name__)
    return fn
