"""Reading a trial's parts back from a store: file accesses, file states, modules, environment, parents."""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, NamedTuple

from kg.model.records import Node
from kg.stores.base import Store

__all__ = ["FILE_ACCESS", "related", "accesses", "FileState", "file_states", "parent_of", "trials",
           "is_sha256", "code_sha", "script_entries"]

FILE_ACCESS = "FileAccess"
# Props a Trial may name its base (parent) trial with; the first one present wins.
PARENT_KEYS = ("parent_trial", "base_trial", "inherited_id", "inherited")


def is_sha256(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def related(store: Store, trial: Node, kind: str) -> list[Node]:
    """Nodes of ``kind`` that belong to the trial: its own (``run`` prop) and those its edges reach
    (modules and scripts may be shared between trials, e.g. with ``kg run -b``)."""
    found: dict[str, Node] = {n.id: n for n in store.find_nodes(kind=kind, run=trial.id)}
    ends: set[str] = set()
    for e in store.find_edges(run=trial.id):
        ends.add(e.src)
        ends.add(e.dst)
    for e in store.find_edges(src=trial.id):
        ends.add(e.dst)
    ends -= found.keys()
    if ends:
        for nid, n in store.get_nodes(sorted(ends)).items():
            if n.kind == kind:
                found[nid] = n
    return sorted(found.values(), key=lambda n: (str(n.props.get("name") or n.props.get("path") or ""), n.id))


def accesses(store: Store, trial: Node) -> list[Node]:
    """The trial's file accesses in access order (``n``)."""
    out = list(store.find_nodes(kind=FILE_ACCESS, run=trial.id))
    out.sort(key=lambda n: (n.props.get("n") or 0, n.props.get("started") or 0, n.id))
    return out


class FileState(NamedTuple):
    """What a trial did to one path: the content it found and depended on (None when its first
    access replaced the file), the content it left (None: deleted), whether it wrote, and the accesses."""

    path: str
    first: str | None
    last: str | None
    wrote: bool
    deleted: bool
    accesses: tuple[Node, ...]


def file_states(acc: Iterable[Node]) -> dict[str, FileState]:
    """Replay accesses in order: per path, the first content seen and the content left behind."""
    first: dict[str, str | None] = {}
    last: dict[str, str | None] = {}
    wrote: dict[str, bool] = {}
    deleted: dict[str, bool] = {}
    seen: dict[str, list[Node]] = {}
    for a in acc:
        p = a.props
        path, op, mode = p.get("path"), p.get("op"), str(p.get("mode") or "")
        if not path or op == "mkdir":
            continue
        before, after = p.get("before"), p.get("after")
        seen.setdefault(path, []).append(a)
        # The content the trial found and depended on: none when its first access replaced the file.
        replaces = "w" in mode or "x" in mode or op in ("rename", "replace", "move", "copy")
        first.setdefault(path, None if replaces else before)
        last[path] = after
        writes = any(c in mode for c in "wax+") or op in ("delete", "rmtree", "rename", "replace", "move", "copy")
        wrote[path] = wrote.get(path, False) or writes
        deleted[path] = after is None and op in ("delete", "rmtree")
        src = p.get("source")
        if src and op in ("rename", "replace", "move"):
            seen.setdefault(src, []).append(a)
            first.setdefault(src, after)  # the moved content was there before
            last[src] = None
            wrote[src] = True
            deleted[src] = True
    return {path: FileState(path, first[path], last[path], wrote.get(path, False), deleted.get(path, False),
                            tuple(seen[path])) for path in seen}


def trials(store: Store) -> list[Node]:
    """Trials in sequence order."""
    return [r for r in store.runs() if r.kind == "Trial"]


def parent_of(trial: Node) -> str | None:
    """The id of the trial this one is based on (its parent in the evolution history), if recorded."""
    for key in PARENT_KEYS:
        v = trial.props.get(key)
        if isinstance(v, str) and v:
            return v
    return None


def code_sha(n: Node) -> str | None:
    """The content-store hash of a Script/Module entity (``sha256``, else a 64-hex ``code_hash``)."""
    for key in ("sha256", "code_hash", "hash"):
        v = n.props.get(key)
        if is_sha256(v):
            return str(v)
    return None


def script_entries(store: Store, trial: Node) -> tuple[list[Node], list[Node]]:
    """(main script entities, local module entities) of a trial, each with a ``path`` and a hash."""
    script_path = trial.props.get("script") or trial.props.get("script_path")
    main_abs = os.path.abspath(str(script_path)) if script_path else None
    mains: list[Node] = []
    local: list[Node] = []
    for n in related(store, trial, "Script"):
        if not n.props.get("path"):
            continue
        is_main = bool(n.props.get("main")) or n.props.get("role") == "main" or (
            main_abs is not None and os.path.abspath(str(n.props["path"])) == main_abs)
        (mains if is_main else local).append(n)
    for n in related(store, trial, "Module"):
        if n.props.get("local") and n.props.get("path"):
            local.append(n)
    return mains, local
