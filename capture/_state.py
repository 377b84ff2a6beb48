"""Process-wide capture state: the current run, the task nesting, the sink's put, and id minting."""
from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar
from typing import Any

from kg import ids
from kg.config import settings
from kg.sink import Sink, get_sink, on_sink_change

__all__ = ["state", "current_parent", "task_id", "put"]


class _State:
    """Mutable globals in one object, so the hot path does one attribute load per field."""

    __slots__ = ("run", "implicit", "put", "sink", "counter", "prefix", "lock")

    def __init__(self) -> None:
        self.run: Any = None          # the active capture.Run (None: an implicit one is made on demand)
        self.implicit: Any = None
        self.put: Any = None          # the sink's deque.append, once the sink exists
        self.sink: Sink | None = None
        self.counter = itertools.count(1)
        self.prefix = ids.process_prefix()
        self.lock = threading.Lock()


state = _State()

# The innermost open task (its integer number), per thread and per asyncio task.
current_parent: ContextVar[int] = ContextVar("kg_current_task", default=0)


def task_id(n: int) -> str:
    """The graph id of task number ``n`` of this process (numbers are cheap on the hot path)."""
    return f"t-{state.prefix}.{n:x}"


def ensure_sink() -> Sink:
    """The sink, created on first use; also sets ``state.put``."""
    sink = state.sink
    if sink is None:
        sink = get_sink()
        state.sink = sink
        state.put = sink.put
    return sink


def put(item: Any) -> None:
    """Queue one record (slower than the cached ``state.put``; for non-hot paths)."""
    p = state.put
    if p is None:
        ensure_sink()
        p = state.put
    p(item)
    check_pressure()


def check_pressure() -> None:
    """Store the buffer on this thread when a batch is due or the buffer is past its cap (Sink.check)."""
    sink = state.sink
    if sink is not None:
        sink.check()


def _sink_changed(sink: Sink | None) -> None:
    state.sink = sink
    state.put = sink.put if sink is not None else None


def _after_fork() -> None:
    state.counter = itertools.count(1)
    state.prefix = ids.process_prefix()


on_sink_change(_sink_changed)
ids.after_fork_in_child(_after_fork)

_ = settings  # re-exported for the hot paths that read it
