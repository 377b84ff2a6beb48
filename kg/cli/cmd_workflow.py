"""kg workflow list|show|resume: persistent engine workflows kept in the store (kg.engine.graph)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from kg.cli._options import Ctx, emit_rows, fmt_time, output_option, pass_ctx
from kg.exceptions import KGError

__all__ = ["register", "workflow_rows", "token_rows"]


def _short(text: Any, limit: int = 60) -> str:
    s = text if isinstance(text, str) else json.dumps(text, default=str)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def workflow_rows(nodes: Any) -> list[dict[str, Any]]:
    """One row per Workflow node, newest first."""
    rows = []
    for n in nodes:
        p = n.props
        rows.append({"id": n.id, "name": p.get("name"), "status": p.get("status"), "tokens": p.get("tokens"),
                     "next": p.get("resume_token"), "task": p.get("task") or "", "tasks": p.get("ref") or "",
                     "updated": fmt_time(p.get("updated")), "_t": p.get("updated") or 0})
    rows.sort(key=lambda r: r["_t"], reverse=True)
    return rows


def token_rows(tokens: Any, width: int = 60) -> list[dict[str, Any]]:
    rows = []
    for t in tokens:
        p = t.props
        note = p.get("error") or ""
        if p.get("halt"):
            halt = json.loads(p["halt"])
            note = f"halted: {halt.get('message')}" + (f" (action: {halt['action']})" if halt.get("action") else "")
        rows.append({"position": p.get("position"), "status": p.get("status"), "data": _short(p.get("data", ""), width),
                     "at": p.get("callback_pos") or "", "note": _short(note, width)})
    return rows


def _resolve(ctx: Ctx, ref: str) -> Any:
    from kg.engine.graph import find_workflow

    return find_workflow(ctx.store, ref)


def register(cli: click.Group) -> None:
    @cli.group("workflow")
    def workflow_group() -> None:
        """Persistent engine workflows: list, show and resume them.

        \b
        Example:
          kg workflow list
          kg workflow resume wf-0192
        """

    @workflow_group.command("list")
    @click.option("--status", default=None, help="Only workflows with this status (RUNNING, HALTED, ERROR, ...).")
    @output_option
    @pass_ctx
    def list_cmd(ctx: Ctx, status: str | None, fmt: str) -> None:
        """List saved workflows: id, name, status, tokens, next token, where it stopped.

        A RUNNING workflow whose process is gone was interrupted (crash, kill): resume it.

        \b
        Example:
          kg workflow list
          kg workflow list --status HALTED --format json
        """
        from kg.engine.graph import list_workflows

        rows = workflow_rows(list_workflows(ctx.store))
        if status:
            rows = [r for r in rows if str(r["status"]).upper() == status.upper()]
        emit_rows(rows, fmt, ["id", "name", "status", "tokens", "next", "task", "tasks", "updated"])

    @workflow_group.command("show")
    @click.argument("workflow_id")
    @output_option
    @pass_ctx
    def show_cmd(ctx: Ctx, workflow_id: str, fmt: str) -> None:
        """Show a workflow: its state, extra_data and every token's status and data.

        WORKFLOW_ID is a full id or a unique prefix (see `kg workflow list`).

        \b
        Example:
          kg workflow show wf-0192
          kg workflow show wf-0192 --format json
        """
        from kg.engine.graph import workflow_tokens

        node = _resolve(ctx, workflow_id)
        p = node.props
        tokens = workflow_tokens(ctx.store, node.id)
        if fmt == "json":
            out = {"id": node.id, **{k: v for k, v in p.items() if k not in ("extra_data", "halt")},
                   "extra_data": json.loads(p.get("extra_data") or "{}"),
                   "halt": json.loads(p["halt"]) if p.get("halt") else None,
                   "tokens": [{**t.props, "data": json.loads(t.props.get("data", "null"))} for t in tokens]}
            click.echo(json.dumps(out, indent=2, default=str))
            return
        lines = [("workflow", node.id), ("name", p.get("name")), ("status", p.get("status")),
                 ("tasks", p.get("ref") or "(not importable: resume needs --tasks)"),
                 ("tokens", p.get("tokens")),
                 ("resume at", f"token {p.get('resume_token')}, task path {p.get('resume_callback')}"),
                 ("stopped in", p.get("task") or ""), ("updated", fmt_time(p.get("updated"))),
                 ("process", f"{p.get('host')}:{p.get('pid')}")]
        if p.get("halt"):
            halt = json.loads(p["halt"])
            lines.append(("halt", f"{halt.get('message')} (action: {halt.get('action')}, "
                                  f"payload: {json.dumps(halt.get('payload'))})"))
        if p.get("error"):
            lines.append(("error", _short(p["error"], 200)))
        lines.append(("extra_data", _short(p.get("extra_data") or "{}", 200)))
        if p.get("extra_skipped"):
            lines.append(("not saved", ", ".join(p["extra_skipped"])))
        for key, value in lines:
            click.echo(f"{key + ':':<12} {value}")
        click.echo("")
        emit_rows(token_rows(tokens), fmt, ["position", "status", "data", "at", "note"])

    @workflow_group.command("resume")
    @click.argument("workflow_id")
    @click.option("--task", type=click.Choice(["current", "next", "first"]), default=None,
                  help="Where to go on in the stopped token (default: next after a halt, the failed task "
                       "again after an error, the saved position after a crash).")
    @click.option("--tasks", "tasks_ref", metavar="MODULE:ATTR", default=None,
                  help="Import path of the task list (default: the one saved with the workflow).")
    @click.option("--force", is_flag=True, help="Resume even if the workflow's process still runs on this host.")
    @click.option("--provenance/--no-provenance", default=True, show_default=True,
                  help="Record the resumed run's provenance (a Run with the engine's tasks and tokens).")
    @pass_ctx
    def resume_cmd(ctx: Ctx, workflow_id: str, task: str | None, tasks_ref: str | None, force: bool,
                   provenance: bool) -> None:
        """Resume a halted, failed or interrupted workflow where it stopped.

        The task list is imported from the path saved with the workflow
        (``package.module:attribute``, e.g. given as PersistentEngine(tasks="flows:GRADING"));
        the current directory is on the import path. Exits 1 if a task fails, 0 when the
        workflow completes or halts again (the status line says which).

        \b
        Example:
          kg workflow resume wf-0192
          kg workflow resume wf-0192 --task current --tasks myflows:GRADING
        """
        from kg.engine.errors import HaltProcessing, WorkflowError
        from kg.engine.graph import PersistentEngine, resolve_tasks

        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m`: local flow modules import
        node = _resolve(ctx, workflow_id)
        tasks = resolve_tasks(None, tasks_ref) if tasks_ref else None
        eng = PersistentEngine.load(node.id, store=ctx.store, tasks=tasks)
        run: Any = None
        if provenance:
            import capture
            from capture.engine import record_engine
            from kg.sink import Sink, set_sink

            set_sink(Sink(ctx.store_uri))
            run = capture.Run(name=f"kg workflow resume {node.id}").start()
            record_engine(eng)
        status = "ERROR"
        try:
            eng.resume(task, force=force)
            status = eng.status
        except HaltProcessing as exc:
            status = "HALTED"
            click.echo(f"{node.id}: HALTED again at token {eng.state.token_pos}: {exc.message}")
        except KGError:
            raise
        except Exception as exc:
            raise WorkflowError(f"workflow {node.id} failed at token {eng.state.token_pos}, task "
                                f"{eng.current_taskname}: {type(exc).__name__}: {exc}") from exc
        finally:
            if run is not None:
                run.stop("finished" if status in ("COMPLETED", "STOPPED", "HALTED") else "failed")
        if status != "HALTED":
            click.echo(f"{node.id}: {status} ({len(eng.objects)} tokens)")
