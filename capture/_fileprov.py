"""The PROV records of file accesses: ids of files and versions, and the flush-thread expander."""
from __future__ import annotations

import os
from typing import Any

from kg import content
from kg.model.records import Edge, Node
from kg.model.terms import Kind, ProvClass, Relation
from kg.sink import register_expander

__all__ = ["FILE_ACCESS", "WRITE_MODES", "Snap", "file_id", "version_id", "ACCESS_CODE"]

FILE_ACCESS = "FileAccess"  # kind of the per-access Activity node
WRITE_MODES = frozenset("wax+")

Snap = tuple[str, int, bool]  # (sha256, size, content kept)


def file_id(path: str) -> str:
    """Graph id of the File entity for an absolute path."""
    return f"file:{path}"


def version_id(sha: str, path: str) -> str:
    """Graph id of a FileVersion: the content hash plus a short hash of the path
    (the same bytes at two paths are two versions of two files)."""
    return f"fv:{sha}:{content.hash_bytes(path.encode('utf-8', 'surrogateescape'))[:12]}"


def _expand(item: tuple[Any, ...], nodes: list[Node], edges: list[Edge]) -> None:
    """Unpack one access (built on the caller's thread as atoms) into PROV on the flush thread."""
    (_, fa, trial, act, n, op, mode, path, t0, t1, before, after, src, src_snap) = item
    ent, acts = ProvClass.ENTITY.value, ProvClass.ACTIVITY.value
    base = os.path.basename(path)
    run = {"run": trial, "access": fa}
    nodes.append(Node(fa, acts, FILE_ACCESS, _drop({
        "run": trial, "parent": act, "name": f"{op} {base}", "n": n, "op": op, "mode": mode, "path": path,
        "started": t0, "ended": t1, "before": before[0] if before else None,
        "after": after[0] if after else None, "source": src, "activation": act,
        "size": after[1] if after else None})))
    fid = file_id(path)
    nodes.append(Node(fid, ent, Kind.FILE.value, {"path": path, "name": base}))

    def version(snap: Snap, p: str, pfid: str) -> str:
        vid = version_id(snap[0], p)
        nodes.append(Node(vid, ent, Kind.FILE_VERSION.value, {
            "path": p, "name": os.path.basename(p), "sha256": snap[0], "size": snap[1], "stored": snap[2]}))
        edges.append(Edge(Relation.SPECIALIZATION_OF.value, vid, pfid, {"run": trial}))
        return vid

    used, gen, der, inv = (Relation.USED.value, Relation.WAS_GENERATED_BY.value,
                           Relation.WAS_DERIVED_FROM.value, Relation.WAS_INVALIDATED_BY.value)
    if op == "mkdir":
        nodes[-1] = Node(fid, ent, Kind.FILE.value, {"path": path, "name": base, "directory": True})
        edges.append(Edge(gen, fid, act, {"role": op, "time": t1, **run}))
        return
    bv = version(before, path, fid) if before else None
    av = version(after, path, fid) if after else None
    if src is not None:  # rename / move / copy: the content came from another path
        sfid = file_id(src)
        nodes.append(Node(sfid, ent, Kind.FILE.value, {"path": src, "name": os.path.basename(src)}))
        sv = version(src_snap, src, sfid) if src_snap else None
        if sv:
            edges.append(Edge(used, act, sv, {"role": op, "time": t0, **run}))
            if op != "copy":  # the source path no longer holds it
                edges.append(Edge(inv, sv, act, {"role": op, "time": t1, **run}))
        if av:
            edges.append(Edge(gen, av, act, {"role": op, "time": t1, **run}))
            if sv:
                edges.append(Edge(der, av, sv, {"activity": act, "time": t1, **run}))
        if bv and bv != av:
            edges.append(Edge(inv, bv, act, {"role": "overwritten", "time": t1, **run}))
        return
    if after is None:  # deleted
        if bv:
            edges.append(Edge(inv, bv, act, {"role": op, "time": t1, **run}))
        return
    writes = bool(WRITE_MODES.intersection(mode))
    truncates = "w" in mode
    if not writes:
        edges.append(Edge(used, act, av, {"role": mode, "time": t0, **run}))  # type: ignore[arg-type]
        return
    if bv and not truncates:
        edges.append(Edge(used, act, bv, {"role": mode, "time": t0, **run}))
    if av and (bv != av or truncates):
        edges.append(Edge(gen, av, act, {"role": mode, "time": t1, **run}))
        if bv and bv != av:
            edges.append(Edge(der, av, bv, {"activity": act, "time": t1, **run}))


def _drop(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


ACCESS_CODE = register_expander(_expand)
