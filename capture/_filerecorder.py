"""The recorder behind the file hooks: paths to skip, content snapshots, pending writes, emitted records."""
from __future__ import annotations

import itertools
import logging
import os
import stat
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from capture._fileprov import ACCESS_CODE, WRITE_MODES, Snap, version_id
from kg import content, ids
from kg.config import settings
from kg.exceptions import CaptureError
from kg.model.records import Edge
from kg.model.terms import Relation

__all__ = ["Recorder", "busy_flag"]

log = logging.getLogger("capture.files")

# Calls from these top-level modules are the interpreter's or our own, never the user's data.
_SKIP_TOP = frozenset({
    "kg", "capture", "importlib", "linecache", "tokenize", "traceback", "inspect", "pkgutil", "zipimport",
    "runpy", "site", "sysconfig", "_pytest", "pytest", "pluggy", "coverage",
})
# A cached hash is trusted only if the file's mtime was this much older than the hashing
# (timestamps are coarse: a same-size rewrite within one tick would keep (size, mtime)).
_RACY_NS = 50_000_000

# Per thread: True while a hook runs the original (whose own file calls must not be recorded).
busy_flag = threading.local()
_local = busy_flag
_access_ids = itertools.count(1)


_DERIVED = Relation.WAS_DERIVED_FROM.value


class _Pending:
    __slots__ = ("n", "fa", "path", "mode", "op", "t0", "before", "act", "ref")

    def __init__(self, n: int, fa: str, path: str, mode: str, op: str, t0: float, before: Snap | None,
                 act: str) -> None:
        self.n, self.fa, self.path, self.mode, self.op = n, fa, path, mode, op
        self.t0, self.before, self.act = t0, before, act
        self.ref: Any = None

    def closed(self) -> bool:
        f = self.ref() if self.ref is not None else None
        if f is None:
            return True
        try:
            return bool(f.closed)
        except Exception:
            return True


class Recorder:
    """The state of one installed capture: the trial, the pending writes, the hash cache."""

    def __init__(self, trial: str, *, root: Path, limit: int, skip: tuple[str, ...],
                 activation: Callable[[], Any] | None) -> None:
        self.trial = trial
        self.root = root
        self.limit = limit
        self.skip = skip
        self.activation = activation
        self.counter = itertools.count(1)
        self.lock = threading.RLock()
        self.pending: dict[int, _Pending] = {}
        self.by_path: dict[str, set[int]] = {}
        self.closed_q: deque[int] = deque()
        self.cache: dict[str, tuple[tuple[int, int, int, int], int, Snap]] = {}
        self.records = 0
        self.faults = 0
        self.reads: dict[str, str] = {}  # version id -> path, in the order first read
        self._warned = False
        self.handle: Any = None  # the FileCapture
        from capture._state import put

        self.put = put

    # -- helpers -------------------------------------------------------------
    def fault(self, exc: BaseException) -> None:
        self.faults += 1
        if settings.strict:
            raise CaptureError(f"file capture fault: {exc!r}") from exc
        if not self._warned:
            self._warned = True
            log.warning("provkg file capture fault (reported once): %r", exc)

    def path_of(self, file: Any, frame: Any) -> str | None:
        """The absolute path to record, or None when this access is not recorded."""
        if frame is not None:
            mod = frame.f_globals.get("__name__") or ""
            if mod.partition(".")[0] in _SKIP_TOP:
                return None
        if isinstance(file, int):
            return None
        p = os.fspath(file)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        p = os.path.abspath(p)
        if (p + os.sep).startswith(self.skip) or "__pycache__" in p:
            return None
        return p

    def act(self) -> str:
        fn = self.activation
        if fn is not None:
            try:
                a = fn()
                if a:
                    return str(a)
            except Exception:
                pass
        return self.trial

    def snap(self, path: str, *, cached: bool = True) -> Snap | None:
        """(sha, size, kept) of a regular file now, keeping its content; None if absent or not a file."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        if cached:
            hit = self.cache.get(path)
            if hit is not None and hit[0] == key and hit[1] - st.st_mtime_ns > _RACY_NS:
                return hit[2]
        now = time.time_ns()
        try:
            s = content.store_file(path, root=self.root, limit=self.limit)
        except FileNotFoundError:
            return None
        snap = (s.sha256, s.size, s.stored)
        self.cache[path] = (key, now, snap)
        return snap

    def emit(self, fa: str, n: int, op: str, mode: str, path: str, t0: float, t1: float, before: Snap | None,
             after: Snap | None, act: str, src: str | None = None, src_snap: Snap | None = None) -> None:
        self.put((ACCESS_CODE, fa, self.trial, act, n, op, mode, path, t0, t1, before, after, src, src_snap))
        self.records += 1
        self._io_lineage(op, mode, path, t1, after, src)

    # Process-level lineage, as strace-style provenance tools do it: a version the trial
    # writes may depend on every version it read before (conservative; capped). Without it,
    # an output written by one function and an input read by another share no path up.
    _READ_CAP = 256

    def _io_lineage(self, op: str, mode: str, path: str, t: float, after: Snap | None, src: str | None) -> None:
        if after is None or op == "mkdir":
            return
        vid = version_id(after[0], path)
        if src is None and not WRITE_MODES.intersection(mode):
            reads = self.reads
            if vid not in reads and len(reads) < self._READ_CAP:
                reads[vid] = path
            return
        for rid, rpath in list(self.reads.items()):
            if rpath != path and rid != vid:
                self.put(Edge(_DERIVED, vid, rid, {"run": self.trial, "role": "read-before-write", "time": t}))

    def new_access(self) -> tuple[int, str]:
        # n numbers the trial's accesses; the id must also differ between captures of one
        # process and between forked processes (the prefix is redrawn after fork).
        return next(self.counter), f"fa-{ids.process_prefix()}.{next(_access_ids):x}"

    # -- pending writes --------------------------------------------------------
    def add_pending(self, f: Any, n: int, fa: str, path: str, mode: str, op: str, t0: float,
                    before: Snap | None, act: str) -> None:
        p = _Pending(n, fa, path, mode, op, t0, before, act)
        q = self.closed_q
        def closed(_ref: Any, n: int = n) -> None:  # may run in any thread, mid-anything: only queue
            q.append(n)

        try:
            p.ref = weakref.ref(f, closed)
        except TypeError:
            p.ref = None
        with self.lock:
            self.pending[n] = p
            self.by_path.setdefault(path, set()).add(n)

    def settle(self, n: int) -> None:
        with self.lock:
            p = self.pending.pop(n, None)
            if p is None:
                return
            s = self.by_path.get(p.path)
            if s is not None:
                s.discard(n)
                if not s:
                    del self.by_path[p.path]
        after = self.snap(p.path, cached=False)
        self.emit(p.fa, p.n, p.op, p.mode, p.path, p.t0, time.time(), p.before, after, p.act)

    def settle_path(self, path: str) -> None:
        """Before another access to ``path``: record the writes to it that are closed by now."""
        ns = self.by_path.get(path)
        if ns:
            for n in sorted(ns):
                p = self.pending.get(n)
                if p is not None and p.closed():
                    self.settle(n)

    def drain(self) -> None:
        """Record the writes whose file objects were garbage-collected."""
        q = self.closed_q
        while q:
            try:
                n = q.popleft()
            except IndexError:
                break
            self.settle(n)

    def settle_all(self) -> None:
        self.drain()
        for n in sorted(self.pending):
            self.settle(n)

    def target(self, file: Any, frame: Any) -> str | None:
        """The absolute path an access is about, or None when it is not one we record (never raises)."""
        try:
            return self.path_of(file, frame)
        except Exception:
            return None

    # -- the access kinds ------------------------------------------------------
    def open_like(self, op: str, file: Any, mode: str, call: Callable[[], Any], frame: Any,
                  sync: bool) -> Any:
        """open() and the pathlib readers/writers. ``sync``: the access is complete when ``call`` returns."""
        path = self.target(file, frame)
        if path is None or type(mode) is not str:
            return call()
        writes = bool(WRITE_MODES.intersection(mode))
        before: Snap | None = None
        act = self.trial
        t0 = time.time()
        try:
            _local.busy = True
            self.drain()
            act = self.act()
            self.settle_path(path)
            if writes:
                before = self.snap(path)  # now: "w" is about to truncate it
        except Exception as exc:
            _local.busy = False
            self.fault(exc)
            return call()
        try:
            result = call()
        finally:
            _local.busy = False
        try:
            _local.busy = True
            n, fa = self.new_access()
            if not writes:
                snap = self.snap(path)
                self.emit(fa, n, op, mode, path, t0, t0, snap, snap, act)
            elif sync:
                self.emit(fa, n, op, mode, path, t0, time.time(), before, self.snap(path, cached=False), act)
            else:
                self.add_pending(result, n, fa, path, mode, op, t0, before, act)
        except Exception as exc:
            self.fault(exc)
        finally:
            _local.busy = False
        return result

    def move_like(self, op: str, src: Any, dst: Any, call: Callable[[], Any], frame: Any,
                  dst_is_result: bool = False) -> Any:
        """rename / replace / move / copy*: content goes from ``src`` to ``dst``."""
        try:
            s = self.path_of(src, frame)
            d = self.path_of(dst, frame)
            if s is not None and d is not None and op in ("copy", "move") and os.path.isdir(d):
                d = os.path.join(d, os.path.basename(s.rstrip(os.sep)))
        except Exception:
            s = d = None
        if s is None or d is None:
            return call()
        try:
            _local.busy = True
            self.drain()
            act = self.act()
            t0 = time.time()
            self.settle_path(s)
            self.settle_path(d)
            src_snap = self.snap(s)
            before = self.snap(d)
        except Exception as exc:
            _local.busy = False
            self.fault(exc)
            return call()
        try:
            result = call()
        finally:
            _local.busy = False
        try:
            _local.busy = True
            if dst_is_result and isinstance(result, (str, bytes, os.PathLike)):
                d = os.path.abspath(os.fsdecode(os.fspath(result)))
            self.cache.pop(s, None)
            after = self.snap(d, cached=False) if op == "copy" else src_snap
            n, fa = self.new_access()
            self.emit(fa, n, op, "w", d, t0, time.time(), before, after, act, s, src_snap)
        except Exception as exc:
            self.fault(exc)
        finally:
            _local.busy = False
        return result

    def delete_like(self, op: str, target: Any, call: Callable[[], Any], frame: Any) -> Any:
        """remove / unlink / rmtree: the content is kept first, so a restore can bring it back."""
        path = self.target(target, frame)
        if path is None:
            return call()
        try:
            _local.busy = True
            self.drain()
            act = self.act()
            t0 = time.time()
            if op == "rmtree":
                files = []
                if os.path.isdir(path) and not os.path.islink(path):
                    for dirpath, _dirs, names in os.walk(path):
                        files += [os.path.join(dirpath, nm) for nm in names]
            else:
                files = [] if os.path.islink(path) else [path]
            snaps = []
            for f in files:
                self.settle_path(f)
                snaps.append((f, self.snap(f)))
        except Exception as exc:
            _local.busy = False
            self.fault(exc)
            return call()
        try:
            result = call()
        finally:
            _local.busy = False
            try:  # rmtree may fail half-way: what is gone is gone, record it either way
                _local.busy = True
                t1 = time.time()
                for f, before in snaps:
                    if before is not None and not os.path.lexists(f):
                        self.cache.pop(f, None)
                        n, fa = self.new_access()
                        self.emit(fa, n, op, "d", f, t0, t1, before, None, act)
            except Exception as exc:
                self.fault(exc)
            finally:
                _local.busy = False
        return result

    def mkdir_like(self, target: Any, call: Callable[[], Any], frame: Any) -> Any:
        path = self.target(target, frame)
        if path is None:
            return call()
        t0 = time.time()
        _local.busy = True
        try:
            result = call()
        finally:
            _local.busy = False
        try:
            n, fa = self.new_access()
            self.emit(fa, n, "mkdir", "d", path, t0, time.time(), None, None, self.act())
        except Exception as exc:
            self.fault(exc)
        return result
