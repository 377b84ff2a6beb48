"""Running a script or ``-m module`` exactly as ``python script.py args…`` would, inside this process.

Same ``sys.argv``, ``sys.path[0]``, ``__main__`` module (``__file__``, ``__name__``,
``__loader__``), stdin/stdout/stderr; an uncaught exception is printed by
``sys.excepthook`` with the traceback Python would print (provkg's frames cut off) and
gives exit code 1; ``SystemExit`` keeps its code; non-daemon threads are waited for
before the run counts as over; Ctrl-C prints the KeyboardInterrupt traceback and the
process dies of SIGINT after the usual shutdown, as Python does."""
from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import signal
import sys
import threading
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.machinery import SourceFileLoader
from typing import Any

__all__ = ["Target", "TargetError", "Outcome", "resolve", "execute", "exit_like_python"]

_HERE = os.path.abspath(__file__)


class TargetError(Exception):
    """The script or module cannot be started; ``message`` is what Python prints, ``code`` its exit code.

    (Not a KGError: it is the program's own failure, reported as Python reports it.)"""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Target:
    """What to run: a script path (as given) or a module name, with its arguments."""

    kind: str                  # "script" | "module"
    name: str                  # the path as typed, or the module name
    args: list[str]
    file: str | None           # absolute path of the code that runs as __main__ (None: unknown module)
    root: str                  # sys.path[0] for the run
    source: bytes | None = None
    # compile(source, filename) -> code, instead of compile(): `kg run --dataflow` (capture.finegrained)
    compiler: Any = None

    @property
    def argv(self) -> list[str]:
        return [self.name if self.kind == "script" else (self.file or "-m"), *self.args]


@dataclass
class Outcome:
    """How the program ended."""

    status: str = "finished"          # finished | failed | unfinished (interrupted)
    exit_code: int = 0
    system_exit: SystemExit | None = None
    error: tuple[str, str, str] | None = None   # (type, message, traceback text)
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def resolve(name: str, args: list[str], *, module: bool = False) -> Target:
    """Find the script or module; raises TargetError with Python's own message when it cannot start."""
    if module:
        root = os.getcwd()
        if root not in sys.path[:1]:
            sys.path.insert(0, root)  # as `python -m` does, so local packages are found
        file = None
        try:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations is not None:
                spec = importlib.util.find_spec(f"{name}.__main__")
            if spec is not None and spec.origin and os.path.isfile(spec.origin):
                file = os.path.abspath(spec.origin)
        except (ImportError, ValueError):
            file = None  # runpy reports it the way Python does
        source = None
        if file:
            with open(file, "rb") as fh:
                source = fh.read()
        return Target("module", name, list(args), file, root, source)
    path = os.path.abspath(name)
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except IsADirectoryError:
        raise TargetError(f"{sys.executable}: can't find '__main__' module in {name!r}", 1) from None
    except OSError as exc:
        raise TargetError(f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}",
                          2) from None
    root = os.path.dirname(os.path.realpath(path))
    return Target("script", name, list(args), path, root, source)


def _trim(tb: types.TracebackType | None) -> types.TracebackType | None:
    # Drop the runner's own frames: what is left starts where Python's traceback would.
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == _HERE:
        tb = tb.tb_next
    return tb


def _print_exception(exc: BaseException) -> str:
    tb = _trim(exc.__traceback__)
    exc.__traceback__ = tb
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        sys.__excepthook__(type(exc), exc, tb)
    return text


def _wait_threads(before: frozenset[threading.Thread] = frozenset()) -> None:
    # What the interpreter does at shutdown: the run is over when the last non-daemon thread ends.
    # provkg's own threads (named "kg-…": the sink, a Neo4j store's writer pool, whose idle workers
    # never end by themselves) are not the program's; nor, in a notebook, the kernel's (``before``).
    main = threading.main_thread()
    while True:
        left = [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()
                and not t.name.startswith("kg-") and t not in before]
        if not left:
            return
        for t in left:
            t.join()


def _fresh_main(target: Target) -> types.ModuleType:
    mod = types.ModuleType("__main__")
    mod.__dict__["__builtins__"] = __builtins__ if isinstance(__builtins__, types.ModuleType) else \
        sys.modules["builtins"]
    if target.kind == "script":
        mod.__file__ = target.file
        mod.__loader__ = SourceFileLoader("__main__", target.file or "")
        mod.__spec__ = None
        mod.__package__ = None
        mod.__dict__["__cached__"] = None
    sys.modules["__main__"] = mod
    return mod


def execute(target: Target, *, on_start: Callable[[], None] | None = None,
            on_end: Callable[[], None] | None = None, namespace: dict[str, Any] | None = None) -> Outcome:
    """Run the target in this process as ``__main__``; ``on_start`` runs right before its first line,
    ``on_end`` after it (and its non-daemon threads) ended. Never raises what the program raised.

    ``namespace``: run a script's code in this dict instead (a notebook's variables, both ways);
    ``__main__``, ``sys.argv`` and ``sys.path`` are then left as they were."""
    if namespace is not None:
        return _execute_in(target, namespace, on_start, on_end)
    out = Outcome()
    root_logger = logging.getLogger()
    # The program starts with logging unconfigured, as under plain python (kg's CLI configured it).
    saved_handlers, saved_level = root_logger.handlers[:], root_logger.level
    root_logger.handlers = []
    root_logger.setLevel(logging.WARNING)
    sys.argv[:] = target.argv
    if sys.path:
        sys.path[0] = target.root
    else:
        sys.path.insert(0, target.root)
    main = _fresh_main(target)
    code = None
    if target.kind == "script":
        code = _compile(target, out)
        if code is None:
            return out
    if on_start is not None:
        on_start()
    try:
        if code is not None:
            exec(code, main.__dict__)
        else:
            import runpy

            runpy._run_module_as_main(target.name, alter_argv=True)  # type: ignore[attr-defined]
    except BaseException as exc:
        _ended_by(out, exc)
    finally:
        try:
            _wait_threads()
        except KeyboardInterrupt:
            out.status, out.interrupted = "unfinished", True
        if on_end is not None:
            on_end()
        root_logger.handlers[:0] = [h for h in saved_handlers if h not in root_logger.handlers]
        if root_logger.level == logging.WARNING:
            root_logger.setLevel(saved_level)
    return out


def _compile(target: Target, out: Outcome) -> types.CodeType | None:
    """The script's code; None (and the outcome python gives) when it does not compile."""
    try:
        if target.compiler is not None:
            return target.compiler(target.source or b"", target.file or target.name)  # type: ignore[no-any-return]
        return compile(target.source or b"", target.file or target.name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        exc.__traceback__ = None
        out.error = (type(exc).__qualname__, str(exc), _print_exception(exc))
        out.status, out.exit_code = "failed", 1
        return None


def _ended_by(out: Outcome, exc: BaseException) -> None:
    """How the program ended, from what it raised: as python reports it."""
    if isinstance(exc, SystemExit):
        out.system_exit = exc
        out.exit_code = _exit_code(exc)
        out.status = "finished" if out.exit_code == 0 else "failed"
        if out.exit_code != 0:
            out.error = ("SystemExit", str(exc.code), "")
    elif isinstance(exc, KeyboardInterrupt):
        out.error = ("KeyboardInterrupt", str(exc), _print_exception(exc))
        out.status, out.exit_code, out.interrupted = "unfinished", 130, True
    else:
        out.error = (type(exc).__qualname__, _safe_str(exc), _print_exception(exc))
        out.status, out.exit_code = "failed", 1


def _execute_in(target: Target, namespace: dict[str, Any], on_start: Callable[[], None] | None,
                on_end: Callable[[], None] | None) -> Outcome:
    out = Outcome()
    code = _compile(target, out)
    if code is None:
        return out
    before = frozenset(threading.enumerate())
    if on_start is not None:
        on_start()
    try:
        exec(code, namespace)
    except BaseException as exc:
        _ended_by(out, exc)
    finally:
        _wait_threads(before)
        if on_end is not None:
            on_end()
    return out


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable>"


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    if isinstance(code, bool):
        return int(code)
    return 1


_die_of_sigint = False


def _exit_hook() -> None:
    # Registered before the program runs, so it runs after the program's own atexit handlers.
    if not _die_of_sigint:
        return
    try:
        from kg import sink as sink_mod

        sink_mod._close_default()
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


atexit.register(_exit_hook)


def exit_like_python(out: Outcome) -> None:
    """End this process the way ``python script.py`` would have ended (raises SystemExit)."""
    global _die_of_sigint
    if out.interrupted:
        _die_of_sigint = True  # after the normal shutdown (threads, atexit), die of SIGINT like Python
        raise SystemExit(130)
    if out.system_exit is not None:
        raise out.system_exit  # Python prints a non-int code itself
    raise SystemExit(out.exit_code)
