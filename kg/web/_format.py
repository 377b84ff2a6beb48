"""Small formatters the templates share: times, durations, value summaries."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

__all__ = ["fmt_time", "fmt_duration", "value_text", "brief", "duration_of", "day_of"]


def fmt_time(t: Any) -> str:
    """Local time, to the second ('' when unknown)."""
    if not isinstance(t, (int, float)):
        return ""
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def day_of(t: Any) -> str:
    """The local date ``YYYY-MM-DD`` of a timestamp, for the list's date filter."""
    return fmt_time(t)[:10]


def fmt_duration(seconds: Any) -> str:
    """1.2ms, 3.40s, 2m05s, 1h02m (as `kg list` prints them)."""
    if not isinstance(seconds, (int, float)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def duration_of(props: dict[str, Any]) -> float | None:
    """A node's duration: its ``duration`` prop, else ended - started."""
    d = props.get("duration")
    if isinstance(d, (int, float)):
        return float(d)
    t0, t1 = props.get("started"), props.get("ended")
    return t1 - t0 if isinstance(t0, (int, float)) and isinstance(t1, (int, float)) else None


def value_text(v: Any) -> str:
    """A captured value summary as one line: its repr, or type and shape/size."""
    if isinstance(v, dict) and "$from" in v:
        v = v.get("summary")
    if isinstance(v, dict) and "type" in v:
        if "shape" in v:
            return f"<{v['type']} shape={v['shape']} dtype={v.get('dtype')}>"
        return str(v.get("repr") or f"<{v['type']}{' size=' + str(v['size']) if 'size' in v else ''}>")
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def brief(values: Any, limit: int = 120) -> str:
    """``k=v, …`` for a dict of captured values, cut to ``limit`` characters."""
    if not isinstance(values, dict) or not values:
        return ""
    out = ", ".join(f"{k}={value_text(v)}" for k, v in values.items())
    return out if len(out) <= limit else out[:limit - 1] + "…"

