"""The prospective dataflow of a script (`kg dataflow N -m prospective`): what its definitions say
could flow where, read from the source alone, without running it.

It is the site table of the `kg run --dataflow` rewrite (capture.finegrained) drawn as it is:
each variable of each scope (a function's parameters, its ``return``, the module's assignments)
is one node, clustered by function; an arrow joins a variable to each one computed from it,
an argument to the parameter it is passed as, a function's return to the variable it is
assigned to; grey boxes are the functions (and the module), joined by dotted arrows from caller to callee.
Variables that neither feed nor take anything are left out (``import`` names, counters...)."""
from __future__ import annotations

from collections import defaultdict

from capture.finegrained import _RETURNS, CALL, FILE, Sites, rewrite

__all__ = ["prospective_dot"]


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _flows(sites: Sites) -> tuple[set[tuple[int, int]], set[tuple[str, str]]]:
    """(slot -> slot arrows, caller scope -> called function arrows)."""
    calls_of: dict[int, list[tuple[int, ...]]] = defaultdict(list)  # function -> argument slots of each call
    called: set[tuple[str, str]] = set()
    names = {fid: name for name, fid in sites.functions.items()}
    for kind, target, reads, _, info in sites.table:
        if kind == CALL:
            calls_of[target].append(reads)
            called.add((info[1], names[target]))
    arrows: set[tuple[int, int]] = set()
    for kind, target, reads, fn, _ in sites.table:
        if kind in (CALL, FILE):
            continue
        for r in reads:
            if r >= 0:
                arrows.add((r, target))
            else:  # a parameter: every call's argument in that position
                arrows.update((args[-r - 1], target) for args in calls_of.get(fn, ())
                              if -r - 1 < len(args) and args[-r - 1] >= 0)
    return arrows, called


def prospective_dot(source: bytes | str, filename: str, *, rankdir: str = "LR", title: str = "") -> str:
    """The dot text of a script's prospective dataflow (see the module docstring); raises SyntaxError."""
    _, sites = rewrite(source, filename)
    arrows, called = _flows(sites)
    # Where each slot is drawn: its scope (a return slot in the function that returns), its label
    scope_of: dict[int, str] = {}
    lines_of: dict[int, list[int]] = defaultdict(list)
    params: dict[str, list[str]] = defaultdict(list)
    for kind, target, reads, _, (name, scope, line, _col) in sites.table:
        if kind in (CALL, FILE):
            continue
        scope_of[target] = scope
        if line not in lines_of[target]:
            lines_of[target].append(line)
        if reads and reads[0] < 0 and name not in params[scope]:
            params[scope].append(name)
    name_of = {slot: "return" if scope == _RETURNS else name for (scope, name), slot in sites.slots.items()}
    arrows = {(s, d) for s, d in arrows if s in scope_of and d in scope_of}  # (not a builtin's, never assigned)
    shown = {s for pair in arrows for s in pair} | {t for t, sc in scope_of.items() if name_of[t] in params[sc]}
    out = [f"digraph {_q('prospective dataflow' + (' of ' + title if title else ''))} {{", f"  rankdir={rankdir};",
           '  node [shape=ellipse, fontsize=10];', '  edge [fontsize=9];']
    scopes = sorted({scope_of[s] for s in shown if s in scope_of} | {c for c, _ in called} | set(params),
                    key=lambda s: (s != "<module>", s))
    for k, scope in enumerate(scopes):
        out.append(f"  subgraph {_q('cluster_' + str(k))} {{ label={_q(scope)};")
        head = "<module>" if scope == "<module>" else scope.rpartition(".")[2] + "(" + ", ".join(params[scope]) + ")"
        out.append(f"    {_q('def ' + scope)} [shape=box, style=filled, fillcolor=grey90, label={_q(head)}];")
        for slot in sorted(s for s in shown if scope_of.get(s) == scope):
            label = f"{name_of[slot]}@{','.join(map(str, lines_of[slot]))}"
            out.append(f"    {_q(str(slot))} [label={_q(label)}];")
        out.append("  }")
    out += [f"  {_q(str(src))} -> {_q(str(dst))};" for src, dst in sorted(arrows)]
    for caller, fn in sorted(called):
        for callee in (s for s in scopes if s == fn or s.endswith("." + fn)):
            out.append(f"  {_q('def ' + caller)} -> {_q('def ' + callee)} [style=dotted, color=grey50, label=calls];")
    out.append("}")
    return "\n".join(out) + "\n"
