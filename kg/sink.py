"""The sink: a bounded buffer that a background thread flushes to the store in batches.

Producers call ``put`` (a deque append: thread-safe, no lock). Items are Nodes, Edges,
or packed tuples ``(code, ...)`` whose expander (``register_expander``) unpacks them on
the flush thread, so the caller's thread pays only for building a tuple. Packed tuples
hold only atoms (ints, floats, strings, tuples of atoms): the garbage collector then
untracks them, and a buffer of 100,000 records costs no collection time.

The embedded store takes the hot records as they are (kg.segments): a batch is sealed into
segments, one marshal blob per few hundred records, and only the other records are expanded
into Nodes and Edges. Every batch is one transaction."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Any

from kg import redact, segments
from kg.config import kg_home, settings, store_uri
from kg.exceptions import CaptureError, KGError, StoreUnavailable
from kg.ids import after_fork_in_child, process_prefix
from kg.model.records import Edge, Node
from kg.outbox import Outbox, write_behind_enabled
from kg.stores import Store, is_server_uri, open_store

__all__ = ["Sink", "get_sink", "set_sink", "SinkStats", "on_sink_change", "spool_path", "register_expander"]

Expander = Callable[[Any, list[Node], list[Edge]], None]
_EXPANDERS: list[Expander] = []


def register_expander(fn: Expander) -> int:
    """Register ``fn(item, nodes, edges)`` for packed items; returns the code to put in ``item[0]``."""
    _EXPANDERS.append(fn)
    return len(_EXPANDERS) - 1

log = logging.getLogger("kg.sink")
_popleft = deque.popleft


class SinkStats:
    """Counters a user can read (``kg`` prints them when something was lost)."""

    def __init__(self) -> None:
        self.written = 0    # records the store accepted
        self.spooled = 0    # records written to the local spool (store unreachable)
        self.lost = 0       # records that could not be stored anywhere
        self.faults = 0     # expansion faults (bad record from a producer)
        self.segmented = 0  # of the written, records stored as segments (kg.segments)
        self.blocked = 0.0  # seconds producers waited on a full buffer (storing could not keep up)

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
        self._taken = threading.Event()  # a producer stored a due buffer
        self.due = False                 # the flush thread asks producers to store the buffer
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._warned = False
        self._error: BaseException | None = None
        self._close_hooks: list[Callable[[], None]] = []
        self._ctx = segments.CtxWriter()  # which task specs / call sites the store has already

    # -- lifecycle ---------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None or self._pid != os.getpid():
            arg = self._store_arg if not isinstance(self._store_arg, Store) else None
            uri = store_uri(arg)
            if is_server_uri(uri) and write_behind_enabled():
                # Write-behind (kg.outbox): the program writes locally, a pusher process sends to the server.
                opened: Store = Outbox(uri)  # type: ignore[assignment]  # the writing half of a Store
            else:
                opened = open_store(arg)
            self._store = opened
            self._pid = os.getpid()
        return self._store

    def start(self) -> Sink:
        """Start the flush thread (idempotent); install exit and SIGTERM handling."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="kg-sink", daemon=True)
        self._thread.start()
        if self._store is None and not isinstance(self._store_arg, Store) and \
                store_uri(self._store_arg).startswith(("bolt", "neo4j")):
            # A server store may first be opened by the flush at exit, and its driver imports
            # concurrent.futures.thread there (through pandas, when installed), which registers an
            # exit hook: refused during shutdown, and the records were lost. Imported now instead.
            import concurrent.futures.thread  # noqa: F401
        return self

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (which may ``put`` final records) before the last flush."""
        self._close_hooks.append(hook)

    def _loop(self) -> None:
        # Every interval the buffer is due. A producer that is busy recording stores it at its next
        # check (within ~1,000 records); this thread stores it only if none did within HANDOVER.
        # The reason: SQLite releases the GIL at every step, and a thread that wants it back from a
        # busy program waits up to the switch interval (5 ms) each time, so a flush here while the
        # program runs took ~1 ms per segment instead of ~0.05.
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            if not self.buf:
                self._rotate_idle()
                continue
            self.due = True
            self._taken.wait(self.HANDOVER)
            self._taken.clear()
            try:
                if self.due:
                    self.flush()
            except BaseException as exc:  # never let the thread die silently
                self._error = exc

    HANDOVER = 0.05  # seconds the flush thread leaves a due buffer to the producers

    def _rotate_idle(self) -> None:
        # A write-behind outbox part is handed to the pusher at the next write once old enough;
        # a program gone quiet would keep its last records from Neo4j, so the idle flush thread
        # hands it over instead.
        store = self._store
        rotate_due = getattr(store, "rotate_due", None)
        if rotate_due is None or not rotate_due():
            return
        with self._flush_lock:
            try:
                store.rotate()  # type: ignore[union-attr]
            except Exception as exc:
                self._fault(exc)
            self._ctx = segments.CtxWriter()

    def check(self) -> None:
        """Producers call this every thousand records or so: when the buffer is due (see ``_loop``)
        or past its cap, it is stored on the caller's thread (past the cap, bounded memory beats speed)."""
        if self.due or len(self.buf) >= self.cap:
            self.pressure()

    def pressure(self) -> None:
        """Store the buffer on this thread if it is due or past its cap; else wake the flush thread."""
        if self.due or len(self.buf) >= self.cap:
            t = time.perf_counter()
            over = len(self.buf) >= self.cap
            self.flush()
            self._taken.set()
            if over:  # the program waited because storing fell behind (a due flush is its normal pace)
                self.stats.blocked += time.perf_counter() - t
        else:
            self._wake.set()

    def close(self) -> None:
        """Run close hooks, flush everything, stop the thread. Raises in strict mode if records were lost."""
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
        self.flush()
        if self._store is not None and not isinstance(self._store_arg, Store):  # close only what we opened
            self._store.close()
            self._store = None
        if self.stats.lost and not self.strict:
            log.warning("provkg: %d provenance records could not be stored", self.stats.lost)

    # -- flushing ----------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered so far. In strict mode a failure raises here."""
        with self._flush_lock:
            self.due = False
            buf = self.buf
            while buf:
                n = min(len(buf), self.batch_size)
                self._write_batch(list(map(_popleft, repeat(buf, n))))  # in C; producers may append meanwhile
        if self.strict and self._error is not None:
            err, self._error = self._error, None
            raise err

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
        try:
            store: Store | None = self.store
        except StoreUnavailable as exc:  # a server that cannot be reached: the records go to the spool
            self._fault(exc)
            store = None
        except Exception as exc:  # cannot open it at all: counted as lost, never raised into user code
            self._fault(exc)
            self.stats.lost += len(batch)
            return
        rotate_due = getattr(store, "rotate_due", None)
        if rotate_due is not None and rotate_due():
            try:
                store.rotate()  # type: ignore[union-attr]
            except Exception as exc:  # the next part is opened anyway; the closed one is sent later
                self._fault(exc)
            self._ctx = segments.CtxWriter()  # a new outbox part must decode on its own
        write_sealed = getattr(store, "write_sealed", None)
        if write_sealed is not None:
            try:
                sealed = segments.seal(batch, process_prefix(), settings.repr_limit, self._ctx)
                if settings.redact:
                    redact.redact_sealed(sealed)
            except Exception as exc:  # a codec fault: every record goes the expanders' way instead
                self._fault(exc)
                sealed = None
                self._ctx = segments.CtxWriter()  # context rows taken for this batch were not written
            if sealed is not None:
                nodes, edges = self._expand(sealed.rest)
                count = sealed.count + len(nodes) + len(edges)
                red = self._redact(nodes, edges, count)
                if red is None:
                    return
                nodes, edges = red
                try:
                    write_sealed(sealed, nodes, edges)
                    self.stats.written += count
                    self.stats.segmented += sealed.count
                except Exception as exc:  # never into user code
                    self._fault(exc)
                    self.stats.lost += count
                    self._ctx = segments.CtxWriter()  # the context rows did not land either
                return
        nodes, edges = self._expand(batch)
        count = len(nodes) + len(edges)
        if not count:
            return
        red = self._redact(nodes, edges, count)
        if red is None:
            return
        nodes, edges = red
        if store is not None:
            try:
                store.write(nodes, edges)
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

    def _redact(self, nodes: list[Node], edges: list[Edge], count: int) -> tuple[list[Node], list[Edge]] | None:
        """The records with secrets replaced; None (the batch counted lost) if that failed: a record
        is better lost than stored with a secret in it."""
        if not settings.redact:
            return nodes, edges
        try:
            return redact.redact_records(nodes, edges)
        except Exception as exc:
            self._fault(exc)
            self.stats.lost += count
            return None

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
            sink.close()
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


after_fork_in_child(_after_fork)
