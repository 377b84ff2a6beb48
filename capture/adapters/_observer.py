"""What the observing adapters share (MLflow, TensorBoard): where their records hang in the
current capture run, and a daemon thread that syncs every few seconds until ``stop()``."""
from __future__ import annotations

import logging
import threading
from typing import TypeVar

from capture._run import current_run
from capture._state import current_parent, task_id

__all__ = ["Observer"]

log = logging.getLogger("kg.adapters")
O = TypeVar("O", bound="Observer")


class Observer:
    """``sync()`` once, or ``start(interval)`` … ``stop()`` (also a context manager) to keep syncing.

    ``run``: the capture run records go to (default the current one); ``parent``: the activity
    they hang under (default the running task, else the run)."""

    thread_name = "kg-observer"

    def __init__(self, run_id: str | None = None, parent: str | None = None) -> None:
        self.run = run_id or current_run().id
        n = current_parent.get()
        self.parent = parent or (task_id(n) if n else self.run)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def sync(self) -> int:
        """One pass: record what is new; returns how many runs were recorded."""
        raise NotImplementedError

    def start(self: O, interval: float = 2.0) -> O:
        """Sync every ``interval`` seconds in a daemon thread until ``stop()``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, args=(interval,), name=self.thread_name,
                                            daemon=True)
            self._thread.start()
        return self

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sync()
            except Exception as exc:  # never into the observed program: keep watching
                self._sync_failed(exc)

    def _sync_failed(self, exc: Exception) -> None:
        log.debug("%s: sync failed: %s", type(self).__name__, exc)

    def stop(self) -> int:
        """Stop watching and sync one last time (so nothing written before stop is missed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        return self.sync()

    def __enter__(self: O) -> O:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


