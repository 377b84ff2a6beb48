"""Adapters that observe tools people already run: Dask, MLflow, PyTorch, TensorBoard (each an optional extra).

Each module imports its library lazily and raises ``kg.exceptions.ConfigError`` naming
the extra to install when the library is missing."""
from __future__ import annotations

from typing import Any

from kg.exceptions import ConfigError

__all__ = ["require"]


def require(module: str, extra: str) -> Any:
    """Import ``module`` or raise ConfigError naming ``pip install 'provkg[extra]'``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"this adapter needs {module}: pip install 'provkg[{extra}]' ({exc})") from None
