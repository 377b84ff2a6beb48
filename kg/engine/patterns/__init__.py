"""Workflow patterns: the seed's control-flow and helper tasks (``workflow.patterns``)."""
from __future__ import annotations

from kg.engine.patterns.controlflow import (
    BREAK,
    CHOICE,
    CMP,
    FOR,
    HALT,
    IF,
    IF_ELSE,
    IF_NOT,
    OBJ_JUMP_BWD,
    OBJ_JUMP_FWD,
    OBJ_NEXT,
    PARALLEL_SPLIT,
    SIMPLE_MERGE,
    STOP,
    SYNCHRONIZE,
    TASK_JUMP_BWD,
    TASK_JUMP_FWD,
    TASK_JUMP_IF,
    WHILE,
)
from kg.engine.patterns.utils import (
    CALLFUNC,
    DEBUG_CYCLE,
    EMPTY_CALL,
    ENG_GET,
    ENG_SET,
    ERROR,
    OBJ_GET,
    OBJ_SET,
    PROFILE,
    RUN_WF,
    TRY,
)

__all__ = [
    "STOP", "BREAK", "OBJ_JUMP_BWD", "OBJ_JUMP_FWD", "OBJ_NEXT", "TASK_JUMP_BWD", "TASK_JUMP_FWD",
    "TASK_JUMP_IF", "IF", "IF_NOT", "IF_ELSE", "WHILE", "CMP", "FOR", "HALT", "PARALLEL_SPLIT",
    "SYNCHRONIZE", "SIMPLE_MERGE", "CHOICE", "EMPTY_CALL", "ENG_GET", "ENG_SET", "OBJ_SET", "OBJ_GET",
    "ERROR", "TRY", "RUN_WF", "CALLFUNC", "DEBUG_CYCLE", "PROFILE",
]
