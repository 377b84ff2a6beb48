"""Small formatters the templates share: times, durations, value summaries."""
from __future__ import annotations

import json
from typing import Any

from kg.humanize import fmt_duration, fmt_time

__all__ = ["fmt_time", "fmt_duration", "value_text", "brief", "duration_of", "day_of"]




def day_of(t: Any) -> str:
    """The local date ``YYYY-MM-DD`` of a timestamp, for the list's date filter."""
    return fmt_time(t)[:10]




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

