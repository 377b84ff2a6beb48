"""The lineage of a node, up (what it came from) and down (what came of it), as graph elements."""
from __future__ import annotations

from typing import Any

from kg.annotations import annotations_of
from kg.model.records import Node
from kg.stores.base import Store
from kg.web._format import value_text
from kg.web._runs import note_row

__all__ = ["lineage_page", "MAX_NODES"]

# A drawing with more nodes than this is unreadable (and slow to lay out): the nearest are kept.
MAX_NODES = 150


def _label(n: Node | None, nid: str) -> str:
    if n is None:
        return nid
    name = n.props.get("name") or n.props.get("path") or n.kind
    text = f"{n.kind}: {name}"
    if n.kind in ("Value", "Environment") and n.props.get("value") is not None:
        text += f" = {value_text(n.props.get('value'))}"
    return text if len(text) <= 60 else text[:59] + "…"


def lineage_page(store: Store, start: Node, depth: int, visible: set[str] | None = None) -> dict[str, Any]:
    """Both directions from ``start`` up to ``depth`` hops: rows (nearest first) and graph elements.

    Nodes beyond ``MAX_NODES`` are left out of both (the page says how many), and so are nodes
    of runs outside ``visible`` (a hub user's readable runs; None: all)."""
    up = store.lineage(start.id, direction="up", depth=depth)
    down = store.lineage(start.id, direction="down", depth=depth)
    nodes = {n.id: n for n in up.nodes} | {n.id: n for n in down.nodes}
    hops: list[tuple[int, str, str]] = [(d, "up", i) for i, d in up.depth.items() if i != start.id]
    hops += [(d, "down", i) for i, d in down.depth.items() if i != start.id]
    hops.sort()
    kept: dict[str, tuple[int, str]] = {start.id: (0, "start")}
    for d, way, nid in hops:
        run = nodes[nid].props.get("run") if nid in nodes else None
        if visible is not None and run and run not in visible:
            continue
        if nid not in kept and len(kept) < MAX_NODES:
            kept[nid] = (d, way)
    rows, elements = [], []
    for nid, (d, way) in kept.items():
        n = nodes.get(nid)
        rows.append({"id": nid, "depth": d, "way": way, "kind": n.kind if n else "?",
                     "cls": n.cls if n else "", "name": (n.props.get("name") if n else None) or "",
                     "value": value_text(n.props["value"]) if n and n.props.get("value") is not None else ""})
        elements.append({"data": {"id": nid, "label": _label(n, nid), "cls": n.cls if n else "",
                                  "kind": n.kind if n else "", "start": nid == start.id}})
    seen: set[tuple[str, str, str]] = set()
    for e in up.edges + down.edges:
        key = (e.src, e.rel, e.dst)
        if key in seen or e.src not in kept or e.dst not in kept:
            continue
        seen.add(key)
        elements.append({"data": {"id": "|".join(key), "source": e.src, "target": e.dst, "label": e.rel}})
    total = len({i for _, _, i in hops})
    return {"start": start, "depth": depth, "rows": rows, "elements": elements,
            "left_out": max(0, total - (len(kept) - 1)), "target": start.id,
            "notes": [note_row(n) for n in annotations_of(store, [start.id])]}
