"""Trials: the Trial activity of a `kg run`, its script Plan, its agents and its place in the evolution history.

A trial is written twice: once as ``unfinished`` before the script starts (so a kill -9
leaves it in the store) and once more at the end with its status and times (the store
merges the props). Statuses: ``finished`` (exit code 0), ``failed`` (an uncaught
exception or a non-zero exit code), ``unfinished`` (still running, killed, or
interrupted by Ctrl-C: then ``interrupted`` is true and ``ended`` is set), ``backup``
(a trial written by `kg restore` to keep the state it replaced)."""
from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys
import time
from typing import Any

from kg.ids import login_name, new_run_id, person_id
from kg.model import Edge, Kind, Node, ProvClass, Relation, edge, node
from kg.stores.base import Store

__all__ = ["TRIAL", "STATUSES", "PARENT_PROP", "BASE_FLAG", "BASE_AT", "new_trial_id", "next_parent",
           "start_records", "finish_node", "script_records", "consume_base", "code_hash"]

TRIAL = Kind.TRIAL.value
STATUSES = ("finished", "unfinished", "failed", "backup")
PARENT_PROP = "parent_trial"    # the trial this one is based on (evolution history)
BASE_FLAG = "base_of_next"      # set True on a trial by `kg restore`: the next trial is based on it
BASE_AT = "base_set_at"         # when the flag was set (newest wins)


def new_trial_id() -> str:
    """A time-ordered unique trial id (UUIDv7)."""
    return new_run_id()


def code_hash(data: bytes) -> str:
    """The hash a trial's code is known by: SHA-256 of the script's bytes."""
    return hashlib.sha256(data).hexdigest()


def next_parent(store: Store) -> str | None:
    """The trial the next trial is based on: the one a restore marked (the newest mark wins),
    else the previous trial by sequence number; None for the first trial."""
    trials = [r for r in store.runs() if r.kind == TRIAL]
    if not trials:
        return None
    marked = [t for t in trials if t.props.get(BASE_FLAG)]
    if marked:
        def when(t: Node) -> tuple[float, int]:
            at = t.props.get(BASE_AT)
            flag = t.props.get(BASE_FLAG)
            stamp = at if isinstance(at, (int, float)) else (flag if isinstance(flag, (int, float))
                                                             and not isinstance(flag, bool) else 0.0)
            return float(stamp), int(t.props.get("seq") or 0)
        return max(marked, key=when).id
    return trials[-1].id


def consume_base(store: Store) -> list[Node]:
    """Clear every restore mark (a trial just started on it); returns the updated nodes to write."""
    return [Node(t.id, t.cls, t.kind, {BASE_FLAG: False}) for t in store.runs()
            if t.kind == TRIAL and t.props.get(BASE_FLAG)]


def start_records(trial_id: str, *, name: str, command: str, argv: list[str], script: str,
                  script_path: str | None, module: str | None, code: str | None, started: float,
                  parent: str | None, tracer: str, options: dict[str, Any], bypass_modules: bool) -> list[Any]:
    """The Trial activity (status unfinished) with its agents and evolution link."""
    from capture._run import agent_nodes

    user, host = login_name(), socket.gethostname()
    recs: list[Any] = [node(
        trial_id, ProvClass.ACTIVITY, Kind.TRIAL, run=trial_id, name=name, command=command, argv=argv,
        script=script, script_path=script_path, module=module, code_hash=code, started=started,
        status="unfinished", parent_trial=parent, user=user, host=host, python=platform.python_version(),
        python_implementation=platform.python_implementation(), executable=sys.executable, pid=os.getpid(),
        cwd=os.getcwd(), tracer=tracer, options=options, bypass_modules=bypass_modules or None,
    )]
    recs += agent_nodes(trial_id, trial_id)
    host_id = f"agent:host:{host}"
    recs.append(node(host_id, ProvClass.AGENT, Kind.HOST, name=host, os=platform.system(),
                     machine=platform.machine()))
    recs.append(edge(Relation.WAS_ASSOCIATED_WITH, trial_id, host_id, role="host", run=trial_id))
    if parent:
        recs.append(edge(Relation.WAS_INFORMED_BY, trial_id, parent, role="based_on", run=trial_id))
    return recs


def script_records(trial_id: str, path: str, data: bytes, *, main: bool, sha: str | None = None,
                   module: str | None = None) -> tuple[str, list[Any]]:
    """A script or local module as a Plan entity (shared by every trial that ran the same bytes at
    the same path), used by the trial; the user's association with the trial names the main one as
    its plan. Returns (entity id, records)."""
    sha = sha or code_hash(data)
    path_key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    sid = f"script:{sha}:{path_key}"
    recs: list[Any] = [
        node(sid, ProvClass.ENTITY, Kind.SCRIPT, name=os.path.basename(path), path=path, sha256=sha,
             size=len(data), lines=data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1),
             plan=True, module=module, main=True if main else None),
        edge(Relation.USED, trial_id, sid, role="script" if main else f"module:{module or path}", run=trial_id,
             main=True if main else None),
    ]
    if main:
        person = person_id(f"{login_name()}@{socket.gethostname()}")
        recs.append(Edge(Relation.WAS_ASSOCIATED_WITH.value, trial_id, person,
                         {"role": "user", "run": trial_id, "plan": sid}))
    return sid, recs


def finish_node(trial_id: str, *, started: float, status: str, exit_code: int | None,
                error: tuple[str, str, str] | None = None, interrupted: bool = False,
                **extra: Any) -> Node:
    """The props that close a trial (merged into the node written at start)."""
    ended = time.time()
    props: dict[str, Any] = {"status": status, "ended": ended, "duration": ended - started,
                             "exit_code": exit_code, "run": trial_id}
    if interrupted:
        props["interrupted"] = True
    if error is not None:
        props["error_type"], props["error"], props["traceback"] = error[0], error[1][:2000], error[2][-8000:]
    props.update({k: v for k, v in extra.items() if v is not None})
    return node(trial_id, ProvClass.ACTIVITY, Kind.TRIAL, **props)
