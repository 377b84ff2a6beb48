"""Dataflow between tasks for atoms (numbers, strings, bytes): an output passed to the next task
is the same PROV entity, not a new value.

Objects that are not atoms are matched by ``id()`` with their summary (``capture._spec``).
Atoms need more care, because CPython shares some of them:

- a *fresh* atom (a float, an int outside the small-int cache, a computed string or bytes) is
  one object made by the task: matched by identity. The map holds the object, so its ``id()``
  cannot be taken by another object while it is remembered (a long one is kept as a
  fingerprint instead of being held: length and ends).
- a *shared* atom (``True``, small ints, the empty string, one-character and identifier-like
  strings, which CPython caches or interns) is the same object wherever that value occurs, so
  identity says nothing. It is matched by call site: the variable the caller stored the
  task's result in (the instruction after the call), loaded again by the call that passes it
  on, in the same frame, still holding that object; or the call whose result is passed on
  directly (``b(a())``). ``b(1)`` with a literal never links.

Both maps are bounded (``CAP`` entries each, oldest dropped).
"""
from __future__ import annotations

import bisect
import dis
import sys
from types import CodeType, FrameType
from typing import Any

from capture._state import task_id
from kg.config import settings

__all__ = ["FRESH", "SITES", "LINKED", "produced", "remember", "may_link", "link", "forget_fingerprints", "CAP"]

CAP = 10_000
HOLD = 1024  # longest str/bytes held by reference; a longer one is remembered by fingerprint

FRESH: dict[int, tuple[Any, int, str]] = {}               # id(obj) -> (obj or fingerprint, task n, output)
SITES: dict[tuple[int, str], tuple[Any, int, str]] = {}   # (id(frame), variable) -> (obj, task n, output)
LINKED = [0]  # links made so far: until the first, sealing tasks need not look for them

_STORES = frozenset({"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"})
_LOADS = frozenset({"LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_FAST_CHECK",
                    "LOAD_FAST_AND_CLEAR", "LOAD_FAST_LOAD_FAST", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"})
_code_cache: dict[CodeType, tuple[list[int], list[dis.Instruction]]] = {}
_site_cache: dict[tuple[CodeType, int], Any] = {}


def _shared(v: Any) -> bool:
    t = type(v)
    if t is int:
        return -5 <= v <= 256
    if t is str:
        return len(v) <= 1 or (len(v) <= 64 and v.isidentifier())
    if t is bytes:
        return len(v) <= 1
    return t is bool or v is None


def _fingerprint(v: Any) -> Any:
    if type(v) in (str, bytes) and len(v) > HOLD:
        return (type(v), len(v), v[:32], v[-32:])
    return v


def _instructions(code: CodeType) -> tuple[list[int], list[dis.Instruction]]:
    got = _code_cache.get(code)
    if got is None:
        ins = list(dis.get_instructions(code))
        got = _code_cache[code] = ([i.offset for i in ins], ins)
    return got


def _at(code: CodeType, lasti: int) -> tuple[int, list[dis.Instruction]]:
    """Index of the call instruction at ``lasti`` (3.11 reports an offset inside its caches)."""
    offsets, ins = _instructions(code)
    return bisect.bisect_right(offsets, lasti) - 1, ins


def _store_target(code: CodeType, lasti: int) -> str | None:
    """Where the result of the call at ``lasti`` goes: the variable it is stored in (``y = task(x)``),
    or ``@<offset>`` of the call itself when it stays on the stack (``f(task(x))``: _loaded names it)."""
    key = (code, -lasti - 1)
    if key in _site_cache:
        return _site_cache[key]
    i, ins = _at(code, lasti)
    name = None
    if 0 <= i < len(ins) - 1:
        nxt = ins[i + 1]
        if nxt.opname in _STORES:
            name = nxt.argval
        elif nxt.opname not in ("POP_TOP", "RETURN_VALUE"):
            name = f"@{ins[i].offset}"
    _site_cache[key] = name
    return name


def _effect(ins: dis.Instruction) -> int:
    try:
        return dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None, jump=False)
    except ValueError:
        return 0


def _loaded(code: CodeType, lasti: int) -> tuple[str, ...]:
    """The variables the call at ``lasti`` loads for its callee and arguments: walking back from the
    call until the instructions seen have pushed what it pops (straight-line argument code)."""
    key = (code, lasti)
    got = _site_cache.get(key)
    if got is None:
        i, ins = _at(code, lasti)
        names: list[str] = []
        if 0 <= i < len(ins):
            need = 1 - _effect(ins[i])  # a call pops its callee and arguments and pushes the result
            j, pushed = i - 1, 0
            while j >= 0 and pushed < need and i - j <= 64:
                pushed += _effect(ins[j])
                if ins[j].opname in _LOADS:
                    val = ins[j].argval
                    names += list(val) if isinstance(val, tuple) else [val]
                elif ins[j].opname.startswith("CALL"):  # a call's result passed on directly: f(g(x))
                    names.append(f"@{ins[j].offset}")
                j -= 1
        got = _site_cache[key] = tuple(names)
    return got


def _trim(d: dict[Any, Any]) -> None:
    """Keep the newer half of a full map: amortised O(1) per entry (deleting a dict's first key
    one at a time is not: iteration skips the deleted slots)."""
    items = list(d.items())
    d.clear()
    d.update(items[len(items) // 2:])


def produced(v: Any, n: int, name: str, depth: int | None = None) -> None:
    """Task ``n`` returned atom ``v`` as output ``name`` to the frame ``depth`` levels up
    (None: an item of a result, not stored by name: matched by identity only). Runs at every
    task return: kept to a few dict operations."""
    t = type(v)
    held = v
    if t is int:
        shared = -5 <= v <= 256
    elif t is str or t is bytes:
        shared = len(v) <= 1 or (t is str and len(v) <= 64 and v.isidentifier())
        if len(v) > HOLD:
            held = _fingerprint(v)
    else:
        shared = t is bool or v is None
    if not shared:
        if len(FRESH) >= CAP:
            _trim(FRESH)
        FRESH[id(v)] = (held, n, name)
        return
    if depth is None:
        return
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return
    var = _store_target(frame.f_code, frame.f_lasti)
    if var is not None:
        if len(SITES) >= CAP:
            _trim(SITES)
        SITES[(id(frame), var)] = (v, n, name)


def forget_fingerprints() -> None:
    """Drop the long strings remembered by fingerprint (called as an outermost run starts).

    A fingerprint does not hold its string, so once that string is freed an equal one can be
    made at the same address: within a run that is a rare, documented risk, but a process
    running one run after another (a notebook, a test suite) made it likely, and linked a new
    run's value to an old run's task. Held objects stay: they are the very same objects."""
    stale = [k for k, e in FRESH.items() if type(e[0]) is tuple]
    for k in stale:
        del FRESH[k]


def _source(v: Any, frame: FrameType | None) -> str | None:
    if _shared(v):
        if frame is None or not SITES:
            return None
        fid = id(frame)
        for var in _loaded(frame.f_code, frame.f_lasti):
            e = SITES.get((fid, var))
            if e is not None and e[0] is v:
                return f"{task_id(e[1])}/out/{e[2]}"
        return None
    if _c_lookup is not None:
        hit = _c_lookup(v)
        if hit is not None:
            return f"{task_id(hit[0])}/out/{hit[1]}"
    e = FRESH.get(id(v))
    if e is None:
        return None
    held = e[0]
    if held is v or (type(held) is tuple and held == _fingerprint(v)):
        return f"{task_id(e[1])}/out/{e[2]}"
    return None


def _may_be_outputs(values: Any) -> bool:
    fresh, sites = FRESH, SITES
    for a in values:
        if id(a) in fresh:
            return True
        if sites:
            t = type(a)
            if t is bool or a is None or (t is int and -5 <= a <= 256) or (t in (str, bytes) and len(a) <= 64):
                return True
    return False


def _py_may_link(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> bool:
    """The cheap first test of a call: False when no argument can be an earlier task's output."""
    if not FRESH and not SITES:
        return False
    return _may_be_outputs(args) or bool(kwargs and _may_be_outputs(kwargs.values()))


def _py_remember(v: Any, n: int, name: str) -> bool:
    """The C form remembers fresh atoms itself; here ``produced`` does all of it (None: nothing)."""
    return v is None


def link(args: tuple[Any, ...], kwargs: dict[str, Any] | None,
         depth: int = 2) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """Atom arguments that are earlier tasks' outputs, replaced by ``{"$from": output, "summary": v}``
    (a marshal-able dict, so the record stays in its segment). ``depth``: the caller's frame.
    Call after ``may_link(args, kwargs)`` said True."""
    try:
        frame: FrameType | None = sys._getframe(depth)
    except ValueError:
        frame = None
    out = None
    for i, a in enumerate(args):
        src = _source(a, frame)
        if src is not None:
            if out is None:
                out = list(args)
            out[i] = {"$from": src, "summary": a}
    kw = None
    if kwargs:
        for k, a in kwargs.items():
            src = _source(a, frame)
            if src is not None:
                if kw is None:
                    kw = dict(kwargs)
                kw[k] = {"$from": src, "summary": a}
    if out is not None or kw is not None:
        LINKED[0] += 1
    return (args if out is None else tuple(out)), (kwargs if kw is None else kw)


def _native() -> tuple[Any, Any, Any]:
    if not settings.native:
        return _py_remember, _py_may_link, None
    try:
        from capture import _cdataflow
    except ImportError:
        return _py_remember, _py_may_link, None
    _cdataflow.configure(SITES, FRESH, CAP, HOLD)
    return _cdataflow.remember, _cdataflow.may_link, _cdataflow.lookup


# remember(v, n, name) -> bool (False: call produced); may_link(args, kwargs) -> bool. The C forms
# keep fresh atoms in their own ring (capture/_cdataflow.c); FRESH then holds Python's long strings.
remember, may_link, _c_lookup = _native()
