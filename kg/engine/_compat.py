"""The seed's deprecated camelCase engine methods, kept so old task code still runs (with a warning)."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from kg.engine.errors import (
    AbortProcessing,
    JumpCall,
    JumpTokenBack,
    JumpTokenForward,
    SkipToken,
    WorkflowError,
)

__all__ = ["DeprecatedEngineMethods", "deprecated"]

F = TypeVar("F", bound=Callable[..., Any])


def deprecated(message: str) -> Callable[[F], F]:
    """Warn with ``message`` (a DeprecationWarning pointing at the caller) on each call."""
    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorator


class DeprecatedEngineMethods:
    """Mixed into the engine; every method forwards to its current name."""

    callbacks: Any
    extra_data: dict[str, Any]
    state: Any

    @staticmethod
    @deprecated("`abortProcessing` is replaced with `abort`")
    def abortProcessing() -> None:
        raise AbortProcessing

    @staticmethod
    @deprecated("`skipToken` is replaced with `skip_token`")
    def skipToken() -> None:
        raise SkipToken

    @property
    def store(self) -> dict[str, Any]:
        warnings.warn("`store` is replaced with `extra_data`", DeprecationWarning, stacklevel=2)
        return self.extra_data

    @deprecated("`setWorkflow` is replaced with `callbacks.replace`")
    def setWorkflow(self, list_or_tuple: Any) -> None:
        self.callbacks.replace(list_or_tuple)

    @deprecated("`setPosition` is replaced with setting `state.token_pos` and `state.callback_pos`")
    def setPosition(self, token_pos: int, callback_pos: list[int]) -> None:
        self.state.token_pos = token_pos
        self.state.callback_pos = callback_pos

    @deprecated("`getCallbacks` is replaced with `callbacks.get`")
    def getCallbacks(self, key: str = "*") -> Any:
        return self.callbacks.get(key=key)

    @deprecated("`addCallback` is replaced with `callbacks.add`")
    def addCallback(self, key: str, func: Any, before: Any = None, after: Any = None,
                    relative_weight: Any = None) -> None:
        self.callbacks.add(func, key)

    @deprecated("`addManyCallbacks` is replaced with `callbacks.add_many`")
    def addManyCallbacks(self, key: str, list_or_tuple: Any) -> None:
        self.callbacks.add_many(list_or_tuple, key)

    @deprecated("`removeAllCallbacks` is replaced with `callbacks.clear_all`")
    def removeAllCallbacks(self) -> None:
        self.callbacks.clear_all()

    @deprecated("`removeCallbacks` is replaced with `callbacks.clear`")
    def removeCallbacks(self, key: str) -> None:
        self.callbacks.clear(key)

    @deprecated("`replaceCallbacks` is replaced with `callbacks.replace`")
    def replaceCallbacks(self, key: str, funcs: Any) -> None:
        # The seed passed (key, funcs) the wrong way round to replace(); this does not.
        self.callbacks.replace(funcs, key)

    @deprecated("`getCurrObjId` is replaced with `state.token_pos`")
    def getCurrObjId(self) -> int:
        return int(self.state.token_pos)

    @deprecated("`getCurrTaskId` is replaced with `state.callback_pos`")
    def getCurrTaskId(self) -> list[int]:
        return list(self.state.callback_pos)

    @deprecated("`jumpTokenForward` is replaced with `jump_token`")
    def jumpTokenForward(self, offset: int) -> None:
        raise JumpTokenForward(offset)

    @deprecated("`jumpTokenBack` is replaced with `jump_token` and a negative offset")
    def jumpTokenBack(self, offset: int) -> None:
        raise JumpTokenBack(offset)

    @deprecated("`jumpCallForward` is replaced with `jump_call`")
    def jumpCallForward(self, offset: int) -> None:
        if offset < 0:
            raise WorkflowError("JumpCallForward cannot be negative number")
        raise JumpCall(offset)

    @deprecated("`jumpCallBack` is replaced with `jump_call` and a negative offset")
    def jumpCallBack(self, offset: int) -> None:
        if offset > 0:
            raise WorkflowError("JumpCallBack cannot be positive number")
        raise JumpCall(offset)

    @deprecated("`setVar` is replaced with the `extra_data` dictionary")
    def setVar(self, key: str, what: Any) -> None:
        self.extra_data[key] = what

    @deprecated("`getVar` is replaced with the `extra_data` dictionary")
    def getVar(self, key: str, default: Any = None) -> Any:
        if key in self.extra_data:
            return self.extra_data[key]
        if default is not None:
            self.extra_data[key] = default
        return default

    @deprecated("`hasVar` is replaced with the `extra_data` dictionary")
    def hasVar(self, key: str) -> bool:
        return key in self.extra_data

    @deprecated("`delVar` is replaced with the `extra_data` dictionary")
    def delVar(self, key: str) -> None:
        self.extra_data.pop(key, None)

    @deprecated("`haltProcessing` is replaced with `halt`")
    def haltProcessing(self, msg: str = "", action: str | None = None, payload: Any = None) -> None:
        self.halt(msg=msg, action=action, payload=payload)  # type: ignore[attr-defined]

    @deprecated("`continueNextToken` is replaced with `continue_next_token`")
    def continueNextToken(self) -> None:
        self.continue_next_token()  # type: ignore[attr-defined]

    @deprecated("`stopProcessing` is replaced with `stop`")
    def stopProcessing(self) -> None:
        self.stop()  # type: ignore[attr-defined]

    @deprecated("`breakFromThisLoop` is replaced with `break_current_loop`")
    def breakFromThisLoop(self) -> None:
        self.break_current_loop()  # type: ignore[attr-defined]

    @deprecated("`jumpToken` is replaced with `jump_token`")
    def jumpToken(self, offset: int) -> None:
        self.jump_token(offset)  # type: ignore[attr-defined]

    @deprecated("`jumpCall` is replaced with `jump_call`")
    def jumpCall(self, offset: int) -> None:
        self.jump_call(offset)  # type: ignore[attr-defined]
