"""Runs: ``with capture.Run(...)``, ``Run(...).start()/.stop()`` and ``@capture.workflow``."""
from __future__ import annotations

import functools
import inspect
import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from capture._dataflow import forget_fingerprints
from capture._state import ensure_sink, state
from capture.values import snapshot
from kg._version import __version__
from kg import ids
from kg.ids import login_name, new_run_id, person_id
from kg.model import Kind, ProvClass, Relation, edge, node

__all__ = ["Run", "workflow", "current_run", "agent_nodes"]

F = TypeVar("F", bound=Callable[..., Any])


def agent_nodes(activity_id: str, run_id: str) -> list[Any]:
    """The Person, Host and SoftwareAgent of a run, and its association edges."""
    user, host = login_name(), socket.gethostname()
    person = person_id(f"{user}@{host}")
    software = f"agent:provkg:{__version__}"
    return [
        node(person, ProvClass.AGENT, Kind.PERSON, name=user, host=host),
        node(software, ProvClass.AGENT, Kind.SOFTWARE_AGENT, name="provkg", version=__version__),
        edge(Relation.WAS_ASSOCIATED_WITH, activity_id, person, role="user", run=run_id),
        edge(Relation.WAS_ASSOCIATED_WITH, activity_id, software, role="capture", run=run_id),
        edge(Relation.ACTED_ON_BEHALF_OF, software, person, run=run_id),
    ]


class Run:
    """A captured run of a program: every task inside it is recorded against it.

    ``run_id`` joins this process to a run that another process owns (pass the id to
    workers): the process is recorded as a part of the run (an Activity of kind RunPart,
    under which its tasks hang) and the run's own status and times are left to its owner,
    so a worker that ends first does not mark the whole run finished. ``join=False`` makes
    a process with a chosen ``run_id`` the owner instead."""

    def __init__(self, name: str | None = None, run_id: str | None = None, campaign: str | None = None,
                 args: dict[str, Any] | None = None, *, tags: list[str] | None = None,
                 metadata: dict[str, Any] | None = None, store: str | None = None,
                 join: bool | None = None) -> None:
        self.name = name or os.path.basename(sys.argv[0] or "python") or "run"
        self.id = run_id or new_run_id()
        self.joined = bool(run_id) if join is None else join
        # Where this process's top-level tasks hang: the run itself, or this process's part of it.
        self.part = f"{self.id}/part/{ids.process_prefix()}" if self.joined else self.id
        self.campaign = campaign
        self.args = dict(args or {})
        self.tags = list(tags or [])
        self.metadata = dict(metadata or {})
        self.store = store
        self.started: float | None = None
        self.ended: float | None = None
        self.status = "new"
        self._outer: Run | None = None

    def __repr__(self) -> str:
        return f"<Run {self.name!r} {self.id} {self.status}>"

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Run:
        """Record the run as started (written at once, so a crash leaves it 'unfinished')."""
        if self.store is not None and state.sink is None:
            from kg.sink import Sink, set_sink

            set_sink(Sink(self.store))
        sink = ensure_sink()
        self.started = time.time()
        self.status = "unfinished"
        self._outer, state.run = state.run, self
        if self._outer is None:
            forget_fingerprints()
        common = dict(args=snapshot(self.args) or None, tags=self.tags or None,
                      metadata=snapshot(self.metadata) or None, pid=os.getpid(), host=socket.gethostname(),
                      user=login_name(), python=platform.python_version(), argv=list(sys.argv), cwd=os.getcwd())
        if self.joined:  # the run exists (or will) as its owner writes it; record this process's part
            recs: list[Any] = [
                node(self.id, ProvClass.ACTIVITY, Kind.RUN, run=self.id, campaign=self.campaign),
                node(self.part, ProvClass.ACTIVITY, Kind.RUN_PART, name=self.name, status="unfinished",
                     started=self.started, run=self.id, parent=self.id, **common),
            ]
        else:
            recs = [node(self.id, ProvClass.ACTIVITY, Kind.RUN, name=self.name, status="unfinished",
                         started=self.started, run=self.id, campaign=self.campaign, **common)]
        recs += agent_nodes(self.part, self.id)
        if self.campaign:
            cid = f"campaign:{self.campaign}"
            recs.append(node(cid, ProvClass.ENTITY, Kind.CAMPAIGN, name=self.campaign))
            recs.append(edge(Relation.HAD_MEMBER, cid, self.id, run=self.id))
        for r in recs:
            sink.put(r)
        sink.flush()
        return self

    def stop(self, status: str = "finished", error: BaseException | None = None) -> None:
        """Record the end of the run and flush everything captured in it."""
        if self.status not in ("unfinished",):
            return
        self.ended = time.time()
        self.status = status
        if state.run is self:
            state.run = self._outer
        props: dict[str, Any] = {"status": status, "ended": self.ended,
                                 "duration": self.ended - (self.started or self.ended)}
        if error is not None:
            props["error_type"] = type(error).__qualname__
            props["error"] = str(error)[:2000]
        sink = ensure_sink()
        kind = Kind.RUN_PART if self.joined else Kind.RUN
        sink.put(node(self.part, ProvClass.ACTIVITY, kind, **props))
        sink.flush()

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.stop("finished")
        elif isinstance(exc, KeyboardInterrupt):
            self.stop("interrupted", exc)
        else:
            self.stop("failed", exc)


def current_run() -> Run:
    """The active run; outside any run, an implicit one (named after the program) that ends at exit."""
    run = state.run
    if run is not None:
        return run  # type: ignore[no-any-return]
    with state.lock:
        if state.run is None:
            implicit = Run(name=os.path.basename(sys.argv[0] or "python") or "python", tags=["implicit"])
            implicit.start()
            state.implicit = implicit
            ensure_sink().on_close(lambda: implicit.stop("finished"))
        return state.run  # type: ignore[no-any-return]


def workflow(func: F | None = None, *, name: str | None = None, campaign: str | None = None,
             **run_kwargs: Any) -> Any:
    """Decorate a main function: each call is one Run (sync or async)."""

    def wrap(fn: F) -> F:
        label = name or fn.__name__
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def arun(*args: Any, **kwargs: Any) -> Any:
                with Run(name=label, campaign=campaign, **run_kwargs):
                    return await fn(*args, **kwargs)
            return arun  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Run(name=label, campaign=campaign, **run_kwargs):
                return fn(*args, **kwargs)
        return run  # type: ignore[return-value]

    return wrap(func) if func is not None else wrap
