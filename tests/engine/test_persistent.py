"""DbWorkflowEngine: the run and its tokens are saved through the model at each step that matters."""
from __future__ import annotations

from typing import Any

import pytest

from kg.engine.errors import HaltProcessing, WorkflowError
from kg.engine.persistent import DbWorkflowEngine, ObjectStatus, WorkflowStatus


class Model:
    """A workflow record that keeps every save, as a database would."""

    def __init__(self) -> None:
        self.name, self.uuid, self.status, self.objects = "grading", "wf-1", WorkflowStatus.NEW, []
        self.saves: list[Any] = []

    def save(self, status: Any = None) -> None:
        self.status = status
        self.saves.append(status)


class Token:
    known_statuses = ObjectStatus

    def __init__(self, data: int) -> None:
        self.data, self.status, self.error = data, ObjectStatus.INITIAL, None
        self.saves: list[Any] = []

    def save(self, status: Any = None, **fields: Any) -> None:
        self.status = status
        self.saves.append((status, fields))

    def set_error_message(self, text: str) -> None:
        self.error = text


def check(obj: Token, eng: Any) -> None:
    if obj.data < 0:
        raise ValueError("negative grade")
    if obj.data < 5:
        eng.halt("failing grade")


def make(tokens: list[Token]) -> tuple[DbWorkflowEngine, Model]:
    model = Model()
    model.objects = tokens
    eng = DbWorkflowEngine(model)
    eng.callbacks.replace([check])
    return eng, model


def test_completed_run_saves_tokens_and_workflow() -> None:
    tokens = [Token(6), Token(7)]
    eng, model = make(tokens)
    eng.process(tokens)
    assert model.saves == [WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED]
    assert [t.status for t in tokens] == [ObjectStatus.COMPLETED] * 2
    assert eng.final_objects == tokens and eng.halted_objects == [] and eng.running_objects == []
    assert WorkflowStatus.COMPLETED.label == "Completed" and ObjectStatus.HALTED.label == "Need action"


def test_halt_saves_position_and_resume_completes() -> None:
    tokens = [Token(6), Token(4), Token(8)]
    eng, model = make(tokens)
    with pytest.raises(HaltProcessing):
        eng.process(tokens)
    assert model.status == WorkflowStatus.HALTED
    assert tokens[1].saves[-1] == (ObjectStatus.HALTED, {"task_counter": [0], "id_workflow": "wf-1"})
    assert eng.halted_objects == [tokens[1]]
    eng.restart("next", "first")
    assert model.status == WorkflowStatus.COMPLETED
    assert [t.status for t in tokens] == [ObjectStatus.COMPLETED, ObjectStatus.HALTED, ObjectStatus.COMPLETED]


def test_error_saves_and_becomes_a_workflow_error() -> None:
    tokens = [Token(-1)]
    eng, model = make(tokens)
    with pytest.raises(WorkflowError) as err:
        eng.process(tokens)
    assert isinstance(err.value.__cause__, ValueError)
    assert (err.value.id_workflow, err.value.id_object) == ("wf-1", 0)
    assert model.status == WorkflowStatus.ERROR and tokens[0].status == ObjectStatus.ERROR
    assert "negative grade" in tokens[0].error
    tokens = [Token(-1), Token(6)]
    eng, model = make(tokens)
    eng.process(tokens, stop_on_error=False)  # the failed token is left behind, the next completes
    assert [t.status for t in tokens] == [ObjectStatus.ERROR, ObjectStatus.COMPLETED]
