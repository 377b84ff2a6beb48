"""`kg run` as a library: one trial = run a script under capture and record everything about it.

Order matters for crash safety: the Trial (status unfinished), its script, environment and
definitions are flushed before the first line of the program runs; activations and file
accesses stream out while it runs; modules, local modules and the final status are
written when it ends, whatever way it ends."""
from __future__ import annotations

import functools
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from capture import definitions as defs_mod
from capture import environment as env_mod
from capture.runner import Outcome, Target, execute
from capture.tracer import TraceOptions, Tracing, tracer_name
from capture.values import slow_reprs
from kg import trial as trial_mod
from kg.redact import redactor
from kg.stores.base import Store

__all__ = ["TrialRun", "run_trial"]


@dataclass
class TrialRun:
    """What `kg run` did: the trial id, how the program ended, and what was recorded."""

    trial_id: str
    outcome: Outcome
    activations: int = 0
    modules: int = 0
    definitions: int = 0
    local_modules: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _store_source(data: bytes) -> str | None:
    try:
        from kg import content

        return content.put_bytes(data)
    except Exception:  # the content store is optional for capture; restore reports what is missing
        return None


def run_trial(target: Target, *, store: Store, name: str | None = None, command: str = "",
              options: TraceOptions | None = None, bypass_modules: bool = False, tracer: str | None = None,
              say: Callable[[str], None] | None = None, namespace: dict[str, Any] | None = None) -> TrialRun:
    """Run ``target`` as a captured trial. ``store`` is read for the evolution history and ``-b``;
    records go through the process-wide sink. ``say`` reports each step (``kg run -v``).
    ``namespace``: run the code in this dict (a notebook cell sharing its variables: kg.notebook)."""
    from capture._state import ensure_sink

    options = options or TraceOptions()
    say = say or (lambda _msg: None)
    tname = tracer_name(tracer)
    sink = ensure_sink()
    t0 = time.time()
    redactor().take_argv(target.args)  # `--token X`: X is redacted wherever it is recorded
    trial_id = trial_mod.new_trial_id()
    parent = trial_mod.next_parent(store)
    source = target.source or b""
    sha = trial_mod.code_hash(source) if target.source is not None else None
    script_path = target.file
    put = sink.put

    recs: list[Any] = trial_mod.start_records(
        trial_id, name=name or (os.path.basename(target.name) if target.kind == "script" else target.name),
        command=command, argv=list(target.args), script=target.name, script_path=script_path,
        module=target.name if target.kind == "module" else None, code=sha, started=t0, parent=parent,
        tracer=tname, options=vars(options), bypass_modules=bypass_modules)
    recs += trial_mod.consume_base(store)
    main_defs: list[defs_mod.Definition] = []
    if script_path and target.source is not None:
        _store_source(source)
        sid, srecs = trial_mod.script_records(trial_id, script_path, source, main=True, sha=sha,
                                              module="__main__")
        recs += srecs
        main_defs = defs_mod.definitions(source.decode("utf-8", "surrogateescape"), script_path)
        recs += defs_mod.definition_records(trial_id, sid, script_path, main_defs)
    attrs = env_mod.environment_attributes()
    recs += env_mod.environment_records(trial_id, attrs)
    for r in recs:
        put(r)
    sink.flush()  # the trial exists (unfinished) before the program's first line
    written = store.get_node(trial_id)
    seq = written.props.get("seq") if written is not None else None
    say(f"trial {seq or '?'} {trial_id}: {' '.join([target.name, *target.args])}")
    say(f"based on {parent or 'nothing (first trial)'}; tracer {tname}; "
        f"{len(main_defs)} definitions; {len(attrs)} environment attributes")

    roots = [target.root] if target.kind == "script" else [os.getcwd()]
    tracing = Tracing(trial_id, script_path, roots, options, sink, tracer=tname)
    before = env_mod.module_snapshot()
    files_handle: list[Any] = []
    dataflow: list[Any] = []  # `kg run --dataflow`: the rewritten script's sites, then its recorder
    if options.dataflow and target.kind == "script":
        from capture import finegrained

        target.compiler = functools.partial(finegrained.compile_with_dataflow, sites_out=dataflow)

    def on_start() -> None:
        try:
            from capture import files  # the file-access capture (optional module)

            files_handle.append(files.install(trial_id))
        except ImportError:
            pass
        # provkg's own modules (~10^5 objects that live until exit) out of
        # the collector's sight: otherwise every full collection of the program walks them too
        # (+15 % on an allocation-heavy script). The program's own objects are collected as before.
        gc.freeze()
        tracing.start()
        if dataflow:
            from capture._flowrec import recorder

            dataflow.append(recorder(dataflow[0], trial_id, sink, tracing.impl.stacks))
            finegrained.install(dataflow[1])

    def on_end() -> None:
        if len(dataflow) > 1:
            finegrained.uninstall()
        tracing.stop()
        gc.unfreeze()
        for h in files_handle:
            try:
                h.uninstall()
            except Exception as exc:  # never into the program's exit path
                say(f"file capture: {exc}")

    t_run = time.time()
    outcome = execute(target, on_start=on_start, on_end=on_end, namespace=namespace)
    t_end = time.time()
    run = TrialRun(trial_id, outcome, timings={"setup": t_run - t0, "program": t_end - t_run})
    tracing.close_open("INTERRUPTED" if outcome.interrupted else "UNFINISHED")  # e.g. daemon threads
    run.activations = tracing.records
    say(f"program ended: {outcome.status}, exit code {outcome.exit_code}; {run.activations} activations")
    if sink.stats.blocked >= 0.05:
        say(f"the program waited {sink.stats.blocked:.2f}s on a full buffer while earlier records were stored "
            f"(KG_BUFFER_CAP={sink.cap:,} records; a larger one runs ahead at the cost of memory; "
            f"-d/--calls user/--values type record less)")

    tail: list[Any] = []
    if len(dataflow) > 1:
        from capture._flowrec import written_links

        flow = dataflow[1]
        flow.flush()
        sink.flush()  # the file accesses, for the versions written to files
        tail += written_links(store, trial_id, flow.writes)
        say(f"dataflow: {flow.count} variable versions, {len(flow.writes.items)} written to files"
            + (f"; {flow.faults} hook faults (the program went on)" if flow.faults else ""))
    imported = defs_mod.imported_names(main_defs)
    user = tracing.classifier.user
    for path in tracing.user_files():
        if path == script_path or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        _store_source(data)
        mod_name = _module_name(path)
        sid, srecs = trial_mod.script_records(trial_id, path, data, main=False, module=mod_name)
        tail += srecs
        ldefs = defs_mod.definitions(data.decode("utf-8", "surrogateescape"), path)
        imported |= defs_mod.imported_names(ldefs)
        tail += defs_mod.definition_records(trial_id, sid, path, ldefs)
        run.local_modules.append(path)
        run.definitions += len(ldefs)
    run.definitions += len(main_defs)
    if bypass_modules and parent:
        mrecs = env_mod.reuse_modules(store, parent, trial_id)
        say(f"modules: {len(mrecs)} reused from trial {parent} (-b)")
    else:
        mods = env_mod.trial_modules(before, imported)
        mrecs = env_mod.module_records(trial_id, mods, user)
        say(f"modules: {len(mods)} dependencies")
    run.modules = sum(1 for r in mrecs if type(r).__name__ == "Edge")
    tail += mrecs
    tail.append(trial_mod.finish_node(
        trial_id, started=t0, status=outcome.status, exit_code=outcome.exit_code, error=outcome.error,
        interrupted=outcome.interrupted, activations=run.activations, local_modules=run.local_modules or None,
        tracer_faults=tracing.faults or None, slow_reprs=slow_reprs() or None))
    for r in tail:
        put(r)
    sink.flush()
    run.timings["finish"] = time.time() - t_end
    say(f"stored in {run.timings['finish']:.2f}s (sink: {sink.stats.as_dict()})")
    return run


def _module_name(path: str) -> str | None:
    real = os.path.realpath(path)
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if isinstance(f, str) and os.path.realpath(f) == real:
            return name
    return None
