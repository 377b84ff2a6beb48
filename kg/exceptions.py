"""The one exception tree of provkg: every error the library raises derives from KGError."""
from __future__ import annotations

__all__ = [
    "KGError",
    "ConfigError",
    "StoreError",
    "SchemaError",
    "StoreUnavailable",
    "NotFound",
    "AmbiguousReference",
    "InputError",
    "QueryError",
    "CaptureError",
    "ExportError",
    "AccessDenied",
]


class KGError(Exception):
    """Root of every provkg error. The CLI prints ``str(err)`` on one line and exits 1."""


class ConfigError(KGError):
    """A setting (environment variable, config file, option) is missing or malformed."""


class StoreError(KGError):
    """A store could not be opened, read or written."""


class SchemaError(StoreError):
    """The database is not a provkg store, is corrupt, or has another schema version."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached (the sink spools instead of losing records)."""


class NotFound(KGError, LookupError):
    """A run, trial, node or named query that does not exist."""


class AmbiguousReference(NotFound):
    """A prefix that matches more than one run or node."""


class InputError(KGError, ValueError):
    """Malformed input: an import file, a parameter, a value that cannot be parsed."""


class QueryError(KGError):
    """A query that the store rejected (syntax, write in read-only mode, ...)."""


class CaptureError(KGError):
    """A fault inside capture. Raised only in strict mode; otherwise logged once and counted."""


class ExportError(KGError):
    """An export format that cannot be produced (missing optional dependency, bad option)."""


class AccessDenied(KGError):
    """A hub refused the request: no valid token, or no permission on the experiment."""
