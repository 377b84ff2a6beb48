"""The sink: a bounded buffer that a background thread flushes to the store in batches.

Producers call ``put`` (a deque append: thread-safe, no lock). Items are Nodes, Edges,
or packed tuples ``(code, ...)`` whose expander (``register_expander``) unpacks them on
the flush thread, so the caller's thread pays only for building a tuple. Packed tuples
hold only atoms (ints, floats, strings, tuples of atoms): the garbage collector then
untracks them, and a buffer of 100,000 records costs no collection time.

Large buffers are stored in the background where the store allows it (see kg.drain): a
forked child writes them on another core while the program goes on or exits."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import islice, repeat
from typing import Any

from kg import drain
from kg.config import kg_home, settings
from kg.exceptions import CaptureError, KGError, StoreUnavailable
from kg.ids import process_prefix
from kg.model.records import Edge, Node
from kg.stores import Store, open_store

__all__ = ["Sink", "get_sink", "set_sink", "SinkStats", "on_sink_change", "spool_path", "register_expander"]

Expander = Callable[[Any, list[Node], list[Edge]], None]
_EXPANDERS: list[Expander] = []


def register_expander(fn: Expander) -> int:
    """Register ``fn(item, nodes, edges)`` for packed items; returns the code to put in ``item[0]``."""
    _EXPANDERS.append(fn)
    return len(_EXPANDERS) - 1

log = logging.getLogger("kg.sink")


class SinkStats:
    """Counters a user can read (``kg`` prints them when something was lost)."""

    def __init__(self) -> None:
        self.written = 0    # records the store accepted
        self.spooled = 0    # records written to the local spool (store unreachable)
        self.lost = 0       # records that could not be stored anywhere
        self.faults = 0     # expansion faults (bad record from a producer)
        self.background = 0  # records handed to a background store (kg.drain); its child counts the rest
        self.blocked = 0.0   # seconds producers waited on a full buffer (storing could not keep up)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(self).items()}


class Sink:
    """Buffer + flusher for one store. ``close()`` (also run at exit and on SIGTERM) drains it."""

    def __init__(self, store: Store | str | None = None, *, cap: int | None = None,
                 batch_size: int | None = None, interval: float | None = None,
                 strict: bool | None = None) -> None:
        self._store_arg = store
        self._store: Store | None = store if isinstance(store, Store) else None
        self.cap = cap or settings.buffer_cap
        self.batch_size = batch_size or settings.batch_size
        self.interval = interval if interval is not None else settings.flush_interval
        self.strict = settings.strict if strict is None else strict
        self.stats = SinkStats()
        self.buf: deque[Any] = deque()
        self.put: Callable[[Any], None] = self.buf.append
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._warned = False
        self._error: BaseException | None = None
        self._close_hooks: list[Callable[[], None]] = []
        self._children: list[int] = []  # pids of this sink's background stores not known to have ended
        self._handed = 0                # records at the head of buf that the newest one took
        self._gone: int | None = None   # tells when that child no longer shares our memory (drain.handed_off)
        self._foreground = False        # a background store died: store the next batch in this process

    # -- lifecycle ---------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None or self._pid != os.getpid():
            arg = self._store_arg if not isinstance(self._store_arg, Store) else None
            self._store = open_store(arg)
            self._pid = os.getpid()
        return self._store

    def start(self) -> Sink:
        """Start the flush thread (idempotent); install exit and SIGTERM handling."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="kg-sink", daemon=True)
        self._thread.start()
        return self

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (which may ``put`` final records) before the last flush."""
        self._close_hooks.append(hook)

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self._release(block=False)
                # While a background store still shares our memory, let the buffer grow: its next
                # batch goes to a child too, forked once that one has exec'd its writer.
                if self._gone is None:
                    self.flush(background=True)
            except BaseException as exc:  # never let the thread die silently
                self._error = exc

    def pressure(self) -> None:
        """Called by producers when the buffer passed its cap: drain it on this thread."""
        if len(self.buf) - self._handed >= self.cap:  # handed records leave once their child exec'd
            t = time.perf_counter()
            self.flush(background=True)
            self.stats.blocked += time.perf_counter() - t
        else:
            self._wake.set()

    def close(self, background: bool = False) -> None:
        """Run close hooks, flush everything, stop the thread. Raises in strict mode if records were lost.

        ``background``: a large remainder may be stored by a child process (see ``flush``)."""
        hooks, self._close_hooks = self._close_hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception as exc:  # a hook must not stop the drain
                self._fault(exc)
        self._stop = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        self.flush(background=background)
        if self._store is not None and not isinstance(self._store_arg, Store):  # close only what we opened
            self._store.close()
            self._store = None
        if self.stats.lost and not self.strict:
            log.warning("provkg: %d provenance records could not be stored", self.stats.lost)

    # -- flushing ----------------------------------------------------------
    def flush(self, background: bool = False) -> None:
        """Write everything buffered so far. In strict mode a failure raises here.

        ``background``: if the buffer holds at least ``settings.drain_min`` records and the
        store is an embedded one, a forked child stores them and this returns at once."""
        with self._flush_lock:
            self._release(block=False)  # a background store that died has given its records back
            buf = self.buf
            if len(buf) > self._handed and not (background and self._detach()):
                self.wait()  # a background store of earlier records finishes first: order is kept
                while buf:
                    n = min(len(buf), self.batch_size)
                    batch = [buf.popleft() for _ in range(n)]
                    self._write_batch(batch)
        if self.strict and self._error is not None:
            err, self._error = self._error, None
            raise err

    def wait(self) -> None:
        """Block until this sink's background stores (if any) have finished."""
        self._release(block=True)
        for pid in self._children:
            drain.reap(pid, block=True)
        self._children = []

    def _release(self, block: bool) -> None:
        # Drop the records a background store took, once its child no longer shares their pages
        # (it exec'd its writer, or ended): freeing them while shared copies every page they are on.
        # ``block``: wait for that (the child first waits for the previous batch's writer).
        with self._flush_lock:  # the flush thread and the program's thread may both get here
            if not self._handed:
                return
            if self._gone is not None:
                handed = drain.handed_off(self._gone, block)
                if handed is None:
                    return
                os.close(self._gone)
                self._gone = None
                if not handed:  # the child died before its writer started: the records are still ours
                    self.stats.background -= self._handed
                    self._handed = 0
                    self._foreground = True  # stored in this process next (a failure may repeat itself)
                    self._fault(CaptureError("a background store died before storing; storing its records again"))
                    return
            deque(map(deque.popleft, repeat(self.buf, self._handed)), maxlen=0)  # in C: no Python loop
            self._handed = 0

    def _detach(self) -> bool:
        # Hand the first n records to a forked child (see kg.drain); False: store them here instead.
        if self.strict or not drain.available():
            return False
        # One child shares our memory at a time, and the next is forked once it has taken the
        # write turn (exec'd): batches are stored in order, one preparing while one writes.
        self._release(block=True)
        self._children = [pid for pid in self._children if drain.reap(pid, block=False)]
        if self._foreground:
            self._foreground = False
            return False
        n = len(self.buf)
        if n < settings.drain_min:
            return False
        try:
            store = self.store
        except Exception:
            return False
        path = getattr(store, "drain_path", None)  # stores whose readers wait for background stores
        if path is None:
            return False

        def prepare() -> tuple[list[Any], list[Any]]:
            # In the child: expand the first n records into table rows; a fresh interpreter writes them.
            nodes, edges = self._expand(list(islice(self.buf, n)))
            return store.rows(nodes, edges)  # type: ignore[attr-defined]

        forked = drain.fork(path, prepare)
        if forked is None:
            return False
        # The child has the first n; records put since are beyond n and stay. They are dropped
        # here once the child has exec'd (_release), so that their pages are no longer shared.
        pid, self._gone = forked
        self._children.append(pid)
        self._handed = n
        self.stats.background += n
        return True

    def _expand(self, batch: list[Any]) -> tuple[list[Node], list[Edge]]:
        nodes: list[Node] = []
        edges: list[Edge] = []
        expanders = _EXPANDERS
        for item in batch:
            t = type(item)
            if t is Node:
                nodes.append(item)
            elif t is Edge:
                edges.append(item)
            else:
                try:
                    expanders[item[0]](item, nodes, edges)
                except Exception as exc:
                    self.stats.faults += 1
                    self._fault(exc)
        return nodes, edges

    def _write_batch(self, batch: list[Any]) -> None:
        nodes, edges = self._expand(batch)
        count = len(nodes) + len(edges)
        if not count:
            return
        try:
            self.store.write(nodes, edges)
            self.stats.written += count
            return
        except StoreUnavailable as exc:
            self._fault(exc)
        except Exception as exc:  # a store error, or a driver error we did not wrap: never into user code
            self._fault(exc)
            self.stats.lost += count
            return
        try:  # unreachable server: keep the records locally for `kg push`
            from kg.stores.jsonl import JsonlStore

            JsonlStore(spool_path()).write(nodes, edges)
            self.stats.spooled += count
        except Exception as exc:
            self._fault(exc)
            self.stats.lost += count

    def _fault(self, exc: BaseException) -> None:
        if self.strict:
            self._error = exc if isinstance(exc, KGError) else CaptureError(f"capture fault: {exc!r}")
            return
        if not self._warned:
            self._warned = True
            log.warning("provkg capture fault (reported once): %s", exc)


def spool_path() -> os.PathLike[str] | str:
    """This process's spool file for records a server store could not take."""
    return kg_home() / "spool" / f"{process_prefix()}.jsonl"


_sink: Sink | None = None
_sink_lock = threading.Lock()
_handlers_installed = False
# Producers that cache the sink's ``put`` for speed are told when the default sink changes.
_listeners: list[Callable[[Sink | None], None]] = []


def on_sink_change(listener: Callable[[Sink | None], None]) -> None:
    """Call ``listener(new_sink)`` whenever the process-wide sink is replaced (set_sink, fork)."""
    _listeners.append(listener)


def _notify() -> None:
    for listener in _listeners:
        listener(_sink)


def get_sink() -> Sink:
    """The process-wide sink (created and started on first use, bound to the configured store)."""
    global _sink
    sink = _sink
    if sink is None:
        with _sink_lock:
            if _sink is None:
                _sink = Sink().start()
                _install_exit_handlers()
                _notify()
            sink = _sink
    return sink


def set_sink(sink: Sink | None) -> Sink | None:
    """Replace the process-wide sink (the previous one is returned, not closed)."""
    global _sink
    with _sink_lock:
        old, _sink = _sink, sink
        if sink is not None:
            sink.start()
            _install_exit_handlers()
    _notify()
    return old


def _close_default() -> None:
    sink = _sink
    if sink is not None:
        try:
            sink.close(background=True)
        except Exception as exc:  # at exit there is no caller to raise to
            log.warning("provkg: final flush failed: %s", exc)


def _on_sigterm(signum: int, frame: Any) -> None:
    # Flush, then die of SIGTERM as the program would have without us.
    _close_default()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_exit_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_default)
    # Only where the program has not chosen its own handler, and only from the main thread.
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _after_fork() -> None:
    global _sink
    # The child must not re-write the parent's buffer nor share its connection.
    if _sink is not None:
        old = _sink
        _sink = Sink(old._store_arg if not isinstance(old._store_arg, Store) else None, cap=old.cap,
                     batch_size=old.batch_size, interval=old.interval, strict=old.strict).start()
    _notify()


drain.after_fork_in_child(_after_fork)
