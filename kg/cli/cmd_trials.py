"""kg diff / history / restore / dataflow / demo, and the file-access part of `kg show -f`."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kg.cli._options import Ctx, emit_rows, fmt_time, pass_ctx
from kg.exceptions import InputError, StoreError
from kg.model.records import Node

if TYPE_CHECKING:
    from kg.diff import Change, TrialDiff
    from kg.restore import RestoreResult

# kg.diff, kg.history and kg.restore are imported by the commands that use them: every `kg`
# command (kg run the first) would otherwise pay for their imports at start-up.

__all__ = ["register", "show_files", "file_rows", "DEMOS"]

DEMOS = {"1": "a predator-prey simulation: simulation.py with local modules and two data files"}


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith(".." + os.sep + "..") else path


def _short(sha: Any) -> str:
    return str(sha)[:10] if sha else "-"


def file_rows(ctx: Ctx, trial: Node) -> list[dict[str, Any]]:
    """One row per file access of a trial, in access order."""
    from kg._trialdata import accesses

    acc = accesses(ctx.store, trial)
    callers = ctx.store.get_nodes(sorted({str(a.props.get("parent")) for a in acc
                                          if a.props.get("parent") and a.props.get("parent") != trial.id}))
    rows = []
    for a in acc:
        p = a.props
        parent = str(p.get("parent") or trial.id)
        caller = callers.get(parent)
        by = "(trial)" if parent == trial.id else (
            f"{caller.props.get('line', '')}: {caller.props.get('name', parent)}" if caller else parent)
        t = p.get("started")
        rows.append({
            "#": p.get("n"), "time": fmt_time(t) + (f".{int(t * 1000) % 1000:03d}" if isinstance(t, float) else ""),
            "op": p.get("op"), "mode": p.get("mode"), "path": _rel(str(p.get("path"))),
            "from": _rel(str(p["source"])) if p.get("source") else None,
            "before": _short(p.get("before")), "after": _short(p.get("after")), "by": by,
            "sha_before": p.get("before"), "sha_after": p.get("after"),
        })
    return rows


def show_files(ctx: Ctx, trial_node: Node, fmt: str = "table") -> None:
    """Print a trial's file accesses (`kg show TRIAL -f`): number, time, operation, mode, path,
    content hash before and after, and the activation that made the access."""
    rows = file_rows(ctx, trial_node)
    if fmt != "table":
        emit_rows(rows, fmt, ["#", "time", "op", "mode", "path", "from", "sha_before", "sha_after", "by"])
        return
    click.echo(f"  file accesses ({len(rows)}):")
    if not rows:
        return
    cols = ["#", "time", "op", "mode", "path", "before", "after", "by"]
    if any(r["from"] for r in rows):
        cols.insert(5, "from")
    cells = [[str(r.get(c) if r.get(c) is not None else "") for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("    " + "  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for row in cells:
        click.echo("    " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


# ---------------------------------------------------------------------------- diff
def _value(section: str, v: Any, key: str = "") -> str:
    from kg.diff import describe

    return "-" if v is None else describe(section, key, v)


def _change_line(section: str, c: Change, brief: bool) -> str:
    key = _rel(c.key) if section == "files" else c.key
    if brief:
        return f"  {c.mark} {key}"
    if c.status == "added":
        return f"  + {key}: {_value(section, c.new, c.key)}"
    if c.status == "removed":
        return f"  - {key}: {_value(section, c.old, c.key)}"
    if section == "modules" and isinstance(c.old, dict) and isinstance(c.new, dict):
        parts = [f"{k} {_short(c.old.get(k)) if k == 'sha256' else c.old.get(k)} → "
                 f"{_short(c.new.get(k)) if k == 'sha256' else c.new.get(k)}"
                 for k in ("version", "path", "sha256") if c.old.get(k) != c.new.get(k)]
        return f"  M {key}: " + "; ".join(parts)
    return f"  M {key}: {_value(section, c.old, c.key)} → {_value(section, c.new, c.key)}"


def _print_diff(d: TrialDiff, shown: dict[str, bool], brief: bool) -> None:
    a, b = d.a.props.get("seq", d.a.id), d.b.props.get("seq", d.b.id)
    click.echo(f"trial {a} → trial {b}")
    for section, changes in d.sections().items():
        if not shown.get(section):
            continue
        click.echo(f"{section}: {len(changes)} changed" if changes else f"{section}: no change")
        for c in changes:
            click.echo(_change_line(section, c, brief))


def _diff_json(d: TrialDiff, shown: dict[str, bool]) -> str:
    out: dict[str, Any] = {"a": d.a.id, "b": d.b.id}
    for section, changes in d.sections().items():
        if shown.get(section):
            out[section] = [{"key": c.key, "status": c.status, "old": c.old, "new": c.new} for c in changes]
    return json.dumps(out, indent=2, default=str)


# ---------------------------------------------------------------------------- restore
def _print_restore(res: RestoreResult, dry_run: bool) -> None:
    for it in res.items:
        where = _rel(it.target or it.path)
        src = f" (from access {it.access})" if it.access else ""
        click.echo(f"  {it.status:<13} {it.what:<6} {where}{src}  {_short(it.sha256)}")
    seq = res.trial.props.get("seq", res.trial.id)
    verb = "would restore" if dry_run else "restored"
    n = sum(1 for i in res.items if i.status in ("restored", "would restore"))
    click.echo(f"{verb} {n} of {len(res.items)} files of trial {seq}"
               + (f" (recorded as {res.restore_id})" if res.restore_id else ""))
    for it in res.items:
        if it.status == "not kept":
            click.echo(f"kg: warning: content of {_rel(it.path)} cannot be restored: {it.reason}", err=True)
    failed = [i for i in res.items if i.status.startswith("failed")]
    if failed:
        raise StoreError(f"{len(failed)} files could not be restored: " + "; ".join(i.status for i in failed[:3]))


# ---------------------------------------------------------------------------- demo
def _demo_files(n: str) -> Any:
    from importlib import resources

    return resources.files("kg") / "data" / "demo" / n


def _copy_tree(src: Any, dst: Path) -> list[Path]:
    out = []
    dst.mkdir(parents=True, exist_ok=True)
    for item in sorted(src.iterdir(), key=lambda x: x.name):
        if item.name == "__pycache__" or item.name.endswith(".pyc"):
            continue
        target = dst / item.name
        if item.is_dir():
            out += _copy_tree(item, target)
        else:
            target.write_bytes(item.read_bytes())
            out.append(target)
    return out


def _fallback_trial_renderer(ctx: Ctx, trial: Node, flags: dict[str, Any]) -> None:
    """`kg show TRIAL` until the trial renderer of `kg run` is registered: the run view, plus -f."""
    from kg.cli.cmd_runs import render_run

    render_run(ctx, trial, flags)
    if flags.get("files"):
        show_files(ctx, trial)


def register(cli: click.Group) -> None:
    from kg.cli.cmd_runs import SHOW_RENDERERS

    SHOW_RENDERERS.setdefault("Trial", _fallback_trial_renderer)  # never replaces the real one
    try:  # the trial renderer of `kg run` asks for the -f section here
        from kg.cli.cmd_run import TRIAL_SECTIONS

        TRIAL_SECTIONS["files"] = lambda ctx, trial, flags: show_files(ctx, trial)
    except ImportError:
        pass
    @cli.command("diff")
    @click.argument("trial1")
    @click.argument("trial2")
    @click.option("-m", "--modules", is_flag=True, help="Compare module dependencies.")
    @click.option("-e", "--environment", is_flag=True, help="Compare environment attributes.")
    @click.option("-f", "--file-accesses", "files", is_flag=True, help="Compare the files read and written.")
    @click.option("--brief", is_flag=True, help="Only the names of what changed, not the values.")
    @click.option("--format", "-F", "fmt", type=click.Choice(["text", "json"]), default="text",
                  show_default=True, help="Output format.")
    @pass_ctx
    def diff_cmd(ctx: Ctx, trial1: str, trial2: str, modules: bool, environment: bool, files: bool, brief: bool,
                 fmt: str) -> None:
        """Compare two trials: attributes, and with -m/-e/-f modules, environment and files.

        Only what changed is listed: + added in TRIAL2, - removed, M changed.
        Trials are named by id, unique id prefix or sequence number.

        \b
        Example:
          kg diff 1 2
          kg diff 1 2 -m -e -f --brief
          kg diff 1 2 -f --format json
        """
        a, b = ctx.store.resolve_run(trial1), ctx.store.resolve_run(trial2)
        from kg.diff import diff_trials

        d = diff_trials(ctx.store, a, b, modules=modules, environment=environment, files=files)
        shown = {"attributes": True, "modules": modules, "environment": environment, "files": files}
        if fmt == "json":
            click.echo(_diff_json(d, shown))
        else:
            _print_diff(d, shown, brief)

    @cli.command("history")
    @click.option("--format", "-F", "fmt", type=click.Choice(["text", "json"]), default="text",
                  show_default=True, help="Output format.")
    @pass_ctx
    def history_cmd(ctx: Ctx, fmt: str) -> None:
        """Show the evolution history of trials as a text graph, newest first.

        Each trial is drawn below the trials based on it: a trial is based on the previous
        one, or on the trial a `kg restore` brought back. [*] finished, [f] unfinished,
        [x] failed, [b] backup.

        \b
        Example:
          kg history
          kg history --format json
        """
        from kg.history import evolution, graph_lines

        entries = evolution(ctx.store)
        if fmt == "json":
            click.echo(json.dumps([{"seq": e.trial.props.get("seq"), "id": e.trial.id, "parent": e.parent,
                                    "status": e.trial.props.get("status"),
                                    "restore": e.restored_from.id if e.restored_from else None}
                                   for e in entries], indent=2))
            return
        if not entries:
            click.echo("(no trials)")
            return
        for line in graph_lines(entries):
            click.echo(line)

    @cli.command("restore")
    @click.argument("trial")
    @click.option("-s", "--skip-script", is_flag=True, help="Leave out the script.")
    @click.option("-l", "--skip-local", is_flag=True, help="Leave out the local modules.")
    @click.option("-a", "--skip-access", is_flag=True, help="Leave out the files the trial accessed.")
    @click.option("-f", "--file", "file_path", metavar="PATH", help="Restore only this file.")
    @click.option("-t", "--target", metavar="TARGET", help="With -f: write the file here instead.")
    @click.option("-i", "--id", "ident", metavar="ID",
                  help="Which access: its number (kg show -f), a content-hash prefix, or a time "
                       "'YYYY-MM-DD HH:MM:SS' ('B|time': content before it).")
    @click.option("-n", "--dry-run", is_flag=True, help="Say what would be restored; change nothing.")
    @click.option("--into", metavar="DIR", default=None,
                  help="Write below DIR, at the paths relative to the trial's directory (a pulled "
                       "trial: always, below the current directory by default).")
    @pass_ctx
    def restore_cmd(ctx: Ctx, trial: str, skip_script: bool, skip_local: bool, skip_access: bool,
                    file_path: str | None, target: str | None, ident: str | None, dry_run: bool,
                    into: str | None) -> None:
        """Restore a trial's script, local modules and files as the trial left them.

        The restore is recorded, and the next `kg run` is based on this trial. With -f (or
        -i alone) one file is restored, optionally to another place (-t); that does not
        change the evolution history. Content overwritten by a restore is kept first.

        \b
        Example:
          kg restore 1
          kg restore 1 -s -l            # only the files
          kg restore 3 -f output.dat -t output_trial3.dat
          kg restore 3 -f data1.dat -i 2
          kg restore 5 --into ./from-alice   (a pulled trial, below ./from-alice)
        """
        from kg.restore import restore_file, restore_trial

        t = ctx.store.resolve_run(trial)
        if target and not (file_path or ident):
            raise InputError("-t TARGET needs -f PATH (or -i ID)")
        if file_path or ident:
            res = restore_file(ctx.store, t, file_path, target=target, ident=ident, dry_run=dry_run, into=into)
        else:
            res = restore_trial(ctx.store, t, script=not skip_script, modules=not skip_local,
                                files=not skip_access, dry_run=dry_run, into=into)
        _print_restore(res, dry_run)

    @cli.command("dataflow")
    @click.argument("trial")
    @click.option("--calls", is_flag=True, help="Also draw the callers of the activations that touched files.")
    @click.option("--rankdir", type=click.Choice(["LR", "TB", "RL", "BT"]), default="LR", show_default=True,
                  help="Graph direction.")
    @click.option("-m", "--mode", type=click.Choice(["auto", "variables", "files", "prospective"]), default="auto",
                  show_default=True,
                  help="variables: the variable-level dataflow of `kg run --dataflow`; files: files and the "
                       "activations that read and wrote them; prospective: what the script's definitions say "
                       "could flow where (functions, parameters, calls, returns), from its stored source; "
                       "auto: variables when the trial has them, else files.")
    @click.option("--variable", metavar="NAME", help="Variables: only this variable's versions and their ancestry.")
    @click.option("--depth", type=click.IntRange(1), help="Variables: steps of ancestry kept with --variable.")
    @click.option("--scope", metavar="FUNCTION", help="Variables: only the versions in this function "
                  "(its qualified name, e.g. outer.inner, or <module>).")
    @click.option("-l", "--value-length", type=click.IntRange(0), default=40, show_default=True,
                  help="Variables: characters of each value shown (0: names only).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to a file.")
    @pass_ctx
    def dataflow_cmd(ctx: Ctx, trial: str, calls: bool, rankdir: str, mode: str, variable: str | None,
                     depth: int | None, scope: str | None, value_length: int, output: str | None) -> None:
        """Print the dataflow of a trial as dot: its variables (a trial run with `kg run --dataflow`:
        each value a variable took and the values it was computed from, clustered by function), or
        its files and the activations that read and wrote them.

        \b
        Example:
          kg dataflow 1 | dot -Tpng -o dataflow.png
          kg dataflow 2 --variable total --depth 3 | dot -Tsvg -o total.svg
          kg dataflow 2 --scope simulate -l 0 | dot -Tsvg -o simulate.svg
          kg dataflow 1 -m files --calls -o trial1.dot
          kg dataflow 1 -m prospective | dot -Tpng -o prospective.png
        """
        from kg.dataflow import dataflow_dot, variables_dot

        t = ctx.store.resolve_run(trial)
        if mode == "prospective":
            text = _prospective(ctx, t, rankdir)
        else:
            text = variables_dot(ctx.store, t, variable=variable, depth=depth, scope=scope, value_length=value_length,
                                 rankdir=rankdir) if mode != "files" else None
        if text is None and mode == "variables":
            raise InputError(f"trial {t.props.get('seq', t.id)} has no variable dataflow (run it with kg run --dataflow)")
        if text is None:
            text = dataflow_dot(ctx.store, t, calls=calls, rankdir=rankdir)
        if output:
            Path(output).write_text(text)
        else:
            click.echo(text, nl=False)

    def _prospective(ctx: Ctx, t: Any, rankdir: str) -> str:
        from capture.prospective import prospective_dot
        from kg import content
        from kg._trialdata import code_sha, script_entries

        mains, _ = script_entries(ctx.store, t)
        sha = code_sha(mains[0]) if mains else None
        if sha is None or not content.has(sha):
            raise InputError(f"trial {t.props.get('seq', t.id)} has no stored script source (a run of a module, "
                             "or a store copied without its contents)")
        path = str(mains[0].props.get("path"))
        try:
            return prospective_dot(content.get(sha), path, rankdir=rankdir, title=os.path.basename(path))
        except (SyntaxError, ValueError) as exc:
            raise InputError(f"the script of trial {t.props.get('seq', t.id)} does not parse: {exc}") from None

    @cli.command("demo")
    @click.argument("number", required=False)
    @click.option("-d", "--dir", "directory", type=click.Path(file_okay=False),
                  help="Where to put it (default: ./demoN).")
    @click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
    def demo_cmd(number: str | None, directory: str | None, force: bool) -> None:
        """Extract demo project N (a script with its data files) into ./demoN.

        Without N, list the demos.

        \b
        Example:
          kg demo 1
          cd demo1 && kg run -v simulation.py data1.dat data2.dat
        """
        if number is None:
            for n, what in DEMOS.items():
                click.echo(f"  {n}  {what}")
            return
        if number not in DEMOS or not _demo_files(number).is_dir():
            raise InputError(f"no demo {number!r}; available: {', '.join(DEMOS)}")
        dest = Path(directory or f"demo{number}")
        if dest.exists() and any(dest.iterdir()) and not force:
            raise InputError(f"{dest} exists and is not empty (use --force to write into it)")
        written = _copy_tree(_demo_files(number), dest)
        click.echo(f"demo {number} extracted to {dest}{os.sep} ({len(written)} files)")
        readme = dest / "README.md"
        if readme.exists():
            usage = [ln.strip() for ln in readme.read_text().splitlines() if ln.startswith("    kg run")]
            if usage:
                click.echo(f"  cd {dest} && {usage[0].split('#')[0].strip()}")

