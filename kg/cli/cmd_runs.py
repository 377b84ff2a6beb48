"""kg list / show / lineage / info: reading runs and their provenance."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import click

from kg.tree import tree_of
from kg.cli._options import Ctx, emit_rows, fmt_duration, fmt_time, output_option, pass_ctx
from kg.model.records import Node
from kg.stores.base import Store

__all__ = ["register", "SHOW_RENDERERS", "task_tree", "tree_of"]

# kind -> renderer(ctx, run node, flags dict); other features register theirs (e.g. Trial).
SHOW_RENDERERS: dict[str, Callable[[Ctx, Node, dict[str, Any]], None]] = {}


def _status(n: Node) -> str:
    return str(n.props.get("status") or "")


def run_rows(store: Store) -> list[dict[str, Any]]:
    """One row per run/trial for `kg list`."""
    rows = []
    for r in store.runs():
        p = r.props
        started, ended = p.get("started"), p.get("ended")
        rows.append({
            "#": p.get("seq"), "id": r.id, "kind": r.kind.lower(), "name": p.get("name"),
            "status": _status(r), "start": fmt_time(started),
            "duration": fmt_duration(p.get("duration") if p.get("duration") is not None
                                     else (ended - started if ended and started else None)),
        })
    return rows


def task_tree(store: Store, run: Node, limit: int = 0) -> tuple[int, list[tuple[int, Node]]]:
    """The activities of a run: (how many, the first ``limit`` as (depth, node)), depth-first in start order."""
    return tree_of(store.find_nodes(run=run.id, cls="Activity"), run.id, limit)


def _brief(values: Any, limit: int = 60) -> str:
    if not values:
        return ""
    parts = []
    for k, v in values.items():
        if isinstance(v, dict) and "$from" in v:
            v = v.get("summary")
        if isinstance(v, dict) and "type" in v:
            text = v.get("repr") or v.get("type")
            if "shape" in v:
                text = f"{v['type']}{v['shape']}:{v.get('dtype')}"
        else:
            text = json.dumps(v, default=str)
        parts.append(f"{k}={text}")
    out = ", ".join(parts)
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _show_notes(store: Store, run: Node) -> None:
    """The annotations on the run and on anything in it (`kg annotate`), oldest first."""
    from kg.annotations import run_annotations

    notes = run_annotations(store, run.id)
    if notes:
        click.echo(f"  notes    {len(notes)}")
    for n in notes:
        p = n.props
        about = "" if p.get("target") == run.id else f" (on {p.get('target')})"
        click.echo(f"    {fmt_time(p.get('created'))}  {p.get('author')}{about}: {p.get('text')}")


def render_run(ctx: Ctx, run: Node, flags: dict[str, Any]) -> None:
    """The default `kg show`: header, then the task tree with inputs, outputs, status, duration."""
    p = run.props
    click.echo(f"{run.kind} {p.get('seq', '')}: {p.get('name', '')}  [{run.id}]")
    click.echo(f"  status   {_status(run)}")
    click.echo(f"  started  {fmt_time(p.get('started'))}   duration {fmt_duration(p.get('duration'))}")
    for key in ("user", "host", "python", "campaign", "args", "tags", "error_type", "error"):
        if p.get(key) not in (None, "", [], {}):
            click.echo(f"  {key:<8} {p[key] if not isinstance(p[key], (dict, list)) else json.dumps(p[key])}")
    limit = flags.get("limit") or 0
    total, tree = task_tree(ctx.store, run, limit)
    click.echo(f"  tasks    {total}")
    for depth, n in tree:
        q = n.props
        status = _status(n)
        mark = "✗" if status == "ERROR" else "•"
        line = f"  {'  ' * depth}{mark} {q.get('name', n.kind)}"
        io = _brief(q.get("used"))
        line += f"({io})" if io or q.get("used") is not None else "()"
        out = _brief(q.get("generated"))
        if out:
            line += f" -> {out}"
        line += f"  {status} {fmt_duration(q.get('duration'))}"
        click.echo(line.rstrip())
        if status == "ERROR" and q.get("error_type"):
            click.echo(f"  {'  ' * depth}    {q['error_type']}: {q.get('error', '')}")
    if limit and total > limit:
        click.echo(f"  … {total - limit} more (use --limit 0 for all)")


def register(cli: click.Group) -> None:
    @cli.command("list")
    @output_option
    @pass_ctx
    def list_cmd(ctx: Ctx, fmt: str) -> None:
        """List runs and trials: number, id, status, start, duration.

        \b
        Example:
          kg list
          kg list --format json
        """
        emit_rows(run_rows(ctx.store), fmt, ["#", "id", "kind", "name", "status", "start", "duration"])

    @cli.command("show")
    @click.argument("run")
    @click.option("-m", "--modules", is_flag=True, help="Trials: module dependencies.")
    @click.option("-d", "--definitions", is_flag=True, help="Trials: function/class definitions.")
    @click.option("-e", "--environment", is_flag=True, help="Trials: environment attributes.")
    @click.option("-a", "--activations", is_flag=True, help="Trials: function activations.")
    @click.option("-f", "--file-accesses", "files", is_flag=True, help="Trials: file accesses.")
    @click.option("--limit", type=int, default=200, show_default=True, help="Show at most N tasks (0: all).")
    @pass_ctx
    def show_cmd(ctx: Ctx, run: str, **flags: Any) -> None:
        """Show a run or trial: its attributes and its task tree.

        RUN is a full id, a unique id prefix or a sequence number from `kg list`.

        \b
        Example:
          kg show 1
          kg show 01a2f3 --limit 0
        """
        node = ctx.store.resolve_run(run)
        SHOW_RENDERERS.get(node.kind, render_run)(ctx, node, flags)
        _show_notes(ctx.store, node)

    @cli.command("lineage")
    @click.argument("node_id")
    @click.option("--up/--down", "up", default=True, help="Upstream (what it came from, default) or downstream.")
    @click.option("--depth", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hops to follow.")
    @output_option
    @pass_ctx
    def lineage_cmd(ctx: Ctx, node_id: str, up: bool, depth: int, fmt: str) -> None:
        """Upstream lineage (--up) or downstream impact (--down) of a node.

        NODE_ID is a node id or unique prefix (a value, file version, task, run).

        \b
        Example:
          kg lineage 't-abc.../out/y' --up --depth 5
          kg lineage sha256:9f2c --down --format json
        """
        start = ctx.store.resolve_node(node_id)
        sg = ctx.store.lineage(start.id, direction="up" if up else "down", depth=depth)
        by_id = {n.id: n for n in sg.nodes}
        via: dict[str, str] = {}
        for e in sg.edges:
            far = e.dst if up else e.src
            via.setdefault(far, e.rel)
        rows = []
        for nid, d in sorted(sg.depth.items(), key=lambda kv: (kv[1], kv[0])):
            n = by_id.get(nid)
            rows.append({"depth": d, "via": via.get(nid, ""), "kind": n.kind if n else "?", "id": nid,
                         "name": n.props.get("name") if n else None,
                         "value": (n.props.get("value") if n else None)})
        emit_rows(rows, fmt, ["depth", "via", "kind", "name", "id", "value"])

    @cli.command("info")
    @output_option
    @pass_ctx
    def info_cmd(ctx: Ctx, fmt: str) -> None:
        """Show which store is in use and how many nodes and edges it holds.

        With write-behind captures into Neo4j waiting in $KG_HOME/outbox, PENDING
        is how many records Neo4j does not have yet (LIVE: programs still writing).

        \b
        Example:
          kg info
          kg --store bolt://127.0.0.1:7687 info
        """
        from kg.outbox import pending

        row = ctx.peek.describe()  # not ctx.store: that would send the pending records first
        waiting = pending()
        if waiting["files"]:
            row.update(pending=waiting["records"], live=waiting["live"])
        emit_rows([row], fmt)
