"""The machine state of an engine: which token, and where in the nested task lists."""
from __future__ import annotations

from typing import Any

__all__ = ["MachineState"]


class MachineState:
    """Where the engine is.

    ``token_pos`` is the index of the token being processed (-1 before the first);
    it is incremented *before* a token is taken. ``callback_pos`` is a path into the
    nested task lists, e.g. ``[2, 0]`` = first task of the list at index 2. It points
    at the running task, stays there when that task raises, and after a list is
    finished points at its last task. ``current_object_processed`` is True once the
    run reached its end."""

    _state_keys = ("token_pos", "callback_pos", "current_object_processed")
    callback_pos: list[int]
    current_object_processed: bool

    def __init__(self, token_pos: int | None = None, callback_pos: list[int] | None = None) -> None:
        self.reset()
        if token_pos is not None:
            self.token_pos = token_pos
        if callback_pos is not None:
            self.callback_pos = callback_pos

    @property
    def token_pos(self) -> int:
        return self._token_pos

    @token_pos.setter
    def token_pos(self, value: int) -> None:
        if value < -1:
            raise AttributeError("token_pos may not be < -1")
        self._token_pos = value

    def reset(self) -> None:
        """Reset the state of the machine."""
        self._token_pos = -1
        self.callback_pos = [0]
        self.current_object_processed = False

    def token_pos_reset(self) -> None:
        """Reset ``token_pos`` to its default value."""
        self._token_pos = -1

    def callback_pos_reset(self) -> None:
        """Reset ``callback_pos`` to its default value."""
        self.callback_pos = [0]

    def __getstate__(self) -> dict[str, Any]:
        return {"token_pos": self._token_pos, "callback_pos": list(self.callback_pos),
                "current_object_processed": self.current_object_processed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reset()
        for key in self._state_keys:
            if key in state:
                setattr(self, key, state[key])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MachineState):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"MachineState(token_pos={self._token_pos}, callback_pos={self.callback_pos}, "
                f"current_object_processed={self.current_object_processed})")
