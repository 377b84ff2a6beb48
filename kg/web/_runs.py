"""What the runs list and a run/trial page show, read from the Store API (no HTML here)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kg import content
from kg.annotations import run_annotations
from kg._trialdata import accesses, code_sha, related
from kg.exceptions import KGError
from kg.model.records import Node
from kg.model.terms import Kind, Relation
from kg.stores.base import Store
from kg.web._format import brief, day_of, duration_of, fmt_duration, fmt_time, value_text

__all__ = ["RunFilter", "list_runs", "run_page", "note_row", "children_page", "text_of", "CHILD_PAGE"]

CHILD_PAGE = 200  # children sent per request: a node with 100k children is paged, never sent whole
# Shown in their own section of a trial page, not in its activation tree.
_NOT_IN_TREE = {"FileAccess"}
_ATTRIBUTES = ("name", "command", "script", "code_hash", "status", "exit_code", "parent_trial", "started",
               "ended", "duration", "user", "host", "python", "tracer", "activations", "campaign", "tags",
               "error_type", "error", "cwd")


@dataclass
class RunFilter:
    """The list's search box and filters, as given in the query string (all optional)."""

    q: str = ""
    kind: str = ""
    status: str = ""
    since: str = ""  # YYYY-MM-DD, inclusive
    until: str = ""  # YYYY-MM-DD, inclusive
    campaign: str = ""  # a capture.Run(campaign=...) or a hub experiment the run is in
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.campaign and self.campaign not in row["campaigns"]:
            return False
        if self.kind and row["kind"] != self.kind.lower():
            return False
        if self.status and row["status"].lower() != self.status.lower():
            return False
        if self.since and (not row["day"] or row["day"] < self.since):
            return False
        if self.until and (not row["day"] or row["day"] > self.until):
            return False
        if self.q:
            hay = " ".join(str(row.get(k) or "") for k in ("name", "command", "id", "seq")).lower()
            return self.q.lower() in hay
        return True


def list_runs(store: Store, flt: RunFilter, visible: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per run/trial (as `kg list`) in ``visible`` (None: all), newest first, those the
    filter keeps; the filter's choices (kinds, statuses, campaigns) are filled from every such
    run so the selects offer what exists (and name nothing the reader may not see)."""
    rows: list[dict[str, Any]] = []
    groups = _campaigns_of_runs(store)
    for r in store.runs():
        if visible is not None and r.id not in visible:
            continue
        p = r.props
        rows.append({"seq": p.get("seq"), "id": r.id, "kind": r.kind.lower(), "name": str(p.get("name") or ""),
                     "campaigns": sorted(groups.get(r.id, set()) | ({str(p["campaign"])} if p.get("campaign") else set())),
                     "command": str(p.get("command") or ""), "status": str(p.get("status") or ""),
                     "start": fmt_time(p.get("started")), "day": day_of(p.get("started")),
                     "duration": fmt_duration(duration_of(p)), "activations": p.get("activations")})
    flt.kinds = sorted({r["kind"] for r in rows})
    flt.statuses = sorted({r["status"] for r in rows if r["status"]})
    flt.campaigns = sorted({c for r in rows for c in r["campaigns"]})
    return [r for r in reversed(rows) if flt.keeps(r)]


def _campaigns_of_runs(store: Store) -> dict[str, set[str]]:
    """run id -> names of the Campaign collections (campaigns, hub experiments) that hold it."""
    held: dict[str, set[str]] = {}
    for c in store.find_nodes(kind=Kind.CAMPAIGN.value):
        name = str(c.props.get("name") or c.id)
        for e in store.find_edges(src=c.id, rel=Relation.HAD_MEMBER.value):
            held.setdefault(e.dst, set()).add(name)
    return held


def _shown(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def _attributes(run: Node) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the attributes `kg show` prints, in its order; every other prop) as display text."""
    p = run.props
    out = []
    for k in _ATTRIBUTES:
        v = p.get(k)
        if v in (None, "", [], {}):
            continue
        if k in ("started", "ended"):
            v = fmt_time(v)
        elif k == "duration":
            v = fmt_duration(v)
        out.append((k, _shown(v)))
    rest = sorted(k for k in p if k not in _ATTRIBUTES and k not in ("seq", "argv", "args", "traceback"))
    return out, [(k, _shown(p[k])) for k in rest if p[k] not in (None, "", [], {})]


def text_of(sha: str | None) -> str | None:
    """Stored content as text, or None (not kept, not text)."""
    if not sha:
        return None
    try:
        data = content.get(sha)
    except KGError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _definitions(store: Store, trial: Node, scripts: list[Node]) -> list[dict[str, Any]]:
    """The trial's definitions, each with its source: its own stored code, else the lines of
    the stored script it was defined in."""
    script_text: dict[str, str | None] = {}
    sha_of_path = {str(s.props.get("path")): code_sha(s) for s in scripts}
    out = []
    for d in store.find_nodes(kind="Definition", run=trial.id):
        q = d.props
        path = str(q.get("path") or "")
        source = text_of(q.get("code_hash") if isinstance(q.get("code_hash"), str) else None)
        if source is None and path in sha_of_path:
            if path not in script_text:
                script_text[path] = text_of(sha_of_path[path])
            text, line, end = script_text[path], q.get("line"), q.get("end_line")
            if text is not None and isinstance(line, int) and isinstance(end, int):
                source = "\n".join(text.splitlines()[line - 1:end])
        raw = q.get("args")
        args: list[Any] = raw if isinstance(raw, list) else []
        out.append({"path": path, "line": q.get("line"), "end_line": q.get("end_line"), "type": q.get("type"),
                    "name": q.get("name"), "args": ", ".join(map(str, args)), "source": source})
    out.sort(key=lambda r: (r["path"], r["line"] or 0, str(r["name"])))
    return out


def _file_rows(store: Store, trial: Node) -> list[dict[str, Any]]:
    """The trial's file accesses in order, each with the file versions it read and left (for
    their lineage pages) and whether their content is kept (for a link to it)."""
    acc = accesses(store, trial)
    version: dict[tuple[str, str], str] = {}  # (access id, "used"|"generated") -> FileVersion id
    for e in store.find_edges(run=trial.id):
        a = e.props.get("access")
        if a and e.rel == "USED":
            version[(str(a), "used")] = e.dst
        elif a and e.rel == "WAS_GENERATED_BY":
            version[(str(a), "generated")] = e.src
    callers = store.get_nodes(sorted({str(a.props["parent"]) for a in acc
                                      if a.props.get("parent") and a.props.get("parent") != trial.id}))
    rows = []
    for a in acc:
        p = a.props
        caller = callers.get(str(p.get("parent")))
        rows.append({"n": p.get("n"), "time": fmt_time(p.get("started")), "op": p.get("op"),
                     "mode": p.get("mode") or "", "path": p.get("path"), "source": p.get("source"),
                     "before": p.get("before"), "after": p.get("after"),
                     "before_kept": bool(p.get("before")) and content.has(str(p["before"])),
                     "after_kept": bool(p.get("after")) and content.has(str(p["after"])),
                     "used": version.get((a.id, "used")), "generated": version.get((a.id, "generated")),
                     "by": caller.props.get("name") if caller is not None else "(trial)"})
    return rows


def note_row(n: Node) -> dict[str, Any]:
    """An annotation as the pages show it."""
    p = n.props
    return {"when": fmt_time(p.get("created")), "author": p.get("author"), "pushed_by": p.get("pushed_by"),
            "target": p.get("target"), "text": p.get("text")}


def run_page(store: Store, run: Node) -> dict[str, Any]:
    """Everything a run/trial page shows except its tree, which the browser fetches level by level."""
    p = run.props
    args = p.get("argv") if p.get("argv") is not None else p.get("args")
    shown, more = _attributes(run)
    page: dict[str, Any] = {"run": run, "seq": p.get("seq"), "title": p.get("command") or p.get("name") or run.id,
                            "attributes": shown, "more_attributes": more,
                            "arguments": args if isinstance(args, list) else [],
                            "arguments_text": "" if isinstance(args, list) or args is None else _shown(args),
                            "traceback": p.get("traceback"), "is_trial": run.kind == "Trial",
                            "notes": [note_row(n) for n in run_annotations(store, run.id)], "target": run.id}
    if run.kind != "Trial":
        return page
    scripts = related(store, run, "Script")
    page["environment"] = [(str(e.props.get("name")), _shown(e.props.get("value")))
                           for e in related(store, run, "Environment")]
    page["modules"] = [{"name": m.props.get("name"), "version": m.props.get("version") or "",
                        "path": m.props.get("path") or "(built-in)", "sha": code_sha(m) or ""}
                       for m in related(store, run, "Module")]
    page["scripts"] = [{"path": s.props.get("path"), "sha": code_sha(s),
                        "kept": bool(code_sha(s)) and content.has(str(code_sha(s)))} for s in scripts]
    page["definitions"] = _definitions(store, run, scripts)
    page["files"] = _file_rows(store, run)
    return page


def _tree_node(n: Node) -> dict[str, Any]:
    q = n.props
    gen = q.get("generated") if isinstance(q.get("generated"), dict) else {}
    ret = gen.get("return", gen.get("yield")) if gen else None
    return {"id": n.id, "kind": n.kind, "name": str(q.get("name") or n.kind), "line": q.get("line"),
            "status": str(q.get("status") or ""), "duration": fmt_duration(duration_of(q)),
            "used": brief(q.get("used")), "returned": _cut(value_text(ret)) if ret is not None else "",
            "error": f"{q['error_type']}: {q.get('error', '')}" if q.get("error_type") else ""}


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def children_page(store: Store, node_id: str, offset: int = 0, limit: int = CHILD_PAGE) -> dict[str, Any]:
    """The children of a tree node in start order (as `kg show` walks them), ``limit`` from ``offset``."""
    kids = [n for n in store.children_of([node_id]) if n.cls == "Activity" and n.kind not in _NOT_IN_TREE]
    kids.sort(key=lambda n: (n.props.get("started") or 0, n.id))
    limit = max(1, min(limit, 1000))
    return {"id": node_id, "total": len(kids), "offset": offset,
            "children": [_tree_node(n) for n in kids[offset:offset + limit]]}
