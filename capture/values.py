"""Value summaries: primitives kept as they are, other objects summarised cheaply and safely."""
from __future__ import annotations

import argparse
import os
import reprlib
from collections.abc import Callable
from itertools import islice
from time import perf_counter
from typing import Any

from kg.config import settings

__all__ = ["summarize", "register_handler", "ATOMIC", "snapshot", "slow_reprs"]

# Immutable atoms: safe to keep by reference and summarise later on the flush thread.
ATOMIC = frozenset({int, float, bool, str, bytes, type(None), complex})
_JSON_SCALARS = (int, float, bool, str, type(None))

_handlers: dict[type, Callable[[Any], Any]] = {}


def register_handler(tp: type, handler: Callable[[Any], Any]) -> None:
    """Summarise instances of ``tp`` with ``handler(obj) -> JSON value`` instead of the default."""
    _handlers[tp] = handler
    _PLAIN.clear()
    _REPR_COST.clear()
    _INSTANCE.clear()


# Types whose instances summarise to {"type": name, "repr": repr(obj)} (when that repr is within
# the limit): no handler, no to_dict, shape or __len__, no attribute hooks, and a name reprlib has
# no special case for. Deciding that once per type instead of per object is what makes the
# ``self`` of every recorded method call cheap to summarise (it was half of `kg run`'s time on
# object-oriented programs).
_PLAIN: dict[type, str | None] = {}
_REPR_CASES = frozenset(name[5:] for name in dir(reprlib.Repr) if name.startswith("repr_"))


def _plain_name(tp: type) -> str | None:
    if (tp in _handlers or tp.__getattribute__ is not object.__getattribute__ or hasattr(tp, "__getattr__")
            or hasattr(tp, "to_dict") or hasattr(tp, "shape") or hasattr(tp, "__len__")
            or "_".join(tp.__name__.split()) in _REPR_CASES or isinstance(tp, type) and issubclass(tp, type)):
        return None
    if tp.__repr__ is not object.__repr__ and settings.repr_budget_us > 0:
        _REPR_COST.setdefault(tp, [0, 0.0])
    return _type_name(tp)


# A plain class with its own __repr__ is timed over its first PROBE values; one averaging more than
# settings.repr_budget_us is recorded by object.__repr__ (its identity, not its state) from then on,
# and the trial names it (slow_reprs). A board game's __repr__ drew the whole board at every method
# call, for a summary cut to 120 characters: two thirds of `kg run`'s time on that program.
# type -> [values timed, seconds] while probed; the average µs (a float) once slow; absent: not probed.
# The C tracers (capture/tracer/_cprofile.c) read and update the same dict.
_REPR_COST: dict[type, Any] = {}
PROBE = 16


def _timed(tp: type, cost: list[Any], seconds: float) -> None:
    cost[0] += 1
    cost[1] += seconds
    if cost[0] >= PROBE:
        avg = cost[1] / cost[0] * 1e6
        if avg > settings.repr_budget_us:
            _REPR_COST[tp] = avg
        else:
            _REPR_COST.pop(tp, None)


def _user_repr(value: Any) -> str:
    """repr(value), or object.__repr__(value) for a class whose repr is over budget."""
    cost = _REPR_COST.get(type(value))
    if cost is None:
        return repr(value)
    if type(cost) is float:
        return object.__repr__(value)
    t0 = perf_counter()
    r = repr(value)
    _timed(type(value), cost, perf_counter() - t0)
    return r


def slow_reprs() -> dict[str, float]:
    """Classes recorded by their default repr because their own was over budget: name -> µs per repr."""
    return {_type_name(tp): round(cost, 1) for tp, cost in list(_REPR_COST.items()) if type(cost) is float}


# type -> True if reprlib shows its objects by repr_instance (its name is none of reprlib's cases).
# The C summaries of containers (capture/tracer/_crepr.h) ask _instance_kind for a type they meet.
_INSTANCE: dict[type, bool] = {}


def _instance_kind(tp: type) -> bool:
    if tp not in _PLAIN:  # classified (and its repr timed) as summarize() would
        _PLAIN[tp] = _plain_name(tp)
    kind = _INSTANCE[tp] = "_".join(tp.__name__.split()) not in _REPR_CASES
    return kind


def _cut(text: str, limit: int) -> str:
    # reprlib.Repr.repr_instance's cut of a long repr: its middle becomes "...".
    if len(text) <= limit:
        return text
    i = max(0, (limit - 3) // 2)
    j = max(0, limit - 3 - i)
    return text[:i] + "..." + text[len(text) - j:]


class _Repr(reprlib.Repr):
    """reprlib.Repr without its sort of a whole set or dict (O(n log n) for every summary of a large
    one: a program passing a set of 100,000 items to a recorded function paid that at each call).
    A large set or dict shows its first items, sorted, and "..." as reprlib does."""

    BIG = 64
    KEPT = 4096  # frozenset reprs remembered

    def __init__(self) -> None:
        super().__init__()
        # A frozenset never changes: its repr is made once. Programs keep tables of them and pass
        # lists of them around (a puzzle solver spent two thirds of `kg run` re-sorting the same
        # small frozensets). The set is held with its repr, so its id() cannot be reused meanwhile.
        self._frozen: dict[tuple[int, int], tuple[frozenset[Any], str]] = {}

    def repr_set(self, x: Any, level: int) -> str:
        return super().repr_set(list(islice(x, self.maxset + 1)) if len(x) > self.BIG else x, level)

    def repr_frozenset(self, x: Any, level: int) -> str:
        key = (id(x), level)
        kept = self._frozen.get(key)
        if kept is not None and kept[0] is x:
            return kept[1]
        r = super().repr_frozenset(list(islice(x, self.maxfrozenset + 1)) if len(x) > self.BIG else x, level)
        if type(x) is frozenset:  # a subclass may change: not remembered
            if len(self._frozen) >= self.KEPT:
                self._frozen.clear()
            self._frozen[key] = (x, r)
        return r

    def repr_dict(self, x: Any, level: int) -> str:
        return super().repr_dict(dict(islice(x.items(), self.maxdict + 1)) if len(x) > self.BIG else x, level)

    def repr_instance(self, x: Any, level: int) -> str:
        if type(x) not in _INSTANCE:  # an object met only inside containers is probed too
            _instance_kind(type(x))
        try:
            s = _user_repr(x)
        except Exception:
            return "<%s instance at %#x>" % (x.__class__.__name__, id(x))
        return _cut(s, self.maxother)


def _repr(limit: int) -> reprlib.Repr:
    r = _Repr()
    r.maxstring = r.maxother = r.maxlong = limit
    r.maxlist = r.maxtuple = r.maxset = r.maxdict = r.maxfrozenset = r.maxdeque = r.maxarray = 8
    r.maxlevel = 3
    return r


_reprs: dict[int, reprlib.Repr] = {}


def _repr_for(limit: int) -> reprlib.Repr:
    # Records are finalised where they are read, with the capturing process's limit.
    r = _reprs.get(limit)
    if r is None:
        r = _reprs[limit] = _repr(limit)
    return r


def _type_name(tp: type) -> str:
    mod = tp.__module__
    return tp.__qualname__ if mod == "builtins" else f"{mod}.{tp.__qualname__}"


def summarize(value: Any, limit: int | None = None) -> Any:
    """A JSON value describing ``value`` without copying it.

    JSON scalars come back as they are (long strings cut); anything else becomes
    ``{"type", "repr", "size"?, "shape"?, "dtype"?}``, or what ``to_dict()`` or a
    registered handler returns. ``limit``: the repr limit (default ``settings.repr_limit``).
    Never raises."""
    tp = type(value)
    if limit is None:
        limit = settings.repr_limit
    if tp in _JSON_SCALARS:
        if tp is str and len(value) > limit:
            return {"type": "str", "size": len(value), "repr": _repr_for(limit).repr(value)}
        if tp is float and value != value:  # NaN is not JSON
            return {"type": "float", "repr": "nan"}
        return value
    plain = _PLAIN.get(tp, "")
    if plain == "":
        plain = _PLAIN[tp] = _plain_name(tp)
    if plain is not None:
        own = getattr(value, "__dict__", None)  # attributes set on this object alone count too
        if own is None or ("to_dict" not in own and "shape" not in own):
            try:
                r = _user_repr(value)
            except Exception:  # a broken __repr__: the general path below says so
                r = None
            if r is not None:  # cut as the general path's reprlib would (without a second repr)
                return {"type": plain, "repr": _cut(r, limit)}
    short = _repr_for(limit)
    try:
        handler = _handlers.get(tp)
        if handler is not None:
            return handler(value)
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict) and not isinstance(value, type):
            return {"type": _type_name(tp), "value": _jsonable(to_dict())}
        out: dict[str, Any] = {"type": _type_name(tp)}
        shape = getattr(value, "shape", None)
        if shape is not None and hasattr(value, "dtype"):  # numpy, torch, pandas... never repr the data
            out["shape"] = [int(s) for s in shape]
            out["dtype"] = str(value.dtype)
            return out
        try:
            out["size"] = len(value)
        except Exception:
            pass
        out["repr"] = short.repr(value)
        return out
    except Exception as exc:  # a broken __repr__ must not break capture
        return {"type": _type_name(tp), "repr": f"<unrepresentable: {type(exc).__name__}>"}


def _environ(value: Any) -> Any:
    # The environment is never recorded by value: its repr holds every variable, secrets included.
    return {"type": "os._Environ", "repr": "<os.environ: not recorded>", "size": len(value)}


def _environ_view(value: Any) -> Any:
    # keys()/items()/values() of os.environ (dict(os.environ) iterates them) show the whole mapping too.
    if isinstance(getattr(value, "_mapping", None), os._Environ):
        return {"type": _type_name(type(value)), "repr": "<view of os.environ: not recorded>", "size": len(value)}
    return {"type": _type_name(type(value)), "size": len(value), "repr": _repr_for(settings.repr_limit).repr(value)}


register_handler(os._Environ, _environ)
for _view in (type(os.environ.keys()), type(os.environ.items()), type(os.environ.values())):
    register_handler(_view, _environ_view)


def _jsonable(obj: Any, depth: int = 0) -> Any:
    if type(obj) in _JSON_SCALARS:
        return summarize(obj)
    if depth < 3 and isinstance(obj, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(obj.items())[:50]}
    if depth < 3 and isinstance(obj, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in obj[:50]]
    return summarize(obj)


def snapshot(values: dict[str, Any]) -> dict[str, Any]:
    """Summarise the mutable values of ``values`` now (they may change later); atoms are kept.

    An ``argparse.Namespace`` is flattened into its attributes."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if type(v) in ATOMIC:
            out[k] = v
        elif isinstance(v, argparse.Namespace):
            for nk, nv in vars(v).items():
                out[nk] = nv if type(nv) in ATOMIC else summarize(nv)
        else:
            out[k] = summarize(v)
    return out
