"""Function-activation tracing for `kg run`: picks the tracer, starts and stops it.

``sys.monitoring`` on Python >= 3.12 (library code disabled after its first call),
``sys.setprofile`` before. ``KG_TRACER=setprofile|sysmon`` forces one (tests run both
where the interpreter has both)."""
from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from capture.tracer._classify import Classifier
from capture.tracer._common import SITES, TraceOptions, UserCode, act_id
from kg.exceptions import ConfigError

__all__ = ["TraceOptions", "Tracing", "start", "stop", "current_activation", "tracer_name", "available",
           "act_id"]

log = logging.getLogger("kg.tracer")

_active: Any = None
_lock = threading.Lock()


def available() -> list[str]:
    """The tracers this interpreter can run, preferred first."""
    names = []
    if sys.version_info >= (3, 12):
        names.append("sysmon")
    names.append("setprofile")
    return names


def tracer_name(requested: str | None = None) -> str:
    """The tracer to use: ``requested``, else ``$KG_TRACER``, else the best available."""
    name = (requested or os.environ.get("KG_TRACER") or "").strip().lower() or available()[0]
    if name in ("monitoring", "sys.monitoring"):
        name = "sysmon"
    if name not in available():
        raise ConfigError(f"tracer {name!r} is not available on Python {sys.version.split()[0]} "
                          f"(available: {', '.join(available())})")
    return name


class Tracing:
    """One tracing session: which code is user code, how much to record, and the tracer."""

    def __init__(self, run_id: str, main_file: str | None, roots: list[str], options: TraceOptions,
                 sink: Any, tracer: str | None = None) -> None:
        self.run_id = run_id
        self.options = options
        self.classifier = Classifier(UserCode(main_file, roots), main_file)
        self.name = tracer_name(tracer)
        if self.name == "sysmon":
            from capture.tracer._sysmon import MonitoringTracer

            self.impl: Any = MonitoringTracer(run_id, self.classifier, options, sink)
        else:
            from capture.tracer._profile import ProfileTracer

            self.impl = ProfileTracer(run_id, self.classifier, options, sink)

    @property
    def records(self) -> int:
        """Activations recorded so far."""
        return int(self.impl.records)

    @property
    def faults(self) -> int:
        return int(self.impl.faults)

    def user_files(self) -> list[str]:
        """The files whose code ran and was traced as user code."""
        return sorted({s.file for s in SITES if s.kind == "user" and s.file and
                       s in self.classifier.codes.values()})

    def start(self) -> Tracing:
        global _active
        with _lock:
            if _active is not None:
                raise ConfigError("a kg run trace is already active in this process")
            _active = self
        self.impl.start()
        return self

    def stop(self) -> None:
        global _active
        try:
            self.impl.stop()
        finally:
            with _lock:
                if _active is self:
                    _active = None

    def close_open(self, status: str) -> int:
        """Record the activations still open (the program exited inside them) with ``status``."""
        import time

        from capture.tracer._common import ACT_CODE, NO_RESULT

        n = 0
        now = time.time()
        for _tid, e in self.impl.open_entries():
            if e[8]:  # REC
                self.impl.put((ACT_CODE, e[1], e[2], self.run_id, e[3], e[4], e[6], now, e[5], NO_RESULT, status,
                               None, None))
                n += 1
        self.impl.stacks.clear()
        return n


def start(run_id: str, main_file: str | None, roots: list[str], options: TraceOptions | None = None,
          sink: Any = None, tracer: str | None = None) -> Tracing:
    """Start tracing user code (the files ``main_file`` and under ``roots``)."""
    if sink is None:
        from capture._state import ensure_sink

        sink = ensure_sink()
    return Tracing(run_id, main_file, roots, options or TraceOptions(), sink, tracer).start()


def stop() -> None:
    """Stop the active tracing session, if any."""
    t = _active
    if t is not None:
        t.stop()


def current_activation() -> str | None:
    """The id of the innermost user-code activation on this thread, or None."""
    t = _active
    if t is None:
        return None
    try:
        n = t.impl.current()
    except Exception:
        return None
    return act_id(n) if n else None
