"""Blinker signals an engine sends; the sender is always the engine itself.

Receivers get only the sender (as the seed's do), so receivers written for the seed
keep working; the halt or error that caused ``workflow_halted``/``workflow_error`` is
``sender.last_exception`` and the token ``sender.current_object``."""
from __future__ import annotations

from typing import Any

from blinker import Namespace

__all__ = ["workflow_started", "workflow_finished", "workflow_halted", "workflow_error", "Signal"]

_signals = Namespace()

workflow_started = _signals.signal("workflow_started")
"""Sent when an engine starts (or restarts) processing its tokens."""

workflow_finished = _signals.signal("workflow_finished")
"""Sent when an engine has gone through all its tokens (or was stopped)."""

workflow_halted = _signals.signal("workflow_halted")
"""Sent when a task halts the engine (``HaltProcessing``)."""

workflow_error = _signals.signal("workflow_error")
"""Sent when a task raises an exception that is not a transition."""


class _Signal:
    """The seed's signal caller (``eng.signal.workflow_halted(eng)``), sending with the engine as sender."""

    @staticmethod
    def workflow_started(eng: Any) -> None:
        workflow_started.send(eng)

    @staticmethod
    def workflow_finished(eng: Any) -> None:
        workflow_finished.send(eng)

    @staticmethod
    def workflow_halted(eng: Any) -> None:
        workflow_halted.send(eng)

    @staticmethod
    def workflow_error(eng: Any) -> None:
        workflow_error.send(eng)


Signal = _Signal()
