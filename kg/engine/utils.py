"""Descriptors the seed's extension examples use to declare factories as properties."""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

__all__ = ["staticproperty", "classproperty"]

T = TypeVar("T")


class staticproperty(Generic[T]):  # noqa: N801 - the seed's spelling
    """A property computed by a function of no arguments, readable on the class and instances."""

    def __init__(self, function: Callable[[], T]) -> None:
        self._function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: Any) -> T:
        return self._function()


class classproperty(Generic[T]):  # noqa: N801
    """A property computed from the class, readable on the class and instances."""

    def __init__(self, function: Callable[[Any], T]) -> None:
        self._function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: Any) -> T:
        return self._function(owner)
