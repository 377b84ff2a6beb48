"""What every tracer shares: options, the user-code test, the call-site table and the record expander.

A tracer's hot path builds one tuple of atoms per activation and appends it to the sink;
``expand_activation`` turns it into one compact Activation node on the flush thread
(see kg.model.prov: ``used``/``generated``/``parent`` props stand for the PROV relations)."""
from __future__ import annotations

import itertools
import os
import sys
import sysconfig
import threading
from dataclasses import dataclass
from operator import itemgetter
from types import CodeType
from typing import Any

import orjson

from capture.values import _PLAIN, ATOMIC, _plain_name, summarize
from kg.config import settings
from kg.ids import after_fork_in_child
from kg.exceptions import ConfigError
from kg.ids import process_prefix
from kg.model import Edge, Kind, Node, ProvClass
from kg.model.records import stored_order
from kg.segments import LIVE, Ctx, NumberedCodec, register_codec, register_table
from kg.sink import register_expander

__all__ = ["TraceOptions", "UserCode", "Site", "SITES", "act_id", "expand_activation", "ACT_CODE",
           "summ_args", "summ_value", "next_number", "CALL_MODES", "VALUE_MODES"]

CALL_MODES = ("user", "library", "all")
VALUE_MODES = ("full", "type", "none")


@dataclass
class TraceOptions:
    """How much of the execution a tracer records.

    ``depth``: deepest activation level recorded (0: no limit; 1: functions called by the
    module code only). ``calls``: ``user`` records user-code functions only; ``library``
    (default) also the calls user code makes into library functions (one activation
    where control leaves user code, nothing inside the library); ``all`` also calls into
    builtins (len, list.append...). ``values``: ``full`` summarises arguments and return
    values, ``type`` keeps only their type and size, ``none`` keeps neither."""

    depth: int = 0
    calls: str = "library"
    values: str = "full"
    dataflow: bool = False  # variable-level dataflow of the main script (capture.finegrained)

    def __post_init__(self) -> None:
        if self.calls not in CALL_MODES:
            raise ConfigError(f"calls must be one of {', '.join(CALL_MODES)}, not {self.calls!r}")
        if self.values not in VALUE_MODES:
            raise ConfigError(f"values must be one of {', '.join(VALUE_MODES)}, not {self.values!r}")
        if self.depth < 0:
            raise ConfigError("depth must be >= 0")


def _library_dirs() -> tuple[str, ...]:
    # Everything Python itself or an installer put there is library code, wherever the project lives.
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            dirs.add(sysconfig.get_paths()[key])
        except KeyError:
            pass
    import site

    for d in [*getattr(site, "getsitepackages", lambda: [])(), site.getusersitepackages()]:
        dirs.add(d)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dirs.add(os.path.join(here, "capture"))  # provkg itself is never user code
    dirs.add(os.path.join(here, "kg"))
    return tuple(sorted({os.path.realpath(d) + os.sep for d in dirs if d}))


class UserCode:
    """Decides which files are user code: the main file, and files under the project roots
    (the script's directory, or the working directory for ``-m``) that are not inside the
    Python installation, a virtualenv or site-packages."""

    def __init__(self, main_file: str | None, roots: list[str]) -> None:
        self.main = os.path.realpath(main_file) if main_file else None
        self.roots = tuple(os.path.realpath(r) + os.sep for r in roots)
        self.excluded = _library_dirs()
        self._cache: dict[str, bool] = {}

    def __call__(self, filename: str) -> bool:
        hit = self._cache.get(filename)
        if hit is None:
            hit = self._cache[filename] = self._decide(filename)
        return hit

    def _decide(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False
        path = os.path.realpath(filename)
        if path == self.main:
            return True
        if not path.endswith((".py", ".pyw")):
            return False
        if any(path.startswith(x) for x in self.excluded):
            # A project root inside a library dir (e.g. the venv itself) still counts when it is deeper.
            if not any(path.startswith(r) and len(r) > len(x) for r in self.roots for x in self.excluded
                       if path.startswith(x)):
                return False
        return any(path.startswith(r) for r in self.roots)


class Site:
    """A traced function (user code) or a library callable: what is fixed per code object."""

    __slots__ = ("idx", "name", "file", "line", "kind", "argnames", "getter", "module")

    def __init__(self, name: str, file: str, line: int, kind: str, argnames: tuple[str, ...] = (),
                 module: str | None = None, *, register: bool = True) -> None:
        self.name = name
        self.file = file
        self.line = line
        self.kind = kind            # "user" | "library" | "builtin"
        self.argnames = argnames
        self.module = module
        # itemgetter returns a bare value for one key: keep the tuple shape uniform.
        if len(argnames) > 1:
            self.getter: Any = itemgetter(*argnames)
        elif argnames:
            one = itemgetter(argnames[0])
            self.getter = lambda d, _g=one: (_g(d),)
        else:
            self.getter = None
        self.idx = -1
        if register:  # records name their site by index (a reader's copies are not registered)
            with _sites_lock:
                self.idx = len(SITES)
                SITES.append(self)


SITES: list[Site] = []
_sites_lock = threading.Lock()


def code_argnames(code: CodeType) -> tuple[str, ...]:
    n = code.co_argcount + code.co_kwonlyargcount
    flags = code.co_flags
    n += bool(flags & 0x04) + bool(flags & 0x08)  # *args, **kwargs
    return tuple(code.co_varnames[:n])


def code_name(code: CodeType, module_name: str | None) -> str:
    if code.co_name == "<module>":
        return module_name or "<module>"
    return getattr(code, "co_qualname", code.co_name)


_counter = itertools.count(1)
next_number = _counter.__next__


def act_id(n: int) -> str:
    """The graph id of activation number ``n`` of this process."""
    return f"a-{process_prefix()}.{n:x}"


def _reset_counter() -> None:
    global _counter, next_number
    _counter = itertools.count(1)
    next_number = _counter.__next__


after_fork_in_child(_reset_counter)

_atomic_superset = ATOMIC.issuperset


_getsizeof = sys.getsizeof
_getrefcount = sys.getrefcount
SWEEP_MIN = 256  # generator entries swept when there are this many (then twice as many as remain)


def sweep_closed(gens: dict[Any, list[Any]], held: int, done: Any) -> int:
    """Pass ``done(entry)`` the entries of ``gens`` (running generators: frame -> activation) whose
    generator is gone, and drop them; returns the size at which to sweep next (twice what remains).

    A generator closed before its end (``any()`` stopping early, a ``return`` out of a ``for``)
    is not seen ending by setprofile (it looks suspended at its last yield), nor on 3.13 by
    sys.monitoring (a generator suspended outside ``try`` is closed without running). Its frame
    then outlives it only in ``gens`` (the generator held a reference to it): a frame with no
    references but the dict's key, the ``held`` others of the tracer, and this function's own
    two (the loop variable, getrefcount's argument) belongs to a generator that is gone. Left
    alone, such entries stayed until the trial ended (100,000 frames for a program making
    100,000 such generators, walked by every full collection), or their ids were reused."""
    for frame in [f for f in gens if _getrefcount(f) <= 3 + held]:
        done(gens.pop(frame))
    return max(SWEEP_MIN, 2 * len(gens))


_SETS = (set, frozenset)


def summ_value(v: Any, mode: str) -> Any:
    """A value as the hot path keeps it, in a form ``marshal`` can store (kg.segments): immutable
    atoms and small tuples of them by reference, a small list of atoms as a list (a copy), anything
    else summarised now into its dict. The final form is made where records are read (``_final``).

    (A small set is a ``_Copy``: its repr's order depends on the process's string hashing, so it
    is finalised where it was captured; a summary that is not a dict is a ``_Summary``.)"""
    tp = type(v)
    if tp in ATOMIC:
        return v
    if mode == "full":
        if tp is tuple:
            if len(v) <= 16 and _atomic_superset(map(type, v)):
                return v
        elif tp is list:
            if len(v) <= 16 and _atomic_superset(map(type, v)):
                return list(v)
        elif tp in _SETS:
            if len(v) <= 16 and _atomic_superset(map(type, v)):
                return _Copy(tp, tuple(v))
        summary = summarize(v)
        return summary if type(summary) is dict else _Summary(summary)
    return _type_summary(v)


def summ_args(args: tuple[Any, ...], mode: str) -> tuple[Any, ...]:
    if _atomic_superset(map(type, args)):
        return args
    return tuple([summ_value(v, mode) for v in args])


def _list_copy(tp: type, items: tuple[Any, ...]) -> list[Any]:
    """What the C hot paths keep of a small list of atoms (their ``copy_cls``): a list."""
    return list(items)


class _Copy:
    """A small set of atoms, copied at call time."""

    __slots__ = ("tp", "items")

    def __init__(self, tp: type, items: tuple[Any, ...]) -> None:
        self.tp = tp
        self.items = items


def _type_summary(v: Any) -> dict[str, Any]:
    tp = type(v)
    plain = _PLAIN.get(tp, "")
    if plain == "":
        plain = _PLAIN[tp] = _plain_name(tp)
    if plain is not None:  # no size or shape to look for (see capture.values._plain_name)
        return {"type": plain}
    out: dict[str, Any] = {"type": tp.__qualname__ if tp.__module__ == "builtins"
                           else f"{tp.__module__}.{tp.__qualname__}"}
    try:
        shape = getattr(v, "shape", None)
        if shape is not None and hasattr(v, "dtype"):
            out["shape"] = [int(s) for s in shape]
        elif hasattr(tp, "__len__"):
            out["size"] = len(v)
    except Exception:
        pass
    return out


class _Summary:
    """A value summarised at call time into something other than a dict (a handler's string...)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


def _final(v: Any, limit: int | None = None) -> Any:
    """The stored value of what the hot path kept (``limit``: the capturing process's repr limit)."""
    t = type(v)
    if t is int or t is bool or v is None or (t is float and v == v) or t is dict:
        return v  # a dict is a summary made at call time
    if limit is None:
        limit = settings.repr_limit
    if t is str:
        return v if len(v) <= limit else summarize(v, limit)
    if t is list:
        return _small(list, v, limit)
    if t is _Summary:
        return v.v
    if t is _Copy:
        return _small(v.tp, v.items, limit)
    if t is tuple or t is frozenset:
        return _small(t, v, limit)
    return summarize(v, limit)  # other atoms: bytes, NaN, complex


def _small(tp: type, items: Any, limit: int) -> Any:
    # Containers of at most 16 atoms: the builtin repr is far cheaper than reprlib.
    if max(map(_getsizeof, items), default=0) > 4 * limit:
        return summarize(tp(items), limit)
    r = repr(tp(items)) if tp is not tuple else repr(items)
    return {"type": tp.__name__, "size": len(items), "repr": r if len(r) <= limit else r[:limit] + "…"}


_ACT = ProvClass.ACTIVITY.value
_ACTIVATION = Kind.ACTIVATION.value
_NO_RESULT = ...  # an activation without a result (marshal keeps Ellipsis; no kept value is ever one)
NO_RESULT = _NO_RESULT


def decode_activation(item: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge]) -> None:
    """One packed activation -> one compact Activation node (the Python form of _cexpand.expand)."""
    (_, n, parent, run, site_idx, line, t0, t1, args, result, status, err, extra) = item
    site = ctx.sites[site_idx]
    limit = ctx.limit
    # Kept small on purpose: activations are the most numerous records, and the store's write
    # rate falls with row size (duration = ended - started; the function's file and line are
    # in its Definition; library calls carry their module in their name).
    prefix = ctx.prefix
    # Props in the order the embedded store gives nodes back (kg.model.records.stored_order).
    props: dict[str, Any] = {}
    if line:
        props["line"] = line
    if site.kind != "user":
        props["call"] = site.kind
    if args:
        names = site.argnames
        if len(names) == len(args):
            props["used"] = {k: _final(v, limit) for k, v in zip(names, args)}
        else:  # a library callable seen from its call site: positional values only
            props["used"] = {f"arg{i}": _final(v, limit) for i, v in enumerate(args)}
    if status == "FINISHED" and result is not _NO_RESULT:
        props["generated"] = {"return": _final(result, limit)}
    elif status == "YIELDED":
        props["generated"] = {"yield": _final(result, limit)}
    if err:
        props["error_type"], props["error"] = err
    props["run"] = run
    props["name"] = site.name
    props["status"] = status
    props["parent"] = f"a-{prefix}.{parent:x}" if parent else run
    props["started"] = t0
    props["ended"] = t1
    if extra:
        props = stored_order({**props, **extra})
    nodes.append(Node(f"a-{prefix}.{n:x}", _ACT, _ACTIVATION, props))


def expand_activation(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    """Flush-thread half of an activation: one compact Activation node (this process's context)."""
    decode_activation(item, LIVE, nodes, edges)


class TracerBase:
    """What both tracers (sys.setprofile, sys.monitoring) share: their state, fault and buffer handling."""

    name = ""

    def __init__(self, run_id: str, classifier: Any, options: TraceOptions, sink: Any) -> None:
        self.run_id = run_id
        self.cls = classifier
        self.opts = options
        self.sink = sink
        self.put = sink.put
        self.stacks: dict[int, list[list[Any]]] = {}
        self._own = 0  # activations the Python callbacks recorded
        self.faults = 0

    @property
    def records(self) -> int:
        """Activations recorded so far, by the Python callbacks and by the C hot path."""
        return self._own + self.native_records()

    def native_records(self) -> int:
        return 0  # no C hot path

    def fault(self, exc: BaseException) -> None:
        self.faults += 1
        if self.faults == 1:
            import logging

            logging.getLogger("kg.tracer").warning("provkg tracer fault (reported once): %r", exc)

    def pressure(self) -> None:
        # Every 1024 records (see Sink.check).
        sink = self.sink
        if sink is not None:
            sink.check()


def _native_decode() -> Any:
    # The C form of decode_activation (capture/tracer/_cexpand.c), where it was built and KG_C
    # is not 0: ~5x faster. Chosen once, at import.
    if not settings.native:
        return None
    try:
        from capture.tracer import _cexpand  # type: ignore[attr-defined]  # a C extension
    except ImportError:
        return None
    _cexpand.configure(node=Node, final=_final, no_result=_NO_RESULT, summary=_Summary, copy=_Copy,
                       order=stored_order)
    return _cexpand.expand


class _ActCodec(NumberedCodec):
    """Activations in segments: ``(code, n, parent, run, site, line, t0, t1, args, result, status, err,
    extra)``, numbered ``a-<prefix>.<n>``, the parent a number of the same space (0: the run)."""

    name = "act"
    tag = "a"
    n_pos, parent_pos, run_pos = 1, 2, 3

    def __init__(self, code: int, native: Any) -> None:
        super().__init__()
        self.code = code
        self._native = native

    def decode(self, rec: tuple[Any, ...], ctx: Ctx, nodes: list[Node], edges: list[Edge],
               n: int | None = None) -> None:
        if self._native is not None:
            self._native(rec, nodes, edges, ctx)
        else:
            decode_activation(rec, ctx, nodes, edges)

    def kinds(self, recs: list[tuple[Any, ...]]) -> set[str]:
        return {_ACTIVATION}


def _site_dump(site: Site) -> str:
    return orjson.dumps({"name": site.name, "file": site.file, "line": site.line, "kind": site.kind,
                         "argnames": list(site.argnames), "module": site.module}).decode()


def _site_load(text: str) -> Site:
    d = orjson.loads(text)
    return Site(d["name"], d["file"], d["line"], d["kind"], tuple(d["argnames"]), d.get("module"), register=False)


_NATIVE = _native_decode()
ACT_CODE = register_expander(
    (lambda item, nodes, edges, _c=_NATIVE: _c(item, nodes, edges, LIVE)) if _NATIVE else expand_activation)
register_codec(_ActCodec(ACT_CODE, _NATIVE))
register_table("sites", SITES, _site_dump, _site_load)
