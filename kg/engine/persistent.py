"""The storage-capable engine of the seed (``workflow.engine_db``): saves through a model object.

``DbWorkflowEngine(db_obj)`` keeps its workflow record in ``db_obj`` and saves it at the
start and end of a run and at each halt and error; each token is saved as it starts,
completes, halts or fails. The storage is the model's: ``db_obj`` provides
``save(status)`` and ``name``/``status``/``uuid``/``objects``, tokens provide
``save(status=..., **fields)``, ``known_statuses`` and ``set_error_message(text)``.
A SQLAlchemy model (as in the seed's example) or a graph-store model both fit.

For state kept in the provkg graph store itself, use ``PersistentEngine`` (from
``kg.engine.graph``, also importable from here) and ``load(workflow_id)``."""
from __future__ import annotations

import traceback
from enum import Enum
from typing import Any

from kg.engine._core import WorkflowEngine
from kg.engine._factory import ProcessingFactory, TransitionActions
from kg.engine.errors import WorkflowError
from kg.engine.utils import classproperty

__all__ = ["WorkflowStatus", "ObjectStatus", "DbWorkflowEngine", "DbTransitionAction",
           "DbProcessingFactory"]


def __getattr__(name: str) -> Any:
    # Lazily: kg.engine.graph pulls in the stores, which plain engine users do not need.
    if name in ("PersistentEngine", "load"):
        from kg.engine import graph

        return getattr(graph, name)
    raise AttributeError(f"module 'kg.engine.persistent' has no attribute {name!r}")


class EnumLabel(Enum):
    """An enum whose members carry a human label."""

    @property
    def label(self) -> str:
        return self._labels()[self.value]

    @classmethod
    def _labels(cls) -> dict[int, str]:
        raise NotImplementedError


class WorkflowStatus(EnumLabel):
    """Statuses of a workflow run."""

    NEW = 0
    RUNNING = 1
    HALTED = 2
    ERROR = 3
    COMPLETED = 4

    @classmethod
    def _labels(cls) -> dict[int, str]:
        return {0: "New", 1: "Running", 2: "Halted", 3: "Error", 4: "Completed"}


class ObjectStatus(EnumLabel):
    """Statuses of a token."""

    INITIAL = 0
    COMPLETED = 1
    HALTED = 2
    RUNNING = 3
    ERROR = 4

    @classmethod
    def _labels(cls) -> dict[int, str]:
        return {0: "New", 1: "Done", 2: "Need action", 3: "In process", 4: "Error"}


class DbWorkflowEngine(WorkflowEngine):
    """A workflow engine whose run and tokens are saved through ``db_obj`` (see the module doc)."""

    def __init__(self, db_obj: Any, **kwargs: Any) -> None:
        self.db_obj = db_obj
        super().__init__()

    @classproperty
    def processing_factory(cls) -> Any:
        return DbProcessingFactory

    @classproperty
    def known_statuses(cls) -> type[WorkflowStatus]:
        return WorkflowStatus

    def duplicate(self) -> DbWorkflowEngine:
        """A branch engine saving to the same model."""
        return type(self)(self.db_obj)

    @property
    def name(self) -> Any:
        return self.db_obj.name

    @property
    def status(self) -> Any:
        return self.db_obj.status

    @property
    def uuid(self) -> Any:
        return self.db_obj.uuid

    @property
    def database_objects(self) -> Any:
        return self.db_obj.objects

    def _objects_with(self, status_name: str) -> list[Any]:
        return [obj for obj in self.database_objects
                if obj.status == getattr(obj.known_statuses, status_name)]

    @property
    def final_objects(self) -> list[Any]:
        return self._objects_with("COMPLETED")

    @property
    def halted_objects(self) -> list[Any]:
        return self._objects_with("HALTED")

    @property
    def running_objects(self) -> list[Any]:
        return self._objects_with("RUNNING")

    def save(self, status: Any = None) -> None:
        """Save the workflow record (with ``status`` when given)."""
        self.db_obj.save(status)

    def __repr__(self) -> str:
        return f"<DbWorkflow_engine({self.name})>"


class DbTransitionAction(TransitionActions):
    """Save the token and the workflow when a task halts or fails, then act as the base class."""

    @staticmethod
    def HaltProcessing(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        obj.save(status=obj.known_statuses.HALTED, task_counter=eng.state.callback_pos, id_workflow=eng.uuid)
        eng.save(status=WorkflowStatus.HALTED)
        eng.log.warning("Workflow '%s' halted at task %s with message: %s", eng.name,
                        eng.current_taskname or "Unknown", getattr(exc, "message", exc))
        TransitionActions.HaltProcessing(obj, eng, callbacks, exc)

    @staticmethod
    def Exception(obj: Any, eng: Any, callbacks: Any, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        eng.log.error("Error:\n%s", text)
        if obj is not None:
            obj.set_error_message(text)
            obj.save(status=obj.known_statuses.ERROR, callback_pos=eng.state.callback_pos, id_workflow=eng.uuid)
        eng.save(WorkflowStatus.ERROR)
        eng.signal.workflow_error(eng)
        # A WorkflowError (which process(stop_on_error=False) can step over) with the cause chained.
        raise WorkflowError(text, id_workflow=eng.uuid, id_object=eng.state.token_pos) from exc


class DbProcessingFactory(ProcessingFactory):
    """Save the workflow at the start and end of a run and each token as it starts and completes."""

    @classproperty
    def transition_exception_mapper(cls) -> type[DbTransitionAction]:
        return DbTransitionAction

    @staticmethod
    def before_object(eng: Any, objects: Any, obj: Any) -> None:
        obj.save(status=obj.known_statuses.RUNNING, id_workflow=eng.db_obj.uuid)

    @staticmethod
    def after_object(eng: Any, objects: Any, obj: Any) -> None:
        obj.save(status=obj.known_statuses.COMPLETED, id_workflow=eng.db_obj.uuid)

    @staticmethod
    def before_processing(eng: Any, objects: Any) -> None:
        eng.save(WorkflowStatus.RUNNING)
        ProcessingFactory.before_processing(eng, objects)

    @staticmethod
    def after_processing(eng: Any, objects: Any) -> None:
        ProcessingFactory.after_processing(eng, objects)
        eng.save(WorkflowStatus.COMPLETED if eng.has_completed else WorkflowStatus.HALTED)
