"""Write-behind capture into Neo4j: the program writes locally, a pusher process streams to the server.

With a server store (``KG_STORE=bolt://…``) the sink does not talk to Neo4j. It writes each
batch exactly as it would into the embedded store (sealed segments, one SQLite transaction:
durable at once, the program's cost is the embedded store's) into an *outbox part*,
``$KG_HOME/outbox/<server>/<process>.<k>.db.part``. About every ``ROTATE`` seconds the part
is closed and renamed ``….db``: from then on it never changes, and a pusher may send it.

The pusher (``push_outbox``; run by ``kg push``, by ``kg push --follow``, and started by the
capturing process itself as a detached ``kg push --follow --until-idle`` when it begins
and when it exits) sends a process's files in order ``k``, one process at a time (a lock per
process), each through ``copy_runs`` (idempotent ``MERGE`` upserts). After a file is
committed its number is stored in Neo4j (``(:KGMeta {key: 'outbox:<process>'})``, the
high-water mark) and the file is deleted; a file at or below the mark is deleted unsent. A
part whose writer died (kill -9: its lock is free) is sent like a closed file. So every record
arrives, in the order written, and a record sent twice (a pusher killed between commit and
delete) is merged into itself: nothing is lost and nothing counted twice.

``KG_WRITE_BEHIND=0`` writes straight to the server as before (the sink spools what it cannot
deliver); ``KG_PUSHER=0`` leaves pushing to ``kg push``."""
from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.config import kg_home
from kg.exceptions import StoreError, StoreUnavailable
from kg.ids import process_prefix
from kg.model.records import Edge, Node

__all__ = ["Outbox", "release", "push_outbox", "follow", "pending", "outbox_root", "start_pusher", "pusher_lock",
           "resume_pushers", "write_behind_enabled", "ROTATE"]

ROTATE = 1.0          # seconds a part stays open before it is handed to the pusher
_MARK = "outbox:"     # KGMeta key prefix of a process's high-water mark
_NAME = re.compile(r"(?P<proc>.+)\.(?P<k>\d{8})\.db(?P<part>\.part)?\Z")


def write_behind_enabled() -> bool:
    return os.environ.get("KG_WRITE_BEHIND", "1").strip().lower() not in ("0", "false", "no", "off")


def outbox_root(home: Path | None = None) -> Path:
    return (home or kg_home()) / "outbox"


def _server_key(uri: str) -> str:
    """A directory name for a server (its host, port and database), never its credentials."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    db = os.environ.get("KG_NEO4J_DATABASE") or ""
    key = f"{parts.hostname or 'localhost'}_{parts.port or 7687}" + (f"_{db}" if db else "")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _lock(path: Path, *, wait: bool) -> int | None:
    """An exclusive flock on ``path`` (created): its fd, or None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing releases the flock


class Outbox:
    """The sink's store for a server URI: the embedded store's write path into rotating local parts."""

    def __init__(self, uri: str, *, home: Path | None = None, rotate: float = ROTATE) -> None:
        self.uri = uri
        self.dir = outbox_root(home) / _server_key(uri)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "uri").write_text(uri.split("@")[-1] if "@" in uri else uri)
        self.rotate_after = rotate
        self._proc = process_prefix()
        self._k = 0
        self._store: Any = None
        self._opened = 0.0
        self._lock_fd: int | None = None
        self._pusher_started = False

    # -- the sink's side -------------------------------------------------------------
    def rotate_due(self) -> bool:
        """True when the open part is old enough to hand over (the sink then starts a new one
        and rewrites its segment context there: a part must decode on its own)."""
        return self._store is not None and time.monotonic() - self._opened >= self.rotate_after

    def _current(self) -> Any:
        if self._store is None:
            from kg.stores.sqlite import SqliteStore

            while True:  # numbered per process, not per Outbox: two sinks of one process never share a part
                self._k = _next_part(self._proc)
                part = self.dir / f"{self._proc}.{self._k:08d}.db.part"
                self._lock_fd = _lock(Path(f"{part}.lock"), wait=False)
                if self._lock_fd is not None and not part.exists():
                    break
                release(self._lock_fd)
            self._store = SqliteStore(part)
            self._opened = time.monotonic()
            if not self._pusher_started:
                self._pusher_started = True
                start_pusher(self.uri)
        return self._store

    def write_sealed(self, sealed: Any, nodes: list[Node], edges: list[Edge]) -> None:
        self._current().write_sealed(sealed, nodes, edges)

    def write(self, nodes: list[Node] = (), edges: list[Edge] = ()) -> None:  # type: ignore[assignment]
        self._current().write(nodes, edges)

    def rotate(self) -> None:
        """Close the open part and make it a file the pusher may send."""
        store, self._store = self._store, None
        if store is None:
            return
        part = Path(store.path)
        store.close()
        _checkpoint(part)
        os.rename(part, part.with_name(part.name.removesuffix(".part")))
        lock = Path(f"{part}.lock")
        release(self._lock_fd)
        self._lock_fd = None
        lock.unlink(missing_ok=True)

    def close(self) -> None:
        had = self._store is not None or self._k > 0
        self.rotate()
        if had:
            start_pusher(self.uri)  # what is not in Neo4j yet goes on after this process exits


_parts: dict[str, int] = {}
_parts_lock = threading.Lock()


def _next_part(proc: str) -> int:
    with _parts_lock:
        _parts[proc] = _parts.get(proc, 0) + 1
        return _parts[proc]


def _checkpoint(db: Path) -> None:
    # A clean close leaves no -wal; after a crash the -wal holds committed transactions:
    # fold them into the file before it is renamed or read elsewhere.
    wal = Path(f"{db}-wal")
    if wal.exists() and wal.stat().st_size:
        import sqlite3

        con = sqlite3.connect(db)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


# -- the pusher's side -------------------------------------------------------------------
@dataclass
class _File:
    path: Path
    proc: str
    k: int
    part: bool


def _files(d: Path) -> list[_File]:
    out = []
    for p in d.iterdir() if d.is_dir() else ():
        m = _NAME.match(p.name)
        if m:
            out.append(_File(p, m["proc"], int(m["k"]), bool(m["part"])))
    return sorted(out, key=lambda f: (f.proc, f.k))


def _server_dirs(uri: str | None, home: Path | None) -> list[Path]:
    root = outbox_root(home)
    if uri is not None:
        return [root / _server_key(uri)]
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def pending(home: Path | None = None) -> dict[str, Any]:
    """What the outbox holds, not yet in Neo4j: ``{"files": n, "records": n, "live": n}``
    (``live``: parts a running program is still writing)."""
    from kg.stores.sqlite import SqliteStore

    files = records = live = 0
    for d in _server_dirs(None, home):
        for f in _files(d):
            files += 1
            if f.part:
                live += _writing(f)
            try:
                s = SqliteStore(f.path, create=False)
                try:
                    c = s.counts()
                finally:
                    s.close()
                records += int(c.get("nodes", 0)) + int(c.get("edges", 0))
            except Exception:  # a part being created this instant: counted as a file only
                pass
    return {"files": files, "records": records, "live": live}


def _mark(target: Any, proc: str) -> int:
    rows = target.cypher("MATCH (m:KGMeta {key: $k}) RETURN m.value AS v", {"k": _MARK + proc})
    return int(rows[0]["v"]) if rows and rows[0]["v"] is not None else 0


def _set_mark(target: Any, proc: str, k: int) -> None:
    target.cypher("MERGE (m:KGMeta {key: $k}) SET m.value = $v", {"k": _MARK + proc, "v": k}, write=True)


def _drop(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def push_outbox(target: Any, *, home: Path | None = None, on_progress: Callable[[int], None] | None = None,
                report: Any = None) -> Any:
    """Send every closed outbox file (and every part whose writer died) for ``target``'s server,
    in order, each process's files under its lock; returns the CopyReport (``outbox_files``,
    ``outbox_records`` filled in)."""
    from kg.push import CopyReport, copy_runs
    from kg.stores.sqlite import SqliteStore

    report = report or CopyReport()
    for d in _server_dirs(target.uri, home):
        by_proc: dict[str, list[_File]] = {}
        for f in _files(d):
            by_proc.setdefault(f.proc, []).append(f)
        for proc, files in by_proc.items():
            plock = _lock(d / f"{proc}.lock", wait=False)
            if plock is None:
                continue  # another pusher is sending this process's files, in order
            try:
                mark: int | None = None  # read once there is a file to send: a follower polls often
                for f in _files_again(d, proc):
                    if f.part:
                        wlock = _lock(Path(f"{f.path}.lock"), wait=False)
                        if wlock is None:
                            break  # still being written: it and the later ones wait
                        release(wlock)
                        _checkpoint(f.path)
                    if mark is None:
                        mark = _mark(target, proc)
                    if f.k <= mark:
                        _drop(f.path)
                        continue
                    src = SqliteStore(f.path, create=False)
                    try:
                        rep = copy_runs(src, target, None, on_progress=on_progress)
                    finally:
                        src.close()
                    _set_mark(target, proc, f.k)
                    _drop(f.path)
                    report.outbox_files += 1
                    report.outbox_records += rep.records
                if not any(f.proc == proc for f in _files(d)):
                    (d / f"{proc}.lock").unlink(missing_ok=True)  # still held: no other pusher is inside
            finally:
                release(plock)
    return report


def catch_up(store: Any, *, home: Path | None = None, timeout: float = 60.0) -> None:
    """Read your own writes: before a ``kg`` command or ``kg.connect()`` reads a Neo4j store, what
    this machine captured for it and has not sent yet is sent now (waiting for a pusher that is
    busy with it, at most ``timeout`` seconds). A program still running keeps its parts; its
    pusher sends them. Nothing to do for an embedded store. Never raises: a server that cannot be
    reached fails the read itself."""
    from kg.stores import is_server_uri

    if not is_server_uri(store.uri):
        return
    dirs = [d for d in _server_dirs(store.uri, home) if d.is_dir()]
    if not any(_files(d) for d in dirs):
        return
    deadline = time.monotonic() + timeout
    try:
        while True:
            push_outbox(store, home=home)
            files = [f for d in dirs for f in _files(d)]
            live = {f.proc for f in files if f.part and _writing(f)}
            if not any(f.proc not in live for f in files) or time.monotonic() > deadline:
                return
            time.sleep(0.1)
    except Exception as exc:  # the read that follows reports a server that is down
        import logging

        logging.getLogger("kg.outbox").debug("catch-up: %s", exc)


def _writing(f: _File) -> bool:
    """True while a program still writes this outbox part (it holds the part's lock)."""
    fd = _lock(Path(f"{f.path}.lock"), wait=False)
    release(fd)
    return fd is None


def _files_again(d: Path, proc: str) -> Iterator[_File]:
    # Listed again under the lock: files another pusher deleted meanwhile are gone.
    return (f for f in _files(d) if f.proc == proc and f.path.exists())


def follow(target: Any, *, home: Path | None = None, until_idle: float | None = None, poll: float = 0.05,
           on_round: Callable[[Any], None] | None = None, report: Any = None) -> None:
    """Push the outbox as files appear; with ``until_idle``, return after that many seconds
    with nothing live and nothing to send. An unreachable server is waited for. What was
    sent is added to ``report``'s outbox counts."""
    from kg.push import CopyReport

    idle_since = time.monotonic()
    down_since: float | None = None
    while True:
        rep = CopyReport()
        try:
            push_outbox(target, home=home, report=rep)
            down_since = None
        except (StoreUnavailable, StoreError):
            # The server is down or restarting (its errors then are not all "unavailable"):
            # the files stay, and are sent from the last mark once it answers again. A pusher
            # that stops when idle also gives up on a long outage: the next kg command starts one.
            now = time.monotonic()
            down_since = down_since or now
            if until_idle is not None and now - down_since > max(60.0, 30 * until_idle):
                return
            time.sleep(1.0)
            idle_since = time.monotonic()
            continue
        if report is not None:
            report.outbox_files += rep.outbox_files
            report.outbox_records += rep.outbox_records
        if on_round is not None and rep.outbox_files:
            on_round(rep)
        left = [f for d in _server_dirs(target.uri, home) for f in _files(d)]
        if rep.outbox_files or left:
            idle_since = time.monotonic()
        elif until_idle is not None and time.monotonic() - idle_since >= until_idle:
            return
        time.sleep(poll if not rep.outbox_files else 0)


def start_pusher(uri: str, *, home: Path | None = None) -> None:
    """Start a detached ``kg push --follow --until-idle`` for ``uri`` unless one runs (or KG_PUSHER=0)."""
    if os.environ.get("KG_PUSHER", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    d = outbox_root(home) / _server_key(uri)
    d.mkdir(parents=True, exist_ok=True)
    fd = _lock(d / "pusher.lock", wait=False)
    if fd is None:
        return  # one is running; it sees new files as they appear
    release(fd)
    env = {**os.environ, "KG_HOME": str(home or kg_home())}
    env.pop("KG_STORE", None)  # the pusher captures nothing
    try:
        subprocess.Popen([sys.executable, "-m", "kg._pusher", "push", "--follow", "--until-idle", "10", "--outbox-only",
                          "--to", uri], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:  # pushing is left to the next `kg push`
        pass


def resume_pushers(home: Path | None = None) -> None:
    """Start a pusher for every server whose outbox still holds files (a program killed before
    its pusher finished, a server that was down): run by every ``kg`` command."""
    root = outbox_root(home)
    if not root.is_dir():
        return
    for d in root.iterdir():
        if d.is_dir() and any(_NAME.match(p.name) for p in d.iterdir()) and (d / "uri").exists():
            start_pusher((d / "uri").read_text().strip(), home=home)


def pusher_lock(uri: str, *, home: Path | None = None) -> int | None:
    """Held by a following pusher for its lifetime, so a capture starts no second one."""
    d = outbox_root(home) / _server_key(uri)
    d.mkdir(parents=True, exist_ok=True)
    return _lock(d / "pusher.lock", wait=False)
