"""A workflow engine whose state lives in the graph store: resumable after a halt, an error or a crash.

The workflow (name, status, machine state, ``extra_data``) is one node of kind
``Workflow``; each token (its data, status, position) is a node of kind ``Token`` whose
``parent`` is the workflow. Both are written in ONE ``store.write`` transaction at each
completed token, halt and error (and after each task with ``save_each_callback``), so
the graph always holds a consistent resume point: the next token and task to run, and
every token's data as it was at that point. A process killed at any moment resumes
from there in a new process with ``load(workflow_id).resume()``.

Tasks are code, not data: a workflow names its task list by an import path
(``"package.module:attribute"``, the attribute a list, a ``{key: list}`` dict or a
function returning one) or by a name given to ``register_workflow``."""
from __future__ import annotations

import importlib
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from kg.engine._core import WorkflowEngine
from kg.engine._factory import Break, Continue, ProcessingFactory, TransitionActions
from kg.engine.errors import (
    AbortProcessing,
    JumpToken,
    SkipToken,
    StopProcessing,
    WorkflowDefinitionError,
    WorkflowError,
)
from kg.engine.utils import classproperty
from kg.exceptions import NotFound
from kg.ids import new_run_id
from kg.model import Kind, Node, ProvClass
from kg.stores import Store, open_store

__all__ = ["PersistentEngine", "GraphProcessingFactory", "register_workflow", "resolve_tasks", "load",
           "list_workflows", "workflow_tokens", "token_id", "WORKFLOWS"]

_ENTITY = ProvClass.ENTITY.value
_WORKFLOW = Kind.WORKFLOW.value
_TOKEN = Kind.TOKEN.value

WORKFLOWS: dict[str, Any] = {}
"""Task lists registered by name (``register_workflow``); looked up before the import path."""


def register_workflow(name: str, tasks: Any = None) -> Any:
    """Register ``tasks`` (a list, ``{key: list}`` or a function returning one) under ``name``.

    Usable as a decorator on a function that returns the task list."""
    if tasks is None:
        def deco(fn: Any) -> Any:
            WORKFLOWS[name] = fn
            return fn
        return deco
    WORKFLOWS[name] = tasks
    return tasks


def _import(ref: str) -> Any:
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise WorkflowDefinitionError(f"task list reference {ref!r} is not 'package.module:attribute'", ref)
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise WorkflowDefinitionError(f"cannot import {module!r} for task list {ref!r}: {exc}", ref) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise WorkflowDefinitionError(f"{module!r} has no attribute {attr!r} (task list {ref!r})",
                                          ref) from None
    return obj


def resolve_tasks(name: str | None = None, ref: str | None = None) -> Any:
    """The task list for a workflow: ``WORKFLOWS[name]``, else the object at import path ``ref``.

    Importing ``ref`` may register ``name`` (a module that calls ``register_workflow``
    at import); a function is called to build the list."""
    found = WORKFLOWS.get(name) if name else None
    if found is None and ref:
        found = _import(ref)
    if found is None:
        raise WorkflowDefinitionError(
            f"no task list for workflow {name!r}: register it (kg.engine.graph.register_workflow) "
            "or give an import path 'package.module:attribute'", name)
    if callable(found) and not isinstance(found, (list, tuple, dict)):
        found = found()
    return found


def token_id(workflow_id: str, position: int) -> str:
    """The graph id of a workflow's token (stable: one node per token, updated in place)."""
    return f"{workflow_id}/token/{position}"


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WorkflowError(f"{what} cannot be saved as JSON ({exc}); persistent workflows need "
                            "JSON data in their tokens") from None


def _extra_json(extra: dict[str, Any]) -> tuple[str, list[str]]:
    """``extra_data`` as JSON, leaving out values that cannot be saved (a PARALLEL_SPLIT
    lock, a RUN_WF sub-engine): they are rebuilt by the patterns that made them."""
    skipped: list[str] = []
    kept: dict[str, Any] = {}
    for key, value in extra.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            skipped.append(str(key))
            continue
        kept[str(key)] = value
    return json.dumps(kept, separators=(",", ":")), skipped


class GraphTransitionActions(TransitionActions):
    """Save the halted or failed token and the workflow before the usual handling (signals, re-raise)."""

    @staticmethod
    def HaltProcessing(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng._save_stop(obj, "HALTED", exc)
        TransitionActions.HaltProcessing(obj, eng, callbacks, exc)

    @staticmethod
    def Exception(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        eng._save_stop(obj, "ERROR", exc)
        TransitionActions.Exception(obj, eng, callbacks, exc)


class GraphProcessingFactory(ProcessingFactory):
    """Save the workflow when a run starts and ends, and each token as it completes."""

    @classproperty
    def transition_exception_mapper(cls) -> type[GraphTransitionActions]:
        return GraphTransitionActions

    @staticmethod
    def before_processing(eng: Any, objects: Any) -> None:
        ProcessingFactory.before_processing(eng, objects)
        eng._save_start(objects)

    @staticmethod
    def after_object(eng: Any, objects: Any, obj: Any) -> None:
        eng._save_token(obj, "COMPLETED", eng.state.token_pos + 1, [0])

    @staticmethod
    def after_processing(eng: Any, objects: Any) -> None:
        ProcessingFactory.after_processing(eng, objects)
        eng._save_end()


class PersistentEngine(WorkflowEngine):
    """A workflow engine that keeps its workflow and tokens as nodes of a graph store.

    ``tasks`` is the task list: an import path ``"pkg.mod:attr"`` (stored with the
    workflow so another process can find the code), a name registered with
    ``register_workflow``, or the list itself (then ``name`` must be registered, or
    ``ref`` given, for the workflow to be resumable elsewhere). ``store`` is a Store or
    a URI (default: the configured store). Token data must be JSON."""

    def __init__(self, name: str | None = None, tasks: Any = None, *, store: Store | str | None = None,
                 workflow_id: str | None = None, ref: str | None = None,
                 save_each_callback: bool = False) -> None:
        super().__init__()
        if isinstance(tasks, str):
            ref, tasks = tasks, None
        self.name = name or (ref.rpartition(":")[2] if ref else "workflow")
        self.ref = ref
        self.workflow_id = workflow_id or f"wf-{new_run_id()}"
        self._own_store = not isinstance(store, Store)
        self.graph_store: Store = store if isinstance(store, Store) else open_store(store)
        self.status = "NEW"
        self.created = time.time()
        self.save_each_callback = save_each_callback
        self._tokens_saved = False
        self._saving = True
        self._resume_token = 0
        self._resume_callback: list[int] = [0]
        self.halt_info: dict[str, Any] | None = None
        if tasks is None and (ref or name):
            tasks = resolve_tasks(name, ref)
        if tasks is not None:
            self.set_tasks(tasks)
        if save_each_callback:
            self.hooks.connect("after_callback", self._after_callback)

    # -- setup -----------------------------------------------------------------
    @classproperty
    def processing_factory(cls) -> Any:
        return GraphProcessingFactory

    def set_tasks(self, tasks: Any) -> None:
        """Install a task list, or a ``{key: list}`` dict of keyed lists."""
        if isinstance(tasks, dict):
            self.callbacks.clear_all()
            for key, value in tasks.items():
                self.callbacks.replace(value, key)
        else:
            self.callbacks.replace(tasks)

    def duplicate(self) -> WorkflowEngine:
        """Branches of PARALLEL_SPLIT / SYNCHRONIZE run in a plain in-memory engine."""
        return WorkflowEngine()

    def close(self) -> None:
        """Close the store when this engine opened it."""
        if self._own_store:
            self.graph_store.close()

    def __repr__(self) -> str:
        return f"<PersistentEngine {self.workflow_id} {self.name!r} {self.status} {self.state!r}>"

    # -- running -----------------------------------------------------------------
    def process(self, objects: Any, stop_on_error: bool = True, stop_on_halt: bool = True,
                initial_run: bool = True, reset_state: bool = True) -> None:
        """As ``WorkflowEngine.process``; a fresh run (``reset_state``) saves its tokens anew."""
        if reset_state:
            self._tokens_saved = False
        super().process(objects, stop_on_error=stop_on_error, stop_on_halt=stop_on_halt,
                        initial_run=initial_run, reset_state=reset_state)

    def resume(self, task: str | None = None, *, stop_on_error: bool = True, stop_on_halt: bool = True,
               force: bool = False) -> None:
        """Go on from the saved resume point.

        After a crash (status RUNNING) the run continues with the first token or task not
        yet saved as done. After a halt it continues with the task after the one that
        halted (``task="current"`` runs that task again); after an error it runs the failed
        task again (``task="next"`` skips it). ``task="first"`` restarts the token. A
        RUNNING workflow whose process is still alive on this host is refused unless
        ``force``."""
        if self.status == "COMPLETED":
            return
        if self.status == "RUNNING" and not force and self._owner_alive():
            raise WorkflowError(f"workflow {self.workflow_id} is running in process {self._owner} on this "
                                "host; use force=True to resume it anyway")
        if task is None:
            task = {"HALTED": "next", "ERROR": "current"}.get(self.status, "saved")
        token, path = self._resume_token, list(self._resume_callback)
        if task == "next":
            path[-1] += 1
        elif task == "first":
            path = [0]
        elif task not in ("current", "saved"):
            raise WorkflowError(f"resume task must be 'current', 'next', 'first' or None, not {task!r}")
        self.state.token_pos = token - 1
        self.state.callback_pos = path
        self.process(self.objects, stop_on_error=stop_on_error, stop_on_halt=stop_on_halt, reset_state=False)

    @classmethod
    def load(cls, workflow_id: str, *, store: Store | str | None = None, tasks: Any = None,
             save_each_callback: bool | None = None) -> PersistentEngine:
        """The workflow saved under ``workflow_id`` (or a unique prefix), ready to ``resume()``.

        The task list comes from ``tasks`` when given, else from the registry or the
        import path stored with the workflow."""
        own = not isinstance(store, Store)
        st: Store = store if isinstance(store, Store) else open_store(store)
        try:
            node = find_workflow(st, workflow_id)
            p = node.props
            eng = cls(p.get("name"), tasks if tasks is not None else resolve_tasks(p.get("name"), p.get("ref")),
                      store=st, workflow_id=node.id, ref=p.get("ref"),
                      save_each_callback=bool(p.get("save_each_callback")) if save_each_callback is None
                      else save_each_callback)
        except BaseException:
            if own:
                st.close()
            raise
        eng._own_store = own
        count = int(node.props.get("tokens", 0))
        eng._restore(node, [t for t in workflow_tokens(st, node.id) if t.props.get("position", 0) < count])
        return eng

    def _restore(self, node: Node, tokens: list[Node]) -> None:
        p = node.props
        self.status = p.get("status", "NEW")
        self.created = p.get("created", self.created)
        self.objects = [json.loads(t.props["data"]) for t in tokens]
        self.extra_data = json.loads(p.get("extra_data") or "{}")
        self.state.token_pos = int(p.get("token_pos", -1))
        self.state.callback_pos = list(p.get("callback_pos") or [0])
        self._resume_token = int(p.get("resume_token", 0))
        self._resume_callback = list(p.get("resume_callback") or [0])
        self._owner = (p.get("host"), p.get("pid"))
        self.halt_info = json.loads(p["halt"]) if p.get("halt") else None
        self._tokens_saved = True

    def _owner_alive(self) -> bool:
        host, pid = getattr(self, "_owner", (None, None))
        if host != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie (killed, not yet reaped by its parent) is not running.
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return True

    # -- saving ------------------------------------------------------------------
    def _workflow_node(self, **extra: Any) -> Node:
        extra_json, skipped = _extra_json(self.extra_data)
        props: dict[str, Any] = {
            "name": self.name, "status": self.status, "ref": self.ref, "tokens": len(self.objects),
            "token_pos": self.state.token_pos, "callback_pos": list(self.state.callback_pos),
            "resume_token": self._resume_token, "resume_callback": list(self._resume_callback),
            "extra_data": extra_json, "extra_skipped": skipped, "engine": self.id,
            "save_each_callback": self.save_each_callback, "created": self.created, "updated": time.time(),
            "pid": os.getpid(), "host": socket.gethostname(),
        }
        props.update(extra)
        return Node(self.workflow_id, _ENTITY, _WORKFLOW, {k: v for k, v in props.items() if v is not None})

    def _token_node(self, position: int, obj: Any, status: str, **extra: Any) -> Node:
        props: dict[str, Any] = {"name": f"token {position}", "parent": self.workflow_id, "position": position,
                                 "status": status, "data": _dumps(obj, f"token {position}"),
                                 "updated": time.time()}
        props.update(extra)
        return Node(token_id(self.workflow_id, position), _ENTITY, _TOKEN, props)

    def _write(self, nodes: list[Node]) -> None:
        self.graph_store.write(nodes, ())

    def _save_start(self, objects: Any) -> None:
        self.status = "RUNNING"
        self.halt_info = None
        tokens: list[Node] = []
        if not self._tokens_saved:
            tokens = [self._token_node(i, obj, "INITIAL") for i, obj in enumerate(objects)]
            self._resume_token, self._resume_callback = 0, [0]
        self._write([self._workflow_node(halt="", error=""), *tokens])
        self._tokens_saved = True

    def _save_token(self, obj: Any, status: str, resume_token: int, resume_callback: list[int],
                    **token_extra: Any) -> None:
        """One transaction: the token as it is now, and the workflow's new resume point."""
        self._resume_token, self._resume_callback = resume_token, list(resume_callback)
        pos = self.state.token_pos
        self._write([self._workflow_node(), self._token_node(pos, obj, status, **token_extra)])

    def _save_stop(self, obj: Any, status: str, exc: BaseException) -> None:
        self.status = status
        path = list(self.state.callback_pos)
        if status == "HALTED":
            self.halt_info = {"message": getattr(exc, "message", str(exc)),
                              "action": getattr(exc, "action", None),
                              "payload": _safe_json(getattr(exc, "payload", None))}
            detail = {"halt": json.dumps(self.halt_info), "task": self.current_taskname or ""}
        else:
            detail = {"error": f"{type(exc).__qualname__}: {exc}"[:2000], "task": self.current_taskname or ""}
        self._resume_token, self._resume_callback = self.state.token_pos, path
        self._write([self._workflow_node(**detail),
                     self._token_node(self.state.token_pos, obj, status, callback_pos=path, **detail)])

    def _save_end(self) -> None:
        if self.status in ("HALTED", "ERROR"):
            return  # a halt inside a restart already saved its state
        self.status = "COMPLETED" if self._resume_token >= len(self.objects) else "STOPPED"
        self._write([self._workflow_node()])

    def _handle_transition(self, obj: Any, callbacks: Any, exc: Exception) -> None:
        # Transitions that end the token without a halt or an error also move the resume
        # point; save it after the engine has applied the transition to its state.
        try:
            super()._handle_transition(obj, callbacks, exc)
        except Continue:
            status = "SKIPPED" if isinstance(exc, SkipToken) else "COMPLETED"
            self._save_token(obj, status, self.state.token_pos + 1, [0])
            raise
        except Break:
            if isinstance(exc, (StopProcessing, AbortProcessing)):
                status = "ABORTED" if isinstance(exc, AbortProcessing) else "COMPLETED"
                self._save_token(obj, status, self.state.token_pos + 1, [0])
            raise
        else:
            if isinstance(exc, JumpToken):
                # The engine already moved token_pos to just before the target token.
                self._resume_token, self._resume_callback = self.state.token_pos + 1, [0]
                self._write([self._workflow_node()])

    def _after_callback(self, eng: Any, callback: Any, obj: Any, exc: BaseException | None) -> None:
        if exc is not None:
            return
        path = list(self.state.callback_pos)
        path[-1] += 1
        self._save_token(obj, "RUNNING", self.state.token_pos, path)

    # -- inspecting --------------------------------------------------------------
    def tokens(self) -> list[Node]:
        """The saved token nodes, in position order."""
        return workflow_tokens(self.graph_store, self.workflow_id)


def _safe_json(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)[:500]


def find_workflow(store: Store, ref: str) -> Node:
    """A Workflow node by id or unique id prefix."""
    node = store.get_node(ref)
    if node is not None and node.kind == _WORKFLOW:
        return node
    hits = [n for n in store.find_nodes(kind=_WORKFLOW, id_prefix=ref, limit=2)] if ref else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        from kg.exceptions import AmbiguousReference

        raise AmbiguousReference(f"workflow prefix {ref!r} matches several workflows; give more characters")
    raise NotFound(f"no workflow {ref!r} (see `kg workflow list`)")


def workflow_tokens(store: Store, workflow_id: str) -> list[Node]:
    """A workflow's token nodes in position order."""
    tokens = [n for n in store.find_nodes(kind=_TOKEN, parent=workflow_id)]
    tokens.sort(key=lambda n: n.props.get("position", 0))
    return tokens


def list_workflows(store: Store) -> Iterator[Node]:
    """Every saved workflow."""
    return store.find_nodes(kind=_WORKFLOW)


def load(workflow_id: str, *, store: Store | str | None = None, tasks: Any = None) -> PersistentEngine:
    """``PersistentEngine.load``: the saved workflow, ready to ``resume()``."""
    return PersistentEngine.load(workflow_id, store=store, tasks=tasks)


