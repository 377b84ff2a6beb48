"""Per-engine hooks for listeners (provenance, persistence): attach to one engine, no subclassing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EngineHooks", "HOOK_EVENTS"]

# event -> the arguments each hook receives
HOOK_EVENTS: dict[str, str] = {
    "before_processing": "(eng, objects)",
    "after_processing": "(eng, objects)",
    "before_object": "(eng, objects, obj)",
    "after_object": "(eng, objects, obj)  # the token went through without a transition",
    "before_callback": "(eng, callback, obj)",
    "after_callback": "(eng, callback, obj, exc)  # exc is None when the task returned",
    "transition": "(eng, obj, exc)  # any transition or error a task raised, before it is handled",
}


class EngineHooks:
    """Hooks keyed by event name (see ``HOOK_EVENTS``); each is a tuple, empty when unused.

    The engine reads these tuples in its loops and takes its per-task path only while a
    ``before_callback``/``after_callback`` hook is connected."""

    __slots__ = tuple(HOOK_EVENTS) + ("_changed",)

    before_processing: tuple[Callable[..., Any], ...]
    after_processing: tuple[Callable[..., Any], ...]
    before_object: tuple[Callable[..., Any], ...]
    after_object: tuple[Callable[..., Any], ...]
    before_callback: tuple[Callable[..., Any], ...]
    after_callback: tuple[Callable[..., Any], ...]
    transition: tuple[Callable[..., Any], ...]

    def __init__(self, changed: Callable[[], None] | None = None) -> None:
        for event in HOOK_EVENTS:
            setattr(self, event, ())
        self._changed = changed

    def connect(self, event: str, hook: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``hook`` on ``event``; returns the hook so this works as a decorator helper."""
        self._check(event)
        setattr(self, event, getattr(self, event) + (hook,))
        if self._changed is not None:
            self._changed()
        return hook

    def disconnect(self, event: str, hook: Callable[..., Any]) -> None:
        """Stop calling ``hook`` on ``event`` (no error when it was not connected)."""
        self._check(event)
        setattr(self, event, tuple(h for h in getattr(self, event) if h != hook))
        if self._changed is not None:
            self._changed()

    def clear(self) -> None:
        """Disconnect every hook."""
        for event in HOOK_EVENTS:
            setattr(self, event, ())
        if self._changed is not None:
            self._changed()

    @staticmethod
    def _check(event: str) -> None:
        if event not in HOOK_EVENTS:
            from kg.engine.errors import WorkflowAPIError
            raise WorkflowAPIError(f"unknown engine hook event {event!r}; known: {', '.join(HOOK_EVENTS)}")

    def __repr__(self) -> str:
        used = {e: len(getattr(self, e)) for e in HOOK_EVENTS if getattr(self, e)}
        return f"EngineHooks({used})"
