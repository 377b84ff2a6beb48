"""The activity tree of a run or trial, as `kg show` walks it (the CLI, the Python API and the
web view share this one walk)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kg.model.records import Node

__all__ = ["tree_of"]


def tree_of(nodes: Iterable[Node], root: str, limit: int = 0, *,
            orphan_children: bool = True) -> tuple[int, list[tuple[int, Node]]]:
    """(how many nodes, the first ``limit`` of them as (depth, node)): depth-first from ``root`` by
    ``parent``, siblings in start order; nodes whose parent was never recorded (depth limit,
    another process) come last, at the top (with their own children below them when
    ``orphan_children``). ``limit`` 0: all. Only the siblings the walk reaches are sorted."""
    children: dict[str, list[Node]] = {}
    total = 0
    for n in nodes:
        if n.id == root:
            continue
        total += 1
        children.setdefault(str(n.props.get("parent") or root), []).append(n)
    out: list[tuple[int, Node]] = []
    seen: set[str] = set()
    want = limit or total

    def kids(pid: str) -> list[Node]:
        found = children.get(pid, [])
        found.sort(key=_start_order)
        return found

    def walk(start: str, depth: int) -> None:
        # Iterative: a deep recursion in the program must not recurse here.
        pending = [(depth, k) for k in reversed(kids(start))]
        while pending and len(out) < want:
            d, n = pending.pop()
            if n.id in seen:
                continue
            seen.add(n.id)
            out.append((d, n))
            pending.extend([(d + 1, k) for k in reversed(kids(n.id))])

    walk(root, 0)
    if len(out) < want:
        for pid in list(children):
            for n in children[pid]:
                if len(out) >= want:
                    break
                if n.id not in seen:
                    seen.add(n.id)
                    out.append((0, n))
                    if orphan_children:
                        walk(n.id, 1)
    return total, out


def _start_order(n: Node) -> tuple[Any, str]:
    return n.props.get("started") or 0, n.id
