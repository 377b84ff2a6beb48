"""Copying runs between stores (``kg push`` / ``kg pull``) and replaying capture spools.

Copies are idempotent upserts in batches (one transaction each): a copy interrupted midway
is finished by running it again, and a second copy adds nothing. A spool file is deleted
only after every record in it was committed to the target."""
from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kg.config import kg_home, load_config
from kg.model.prov import is_compact, ref_relations
from kg.model.records import Edge, Node
from kg.stores.base import Store

_T = TypeVar("_T")

__all__ = ["CopyReport", "copy_runs", "replay_spools", "spool_files", "default_neo4j_uri", "total_records", "BATCH"]

BATCH = 10_000
DEFAULT_NEO4J_URI = "bolt://127.0.0.1:7687"

Progress = Callable[[int], None]


@dataclass
class CopyReport:
    """What a push or pull did."""

    runs: list[str] = field(default_factory=list)
    nodes: int = 0
    edges: int = 0
    spools: int = 0           # spool files replayed (and deleted)
    spooled_records: int = 0  # records they held
    outbox_files: int = 0     # write-behind outbox files sent (kg.outbox)
    outbox_records: int = 0   # records they held

    @property
    def records(self) -> int:
        return self.nodes + self.edges


def default_neo4j_uri(explicit: str | None = None) -> str:
    """``explicit``, else ``$KG_NEO4J_URI``, else config ``neo4j``, else bolt://127.0.0.1:7687."""
    uri = explicit or os.environ.get("KG_NEO4J_URI") or load_config().get("neo4j")
    return str(uri) if uri else DEFAULT_NEO4J_URI


FIRST_BATCH = 1_000  # the first batch is small, the next ones double up to BATCH: see _batches


def _batches(nodes: Iterator[Node], edges: Iterator[Edge], size: int) -> Iterator[tuple[list[Node], list[Edge]]]:
    # Nodes first, so most edges find both endpoints already written (a placeholder otherwise).
    # The server waits idle while the first batch is read and prepared (0.5 s for 10,000 tasks):
    # a small one starts it early, and the reader thread keeps ahead of it from then on.
    buf: list[Node] = []
    want = min(FIRST_BATCH, size)
    for n in nodes:
        buf.append(n)
        if len(buf) >= want:
            yield buf, []
            buf = []
            want = min(want * 2, size)
    if buf:
        yield buf, []
    ebuf: list[Edge] = []
    for e in edges:
        ebuf.append(e)
        if len(ebuf) >= size:
            yield [], ebuf
            ebuf = []
    if ebuf:
        yield [], ebuf


def _read_ahead(batches: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Read the next batches on a thread while the target commits this one: the source's
    reads and the server's writes overlap (the driver releases the GIL while it waits)."""
    import queue

    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    t = threading.Thread(target=produce, name="kg-push-reader", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def copy_runs(source: Store, target: Store, runs: Iterable[str] | None = None, *, batch: int = BATCH,
              on_progress: Progress | None = None) -> CopyReport:
    """Copy the named runs (ids, prefixes or numbers resolved in ``source``; every record when
    None) into ``target``."""
    report = CopyReport()
    ids = None if runs is None else [source.resolve_run(r).id for r in runs]
    report.runs = ids or [r.id for r in source.runs()]
    with _young_gc_only():
        _copy(source, target, ids, batch, on_progress, report)
    return report


def _copy(source: Store, target: Store, ids: list[str] | None, batch: int, on_progress: Progress | None,
          report: CopyReport) -> None:
    # Every store keeps compact activities compact: copied exploded, their Values and relations
    # would be stored a second time beside them.
    nodes, edges = source.run_records(ids, expand=False)
    derived = _Derived() if target.derives_kept_relations else None
    # The reader thread also prepares (checks, encodes) the next batch while this one is written.
    prepared = ((len(nb), len(eb), target.prepare_import(nb, derived.drop(eb) if derived else eb))
                for nb, eb in _batches(derived.seen(nodes) if derived else nodes, edges, batch))
    for n_nodes, n_edges, batch_rows in _read_ahead(prepared):
        target.import_prepared(batch_rows)
        report.nodes += n_nodes
        report.edges += n_edges
        if on_progress is not None:
            on_progress(n_nodes + n_edges)


@contextlib.contextmanager
def _young_gc_only() -> Iterator[None]:
    """Fewer cyclic-GC passes while a copy runs. A batch is some 10^5 dicts, lists and tuples that
    live until it is written; with the default thresholds they are promoted and rescanned by full
    collections again and again, which took 60% of preparing a batch (measured: 3.4 s -> 1.3 s for
    30k tasks without). Records hold no cycles: reference counting frees them all the same."""
    # Thresholds are process-wide and copies may run on several threads: the first copy in
    # raises them, the last one out restores them.
    with _gc_lock:
        if not _gc_saved:
            before = gc.get_threshold()
            _gc_saved.append(before)
            gc.set_threshold(max(before[0], 100_000), max(before[1], 50), max(before[2], 100))
        _gc_users[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users[0] -= 1
            if not _gc_users[0]:
                gc.set_threshold(*_gc_saved.pop())


_gc_lock = threading.Lock()
_gc_saved: list[tuple[int, ...]] = []  # the thresholds before the first copy in
_gc_users = [0]                        # copies running


class _Derived:
    """The stored edges a target makes itself from the compact activities copied before them
    (``Store.derives_kept_relations``): a dataflow USED is both an activity's reference and a
    stored edge, and sent twice it cost the server a second MERGE of every such relationship.
    Nodes are all copied before edges (``_batches``), so every activity is seen in time."""

    def __init__(self) -> None:
        self._props: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def seen(self, nodes: Iterable[Node]) -> Iterator[Node]:
        for n in nodes:
            if is_compact(n):
                for e in ref_relations(n):  # only references are also stored edges
                    self._props[_key(e)] = e.props
            yield n

    def drop(self, edges: list[Edge]) -> list[Edge]:
        # only an exact copy: a stored edge with props of its own still merges them in
        return [e for e in edges if self._props.get(_key(e)) != e.props] if self._props else edges


def _key(e: Edge) -> tuple[str, str, str, str]:
    return e.src, e.rel, e.dst, str(e.props.get("role") or "")


def spool_files(home: Path | None = None) -> list[Path]:
    """Spool files waiting in ``$KG_HOME/spool`` (including ones a crashed push left claimed)."""
    d = (home or kg_home()) / "spool"
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.name.endswith((".jsonl", ".jsonl.pushing")))


def _claim(path: Path) -> Path | None:
    # Renaming first means a still-running process appends to a new file by the old name,
    # never to the one being replayed.
    if path.name.endswith(".pushing"):
        return path
    claimed = path.with_name(f"{path.name}.{os.getpid()}.pushing")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:  # another push took it
        return None
    return claimed


def _locked_size(path: Path) -> int:
    import fcntl

    with open(path, "rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # waits for a writer that opened the file before the rename
        return os.fstat(fh.fileno()).st_size


def replay_spools(target: Store, *, home: Path | None = None, batch: int = BATCH,
                  on_progress: Progress | None = None, report: CopyReport | None = None) -> CopyReport:
    """Write every spooled record into ``target``; each file is deleted once all of it is committed.

    A malformed spool raises InputError naming the line and is left in place."""
    from kg.stores.jsonl import read_records

    report = report or CopyReport()
    for path in spool_files(home):
        claimed = _claim(path)
        if claimed is None:
            continue
        done = 0
        while True:
            size = _locked_size(claimed)
            if size == done:
                break
            nodes, edges = read_records(claimed) if done == 0 else _read_tail(claimed, done)
            for nb, eb in _batches(iter(nodes), iter(edges), batch):
                target.write(nb, eb)
                report.spooled_records += len(nb) + len(eb)
                if on_progress is not None:
                    on_progress(len(nb) + len(eb))
            done = size
        claimed.unlink()
        report.spools += 1
    return report


def _read_tail(path: Path, offset: int) -> tuple[list[Node], list[Edge]]:
    import tempfile

    from kg.stores.jsonl import read_records

    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as tmp:
        tmp.write(data)
    try:
        return read_records(tmp.name)
    finally:
        os.unlink(tmp.name)


def total_records(store: Store) -> int | None:
    """A progress-bar total for copying the whole store (None if the store cannot tell cheaply)."""
    try:
        c = store.counts()
    except Exception:  # a total is a nicety; never fail a copy for it
        return None
    return int(c.get("nodes", 0)) + int(c.get("edges", 0))

