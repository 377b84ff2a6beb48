"""Parallel patterns on real threads: PARALLEL_SPLIT (fire and forget) and SYNCHRONIZE (wait, with timeout)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kg.engine.errors import HaltProcessing, WorkflowDefinitionError, WorkflowError
from kg.engine.patterns._docs import with_nice_docs

__all__ = ["MAX_TIMEOUT", "PARALLEL_SPLIT", "SYNCHRONIZE"]

MAX_TIMEOUT = 30000  # seconds, the seed's default for SYNCHRONIZE

Task = Callable[[Any, Any], Any]


def _branch_target(func: Any, obj: Any, eng: Any) -> Callable[[], Any]:
    """A branch is a task (called with the parent engine) or a task list (run in a fresh engine)."""
    if isinstance(func, (list, tuple)):
        sub = eng.duplicate()
        sub.callbacks.replace(list(func))
        return lambda: sub.process([obj])
    return lambda: func(obj, eng)


@with_nice_docs
def PARALLEL_SPLIT(*args: Any) -> Task:
    """Start every branch on its own thread and go on without waiting for them.

    Each branch runs in a new engine (``eng.duplicate()``) on the current token; it sees
    ``extra_data["lock"]``, a lock shared with the parent (kept there too) for branches
    that touch shared data. A branch that fails or halts is logged on the parent's log."""
    if not args:
        raise WorkflowDefinitionError("PARALLEL_SPLIT needs at least one branch", "PARALLEL_SPLIT")

    def _parallel_split(obj: Any, eng: Any) -> None:
        lock = threading.Lock()
        eng.extra_data["lock"] = lock

        def share_lock(o: Any, e: Any) -> None:
            e.extra_data["lock"] = lock

        for index, func in enumerate(args):
            sub = eng.duplicate()
            sub.callbacks.replace([share_lock, func])

            def run(sub: Any = sub, index: int = index) -> None:
                try:
                    sub.process([obj])
                except HaltProcessing as exc:
                    eng.log.warning("PARALLEL_SPLIT branch %d halted: %s", index, exc)
                except Exception:
                    eng.log.exception("PARALLEL_SPLIT branch %d failed", index)
            # Not daemon threads: the branches' work finishes even if the caller returns.
            threading.Thread(target=run, name=f"kg-parallel-split-{index}").start()
    _parallel_split.__name__ = "PARALLEL_SPLIT"
    return _parallel_split


@with_nice_docs
def SYNCHRONIZE(*args: Any, timeout: float = MAX_TIMEOUT) -> Task:
    """Run all but the last argument in parallel, wait for them all, then run the last.

    Branches are tasks (called with this engine) or task lists (run in a new engine).
    When a branch raises, its exception is raised here after all branches ended; when
    they have not all finished within ``timeout`` seconds, a WorkflowError is raised and
    the last task does not run. Never jump out of a synchronized branch."""
    if len(args) < 2:
        raise WorkflowDefinitionError("You must pass at least two callables", "SYNCHRONIZE")
    branches, final = args[:-1], args[-1]

    def _synchronize(obj: Any, eng: Any) -> None:
        errors: list[BaseException | None] = [None] * len(branches)

        def run(index: int, target: Callable[[], Any]) -> None:
            try:
                target()
            except BaseException as exc:  # handed to the waiting thread, which raises it
                errors[index] = exc

        threads = [threading.Thread(target=run, args=(i, _branch_target(func, obj, eng)),
                                    name=f"kg-synchronize-{i}", daemon=True)
                   for i, func in enumerate(branches)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        running = sum(thread.is_alive() for thread in threads)
        if running:
            raise WorkflowError(f"SYNCHRONIZE: {running} of {len(threads)} branches still running "
                                f"after {timeout} s")
        for exc in errors:
            if exc is not None:
                raise exc
        _branch_target(final, obj, eng)()
    _synchronize.__name__ = "SYNCHRONIZE"
    return _synchronize
