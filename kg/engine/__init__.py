"""The workflow engine: tokens through nested task lists with control-flow patterns, halts and restarts.

Code written for the seed library runs with its imports changed: ``workflow.engine`` ->
``kg.engine``, ``workflow.errors`` -> ``kg.engine.errors``, ``workflow.patterns`` ->
``kg.engine.patterns``."""
from __future__ import annotations

from kg.engine._callbacks import Callbacks
from kg.engine._core import WorkflowEngine
from kg.engine._factory import ActionMapper, Break, Continue, ProcessingFactory, TransitionActions
from kg.engine._hooks import HOOK_EVENTS, EngineHooks
from kg.engine._log import LOG, LOGGING_LEVEL, get_logger, reset_all_loggers
from kg.engine._state import MachineState
from kg.engine.errors import (
    AbortProcessing,
    BreakFromThisLoop,
    ContinueNextToken,
    HaltProcessing,
    JumpCall,
    JumpToken,
    JumpTokenBack,
    JumpTokenForward,
    SkipToken,
    StopProcessing,
    WorkflowError,
)
from kg.engine.signals import Signal, _Signal

GenericWorkflowEngine = WorkflowEngine
"""The seed's name for the engine."""

# The graph-backed engine pulls in the stores: imported on first use, not with kg.engine.
_LAZY = {"PersistentEngine": "kg.engine.graph", "register_workflow": "kg.engine.graph"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kg.engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

__all__ = [
    "WorkflowEngine",
    "GenericWorkflowEngine",
    "PersistentEngine",
    "register_workflow",
    "MachineState",
    "Callbacks",
    "ProcessingFactory",
    "ActionMapper",
    "TransitionActions",
    "Break",
    "Continue",
    "EngineHooks",
    "HOOK_EVENTS",
    "Signal",
    "_Signal",
    "get_logger",
    "reset_all_loggers",
    "LOG",
    "LOGGING_LEVEL",
    "AbortProcessing",
    "BreakFromThisLoop",
    "ContinueNextToken",
    "HaltProcessing",
    "JumpCall",
    "JumpToken",
    "JumpTokenBack",
    "JumpTokenForward",
    "SkipToken",
    "StopProcessing",
    "WorkflowError",
]
