"""The seed's logger helpers, without adding handlers (a library leaves handlers to the application)."""
from __future__ import annotations

import logging

__all__ = ["LOGGING_LEVEL", "LOG", "get_logger", "reset_all_loggers"]

LOGGING_LEVEL = logging.NOTSET

_loggers: list[logging.Logger] = []


def get_logger(name: str) -> logging.Logger:
    """A logger under ``kg.engine`` (names outside it are put under it, so one setting rules all)."""
    if name != "kg.engine" and not name.startswith("kg.engine."):
        name = f"kg.engine.{name}"
    logger = logging.getLogger(name)
    if logger not in _loggers:
        _loggers.append(logger)
    return logger


def reset_all_loggers(level: int) -> None:
    """Set ``level`` on every logger made by :func:`get_logger`."""
    for logger in _loggers:
        logger.setLevel(level)


LOG = get_logger("kg.engine")
