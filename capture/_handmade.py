"""Hand-made tasks: ``with capture.Task("download", used={...}) as t: ... t.end(generated={...})``."""
from __future__ import annotations

import time
from typing import Any

from capture._run import current_run
from capture._spec import TaskSpec, snap_kwargs
from capture._state import current_parent, state, task_id
from capture._task import TASK_CODE, put_task
from capture.values import ATOMIC, summarize
from kg.config import settings

__all__ = ["Task"]

_time = time.time
_cv_get = current_parent.get
_cv_set = current_parent.set
_cv_reset = current_parent.reset


class Task:
    """A hand-made task: ``with Task("download", used={...}) as t: ... t.end(generated={...})``.

    ``Task(...).send()`` records it at once (ended = started); passing ``generated`` or
    ``status`` to the constructor ends it immediately."""

    def __init__(self, activity: str, used: dict[str, Any] | None = None, *, run_id: str | None = None,
                 parent: str | None = None, tags: Any = None, metadata: dict[str, Any] | None = None,
                 agent_id: str | None = None, generated: dict[str, Any] | None = None,
                 status: str | None = None, **extra: Any) -> None:
        self.activity = activity
        self.n = next(state.counter)
        self.id = task_id(self.n)
        self.run_id = run_id
        self.parent = parent
        self.parent_n = _cv_get()
        self.used = snap_kwargs(used or {})
        self.spec = TaskSpec(None, activity, tags=tags, metadata=metadata, register=False)
        self.extra = {k: v for k, v in extra.items() if v is not None}
        if agent_id is not None:
            self.extra["agent_id"] = str(agent_id)
        self.started = _time()
        self.ended: float | None = None
        self._token: Any = None
        self._done = False
        if generated is not None or status is not None:
            self.end(generated=generated, status=status or "FINISHED")

    def __enter__(self) -> Task:
        self._token = _cv_set(self.n)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            _cv_reset(self._token)
            self._token = None
        if not self._done:
            if exc is not None:
                self._record(None, exc, "ERROR")
            else:
                self.end()

    def end(self, generated: dict[str, Any] | None = None, status: str = "FINISHED", **extra: Any) -> None:
        """Finish the task with its outputs and record it."""
        self.extra.update({k: (v if type(v) in ATOMIC else summarize(v)) for k, v in extra.items()})
        self.ended = _time()
        self._record(snap_kwargs(generated or {}), None, status)

    def send(self) -> None:
        """Record the task now, without outputs (its end time is its start time)."""
        if not self._done:
            self.ended = self.started
            self._record({}, None, "SENT")

    def _record(self, generated: dict[str, Any] | None, exc: BaseException | None, status: str) -> None:
        if self._done or not settings.enabled:
            return
        self._done = True
        try:
            if self.run_id:
                run, part = self.run_id, self.run_id
            else:
                run_obj = current_run()
                run, part = run_obj.id, run_obj.part
            parent = self.parent or self.parent_n or part
            extra = dict(self.extra)
            extra["status"] = status if exc is None else "ERROR"
            put_task((TASK_CODE, self.spec, self.n, parent, run, self.started, self.ended or _time(),
                  self.used, generated if generated is not None else {}, exc, extra), self.n)
        except Exception:
            if settings.strict:
                raise
