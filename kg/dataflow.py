"""The dataflow of a trial as Graphviz dot: file versions, the activations that read and wrote them.

Boxes are activations (function calls; the trial itself for accesses outside any call),
notes are file versions (name and content-hash prefix), grouped per file. An arrow goes
from a version to the activation that read it, and from an activation to the version it
wrote; a dashed arrow joins a version to the one it was derived from, a red one marks a
version an activation deleted or overwrote. With ``calls=True`` the callers of those
activations are drawn too, joined by grey call arrows."""
from __future__ import annotations

import os
from collections.abc import Iterable

from kg._trialdata import accesses
from kg.model.prov import explode, is_compact
from kg.model.records import Edge, Node
from kg.model.terms import Kind, Relation
from kg.stores.base import Store

__all__ = ["dataflow_dot", "variables_dot"]


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _act_label(n: Node | None, nid: str, trial: Node) -> str:
    if nid == trial.id:
        return f"trial {trial.props.get('seq', '')}".strip()
    if n is None:
        return nid
    p = n.props
    line = p.get("line")
    return f"{line}: {p.get('name', nid)}" if line else str(p.get("name", nid))


def _edges(store: Store, trial: Node) -> list[Edge]:
    rels = {Relation.USED.value, Relation.WAS_GENERATED_BY.value, Relation.WAS_DERIVED_FROM.value,
            Relation.WAS_INVALIDATED_BY.value}
    out = []
    for e in store.find_edges(run=trial.id):
        if e.rel in rels and (e.src.startswith("fv:") or e.dst.startswith("fv:")):
            out.append(e)
    return out


def _ancestors(store: Store, ids: Iterable[str], trial: Node, acts: dict[str, Node]) -> list[tuple[str, str]]:
    """Call edges (caller, callee) from the given activations up to the trial."""
    calls: list[tuple[str, str]] = []
    frontier = [i for i in ids if i != trial.id]
    seen = set(frontier)
    while frontier:
        got = store.get_nodes([i for i in frontier if i not in acts])
        acts.update(got)
        nxt = []
        for i in frontier:
            n = acts.get(i)
            parent = str(n.props.get("parent") or trial.id) if n is not None else trial.id
            calls.append((parent, i))
            if parent != trial.id and parent not in seen:
                seen.add(parent)
                nxt.append(parent)
        frontier = nxt
    return calls


def dataflow_dot(store: Store, trial: Node, *, calls: bool = False, rankdir: str = "LR") -> str:
    """The dot text of a trial's file dataflow (see module docstring)."""
    edges = _edges(store, trial)
    version_ids = sorted({x for e in edges for x in (e.src, e.dst) if x.startswith("fv:")})
    versions = store.get_nodes(version_ids)
    act_ids = {x for e in edges for x in (e.src, e.dst) if not x.startswith("fv:")}
    for a in accesses(store, trial):  # accesses whose records made no edge (mkdir) still show their caller
        act_ids.add(str(a.props.get("parent") or trial.id))
    acts: dict[str, Node] = store.get_nodes(sorted(act_ids - {trial.id}))
    call_edges = _ancestors(store, act_ids, trial, acts) if calls else []
    if calls:
        act_ids |= {x for pair in call_edges for x in pair}
    lines = [f"digraph {_q('trial ' + str(trial.props.get('seq', trial.id)))} {{",
             f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    names = {nid: f"n{i}" for i, nid in enumerate(sorted(act_ids) + version_ids)}
    for aid in sorted(act_ids):
        shape = "box, style=\"rounded,bold\"" if aid == trial.id else "box, style=rounded"
        lines.append(f"  {names[aid]} [shape={shape}, label={_q(_act_label(acts.get(aid), aid, trial))}];")
    by_file: dict[str, list[str]] = {}
    for vid in version_ids:
        v = versions.get(vid)
        path = str(v.props.get("path")) if v is not None else vid.rsplit(":", 1)[-1]
        by_file.setdefault(path, []).append(vid)
    for i, (path, vids) in enumerate(sorted(by_file.items())):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_q(os.path.relpath(path) if path.startswith('/') else path)}; style=dashed;"
                     " color=grey60; fontsize=9;")
        for vid in vids:
            v = versions.get(vid)
            sha = vid.split(":")[1]
            size = v.props.get("size") if v is not None else None
            label = f"{os.path.basename(path)}\n{sha[:10]}" + (f"\n{size} B" if size is not None else "")
            lines.append(f"    {names[vid]} [shape=note, label={_q(label)}];")
        lines.append("  }")
    drawn = set()
    for e in edges:
        if e.src not in names or e.dst not in names:
            continue
        key = (e.src, e.rel, e.dst)
        if key in drawn:
            continue
        drawn.add(key)
        role = str(e.props.get("role") or "")
        s, d = names[e.src], names[e.dst]
        if e.rel == Relation.USED.value:  # data flows from the version into the activation
            lines.append(f"  {d} -> {s} [label={_q(role)}];")
        elif e.rel == Relation.WAS_GENERATED_BY.value:
            lines.append(f"  {d} -> {s} [label={_q(role)}];")
        elif e.rel == Relation.WAS_DERIVED_FROM.value:
            lines.append(f"  {d} -> {s} [style=dashed, color=grey40];")
        else:  # invalidated: the activation ended this version
            lines.append(f"  {d} -> {s} [color=red, fontcolor=red, arrowhead=tee, label={_q(role)}];")
    for caller, callee in call_edges:
        if caller in names and callee in names:
            lines.append(f"  {names[caller]} -> {names[callee]} [color=grey70, style=dotted, arrowhead=open];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _derivations(store: Store, trial: Node, nodes: dict[str, Node]) -> list[tuple[str, str]]:
    """(version, source) pairs between the trial's variable versions: their compact ``derived``
    props (the embedded store) or stored edges (a store that explodes them on write)."""
    rel = Relation.WAS_DERIVED_FROM.value
    pairs = {(e.src, e.dst) for n in nodes.values() if is_compact(n) for e in explode(n)[1] if e.rel == rel}
    pairs.update((e.src, e.dst) for e in store.find_edges(rel=rel, run=trial.id))
    return sorted((s, d) for s, d in pairs if s in nodes and d in nodes)


def _shown(value: object) -> str:
    """A version's value as drawn: its repr; a summary without one (a store into an object keeps
    the object's type and size), "dict, size 3"."""
    if not isinstance(value, dict):
        return repr(value)
    if "repr" in value:
        return str(value["repr"])
    extent = value.get("shape", value.get("size"))
    return str(value.get("type")) + ("" if extent is None else f", {'shape' if 'shape' in value else 'size'} {extent}")


def variables_dot(store: Store, trial: Node, *, variable: str | None = None, depth: int | None = None,
                  scope: str | None = None, value_length: int = 40, rankdir: str = "LR") -> str | None:
    """The dot text of a trial's fine-grained dataflow (``kg run --dataflow``): one ellipse per
    variable version (``name@line``, its value, ``[iteration]`` in loops), clustered by function,
    an arrow from each version to the versions it was computed from, and to the file versions
    written from it (notes). ``variable``: only the versions of that name and their ancestry
    (``depth`` steps up); ``scope``: only the versions in that function (qualified name, or
    ``<module>``); ``value_length``: characters of each value shown (0: none). None: the trial has none."""
    nodes = {n.id: n for n in store.find_nodes(kind=Kind.VARIABLE.value, run=trial.id)}
    if not nodes:
        return None
    derived = _derivations(store, trial, nodes)
    keep = set(nodes) if scope is None else {i for i, n in nodes.items() if n.props.get("scope") == scope}
    if variable is not None:
        ups: dict[str, list[str]] = {}
        for src, dst in derived:
            ups.setdefault(src, []).append(dst)
        keep = frontier = {i for i in keep if nodes[i].props.get("name") == variable}
        for _ in range(depth if depth is not None else len(nodes)):
            frontier = {d for f in frontier for d in ups.get(f, ())} - keep
            if not frontier:
                break
            keep = keep | frontier
    lines = [f"digraph {_q('dataflow of trial ' + str(trial.props.get('seq', trial.id)))} {{",
             f"  rankdir={rankdir};", '  node [shape=ellipse, fontsize=10];']
    scopes: dict[str, list[Node]] = {}
    for i in sorted(keep, key=lambda k: int(k.rsplit("/", 1)[1])):
        scopes.setdefault(str(nodes[i].props.get("scope") or "<module>"), []).append(nodes[i])
    for k, (scope, members) in enumerate(scopes.items()):
        lines.append(f"  subgraph {_q('cluster_' + str(k))} {{ label={_q(scope)};")
        for n in members:
            p = n.props
            value = p.get("value")
            shown = _shown(value)
            label = f"{p.get('name')}@{p.get('line')}" + (f" [{p['iteration']}]" if p.get("iteration") else "")
            if value_length > 0:
                label += "\n" + str(shown)[:value_length]
            lines.append(f"    {_q(n.id)} [label={_q(label)}];")
        lines.append("  }")
    for src, dst in derived:
        if src in keep and dst in keep:
            lines.append(f"  {_q(dst)} -> {_q(src)};")
    # the file versions written from these values (f.write(x)), as notes
    written = [e for e in store.find_edges(rel=Relation.WAS_DERIVED_FROM.value, run=trial.id)
               if e.src.startswith("fv:") and e.dst in keep]
    versions = store.get_nodes({e.src for e in written})
    for vid in sorted(versions):
        label = f"{versions[vid].props.get('name', vid)}\n{vid.split(':')[1][:10]}"
        lines.append(f"  {_q(vid)} [shape=note, label={_q(label)}];")
    lines += [f"  {_q(e.dst)} -> {_q(e.src)} [label=written];" for e in written if e.src in versions]
    lines.append("}")
    return "\n".join(lines) + "\n"
