"""The public API is what __all__ says, and every name in it exists (a change here is a release note)."""
from __future__ import annotations

import capture
import kg
from kg.exceptions import KGError

KG_API = {
    "__version__", "connect", "open_store", "Store", "Node", "Edge", "node", "edge", "Kind", "ProvClass", "Relation",
    "KGError", "ConfigError", "StoreError", "SchemaError", "StoreUnavailable", "NotFound", "AmbiguousReference",
    "InputError", "QueryError", "CaptureError", "ExportError",
}
CAPTURE_API = {
    "Run", "workflow", "current_run", "task", "lightweight_task", "Task", "Loop", "LightweightLoop",
    "instrument", "telemetry", "register_handler", "summarize", "enable", "disable", "flush", "settings", "secret", "read_offline",
    "agent_task",
}


def test_exported_names_are_pinned() -> None:
    assert set(kg.__all__) == KG_API
    assert set(capture.__all__) == CAPTURE_API
    for module in (kg, capture):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_every_library_error_derives_from_kgerror() -> None:
    for name in KG_API:
        obj = getattr(kg, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, KGError), name
    from kg.engine.errors import WorkflowError

    assert issubclass(WorkflowError, KGError)
