"""The evolution history of trials and the comparison of two trials, for the web pages."""
from __future__ import annotations

import difflib
import os
from typing import Any

from kg._trialdata import code_sha, script_entries
from kg.diff import describe, diff_trials
from kg.history import STATUS_MARKS, evolution, graph_lines
from kg.model.records import Node
from kg.stores.base import Store
from kg.web._format import fmt_time
from kg.web._runs import text_of

__all__ = ["history_page", "diff_page"]


def history_page(store: Store) -> dict[str, Any]:
    """Trials with their bases: a table, the text graph of `kg history`, and graph elements."""
    entries = evolution(store)
    rows, nodes, edges = [], [], []
    for e in entries:
        p = e.trial.props
        label = f"#{p.get('seq')} {p.get('name') or ''}".strip()
        rows.append({"id": e.trial.id, "seq": p.get("seq"), "name": p.get("name"), "command": p.get("command"),
                     "status": p.get("status"), "mark": STATUS_MARKS.get(str(p.get("status") or "").lower(), "?"),
                     "start": fmt_time(p.get("started")), "parent": e.parent,
                     "restored": e.restored_from is not None})
        nodes.append({"data": {"id": e.trial.id, "label": label, "status": str(p.get("status") or ""),
                               "href": f"run/{e.trial.id}"}})
        if e.parent is not None:
            edges.append({"data": {"id": f"{e.parent}>{e.trial.id}", "source": e.parent, "target": e.trial.id,
                                   "label": "restored" if e.restored_from is not None else ""}})
    seq_of = {r["id"]: r["seq"] for r in rows}
    for r in rows:
        r["parent_seq"] = seq_of.get(r["parent"])
    return {"rows": rows, "lines": graph_lines(entries), "elements": nodes + edges}


def _show(section: str, key: str, v: Any) -> str:
    return "—" if v is None else describe(section, key, v)


def _scripts(store: Store, trial: Node) -> dict[str, str | None]:
    """Script path (relative to the trial's directory when inside it) -> content hash."""
    mains, local = script_entries(store, trial)
    out: dict[str, str | None] = {}
    for n in mains + local:
        out[_rel(str(n.props.get("path")), trial)] = code_sha(n)
    return out


def _rel(path: str, trial: Node) -> str:
    cwd = trial.props.get("cwd")
    if isinstance(cwd, str) and path.startswith(cwd.rstrip(os.sep) + os.sep):
        return path[len(cwd.rstrip(os.sep)) + 1:]
    return os.path.basename(path) if os.path.isabs(path) else path


def _source_diffs(store: Store, a: Node, b: Node) -> list[dict[str, Any]]:
    """A unified diff per script or local module whose code differs (lines classed for colour)."""
    sa, sb = _scripts(store, a), _scripts(store, b)
    out: list[dict[str, Any]] = []
    for path in sorted(sa.keys() | sb.keys()):
        ha, hb = sa.get(path), sb.get(path)
        if ha == hb:
            continue
        ta, tb = text_of(ha), text_of(hb)
        if (ha and ta is None) or (hb and tb is None):
            out.append({"path": path, "lines": [], "note": "content not kept or not text"})
            continue
        lines = difflib.unified_diff((ta or "").splitlines(), (tb or "").splitlines(),
                                     f"{path} (trial {a.props.get('seq')})", f"{path} (trial {b.props.get('seq')})",
                                     lineterm="")
        marked: list[tuple[str, str]] = [
            (("add" if ln.startswith("+") else "del" if ln.startswith("-") else
              "hunk" if ln.startswith("@@") else "ctx"), ln) for ln in lines]
        out.append({"path": path, "note": "", "lines": marked})
    return out


def diff_page(store: Store, a: Node, b: Node) -> dict[str, Any]:
    """`kg diff` with every section, as rows, plus the source diff of the scripts."""
    d = diff_trials(store, a, b)
    sections = {name: [{"mark": c.mark, "status": c.status, "key": c.key, "old": _show(name, c.key, c.old),
                        "new": _show(name, c.key, c.new)} for c in changes]
                for name, changes in d.sections().items()}
    return {"a": a, "b": b, "sections": sections, "sources": _source_diffs(store, a, b)}
