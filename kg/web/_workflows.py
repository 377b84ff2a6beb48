"""Persistent engine workflows and their tokens (what `kg workflow list/show` print)."""
from __future__ import annotations

import json
from typing import Any

from kg.engine.graph import find_workflow, list_workflows, workflow_tokens
from kg.stores.base import Store
from kg.web._format import fmt_time

__all__ = ["workflows_page", "workflow_page"]


def _loads(text: Any, default: Any) -> Any:
    if not isinstance(text, str):
        return default if text is None else text
    try:
        return json.loads(text)
    except ValueError:
        return text


def workflows_page(store: Store) -> list[dict[str, Any]]:
    """One row per saved workflow, most recently updated first."""
    rows: list[dict[str, Any]] = []
    for n in list_workflows(store):
        p = n.props
        rows.append({"id": n.id, "name": p.get("name"), "status": p.get("status"), "tokens": p.get("tokens"),
                     "next": p.get("resume_token"), "task": p.get("task") or "", "tasks": p.get("ref") or "",
                     "updated": fmt_time(p.get("updated")), "_t": p.get("updated") or 0})
    rows.sort(key=lambda r: float(r["_t"]), reverse=True)
    return rows


def workflow_page(store: Store, ref: str) -> dict[str, Any]:
    """A workflow's state, halt, extra data and its tokens."""
    node = find_workflow(store, ref)
    p = node.props
    halt = _loads(p.get("halt"), None)
    state = [("status", p.get("status")), ("tasks", p.get("ref") or "(not importable: resume needs --tasks)"),
             ("tokens", p.get("tokens")),
             ("resume at", f"token {p.get('resume_token')}, task path {p.get('resume_callback')}"),
             ("stopped in", p.get("task") or ""), ("updated", fmt_time(p.get("updated"))),
             ("process", f"{p.get('host')}:{p.get('pid')}")]
    if isinstance(halt, dict):
        state.append(("halt", f"{halt.get('message')} (action: {halt.get('action')}, "
                              f"payload: {json.dumps(halt.get('payload'))})"))
    if p.get("error"):
        state.append(("error", str(p["error"])))
    tokens = []
    for t in workflow_tokens(store, node.id):
        q = t.props
        note = q.get("error") or ""
        th = _loads(q.get("halt"), None)
        if isinstance(th, dict):
            note = f"halted: {th.get('message')}" + (f" (action: {th['action']})" if th.get("action") else "")
        data = q.get("data", "")
        tokens.append({"position": q.get("position"), "status": q.get("status"),
                       "data": data if isinstance(data, str) else json.dumps(data, default=str),
                       "at": q.get("callback_pos") or "", "note": str(note)})
    extra = _loads(p.get("extra_data"), {})
    return {"node": node, "name": p.get("name") or node.id, "state": [(k, str(v)) for k, v in state],
            "extra": json.dumps(extra, indent=2, default=str), "tokens": tokens}
