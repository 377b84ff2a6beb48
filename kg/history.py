"""The evolution history of trials: which trial each one was based on, drawn as a text graph.

A trial's base is its ``parent_trial`` prop (written by `kg run`). Stores written before
that prop existed fall back to the rule `kg run` follows: a trial is based on the
previous trial, unless a whole-trial `kg restore` happened in between, in which case it is
based on the restored trial."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kg._trialdata import parent_of, trials
from kg.model.records import Node
from kg.stores.base import Store

__all__ = ["HistoryEntry", "evolution", "graph_lines", "STATUS_MARKS"]

# The seed's marks: * finished, f unfinished, b backup; plus x for failed.
STATUS_MARKS = {"finished": "*", "unfinished": "f", "running": "f", "interrupted": "f", "backup": "b",
                "failed": "x"}


@dataclass
class HistoryEntry:
    """A trial, the trial it is based on (None for the first), and the restore that made it so."""

    trial: Node
    parent: str | None
    restored_from: Node | None = None  # the Restore activity, when the base came from `kg restore`


def evolution(store: Store) -> list[HistoryEntry]:
    """Every trial with its base, in sequence order."""
    ts = trials(store)
    restores = sorted((r for r in store.find_nodes(kind="Restore") if not r.props.get("single_file")),
                      key=lambda r: r.props.get("started") or 0)
    known = {t.id for t in ts}
    out: list[HistoryEntry] = []
    prev: Node | None = None
    for t in ts:
        start = t.props.get("started") or 0
        # The last whole-trial restore after the previous trial started and before this one.
        lo = (prev.props.get("started") or 0) if prev is not None else float("-inf")
        restore = None
        for r in restores:
            rs = r.props.get("started") or 0
            if lo <= rs <= start and r.props.get("trial") in known:
                restore = r
        parent = parent_of(t)
        if parent is None:
            parent = str(restore.props["trial"]) if restore is not None else (prev.id if prev else None)
        if restore is not None and restore.props.get("trial") != parent:
            restore = None
        out.append(HistoryEntry(t, parent if parent in known else None, restore))
        prev = t
    return out


def _label(e: HistoryEntry, seq_of: dict[str, int]) -> str:
    p = e.trial.props
    mark = STATUS_MARKS.get(str(p.get("status") or "").lower(), "?")
    started = p.get("started")
    when = datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S") if isinstance(started, (int, float)) \
        else ""
    text = f"[{mark}] {p.get('seq', '?')} {p.get('command') or p.get('name') or ''}".rstrip()
    text += f"  {when}  {e.trial.id}"
    if e.restored_from is not None and e.parent in seq_of:
        text += f"  (based on {seq_of[e.parent]}, restored)"
    return text


def graph_lines(entries: list[HistoryEntry]) -> list[str]:
    """A `git log --graph`-style drawing, newest trial first: ``*`` is a trial, lanes are branches."""
    seq_of = {e.trial.id: int(e.trial.props.get("seq") or 0) for e in entries}
    lanes: list[str | None] = []
    lines: list[str] = []
    for e in reversed(entries):
        tid = e.trial.id
        if tid not in lanes:
            lanes.append(tid)
        col = lanes.index(tid)
        # Several newer trials were based on this one: their lanes join here (rightmost first).
        for j in sorted((i for i, x in enumerate(lanes) if x == tid and i != col), reverse=True):
            row = [" "] * (2 * len(lanes))
            for i in range(len(lanes)):
                if i < j:
                    row[2 * i] = "|"
                else:
                    row[2 * i - 1] = "/"
            lines.append("".join(row).rstrip())
            del lanes[j]
        cells = ["*" if i == col else "|" for i in range(len(lanes))]
        lines.append(" ".join(cells) + "  " + _label(e, seq_of))
        if e.parent is not None:
            lanes[col] = e.parent
        else:
            del lanes[col]
            if col < len(lanes):  # the lanes to the right move one column left
                row = [" "] * (2 * len(lanes) + 2)
                for i in range(len(lanes)):
                    row[2 * i if i < col else 2 * i + 1] = "|" if i < col else "/"
                lines.append("".join(row).rstrip())
    return lines
