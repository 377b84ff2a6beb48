"""Restoring a trial: its script, local modules and files as the trial left them, from the content store.

A restore is itself recorded: a Restore activity that WAS_INFORMED_BY the trial, generated
the restored file versions, and invalidated the versions it overwrote (whose content is
kept first, so a restore can itself be undone). A whole-trial restore also marks the
trial ``base_of_next`` (and clears the mark on every other trial): the next `kg run`
is based on it in the evolution history. Restoring a single file (``restore_file``)
does not change the history."""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kg import content
from kg._trialdata import accesses, code_sha, file_states, is_sha256, script_entries, trials
from kg.exceptions import AmbiguousReference, InputError, KGError, NotFound
from kg.ids import new_run_id
from kg.model.records import Edge, Node, edge, node
from kg.model.terms import Kind, ProvClass, Relation
from kg.stores import is_server_uri
from kg.stores.base import Store

__all__ = ["RestoreItem", "RestoreResult", "plan_restore", "restore_trial", "restore_file", "find_content",
           "rebase", "restore_root"]


@dataclass
class RestoreItem:
    """One file to bring back: where, which content, and what happened."""

    path: str
    sha256: str
    what: str                     # "script" | "module" | "file"
    access: int | None = None     # the access number it comes from (files)
    status: str = "planned"       # restored | unchanged | not kept | failed: ...
    target: str | None = None     # where it was written, when not ``path``
    reason: str | None = None     # why its content is not here (status "not kept")


@dataclass
class RestoreResult:
    """The restore's id (None for a dry run), the trial restored and the items."""

    restore_id: str | None
    trial: Node
    items: list[RestoreItem] = field(default_factory=list)

    @property
    def restored(self) -> list[RestoreItem]:
        return [i for i in self.items if i.status == "restored"]

    @property
    def problems(self) -> list[RestoreItem]:
        return [i for i in self.items if i.status not in ("restored", "unchanged", "planned")]


def plan_restore(store: Store, trial: Node, *, script: bool = True, modules: bool = True,
                 files: bool = True) -> list[RestoreItem]:
    """What ``restore_trial`` would write: the script and local modules' source, and every file
    the trial accessed, with the content the trial left it with. Files the trial deleted are
    not deleted again (nothing is removed by a restore)."""
    items: list[RestoreItem] = []
    paths: set[str] = set()
    mains, local = script_entries(store, trial)
    for wanted, what, entries in ((script, "script", mains), (modules, "module", local)):
        if not wanted:
            continue
        for n in entries:
            sha = code_sha(n)
            path = os.path.abspath(str(n.props["path"]))
            if sha and path not in paths:
                paths.add(path)
                items.append(RestoreItem(path, sha, what))
    if files:
        for path, st in sorted(file_states(accesses(store, trial)).items()):
            if path in paths or st.last is None:
                continue
            paths.add(path)
            last = st.accesses[-1].props.get("n") if st.accesses else None
            items.append(RestoreItem(path, st.last, "file", last))
    return items


def _current_sha(path: str) -> str | None:
    try:
        return content.hash_file(path)[0] if os.path.isfile(path) else None
    except OSError:
        return None


def _apply(store: Store, trial: Node, items: list[RestoreItem], dry_run: bool) -> list[tuple[RestoreItem, str | None]]:
    """Write the items; returns (item, sha of what it overwrote) for the ones written."""
    done: list[tuple[RestoreItem, str | None]] = []
    for it in items:
        dest = it.target or it.path
        if not content.has(it.sha256):
            it.status = "not kept"
            it.reason = why_not_kept(store, trial, it)
            continue
        old = _current_sha(dest)
        if old == it.sha256:
            it.status = "unchanged"
            continue
        if dry_run:
            it.status = "would restore"
            continue
        try:
            if old is not None:
                content.put_file(dest)  # keep what we overwrite: a restore can be undone
            content.copy_out(it.sha256, dest)
        except KGError as exc:
            it.status = f"failed: {exc}"
            continue
        it.status = "restored"
        done.append((it, old))
    return done


def why_not_kept(store: Store, trial: Node, it: RestoreItem) -> str:
    """Why the content of ``it`` is not in this content store, from what the trial recorded:
    above the size limit when captured, or kept on another machine or in another KG_HOME."""
    from capture._fileprov import version_id

    if it.what == "file":
        v = store.get_node(version_id(it.sha256, it.path))
        p = v.props if v is not None else {}
        if p.get("stored") is False:
            size = p.get("size")
            return (f"never kept: {size:,} bytes, above the content size limit when it was captured "
                    "(raise KG_CONTENT_LIMIT to keep such files)" if isinstance(size, int)
                    else "never kept: above the content size limit when it was captured")
    origin = str(trial.props.get("pulled_from") or "")
    if is_server_uri(origin):
        return (f"pulled from {origin} without it: Neo4j keeps records, not file contents (the pusher shares "
                "them with `kg push --contents DIR`; pull again with --contents DIR, or use a hub)")
    if origin.startswith("bundle:"):
        return f"not in the bundle it was loaded from ({origin[7:]}): it was never kept where it was exported"
    if origin:
        return f"pulled from {origin}, which did not have it: it was never kept where it was captured"
    host_node = store.get_node(f"{trial.id}/env/NODE")
    host = host_node.props.get("value") if host_node is not None else None
    root = content.content_root()
    if host and host != socket.gethostname():
        return (f"captured on host {host}: its content is in that machine's content store, not in {root} "
                f"(copy its .kg/content here)")
    return (f"kept when captured, but not in {root}: the trial was captured with another KG_HOME, "
            f"or that content store was removed")


def _record(store: Store, trial: Node, done: list[tuple[RestoreItem, str | None]], t0: float, *,
            single: bool, options: dict[str, Any]) -> str:
    from capture._run import agent_nodes
    from capture.files import file_id, version_id

    rid = f"restore-{new_run_id()}"
    t1 = time.time()
    seq = trial.props.get("seq")
    nodes: list[Node] = [node(rid, ProvClass.ACTIVITY, Kind.RESTORE, run=rid, name=f"restore {seq or trial.id}",
                              trial=trial.id, trial_seq=seq, started=t0, ended=t1, duration=t1 - t0,
                              status="finished", single_file=single, restored=len(done), cwd=os.getcwd(),
                              **options)]
    edges: list[Edge] = [edge(Relation.WAS_INFORMED_BY, rid, trial.id, role="restored", run=rid)]
    for rec in agent_nodes(rid, rid):
        (nodes if isinstance(rec, Node) else edges).append(rec)
    for it, old in done:
        dest = os.path.abspath(it.target or it.path)
        fid = file_id(dest)
        nodes.append(node(fid, ProvClass.ENTITY, Kind.FILE, path=dest, name=os.path.basename(dest)))
        size = os.path.getsize(dest) if os.path.exists(dest) else None
        vid = version_id(it.sha256, dest)
        nodes.append(node(vid, ProvClass.ENTITY, Kind.FILE_VERSION, path=dest, name=os.path.basename(dest),
                          sha256=it.sha256, size=size, stored=True))
        edges.append(edge(Relation.SPECIALIZATION_OF, vid, fid, run=rid))
        edges.append(edge(Relation.WAS_GENERATED_BY, vid, rid, role=f"restore {it.what}", time=t1, run=rid))
        if dest != it.path:  # restored elsewhere: derived from the trial's version at its own path
            edges.append(edge(Relation.WAS_DERIVED_FROM, vid, version_id(it.sha256, it.path), activity=rid,
                              run=rid))
        if old is not None:
            ovid = version_id(old, dest)
            nodes.append(node(ovid, ProvClass.ENTITY, Kind.FILE_VERSION, path=dest, name=os.path.basename(dest),
                              sha256=old, stored=True))
            edges.append(edge(Relation.SPECIALIZATION_OF, ovid, fid, run=rid))
            edges.append(edge(Relation.WAS_INVALIDATED_BY, ovid, rid, role="overwritten", time=t1, run=rid))
    if not single:
        # kg.trial.next_parent reads these (base_set_at: the newest mark wins).
        nodes.append(node(trial.id, ProvClass.ACTIVITY, trial.kind, base_of_next=True, base_set_at=t1))
        for t in trials(store):
            if t.id != trial.id and t.props.get("base_of_next"):
                nodes.append(node(t.id, ProvClass.ACTIVITY, t.kind, base_of_next=False))
    store.write(nodes, edges)
    return rid


def rebase(trial: Node, items: list[RestoreItem], root: str) -> None:
    """Point every item below ``root``, at its path relative to the trial's working directory.

    Paths that would land outside ``root`` are refused, all before anything is written: a
    ``..`` component, an absolute path outside the trial's directory, and a symbolic link
    on the way (a pulled trial is someone else's data: it must not choose where we write)."""
    cwd = str(trial.props.get("cwd") or "")
    root = os.path.realpath(root)
    bad: list[str] = []
    for it in items:
        raw = it.path
        if ".." in Path(raw).parts:
            bad.append(f"{raw} (a '..' component)")
            continue
        if os.path.isabs(raw):
            if not cwd or not os.path.isabs(cwd) or os.path.commonpath([raw, cwd]) != os.path.normpath(cwd):
                bad.append(f"{raw} (an absolute path outside the trial's directory {cwd or '?'})")
                continue
            rel = os.path.relpath(raw, cwd)
        else:
            rel = os.path.normpath(raw)
        dest = os.path.join(root, rel)
        step = root
        for part in Path(rel).parts:
            step = os.path.join(step, part)
            if os.path.islink(step):
                bad.append(f"{raw} (the symbolic link {step} is on its way)")
                break
        else:
            it.target = dest
    if bad:
        raise InputError(f"refusing to restore {len(bad)} paths of trial {trial.props.get('seq', trial.id)} "
                         f"that would escape {root}: " + "; ".join(bad[:3]))


def restore_root(trial: Node, into: str | None) -> str | None:
    """Where paths are re-rooted: ``into``, else the current directory for a pulled trial
    (kg.hub_client marks those), else None (the trial's own paths)."""
    if into is not None:
        return into
    from kg.hub_client import PULLED_FROM

    return os.getcwd() if trial.props.get(PULLED_FROM) else None


def restore_trial(store: Store, trial: Node, *, script: bool = True, modules: bool = True, files: bool = True,
                  dry_run: bool = False, into: str | None = None) -> RestoreResult:
    """Bring back the trial's script, local modules and files (see ``plan_restore``), record the
    restore and make the trial the base of the next one. With ``into`` (and always for a
    pulled trial), files go below that directory (see ``rebase``)."""
    t0 = time.time()
    items = plan_restore(store, trial, script=script, modules=modules, files=files)
    root = restore_root(trial, into)
    if root is not None:
        rebase(trial, items, root)
    done = _apply(store, trial, items, dry_run)
    rid = None
    if not dry_run:
        rid = _record(store, trial, done, t0, single=False,
                      options={"script": script, "modules": modules, "files": files})
    return RestoreResult(rid, trial, items)


def _access_time(a: Node) -> str:
    t = a.props.get("started")
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(t, (int, float)) else ""


def find_content(store: Store, trial: Node, path: str | None, ident: str | None) -> RestoreItem:
    """Which content ``kg restore TRIAL -f PATH -i ID`` means.

    PATH is matched against the trial's accessed files, script and local modules (absolute,
    relative to the current directory, or a unique file name). ID is an access number
    (``kg show TRIAL -f``), a content-hash prefix, or an access time prefix
    ``YYYY-MM-DD HH:MM[:SS]`` (content after that access; ``B|time`` for before, ``A|time`` after).
    Without ID: the content the trial left the file with."""
    acc = accesses(store, trial)
    mains, local = script_entries(store, trial)
    code = [(n, "script" if n in mains else "module") for n in mains + local]
    if path is not None:
        want = os.path.abspath(path)
        paths = {str(a.props.get("path")) for a in acc} | {str(a.props.get("source")) for a in acc
                                                               if a.props.get("source")}
        paths |= {os.path.abspath(str(n.props["path"])) for n, _ in code}
        if want not in paths:
            hits = sorted(p for p in paths if p.endswith(os.sep + path.lstrip(os.sep)) or
                          os.path.basename(p) == path)
            if len(hits) > 1:
                raise AmbiguousReference(f"{path!r} matches {len(hits)} files of the trial: "
                                         + ", ".join(hits[:5]))
            if not hits:
                raise NotFound(f"trial {trial.props.get('seq', trial.id)} did not access {path!r}")
            want = hits[0]
        acc = [a for a in acc if a.props.get("path") == want or a.props.get("source") == want]
        code = [(n, w) for n, w in code if os.path.abspath(str(n.props["path"])) == want]
    else:
        want = None
    if ident is None:
        if want is None:
            raise InputError("give a file (-f PATH) or an access (-i ID)")
        for n, what in code:
            sha = code_sha(n)
            if sha:
                return RestoreItem(want, sha, what)
        st = file_states(acc).get(want)
        if st is None or st.last is None:
            raise NotFound(f"the trial left no content at {want} (deleted); pick an access with -i")
        return RestoreItem(want, st.last, "file", st.accesses[-1].props.get("n"))
    ident = ident.strip()
    side = "after"
    if len(ident) > 2 and ident[1] == "|" and ident[0] in "ABab":
        side = "before" if ident[0] in "Bb" else "after"
        ident = ident[2:].strip()
    chosen: list[tuple[Node, str]] = []
    if ident.isdigit() and len(ident) < 7:
        chosen = [(a, side) for a in acc if a.props.get("n") == int(ident)]
    elif len(ident) >= 4 and all(c in "0123456789abcdef" for c in ident.lower()):
        for a in acc:
            for s in ("after", "before"):
                if str(a.props.get(s) or "").startswith(ident.lower()):
                    chosen.append((a, s))
                    break
        for n, what in code:
            sha = code_sha(n)
            if sha and sha.startswith(ident.lower()):
                return RestoreItem(os.path.abspath(str(n.props["path"])), sha, what)
    else:
        chosen = [(a, side) for a in acc if _access_time(a).startswith(ident)]
    if not chosen:
        raise NotFound(f"no access {ident!r} in trial {trial.props.get('seq', trial.id)}"
                       + (f" for {want}" if want else ""))
    if len({(a.props.get("path"), a.props.get(s)) for a, s in chosen}) > 1:
        raise AmbiguousReference(f"access {ident!r} matches {len(chosen)} accesses; be more specific")
    a, s = chosen[0]
    sha = a.props.get(s) or a.props.get("after") or a.props.get("before")
    if not is_sha256(sha):
        raise NotFound(f"access {a.props.get('n')} has no content to restore")
    p = want or str(a.props.get("path"))
    if want and a.props.get("source") == want and a.props.get("path") != want:
        p = want  # the content that was moved away from PATH
    return RestoreItem(p, str(sha), "file", a.props.get("n"))


def restore_file(store: Store, trial: Node, path: str | None, *, target: str | None = None,
                 ident: str | None = None, dry_run: bool = False, into: str | None = None) -> RestoreResult:
    """Restore one file of a trial (to ``target`` if given; else below ``into``, or the current
    directory for a pulled trial). Recorded, but not a base for the next trial."""
    t0 = time.time()
    item = find_content(store, trial, path, ident)
    root = restore_root(trial, into)
    if target:
        item.target = str(Path(target).absolute())
    elif root is not None:
        rebase(trial, [item], root)
    done = _apply(store, trial, [item], dry_run)
    rid = None
    if not dry_run:
        rid = _record(store, trial, done, t0, single=True, options={"file": item.path, "ident": ident})
    return RestoreResult(rid, trial, [item])
