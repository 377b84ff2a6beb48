"""kg annotate / kg annotations: people's notes on runs, trials, any node, and hub experiments."""
from __future__ import annotations

from typing import Any

import click

from kg.cli._options import Ctx, emit_rows, output_option, pass_ctx
from kg.humanize import fmt_time
from kg.model.records import Node

__all__ = ["register", "annotation_rows"]


def annotation_rows(notes: list[Node] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for n in notes:
        p = n.props if isinstance(n, Node) else n
        rows.append({"when": fmt_time(p.get("created")), "author": p.get("author"),
                     "pushed_by": p.get("pushed_by"), "target": p.get("target"), "text": p.get("text"),
                     "id": n.id if isinstance(n, Node) else p.get("id")})
    return rows


def register(cli: click.Group) -> None:
    @cli.command("annotate")
    @click.argument("target")
    @click.argument("text")
    @click.option("--author", default=None, help="Who writes it (default: $KG_USER, else user@host).")
    @click.option("--run", "run", default=None,
                  help="The run the note goes with (default: the target's own, or for a shared node such as a "
                       "file version the latest run that recorded it).")
    @click.option("--token", default=None, help="With a hub URL: the hub token (default: $KG_TOKEN).")
    @pass_ctx
    def annotate_cmd(ctx: Ctx, target: str, text: str, author: str | None, run: str | None,
                     token: str | None) -> None:
        """Write a note on a run, a trial, any node, or a hub experiment.

        TARGET is a run (number, id or prefix from `kg list`), any node id (a
        file version, an activation, a value), or a hub experiment URL. The note is
        PROV in the graph: an Annotation entity attributed to its author and
        influenced by its target; it travels with the target's run (exports, `kg push`,
        hub push and pull).

        \b
        Example:
          kg annotate 3 "baseline for the paper; learning rate too high"
          kg annotate fv:results.csv@9f2c… "checked by hand"
          kg annotate http://hub:5000/experiments/paper "rerun with seed 2 next"
        """
        from kg.hub_client import annotate_experiment, is_hub_url

        if is_hub_url(target):
            made = annotate_experiment(target, text, token)
            click.echo(made["id"])
            click.echo(f"annotated experiment {target} as {made['author']}", err=True)
            return
        from kg.annotations import annotate

        note = annotate(ctx.writable, target, text, author, run)
        click.echo(note.id)
        click.echo(f"annotated {note.props['target']} as {note.props['author']}", err=True)

    @cli.command("annotations")
    @click.argument("target", required=False)
    @click.option("--token", default=None, help="With a hub URL: the hub token (default: $KG_TOKEN).")
    @output_option
    @pass_ctx
    def annotations_cmd(ctx: Ctx, target: str | None, token: str | None, fmt: str) -> None:
        """List notes: on one run (and every node in it), one node, a hub experiment, or all.

        \b
        Example:
          kg annotations            every note in the store
          kg annotations 3          the notes on run 3 and on anything in it
          kg annotations http://hub:5000/experiments/paper -F json
        """
        from kg.annotations import annotations_of, run_annotations
        from kg.hub_client import experiment_annotations, is_hub_url

        if is_hub_url(target):
            rows = annotation_rows(experiment_annotations(str(target), token))
        elif target is None:
            rows = annotation_rows(run_annotations(ctx.store, None))
        else:
            store = ctx.store
            found = store.get_node(target) or store.resolve_run(target)
            is_run = found.kind in ("Run", "Trial")
            rows = annotation_rows(run_annotations(store, found.id) if is_run else annotations_of(store, [found.id]))
        emit_rows(rows, fmt, ["when", "author", "pushed_by", "target", "text", "id"])
