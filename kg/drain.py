"""Background stores: a forked child stores the buffered records while the program goes on.

Expanding and writing a record costs ~10 µs of Python on the flush thread, which shares
the program's GIL. For large buffers the sink instead forks. The child (a copy of the
process, so every record and the state its expander needs are there as they were) turns
the records into table rows, writes them to ``<store>.drain.<pid>.rows`` and execs a fresh
interpreter (``python -m kg.drain``) that writes the rows into SQLite and deletes the file.
The fresh interpreter matters: SQLite's per-process lock bookkeeping is copied by fork, so
a connection opened in a forked child of a process that had the database open does not
really lock it, and a checkpoint elsewhere can then drop its commits.

Order and readers. Each child, then its writer, holds a shared ``flock`` on
``<store>.drain.pending`` from before the fork until its rows are stored; every
``SqliteStore`` opened elsewhere first waits until it can take (and drop) an exclusive lock
on it, so a reader never sees a half-stored batch and the next trial finds the previous one
finished. Batches are pipelined: a child prepares its rows while the previous batch's writer
writes, then waits for the write turn (an exclusive ``flock`` on ``<store>.drain``, which it
takes before exec'ing its writer and which the writer holds until its rows are in). A
program forks its next child only once the previous one has taken the turn and exec'd, so
batches land in capture order, and at most one child shares the program's memory. Before
the program writes in-process it waits for all of them. A rows file left by a writer that
died is stored by the next ``SqliteStore`` that opens the store (``recover``): nothing is
lost.

The child leaves the program's session before ``fork`` returns in the parent (signals are
blocked until then, and the parent waits for its word), ignores SIGINT/SIGTERM/SIGHUP, keeps
the parent's id prefix (``after_fork_in_child`` hooks are skipped in it) and has /dev/null
as stdio, so `kg run … | tee` ends with the program; it reports failures in
``<store>.drain.log``. ``KG_BACKGROUND=0`` turns all this off; platforms without ``fork``
never use it."""
from __future__ import annotations

import errno
import gc
import glob
import logging
import marshal
import os
import select
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["available", "after_fork_in_child", "lock_path", "pending_path", "wait", "fork", "reap", "note",
           "recover", "handed_off"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("kg.drain")
_child = False                   # True in a drain child and in the writer it execs
_forking: int | None = None      # ident of the thread forking a drain child (its hooks are skipped)
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def available() -> bool:
    """True where background stores can be used (POSIX fork and flock, an interpreter to exec, not off)."""
    from kg.config import settings

    return (settings.background and fcntl is not None and hasattr(os, "fork") and bool(sys.executable)
            and not _child)


def after_fork_in_child(fn: Callable[[], None]) -> None:
    """``os.register_at_fork(after_in_child=fn)``, except in drain children (they keep the parent's state)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: None if threading.get_ident() == _forking else fn())


def lock_path(db_path: str) -> str:
    """The write-turn lock file beside a store's database file (also the stem of the others)."""
    return os.path.abspath(db_path) + ".drain"


def pending_path(db_path: str) -> str:
    """The lock file that every unfinished background store of ``db_path`` holds shared."""
    return lock_path(db_path) + ".pending"


def note(db_path: str, message: str) -> None:
    """Append ``message`` to ``<store>.drain.log`` (a child has no terminal to report to)."""
    try:
        with open(lock_path(db_path) + ".log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {message}\n")
    except OSError:
        pass


def wait(db_path: str, timeout: float | None = None) -> bool:
    """Block until no background store is writing ``db_path``; False if ``timeout`` passed first."""
    if fcntl is None or _child or db_path == ":memory:":
        return True
    from kg.config import settings

    limit = settings.drain_wait if timeout is None else timeout
    try:
        fd = os.open(pending_path(db_path), os.O_RDONLY)
    except OSError:
        return True  # no lock file: nothing was ever stored in the background here
    try:
        deadline = time.monotonic() + limit
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only when no background store holds it
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return True
            if time.monotonic() >= deadline:
                log.warning("provkg: a background store of %s is still writing after %.0fs; reading anyway",
                            db_path, limit)
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        os.close(fd)  # drops the lock


def fork(db_path: str, prepare: Callable[[], Rows]) -> tuple[int, int] | None:
    """Fork a child that runs ``prepare()`` (-> node rows, edge rows) and has them stored.

    Returns (pid, fd), or None if it could not fork. ``handed_off(fd)`` tells when the child has
    taken the write turn and exec'd its writer (the rows are safe in a file, and the child no
    longer shares the program's memory: the program frees the records it handed over then, not
    before, as freeing them while shared would copy every page they are on), or died before
    that (the program keeps the records and stores them again). Fork the next child only after
    that: it keeps batches in order."""
    global _forking
    pending_fd = os.open(pending_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(pending_fd, fcntl.LOCK_SH)  # held by the child, then its writer, until the rows are in
    ready_r, ready_w = os.pipe()
    gone_r, gone_w = os.pipe()  # close-on-exec: the child's end closes when it execs or exits
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # none may reach the child before setsid
    try:
        _forking = threading.get_ident()
        with warnings.catch_warnings():  # 3.12+ warns about fork in a threaded process
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            os.close(gone_r)
            _run_child(db_path, pending_fd, ready_r, ready_w, gone_w, mask, prepare)  # never returns
        _forking = None
        os.close(ready_w)
        ready_w = -1
        os.read(ready_r, 1)  # the child has left the program's session (or died trying)
        keep, gone_r = gone_r, -1
        return pid, keep
    except OSError:
        return None
    finally:
        _forking = None
        for fd in (pending_fd, ready_r, ready_w, gone_r, gone_w):  # each once: a number may be reused
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _run_child(db_path: str, pending_fd: int, ready_r: int, ready_w: int, gone_w: int, mask: Any,
               prepare: Callable[[], Rows]) -> None:
    global _child
    _child = True
    # Short-lived and allocation-heavy: the collector would walk the program's whole copied heap
    # on each pass (touching, so copying, its pages) and find nothing to free.
    gc.disable()
    try:
        os.setsid()
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a program that exited must not kill it (see below)
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.close(null)
        os.close(ready_r)
        os.write(ready_w, b"1")
        os.close(ready_w)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        rows = prepare()
        path = _rows_path(db_path, os.getpid())
        with open(path + ".part", "wb") as fh:
            fh.write(marshal.dumps(rows))
        os.replace(path + ".part", path)
        turn = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(turn, fcntl.LOCK_EX)  # the previous batch's writer has finished: ours is next
        os.set_inheritable(turn, True)
        os.set_inheritable(pending_fd, True)
        env = dict(os.environ)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # so `-m kg.drain` finds us
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            os.write(gone_w, b"x")  # the rows are in their file and ours is the turn: the records may go
        except OSError:
            pass  # the program has exited (it does not wait for its last child): nobody to tell
        os.execve(sys.executable, [sys.executable, "-m", "kg.drain", db_path, path], env)
    except BaseException:
        note(db_path, "background store failed:\n" + traceback.format_exc())
    finally:
        os._exit(1)


def handed_off(fd: int, block: bool = False) -> bool | None:
    """For the child behind ``fd`` (from ``fork``): True once it has exec'd its writer, False if
    it died before (its records were not handed over: keep them), None while it is still at work
    (``block``: wait instead)."""
    try:
        if not select.select([fd], [], [], None if block else 0)[0]:
            return None
        word = os.read(fd, 1)
        if word:
            os.read(fd, 1)  # end-of-file: the exec itself (or its failure, then the rows file is kept)
        return word == b"x"
    except (OSError, ValueError):
        return False


def reap(pid: int | None, *, block: bool) -> int | None:
    """``pid`` if that child is still running (``block=False``), else None once it has ended."""
    if not pid:
        return None
    try:
        done, _status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    return pid if done == 0 else None


def _rows_path(db_path: str, pid: int) -> str:
    """The rows file a background store's child (pid) writes and its writer stores and removes."""
    return f"{lock_path(db_path)}.{pid}.rows"


def _rows_files(db_path: str) -> list[tuple[str, int]]:
    """(path, pid) of the rows files waiting beside ``db_path``, oldest first."""
    stem = lock_path(db_path) + "."
    found = []
    for path in glob.glob(glob.escape(stem) + "*.rows"):
        pid = path[len(stem):-len(".rows")]
        if pid.isdigit():
            found.append((os.path.getmtime(path), path, int(pid)))
    return [(path, pid) for _, path, pid in sorted(found)]


def _store_rows(store: Any, path: str) -> None:
    with open(path, "rb") as fh:
        node_rows, edge_rows = marshal.loads(fh.read())  # load(fh) reads item by item: 6x slower
    store.write_rows(node_rows, edge_rows)
    os.unlink(path)


def _store_orphan(store: Any, path: str) -> None:
    _store_rows(store, path)
    note(store.path, f"recovered {os.path.basename(path)} left by a background store")


def recover(store: Any) -> None:
    """Store rows files left by background writers that died (only while none is running)."""
    if fcntl is None or _child:
        return
    files = _rows_files(store.path)
    if not files:
        return
    fd = os.open(pending_path(store.path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return  # a background store is at work: it, or the next open, takes them
    try:
        for path, _pid in files:
            _store_orphan(store, path)
    finally:
        os.close(fd)


def _orphans_before(db_path: str, path: str) -> list[str]:
    """Rows files of ``db_path`` older than ``path`` whose process is gone: their writer died."""
    out = []
    for other, pid in _rows_files(db_path):
        if other == path:
            break  # oldest first: the rest came after ours
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            out.append(other)  # a live pid is a child still waiting for its turn: it stores its own
        except OSError:
            pass
    return out


def _main(argv: list[str]) -> int:
    # The writer a drain child execs: store one rows file; the locks it inherited are held until it exits.
    global _child
    _child = True  # do not wait for the lock this process holds itself
    gc.disable()  # loads a batch of tuples, writes it, exits: nothing for the collector to free
    db_path, path = argv[0], argv[1]
    try:
        from kg.stores.sqlite import SqliteStore

        store = SqliteStore(db_path)
        try:
            for older in _orphans_before(db_path, path):  # batches before ours whose writer died: theirs first
                _store_orphan(store, older)
            _store_rows(store, path)
        finally:
            store.close()
        return 0
    except BaseException:
        note(db_path, f"background store of {path} failed (kept for recovery):\n" + traceback.format_exc())
        return 1


if __name__ == "__main__":
    # Run as `python -m kg.drain`: this module is __main__, and kg.stores imports kg.drain anew;
    # the writer's state must live in that one.
    from kg.drain import _main as main

    sys.exit(main(sys.argv[1:]))
