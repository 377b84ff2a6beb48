"""Background stores: a forked child writes the buffered records while the program goes on.

Expanding and writing a record costs ~10 µs of Python on the flush thread, which shares
the program's GIL. For large buffers the sink instead forks: the child (a copy of the
process, so every record and the state its expander needs are there as they were) stores
the records on another core and exits; the parent forgets them and carries on, or exits.

Order and readers. A child holds an exclusive ``flock`` on ``<store>.drain`` from before
the fork until it exits; every ``SqliteStore`` opened elsewhere first takes (and drops) a
shared lock on it, so a reader never sees a half-stored batch and the next trial finds
the previous one finished. A process has at most one child at a time, and waits for it
before it writes again, so records land in the order they were captured.

The child leaves the terminal's process group (Ctrl-C at the prompt does not reach it),
ignores SIGINT/SIGTERM, keeps the parent's id prefix (``after_fork_in_child`` hooks are
skipped in it) and leaves with ``os._exit`` (no atexit handlers, no stdio buffers flushed
twice); its stdio is /dev/null, so it reports lost records in ``<store>.drain.log``.
``KG_BACKGROUND=0`` turns it off; platforms without ``fork`` never use it."""
from __future__ import annotations

import errno
import logging
import os
import signal
import time
import warnings
from collections.abc import Callable

__all__ = ["available", "after_fork_in_child", "in_child", "lock_path", "wait", "fork", "reap", "note"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("kg.drain")
_child = False  # True in a drain child (fork copies the flag after it is set)


def available() -> bool:
    """True where background stores can be used (POSIX fork and flock, not turned off)."""
    from kg.config import settings

    return settings.background and fcntl is not None and hasattr(os, "fork") and not _child


def in_child() -> bool:
    """True in a drain child."""
    return _child


def after_fork_in_child(fn: Callable[[], None]) -> None:
    """``os.register_at_fork(after_in_child=fn)``, except in drain children (they keep the parent's state)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: None if _child else fn())


def lock_path(db_path: str) -> str:
    """The lock file beside a store's database file."""
    return os.path.abspath(db_path) + ".drain"


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
        fd = os.open(lock_path(db_path), os.O_RDONLY)
    except OSError:
        return True  # no lock file: nothing was ever drained in the background here
    try:
        deadline = time.monotonic() + limit
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
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
        os.close(fd)  # drops the shared lock


def fork(db_path: str, work: Callable[[], bool]) -> int | None:
    """Run ``work()`` in a forked child holding the store's drain lock; the child's pid, or None if no fork.

    Blocks first while another process's child drains the same store (the lock)."""
    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the child (the last holder of fd) exits
        global _child
        _child = True
        try:
            with warnings.catch_warnings():  # 3.12+ warns about fork in a threaded process
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            _child = False
            return None
        if pid == 0:
            _run_child(work)  # never returns
        _child = False
        return pid
    finally:
        os.close(fd)


def _run_child(work: Callable[[], bool]) -> None:
    code = 1
    try:
        os.setsid()
        # Let go of the terminal and any pipe on stdio, so `kg run … | tee` ends with the program.
        # (Other descriptors stay open: objects freed while storing may close them themselves.)
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.close(null)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        code = 0 if work() else 1
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def reap(pid: int | None, *, block: bool) -> int | None:
    """``pid`` if that child is still running (``block=False``), else None once it has ended."""
    if not pid:
        return None
    try:
        done, _status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    return pid if done == 0 else None
