"""Engine exceptions: transitions (control flow raised by tasks) and workflow errors (KGError family)."""
from __future__ import annotations

from typing import Any

from kg.exceptions import KGError

__all__ = [
    "WorkflowTransition",
    "StopProcessing",
    "HaltProcessing",
    "ContinueNextToken",
    "JumpToken",
    "JumpTokenForward",
    "JumpTokenBack",
    "JumpCall",
    "JumpCallForward",
    "JumpCallBack",
    "BreakFromThisLoop",
    "SkipToken",
    "AbortProcessing",
    "WorkflowError",
    "WorkflowDefinitionError",
    "WorkflowObjectStatusError",
    "WorkflowAPIError",
]


def _describe(name: str, message: Any, fields: dict[str, Any]) -> str:
    # The seed's format, ``Name(message, key=value, ...)``; its own __str__ raised instead.
    extra = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    return f"{name}({message}, {extra})" if extra else f"{name}({message})"


class WorkflowTransition(Exception):
    """Base of the exceptions a task raises to steer the engine (not errors: control flow)."""


class StopProcessing(WorkflowTransition):
    """Stop the current workflow; the engine finishes normally after the current token."""


class HaltProcessing(WorkflowTransition):
    """Halt the workflow (and any parent engine); the state is kept so it can be restarted.

    ``action`` names what a person should do next, ``payload`` carries data for it."""

    def __init__(self, message: str = "", action: str | None = None, payload: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.payload = payload

    def __str__(self) -> str:
        return _describe(type(self).__name__, self.message,
                         {"action": self.action, "payload": self.payload})

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep every field when the exception crosses a process boundary (Celery, pickle).
        return (type(self), (self.message, self.action, self.payload))


class ContinueNextToken(WorkflowTransition):
    """Stop this token here and go on with the next one (from any nesting depth)."""


class JumpToken(WorkflowTransition):
    """Jump ``args[0]`` tokens from the current one (1 = next, -1 = previous, 0 = again)."""


class JumpTokenForward(JumpToken):
    """Deprecated: jump forward ``args[0]`` tokens."""


class JumpTokenBack(JumpToken):
    """Deprecated: jump back ``args[0]`` (a negative number) tokens."""


class JumpCall(WorkflowTransition):
    """Within the current task list, jump ``args[0]`` tasks (negative goes back)."""


class JumpCallForward(JumpCall):
    """Deprecated: jump forward within the current task list."""


class JumpCallBack(JumpCall):
    """Deprecated: jump back within the current task list."""


class BreakFromThisLoop(WorkflowTransition):
    """Leave the current task list and continue after it in the enclosing one."""


class SkipToken(WorkflowTransition):
    """Skip the current token without marking it completed."""


class AbortProcessing(WorkflowTransition):
    """Abort the whole run without marking the current token completed."""


class WorkflowError(KGError):
    """A workflow failed; ``id_workflow``/``id_object`` say where when known."""

    def __init__(self, message: str, id_workflow: Any = None, id_object: Any = None,
                 payload: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.id_workflow = id_workflow
        self.id_object = id_object
        self.payload = payload

    def __str__(self) -> str:
        fields = {k: v for k, v in (("id_workflow", self.id_workflow), ("id_object", self.id_object),
                                    ("payload", self.payload)) if v is not None}
        return _describe(type(self).__name__, self.message, fields) if fields else str(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.id_workflow, self.id_object, self.payload))


class WorkflowDefinitionError(WorkflowError):
    """A workflow definition is missing or malformed."""

    def __init__(self, message: str, workflow_name: Any = None, payload: Any = None) -> None:
        super().__init__(message, payload=payload)
        self.workflow_name = workflow_name

    def __str__(self) -> str:
        return _describe(type(self).__name__, self.message,
                         {"workflow_name": self.workflow_name, "payload": self.payload})

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.workflow_name, self.payload))


class WorkflowObjectStatusError(WorkflowError):
    """A token has an unknown or missing status."""

    def __init__(self, message: str, id_object: Any = None, obj_status: Any = None) -> None:
        super().__init__(message, id_object=id_object)
        self.obj_status = obj_status

    def __str__(self) -> str:
        return _describe(type(self).__name__, self.message,
                         {"obj_status": self.obj_status, "id_object": self.id_object})

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.id_object, self.obj_status))


class WorkflowAPIError(WorkflowError):
    """An engine method was called with parameters it cannot use."""
