"""kg run: capture a script run as a trial; and `kg show TRIAL` with -m/-d/-e/-a (and -f, see TRIAL_SECTIONS)."""
from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from typing import Any

import click

from kg.cli._options import Ctx, fmt_duration, fmt_time, pass_ctx
from kg.model.records import Node

__all__ = ["register", "render_trial", "TRIAL_SECTIONS", "activation_tree"]

# Extra `kg show` sections for trials, by flag name: fn(ctx, trial node, flags). The file-access
# feature registers "files" here; without it a plain list of the trial's accesses is shown.
TRIAL_SECTIONS: dict[str, Callable[[Ctx, Node, dict[str, Any]], None]] = {}

_STATUS_MARK = {"finished": "*", "failed": "f", "unfinished": "u", "backup": "b"}


def register(cli: click.Group) -> None:
    from kg.cli.cmd_runs import SHOW_RENDERERS

    SHOW_RENDERERS["Trial"] = render_trial

    @cli.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
    @click.option("-v", "--verbose", is_flag=True, help="Report each step on stderr.")
    @click.option("-b", "--bypass-modules", is_flag=True, help="Reuse the previous trial's module dependencies.")
    @click.option("--name", help="Trial name (default: the script's file name).")
    @click.option("-d", "--depth", type=click.IntRange(0), default=0, show_default=True,
                  help="Deepest activation level recorded (0: no limit).")
    @click.option("--calls", type=click.Choice(["user", "library", "all"]), default="library", show_default=True,
                  help="user: user functions only; library: also calls from user code into libraries; "
                       "all: also builtins.")
    @click.option("--values", type=click.Choice(["full", "type", "none"]), default="full", show_default=True,
                  help="Argument and return value summaries: repr, type and size only, or none.")
    @click.option("--tracer", type=click.Choice(["sysmon", "setprofile"]), default=None,
                  help="Force a tracer (default: sys.monitoring on Python >= 3.12, else setprofile).")
    @click.option("--dataflow", is_flag=True,
                  help="Also record variable-level dataflow of the script: each assignment's value and what it "
                       "was computed from (see `kg dataflow`).")
    @click.option("-m", "module", metavar="MODULE", help="Run a library module as a script (like python -m).")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @pass_ctx
    def run_cmd(ctx: Ctx, verbose: bool, bypass_modules: bool, name: str | None, depth: int, calls: str,
                values: str, tracer: str | None, dataflow: bool, module: str | None, args: tuple[str, ...]) -> None:
        """Run a Python script (or -m module) exactly as python would, and capture it as a trial.

        Records the trial (command, code hash, times, status, parent trial), the
        definitions of the script and its local modules, the environment and module
        dependencies, every function activation of user code, and file accesses.
        Output, exit code and exceptions are the program's own.

        \b
        Example:
          kg run simulation.py data1.dat data2.dat
          kg run -v --name baseline -d 3 simulation.py
          kg run -m json.tool input.json
          kg run --dataflow simulation.py    # then: kg dataflow 1 | dot -Tsvg -o df.svg
        """
        from capture.runner import TargetError, exit_like_python, resolve
        from capture.script import run_trial
        from capture.tracer import TraceOptions

        if module is None and not args:
            raise click.UsageError("give a script to run (kg run script.py args…) or -m MODULE")
        try:
            target = resolve(module or args[0], list(args if module else args[1:]), module=module is not None)
        except TargetError as exc:
            click.echo(exc.message, err=True)
            sys.exit(exc.code)
        from kg.redact import redactor

        redactor()  # a bad redact_patterns entry is a one-line error before anything is written
        options = TraceOptions(depth=depth, calls=calls, values=values, dataflow=dataflow)
        if ctx.store_uri:  # `kg --store X run`: the records go where the trial is read from
            from kg.sink import Sink, set_sink

            set_sink(Sink(ctx.store_uri))
        say = (lambda msg: click.echo(f"[kg] {msg}", err=True)) if verbose else None
        command = "run " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("run") + 1:]) \
            if "run" in sys.argv else "run " + " ".join(shlex.quote(a) for a in (module and ["-m", module] or [])
                                                          + list(args))
        result = run_trial(target, store=ctx.writable, name=name, command=command, options=options,
                           bypass_modules=bypass_modules, tracer=tracer, say=say)
        ctx.close()
        exit_like_python(result.outcome)


# --------------------------------------------------------------------------- kg show TRIAL
def render_trial(ctx: Ctx, trial: Node, flags: dict[str, Any]) -> None:
    """`kg show TRIAL`: the trial's attributes, then the sections its flags ask for."""
    store = ctx.store
    p = trial.props
    click.echo(f"Trial {p.get('seq', '')}: {p.get('command') or p.get('name', '')}  [{trial.id}]")
    status = str(p.get("status") or "")
    extra = f" (exit code {p['exit_code']})" if p.get("exit_code") not in (None, 0) else ""
    if p.get("interrupted"):
        extra += " (interrupted)"
    rows = [("status", status + extra), ("script", p.get("script")), ("code hash", p.get("code_hash")),
            ("based on", _trial_ref(store, p.get("parent_trial"))),
            ("start", fmt_time(p.get("started"))), ("finish", fmt_time(p.get("ended"))),
            ("duration", fmt_duration(p.get("duration"))), ("user", p.get("user")), ("host", p.get("host")),
            ("python", p.get("python")), ("tracer", p.get("tracer")), ("activations", p.get("activations"))]
    if p.get("error_type"):
        rows.append(("error", f"{p['error_type']}: {p.get('error', '')}"))
    if p.get("slow_reprs"):  # classes recorded by their default repr (capture.values: the repr budget)
        rows.append(("slow reprs", ", ".join(f"{k} ({v:g} µs)" for k, v in sorted(p["slow_reprs"].items()))
                     + " recorded by identity; KG_REPR_BUDGET=0 keeps their repr"))
    for k, v in rows:
        if v not in (None, ""):
            click.echo(f"  {k:<12}{v}")
    if flags.get("modules"):
        _show_modules(ctx, trial)
    if flags.get("definitions"):
        _show_definitions(ctx, trial)
    if flags.get("environment"):
        _show_environment(ctx, trial)
    if flags.get("activations"):
        _show_activations(ctx, trial, int(flags.get("limit") or 0))
    if flags.get("files"):
        section = TRIAL_SECTIONS.get("files")
        if section is not None:
            section(ctx, trial, flags)
        else:
            _show_files(ctx, trial)
    if p.get("traceback") and not any(flags.get(k) for k in ("modules", "definitions", "environment", "files")):
        click.echo("  traceback:")
        for line in str(p["traceback"]).rstrip().splitlines():
            click.echo(f"    {line}")


def _trial_ref(store: Any, tid: Any) -> str | None:
    if not tid:
        return None
    n = store.get_node(str(tid))
    return f"{n.props.get('seq')} ({tid})" if n is not None else str(tid)


def _related(ctx: Ctx, trial: Node, kind: str) -> list[Node]:
    try:
        from kg._trialdata import related

        return related(ctx.store, trial, kind)
    except ImportError:  # pragma: no cover - the read helpers ship with the file-access feature
        return list(ctx.store.find_nodes(kind=kind, run=trial.id))


def _show_modules(ctx: Ctx, trial: Node) -> None:
    mods = _related(ctx, trial, "Module")
    click.echo(f"  modules ({len(mods)}):")
    for m in sorted(mods, key=lambda n: str(n.props.get("name"))):
        q = m.props
        click.echo(f"    {q.get('name')}  {q.get('version') or '-'}  {(q.get('sha256') or '')[:12]}  "
                   f"{q.get('path') or '(built-in)'}".rstrip())


def _show_definitions(ctx: Ctx, trial: Node) -> None:
    defs = list(ctx.store.find_nodes(kind="Definition", run=trial.id))
    click.echo(f"  definitions ({len(defs)}):")
    by_file: dict[str, list[Node]] = {}
    for d in defs:
        by_file.setdefault(str(d.props.get("path")), []).append(d)
    for path, items in sorted(by_file.items()):
        click.echo(f"    {path}")
        for d in sorted(items, key=lambda n: (n.props.get("line") or 0, str(n.props.get("name")))):
            q = d.props
            sig = f"({', '.join(q.get('args') or [])})" if q.get("type") in ("function", "method") else ""
            extra = f" <- {q['imports']}" if q.get("imports") else ""
            span = f"{q.get('line')}-{q.get('end_line')}"
            click.echo(f"      {span:>9}  {q.get('type'):<9} {q.get('name')}{sig}{extra}")


def _show_environment(ctx: Ctx, trial: Node) -> None:
    env = _related(ctx, trial, "Environment")
    click.echo(f"  environment ({len(env)}):")
    for e in sorted(env, key=lambda n: str(n.props.get("name"))):
        click.echo(f"    {e.props.get('name')}: {e.props.get('value')}")


def activation_tree(store: Any, trial: Node, limit: int = 0) -> tuple[int, list[tuple[int, Node]]]:
    """The trial's activations: (how many, the first ``limit`` as (depth, node)), callers before
    callees, in start order."""
    from kg.tree import tree_of

    return tree_of(store.find_nodes(kind="Activation", run=trial.id), trial.id, limit, orphan_children=False)


def _value_text(v: Any) -> str:
    if isinstance(v, dict) and "type" in v:
        if "shape" in v:
            return f"<{v['type']} shape={v['shape']} dtype={v.get('dtype')}>"
        return str(v.get("repr") or f"<{v['type']}{' size=' + str(v['size']) if 'size' in v else ''}>")
    if isinstance(v, (str, int, float, bool)) or v is None:
        return repr(v)
    return json.dumps(v, default=str)


def _show_activations(ctx: Ctx, trial: Node, limit: int) -> None:
    total, tree = activation_tree(ctx.store, trial, limit)
    click.echo(f"  activations ({total}):")
    for depth, a in tree:
        q = a.props
        pad = "    " + "  " * depth
        tag = f" [{q['call']}]" if q.get("call") else ""
        status = "" if q.get("status") == "FINISHED" else f" {q.get('status')}"
        click.echo(f"{pad}{q.get('line')}: {q.get('name')}{tag} ({fmt_time(q.get('started'))}, "
                   f"{fmt_duration(_duration(q))}){status}")
        used = q.get("used") or {}
        if used:
            click.echo(f"{pad}   Parameters: " + ", ".join(f"{k} = {_value_text(v)}" for k, v in used.items()))
        gen = q.get("generated") or {}
        if "return" in gen:
            click.echo(f"{pad}   Return value: {_value_text(gen['return'])}")
        elif "yield" in gen:
            click.echo(f"{pad}   Yielded: {_value_text(gen['yield'])}")
        if q.get("error_type"):
            click.echo(f"{pad}   Raised: {q['error_type']}: {q.get('error', '')}")
    if limit and total > limit:
        click.echo(f"  … {total - limit} more (use --limit 0 for all)")


def _duration(q: dict[str, Any]) -> float | None:
    t0, t1 = q.get("started"), q.get("ended")
    return t1 - t0 if isinstance(t0, (int, float)) and isinstance(t1, (int, float)) else None


def _show_files(ctx: Ctx, trial: Node) -> None:
    try:
        from kg._trialdata import accesses
    except ImportError:  # pragma: no cover
        return
    acc = accesses(ctx.store, trial)
    click.echo(f"  file accesses ({len(acc)}):")
    for a in acc:
        q = a.props
        click.echo(f"    {q.get('n')}: {q.get('op')} {q.get('mode') or ''} {q.get('path')}  "
                   f"{(q.get('before') or '-')[:10]} -> {(q.get('after') or '-')[:10]}")
