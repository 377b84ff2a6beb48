"""Fixtures for the engine tests: every engine test runs on the bare loop and on the per-task path."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from kg.engine import WorkflowEngine


@pytest.fixture(params=["fast", "per_task"])
def make_engine(request: pytest.FixtureRequest) -> Callable[..., WorkflowEngine]:
    """Build an engine with a workflow; in "per_task" mode a hook forces the per-task path."""
    def make(workflow: Any = None, engine_cls: type[WorkflowEngine] = WorkflowEngine) -> WorkflowEngine:
        eng = engine_cls()
        if request.param == "per_task":
            eng.hooks.connect("before_callback", lambda e, cb, obj: None)
        if workflow is not None:
            eng.callbacks.replace(workflow)
        return eng
    make.mode = request.param  # type: ignore[attr-defined]
    return make

