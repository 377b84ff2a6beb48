"""In-code provenance capture: runs, tasks, hand-made tasks.

    import capture

    @capture.task(output_names="y")
    def double(x):
        return 2 * x

    with capture.Run(name="demo"):
        double(21)
"""
from __future__ import annotations

from typing import Any

from capture._run import Run, current_run, workflow
from capture.agents import agent_task
from capture._handmade import Task
from capture._task import lightweight_task, task
from capture.loops import LightweightLoop, Loop
from capture.offline import read_offline
from capture.values import register_handler, summarize
from kg.config import settings


def __getattr__(name: str) -> Any:
    # capture.telemetry pulls in psutil (10 ms): imported when first used, not by every `kg run`.
    if name == "telemetry":
        import importlib

        return importlib.import_module("capture.telemetry")
    raise AttributeError(f"module 'capture' has no attribute {name!r}")


def enable() -> None:
    """Turn capture on (the default; ``KG_CAPTURE=0`` starts with it off)."""
    settings.enabled = True


def disable() -> None:
    """Turn capture off: decorated functions run as if undecorated."""
    settings.enabled = False


def instrument(module: Any = None, **options: Any) -> Any:
    """Record each ``forward`` call of a PyTorch module (instance or class): see capture.adapters.torch."""
    from capture.adapters.torch import instrument as _instrument

    return _instrument(module, **options)


def secret(value: str) -> str:
    """Mark ``value`` as a secret: it is replaced by ``[redacted]`` wherever it would be stored
    (arguments, returns, task inputs and outputs, exports). Returns ``value`` unchanged::

        token = capture.secret(vault.read("api"))
    """
    from kg.redact import add_secret

    return add_secret(value)


def flush() -> None:
    """Write everything captured so far to the store now."""
    from capture._state import ensure_sink

    ensure_sink().flush()


__all__ = [
    "Run", "workflow", "current_run", "task", "lightweight_task", "Task",
    "register_handler", "summarize", "enable", "disable", "flush", "settings",
    "Loop", "LightweightLoop", "instrument", "telemetry", "secret", "read_offline", "agent_task",
]
