"""The seed's class-level extension points: processing factory, action mapper, transition actions."""
from __future__ import annotations

from typing import Any

from kg.engine.errors import WorkflowError
from kg.engine.utils import classproperty

__all__ = ["ActionMapper", "Break", "Continue", "TransitionActions", "ProcessingFactory",
           "find_transition_handler"]


class ActionMapper:
    """Actions around the task lists of each token and around each task.

    Overriding ``before_each_callback``/``after_each_callback`` switches the engine to
    its per-task path (a little slower); the defaults cost nothing."""

    @staticmethod
    def before_callbacks(obj: Any, eng: Any) -> None:
        """Before the first task of a token."""

    @staticmethod
    def after_callbacks(obj: Any, eng: Any) -> None:
        """After the last task of a token, also when a task raised."""

    @staticmethod
    def before_each_callback(eng: Any, callback_func: Any, obj: Any) -> None:
        """Before every task."""

    @staticmethod
    def after_each_callback(eng: Any, callback_func: Any, obj: Any) -> None:
        """After every task, also when it raised."""


class Break(Exception):
    """Raised by a transition action: leave the token loop (the run then finishes)."""


class Continue(Exception):
    """Raised by a transition action: go on with the next token."""


class TransitionActions:
    """What the engine does when a task raises: one static method per exception class name.

    Each is called as ``(obj, eng, callbacks, exc)`` with the exception itself, so an
    override can simply ``raise exc`` (as the seed's examples do). The handler is looked
    up along the exception's class hierarchy; ``Exception`` catches everything else."""

    @staticmethod
    def StopProcessing(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng.log.debug("Processing was stopped for object: %r", obj)
        raise Break

    @staticmethod
    def HaltProcessing(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng.log.debug("Processing was halted at step: %s", eng.state)
        eng.signal.workflow_halted(eng)
        raise exc

    @staticmethod
    def ContinueNextToken(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng.log.debug("Stop processing for this object, continue with next")
        eng.state.callback_pos_reset()
        raise Continue

    @staticmethod
    def JumpToken(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        step = exc.args[0]
        state = eng.state
        # token_pos is incremented before each token is taken, hence the -1.
        if step > 0:
            state.token_pos = min(len(eng), state.token_pos - 1 + step)
        else:
            state.token_pos = max(-1, state.token_pos - 1 + step)
        state.callback_pos_reset()

    @staticmethod
    def JumpTokenForward(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        if exc.args[0] < 0:
            raise WorkflowError("JumpTokenForward cannot be negative number")
        TransitionActions.JumpToken(obj, eng, callbacks, exc)

    @staticmethod
    def JumpTokenBack(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        if exc.args[0] > 0:
            raise WorkflowError("JumpTokenBack cannot be positive number")
        TransitionActions.JumpToken(obj, eng, callbacks, exc)

    @staticmethod
    def SkipToken(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        # Only the engine logs: the seed also logged to ``obj.log``, which plain tokens lack.
        eng.log.debug("Skipped running this object: %r", obj)
        raise Continue

    @staticmethod
    def AbortProcessing(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng.log.debug("Processing was aborted for object: %r", obj)
        raise Break

    @staticmethod
    def Exception(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng.signal.workflow_error(eng)
        raise exc


def find_transition_handler(mapper: Any, exc_type: type) -> Any:
    """The mapper's method for the most specific class of ``exc_type`` it names."""
    for cls in exc_type.__mro__:
        handler = getattr(mapper, cls.__name__, None)
        if handler is not None and callable(handler):
            return handler
    return mapper.Exception


class ProcessingFactory:
    """Hooks before/after a run and each token, plus the mappers above (override by subclassing)."""

    @classproperty
    def action_mapper(cls) -> type[ActionMapper]:
        return ActionMapper

    @classproperty
    def transition_exception_mapper(cls) -> type[TransitionActions]:
        return TransitionActions

    @staticmethod
    def before_processing(eng: Any, objects: Any) -> None:
        """Keep the tokens on the engine and announce the start."""
        eng.state.current_object_processed = False
        eng.objects = objects
        eng.signal.workflow_started(eng)

    @staticmethod
    def after_processing(eng: Any, objects: Any) -> None:
        """Mark the run complete and announce it."""
        eng.state.current_object_processed = True
        eng.signal.workflow_finished(eng)

    @staticmethod
    def before_object(eng: Any, objects: Any, obj: Any) -> None:
        """Before a token's task list starts."""

    @staticmethod
    def after_object(eng: Any, objects: Any, obj: Any) -> None:
        """After a token went through its task list without a transition."""
