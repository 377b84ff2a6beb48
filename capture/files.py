"""File-access capture: hooks on open() and the common writers and movers of os, shutil and pathlib.

``install(trial_id)`` patches ``builtins.open`` / ``io.open``; ``os.rename``, ``os.replace``,
``os.remove``, ``os.unlink``, ``os.mkdir``; ``shutil.copyfile``, ``copy``, ``copy2``,
``move``, ``rmtree``; and ``pathlib.Path.open``, ``read_text``, ``read_bytes``,
``write_text``, ``write_bytes``, ``touch``, ``rename``, ``replace``, ``unlink``.
Each access is recorded with its path, mode, time and the content hash before and after,
and the contents are kept in the content store (``kg.content``) so a trial's files can
be restored. ``handle.uninstall()`` puts the originals back.

The hooks never change what the program sees: they call the original with the same
arguments, return its result and let its exceptions through untouched; bookkeeping
faults are counted and logged once (raised only in strict mode). Accesses are not
recorded when they come from provkg itself, from the interpreter's own machinery
(importlib, linecache, traceback...), under ``$KG_HOME``, inside the Python installation
(``sys.prefix``; pass ``include_system=True`` to keep them) or under /proc, /sys, /dev.

A file opened for writing is hashed "after" when it is closed and garbage-collected,
when the same path is next accessed through a hook, or at ``uninstall()`` —
whichever comes first. See docs/files-restore-diff.md for the PROV records."""
from __future__ import annotations

import builtins
import io
import os
import pathlib
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from capture._fileprov import FILE_ACCESS, WRITE_MODES, file_id, version_id
from capture._filerecorder import Recorder, busy_flag
from kg import content
from kg.config import kg_home, store_uri
from kg.exceptions import CaptureError

__all__ = ["install", "FileCapture", "active", "file_id", "version_id", "FILE_ACCESS", "WRITE_MODES"]

_local = busy_flag
_active: Recorder | None = None
_install_lock = threading.Lock()


def active() -> FileCapture | None:
    """The installed file capture, if any."""
    rec = _active
    return rec.handle if rec is not None else None


# --------------------------------------------------------------------------- the hooks
def _busy() -> bool:
    return getattr(_local, "busy", False)


class _OpenHook:
    """Replacement for builtins.open / io.open. An instance, not a function, so that it does
    not turn into a bound method when a class stores ``open`` as an attribute (as the builtin)."""

    __slots__ = ("__wrapped__",)

    def __init__(self, orig: Callable[..., Any]) -> None:
        self.__wrapped__ = orig

    def __call__(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        orig = self.__wrapped__
        rec = _active
        if rec is None or isinstance(file, int) or _busy():
            return orig(file, mode, *args, **kwargs)
        return rec.open_like("open", file, mode, lambda: orig(file, mode, *args, **kwargs), sys._getframe(1),
                             False)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.__wrapped__.__doc__

    @property
    def __name__(self) -> str:
        return self.__wrapped__.__name__


class _FuncHook:
    """Replacement for a module-level function (os.*, shutil.*); non-binding, like the builtins."""

    __slots__ = ("__wrapped__", "_impl")

    def __init__(self, orig: Callable[..., Any], impl: Callable[..., Any]) -> None:
        self.__wrapped__ = orig
        self._impl = impl

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        orig = self.__wrapped__
        rec = _active
        if rec is None or _busy():
            return orig(*args, **kwargs)
        return self._impl(rec, orig, args, kwargs, sys._getframe(1))

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    @property
    def __name__(self) -> str:
        return self.__wrapped__.__name__


def _dir_fd(kwargs: dict[str, Any]) -> bool:
    return any(kwargs.get(k) is not None for k in ("dir_fd", "src_dir_fd", "dst_dir_fd"))


def _os_move(op: str) -> Callable[..., Any]:
    def impl(rec: Recorder, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: Any) -> Any:
        if len(args) != 2 or _dir_fd(kwargs):
            return orig(*args, **kwargs)
        return rec.move_like(op, args[0], args[1], lambda: orig(*args, **kwargs), frame)
    return impl


def _os_delete(rec: Recorder, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: Any) -> Any:
    target = args[0] if args else kwargs.get("path")
    if target is None or _dir_fd(kwargs) or len(args) > 1:
        return orig(*args, **kwargs)
    return rec.delete_like("delete", target, lambda: orig(*args, **kwargs), frame)


def _os_mkdir(rec: Recorder, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: Any) -> Any:
    target = args[0] if args else kwargs.get("path")
    if target is None or _dir_fd(kwargs):
        return orig(*args, **kwargs)
    return rec.mkdir_like(target, lambda: orig(*args, **kwargs), frame)


def _sh_transfer(op: str) -> Callable[..., Any]:
    """shutil.copy* ("copy") and shutil.move ("move"): (src, dst), the destination path returned."""
    def hook(rec: Recorder, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: Any) -> Any:
        src = args[0] if args else kwargs.get("src")
        dst = args[1] if len(args) > 1 else kwargs.get("dst")
        if src is None or dst is None:
            return orig(*args, **kwargs)
        return rec.move_like(op, src, dst, lambda: orig(*args, **kwargs), frame, dst_is_result=True)
    return hook


_sh_copy, _sh_move = _sh_transfer("copy"), _sh_transfer("move")


def _sh_rmtree(rec: Recorder, orig: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: Any) -> Any:
    target = args[0] if args else kwargs.get("path")
    if target is None or _dir_fd(kwargs):
        return orig(*args, **kwargs)
    return rec.delete_like("rmtree", target, lambda: orig(*args, **kwargs), frame)


def _path_open(orig: Callable[..., Any]) -> Callable[..., Any]:
    def hook(self: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        rec = _active
        if rec is None or _busy():
            return orig(self, mode, *args, **kwargs)
        return rec.open_like("open", self, mode, lambda: orig(self, mode, *args, **kwargs), sys._getframe(1), False)
    return hook


def _path_rw(name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
    mode = {"read_text": "r", "read_bytes": "rb", "write_text": "w", "write_bytes": "wb", "touch": "a"}[name]

    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        if rec is None or _busy():
            return orig(self, *args, **kwargs)
        return rec.open_like(name, self, mode, lambda: orig(self, *args, **kwargs), sys._getframe(1), True)
    return hook


def _path_move(name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        target = args[0] if args else kwargs.get("target")
        if rec is None or _busy() or target is None:
            return orig(self, *args, **kwargs)
        return rec.move_like(name, self, target, lambda: orig(self, *args, **kwargs), sys._getframe(1))
    return hook


def _path_unlink(orig: Callable[..., Any]) -> Callable[..., Any]:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        if rec is None or _busy():
            return orig(self, *args, **kwargs)
        return rec.delete_like("delete", self, lambda: orig(self, *args, **kwargs), sys._getframe(1))
    return hook


def _path_method(name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
    """A pathlib.Path method hook (a plain function, so it binds like the original)."""
    if name == "open":
        hook = _path_open(orig)
    elif name in ("rename", "replace"):
        hook = _path_move(name, orig)
    elif name == "unlink":
        hook = _path_unlink(orig)
    else:
        hook = _path_rw(name, orig)
    hook.__name__ = getattr(orig, "__name__", name)
    hook.__qualname__ = getattr(orig, "__qualname__", name)
    hook.__doc__ = orig.__doc__
    hook.__wrapped__ = orig  # type: ignore[attr-defined]
    return hook


_OS_HOOKS: dict[str, Callable[..., Any]] = {
    "rename": _os_move("rename"), "replace": _os_move("replace"),
    "remove": _os_delete, "unlink": _os_delete, "mkdir": _os_mkdir,
}
_SHUTIL_HOOKS: dict[str, Callable[..., Any]] = {
    "copyfile": _sh_copy, "copy": _sh_copy, "copy2": _sh_copy, "move": _sh_move, "rmtree": _sh_rmtree,
}
_PATH_METHODS = ("open", "read_text", "read_bytes", "write_text", "write_bytes", "touch", "rename", "replace",
                 "unlink")


# --------------------------------------------------------------------------- install
class FileCapture:
    """The handle ``install`` returns: ``uninstall()`` removes the hooks and records pending writes."""

    def __init__(self, rec: Recorder, patches: list[tuple[Any, str, Any, bool]]) -> None:
        self._rec = rec
        self._patches = patches
        self.trial_id = rec.trial
        rec.handle = self

    @property
    def installed(self) -> bool:
        return _active is self._rec

    @property
    def stats(self) -> dict[str, int]:
        """``records`` (accesses recorded), ``faults`` (bookkeeping errors), ``pending`` (open writes)."""
        return {"records": self._rec.records, "faults": self._rec.faults, "pending": len(self._rec.pending)}

    def settle(self) -> None:
        """Record every pending write now (files still open are hashed as they are on disk)."""
        self._rec.settle_all()

    def uninstall(self) -> None:
        """Put the original functions back, then record pending writes. Safe to call twice."""
        global _active
        with _install_lock:
            if _active is not self._rec:
                return
            _active = None
            for owner, name, orig, had_own in reversed(self._patches):
                current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
                if getattr(current, "__wrapped__", None) is not orig:
                    continue  # someone patched over us: leave theirs (ours is inert now)
                if isinstance(owner, type) and not had_own:
                    delattr(owner, name)
                else:
                    setattr(owner, name, orig)
        try:
            self._rec.settle_all()
        except Exception as exc:
            self._rec.fault(exc)

    def __enter__(self) -> FileCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()


def _skip_prefixes(include_system: bool) -> tuple[str, ...]:
    home = kg_home()
    dirs = {str(home.resolve()), str(home.absolute()), "/proc", "/sys", "/dev"}
    files: set[str] = set()
    uri = store_uri()
    if "://" not in uri or uri.startswith("jsonl://"):
        # The store file and its -wal/-shm/-journal companions (the prefix matches them all).
        files.add(str(Path(uri.split("://", 1)[-1]).absolute()))
    if not include_system:
        dirs |= {os.path.abspath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
                 if p and len(p) > 1}
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs) + tuple(files)


def _default_activation() -> Callable[[], Any] | None:
    try:
        from capture import tracer  # the other half of `kg run`; optional
    except Exception:
        return None
    fn = getattr(tracer, "current_activation", None)
    return fn if callable(fn) else None


def install(trial_id: str, *, activation: Callable[[], Any] | None = None, include_system: bool = False,
            limit: int | None = None) -> FileCapture:
    """Start recording file accesses for ``trial_id``; returns the handle to ``uninstall()`` with.

    ``activation`` returns the id of the current activation (default:
    ``capture.tracer.current_activation`` when it exists); accesses outside any activation
    are attributed to the trial. ``limit``: largest file whose content is kept (default
    ``kg.content.size_limit()``). Raises CaptureError if a capture is already installed."""
    global _active
    with _install_lock:
        if _active is not None:
            raise CaptureError(f"file capture is already installed for trial {_active.trial}")
        rec = Recorder(str(trial_id), root=content.content_root(),
                        limit=content.size_limit() if limit is None else limit,
                        skip=_skip_prefixes(include_system),
                        activation=activation if activation is not None else _default_activation())
        patches: list[tuple[Any, str, Any, bool]] = []
        open_hook = _OpenHook(builtins.open)
        for owner in (builtins, io):
            patches.append((owner, "open", getattr(owner, "open"), True))
            setattr(owner, "open", open_hook)
        for name, impl in _OS_HOOKS.items():
            orig = getattr(os, name)
            patches.append((os, name, orig, True))
            setattr(os, name, _FuncHook(orig, impl))
        for name, impl in _SHUTIL_HOOKS.items():
            orig = getattr(shutil, name)
            patches.append((shutil, name, orig, True))
            setattr(shutil, name, _FuncHook(orig, impl))
        for name in _PATH_METHODS:
            orig = getattr(pathlib.Path, name)
            patches.append((pathlib.Path, name, orig, name in pathlib.Path.__dict__))
            setattr(pathlib.Path, name, _path_method(name, orig))
        handle = FileCapture(rec, patches)
        _active = rec
    return handle
