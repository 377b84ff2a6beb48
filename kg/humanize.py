"""Times and durations as people read them: the CLI's tables and the web view print the same."""
from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["fmt_time", "fmt_duration"]


def fmt_time(t: Any) -> str:
    """Local time, to the second."""
    if not isinstance(t, (int, float)):
        return ""
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: Any) -> str:
    """1.2ms, 3.40s, 2m05s, 1h02m."""
    if not isinstance(seconds, (int, float)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
