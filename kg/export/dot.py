"""Graphviz dot of a run's dataflow, in PROV's shapes and colours.

Entities are yellow ellipses, activities blue rectangles, agents orange houses (the
colours of the PROV-DM figures). Options (``-O key=value``):

- ``depth=N``: activities nested deeper than N below their run are folded into their
  ancestor at depth N (the run itself is depth 0);
- ``kinds=File,FileVersion,Activation``: show only these kinds;
- ``collapse=true``: one node per (caller, function name) for activations and tasks,
  labelled with the number of calls;
- ``values=true``: show argument and return Value entities; without it the dataflow
  through a value is drawn as one dashed edge from its consumer to its producer;
- ``rankdir=BT|TB|LR|RL`` (default BT), ``max_nodes=N`` (default 5000; the whole graph is
  held in memory, so dot is for views of a run, not for bulk export).

By default the view is one a person can read (a `kg run` trial of a few thousand calls drew
as a blank strip 32,767 pixels wide): ``depth=3`` and ``collapse=true`` unless given; in a
trial that touched files, only the calls on the way to a file access; without a trial's
context entities (environment, definitions, modules: `kg show` lists them). The drawing's
caption says what was left out; ``all=true`` draws every record.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

import orjson

from kg.exceptions import ExportError
from kg.export import register_exporter
from kg.model.records import Edge, Node
from kg.model.terms import Kind, Relation

__all__ = ["write_dot", "STYLE", "dot_string"]

STYLE = {
    "Entity": 'shape=ellipse, style=filled, fillcolor="#FFFC87", color="#808080"',
    "Activity": 'shape=box, style=filled, fillcolor="#9FB1FC", color="#0000FF"',
    "Agent": 'shape=house, style=filled, fillcolor="#FED37F", color="#808080"',
}
_EDGE_LABEL = {r.value: r.value.lower().split("_")[0] + "".join(w.capitalize() for w in r.value.lower().split("_")[1:])
               for r in Relation}
_CALLS = frozenset({Kind.ACTIVATION.value, Kind.TASK.value})


def dot_string(text: str) -> str:
    """``text`` as a double-quoted dot string (backslashes and quotes escaped, newlines as \\n)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{text}"'


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _short(value: Any, limit: int = 40) -> str:
    if isinstance(value, dict):
        value = value.get("repr", value.get("value", value))
    text = value if isinstance(value, str) else orjson.dumps(value, default=repr).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


READABLE_DEPTH = 3


_FILE_KINDS = frozenset({Kind.FILE.value, Kind.FILE_VERSION.value})
# A trial's context: one entity per environment variable, definition and module. Listed by
# `kg show`; in a drawing they are a row hundreds of nodes wide, so the readable view counts them.
_CONTEXT = frozenset({Kind.ENVIRONMENT.value, Kind.DEFINITION.value, Kind.MODULE.value})


def _file_paths(nodes: dict[str, Node], edges: list[Edge]) -> set[str] | None:
    """The activities that touched a file, with every ancestor; None when no activity did."""
    touched = {e.src if e.dst in nodes and nodes[e.dst].kind in _FILE_KINDS else e.dst
               for e in edges if e.rel in (Relation.USED.value, Relation.WAS_GENERATED_BY.value)
               and ((e.dst in nodes and nodes[e.dst].kind in _FILE_KINDS)
                    or (e.src in nodes and nodes[e.src].kind in _FILE_KINDS))}
    touched = {t for t in touched if t in nodes and nodes[t].cls == "Activity"}
    if not touched:
        return None
    keep: set[str] = set()
    for t in touched:
        cur: Any = t
        while isinstance(cur, str) and cur in nodes and cur not in keep:
            keep.add(cur)
            cur = nodes[cur].props.get("parent")
    return keep


def write_dot(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], *, depth: Any = None,
              kinds: Any = None, collapse: Any = None, values: Any = False, rankdir: str = "BT",
              max_nodes: Any = 5000, **options: Any) -> int:
    """Write a digraph; returns the number of records read."""
    everything = _flag(options.get("all", False))
    if not everything:  # the readable view, unless the caller chose
        depth = READABLE_DEPTH if depth in (None, "") else depth
        collapse = True if collapse is None else collapse
    limit = int(max_nodes)
    all_nodes: dict[str, Node] = {}
    for n in nodes:
        all_nodes[n.id] = n
        if len(all_nodes) > limit * 20:
            raise ExportError(f"too many records for a dot view (> {limit * 20}); export one run, "
                              "or use -O depth=N / -O kinds=...")
    all_edges = list(edges)
    show_values = _flag(values)
    wanted = {k.strip() for k in str(kinds).split(",") if k.strip()} if kinds else None
    max_depth = None if depth in (None, "") else int(depth)

    # A trial that touched files: the readable view keeps the activities on the way to a file
    # (those that read or wrote one, and their callers); the thousands of other calls are left out.
    on_file_path = None if everything or wanted is not None else _file_paths(all_nodes, all_edges)

    context: Counter[str] = Counter()  # what the readable view leaves out of a trial, by kind

    def shown(n: Node) -> bool:
        if n.kind == Kind.VALUE.value and not show_values:
            return False
        if not everything and wanted is None and n.kind in _CONTEXT:
            context[n.kind] += 1
            return False
        if on_file_path is not None and n.kind in _CALLS and n.id not in on_file_path:
            return False
        return wanted is None or n.kind in wanted or n.cls in wanted

    depth_of: dict[str, int] = {}

    def level(nid: str) -> int:
        chain: list[str] = []
        cur: str | None = nid
        while cur is not None and cur not in depth_of and cur not in chain and len(chain) < 10_000:
            chain.append(cur)
            n = all_nodes.get(cur)
            parent = n.props.get("parent") if n is not None else None
            cur = parent if isinstance(parent, str) and parent in all_nodes else None
        base = depth_of.get(cur, -1) if cur is not None else -1
        for i, c in enumerate(reversed(chain)):
            depth_of[c] = base + 1 + i
        return depth_of[nid]

    def ancestor_at(nid: str, d: int) -> str:
        cur = nid
        while level(cur) > d:
            cur = all_nodes[cur].props["parent"]
        return cur

    # Each shown node has a representative: itself, its folded ancestor or its collapsed group.
    group_size: Counter[str] = Counter()
    group_label: dict[str, Node] = {}
    memo: dict[str, str] = {}

    def rep_of(nid: str) -> str:
        if nid in memo:
            return memo[nid]
        memo[nid] = nid  # guards against parent cycles
        n = all_nodes[nid]
        r = nid
        if n.cls == "Activity" and max_depth is not None and level(nid) > max_depth:
            r = rep_of(ancestor_at(nid, max_depth))
        elif _flag(collapse) and n.kind in _CALLS:
            parent = n.props.get("parent")
            prep = rep_of(parent) if isinstance(parent, str) and parent in all_nodes else ""
            r = f"calls:{prep}:{n.props.get('name', n.kind)}"
            group_label.setdefault(r, n)
            group_size[r] += 1  # calls of the group itself (the deeper ones folded into it are not counted)
        memo[nid] = r
        return r

    rep: dict[str, str] = {}
    for nid, n in all_nodes.items():
        if shown(n):
            rep[nid] = rep_of(nid)
    if len(set(rep.values())) > limit:
        raise ExportError(f"{len(set(rep.values()))} nodes to draw (more than max_nodes={limit}); "
                          "use -O depth=N, -O kinds=..., -O collapse=true or -O max_nodes=N")

    # Dataflow through a hidden Value: consumer --(name)--> producer.
    producers: dict[str, list[tuple[str, str]]] = {}
    consumers: dict[str, list[tuple[str, str]]] = {}
    for e in all_edges:
        if e.rel == Relation.WAS_GENERATED_BY.value and e.src not in rep:
            producers.setdefault(e.src, []).append((e.dst, str(e.props.get("role", ""))))
        elif e.rel == Relation.USED.value and e.dst not in rep:
            consumers.setdefault(e.dst, []).append((e.src, str(e.props.get("role", ""))))
    drawn: Counter[tuple[str, str, str, str]] = Counter()
    for e in all_edges:
        a, b = rep.get(e.src), rep.get(e.dst)
        if a is None or b is None or a == b:
            continue
        role = e.props.get("role")
        label = _EDGE_LABEL[e.rel] + (f" ({_short(role, 20)})" if role not in (None, "", "parent") else "")
        drawn[(a, b, label, e.rel)] += 1
    for vid, prods in producers.items():
        for cons, role in consumers.get(vid, []):
            for prod, _r in prods:
                a, b = rep.get(cons), rep.get(prod)
                if a is not None and b is not None and a != b:
                    drawn[(a, b, role or "dataflow", "dataflow")] += 1

    names: dict[str, str] = {}
    lines = [f"digraph provkg {{\n  rankdir={rankdir if rankdir in ('BT', 'TB', 'LR', 'RL') else 'BT'};\n"
             '  node [fontname="Helvetica", fontsize=10];\n  edge [fontname="Helvetica", fontsize=8];\n']
    folded = len(all_nodes) - len(set(rep.values()))
    if folded and not everything:
        how = ["only the calls that led to a file access" if on_file_path is not None else "",
               f"calls nested deeper than {max_depth} folded into their caller" if max_depth is not None else "",
               "repeated calls drawn once (×N)" if _flag(collapse) else "",
               ("left out: " + ", ".join(f"{c} {k}" for k, c in sorted(context.items()))) if context else ""]
        caption = (f"{len(set(rep.values()))} of {len(all_nodes)} nodes: " + "; ".join(h for h in how if h)
                   + ". Everything: kg export -F dot -O all=true")
        lines.append(f'  labelloc=t; fontname="Helvetica"; fontsize=10; label={dot_string(caption)};\n')
    for nid, r in rep.items():
        if r in names:
            continue
        names[r] = f"n{len(names)}"
        n = group_label.get(r) or all_nodes[r]
        label = str(n.props.get("name") or n.id)
        if group_size.get(r, 0) > 1:
            label += f" ×{group_size[r]}"
        if n.kind == Kind.VALUE.value and "value" in n.props:
            label += " = " + _short(n.props["value"])
        sub = n.kind if n.kind != n.cls else n.cls
        lines.append(f"  {names[r]} [{STYLE[n.cls]}, label={dot_string(label + chr(10) + sub)}, "
                     f"tooltip={dot_string(n.id)}];\n")
    for (a, b, label, rel), count in drawn.items():
        style = ', style=dashed, color="#606060"' if rel == "dataflow" else (
            ', style=dotted, color="#A0A0A0"' if rel == Relation.WAS_INFORMED_BY.value else "")
        text = label + (f" ×{count}" if count > 1 else "")
        lines.append(f"  {names[a]} -> {names[b]} [label={dot_string(text)}{style}];\n")
    lines.append("}\n")
    out.write("".join(lines))
    return len(all_nodes) + len(all_edges)


register_exporter("dot", write_dot)
