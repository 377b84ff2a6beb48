"""The seed's Celery example on kg.engine: workflows run on Celery workers, their provenance in the shared graph.

Run it (a Redis broker on localhost:6379, or set KG_CELERY_BROKER):

    cd examples/engine
    celery -A celery_app worker --loglevel=info        # one terminal: the worker
    python celery_app.py                               # another: send three tokens

Provenance from the worker reaches the same graph when both processes use the same
store (KG_STORE: a shared SQLite file or a Neo4j server) and the caller passes its run
id (``run_id=``): the worker's WorkflowRun is then part of the caller's run. Persistent
workflows are shared the same way: a workflow halted in one process is resumed by a
worker with ``resume_workflow.delay(workflow_id)``; the worker finds the tasks through
the import path saved with the workflow (``celery_app:APPROVAL_FLOW``)."""
from __future__ import annotations

import os
from typing import Any

from celery import Celery

BROKER = os.environ.get("KG_CELERY_BROKER", "redis://localhost:6379/0")

# `app` is required by the celery worker. Its name is this module's: run as a script, Celery names
# the tasks of __main__ after the app ("celery_app.run_workflow"), the name the worker registered
# when it imported the module (with the seed's "workflow_sample", the worker refused them).
app = Celery("celery_app", broker=BROKER, backend=os.environ.get("KG_CELERY_BACKEND", BROKER))


# Define a couple of basic tasks.
def add(obj: dict[str, Any], eng: Any) -> None:
    obj["value"] += 2


def print_res(obj: dict[str, Any], eng: Any) -> None:
    print(obj.get("value"))


# Create a workflow out of them.
flow = [add, print_res]


def approve_big(obj: dict[str, Any], eng: Any) -> None:
    """Halt on a big value until someone approves it (sets ``approved``)."""
    if obj["value"] > 25 and not obj.get("approved"):
        obj["approved"] = True
        eng.halt("value needs approval", action="approve")


APPROVAL_FLOW = [add, approve_big, print_res]


def _recorded(run_id: str | None, name: str) -> Any:
    """The caller's run when it sent its id, else a run of this worker task."""
    import contextlib

    import capture

    return contextlib.nullcontext() if run_id else capture.Run(name=name)


# Mark our execution process as a celery task with this decorator.
@app.task
def run_workflow(data: list[dict[str, Any]], run_id: str | None = None) -> list[dict[str, Any]]:
    # Imports inside the task, as in the seed: the worker imports this module first.
    import capture
    from capture.engine import record_engine
    from kg.engine import GenericWorkflowEngine

    wfe = GenericWorkflowEngine()
    wfe.callbacks.replace(flow)
    with _recorded(run_id, "celery run_workflow"):
        record_engine(wfe, run_id=run_id, name="celery:run_workflow")
        wfe.process(data)
        capture.flush()  # the worker lives on: write the records now
    return data


@app.task
def resume_workflow(workflow_id: str, run_id: str | None = None) -> dict[str, Any]:
    """Resume a persistent workflow saved in the configured store (KG_STORE)."""
    import capture
    from capture.engine import record_engine
    from kg.engine.graph import load

    eng = load(workflow_id)
    try:
        with _recorded(run_id, "celery resume_workflow"):
            record_engine(eng, run_id=run_id, name="celery:resume_workflow")
            eng.resume()
            capture.flush()
        return {"status": eng.status, "objects": eng.objects}
    finally:
        eng.close()


# Code that runs when we call this script directly. This way we can start
# as many workflows as we wish and let celery handle how they are
# distributed and when they run.
if __name__ == "__main__":
    run_workflow.delay([{"value": 10}, {"value": 20}, {"value": 30}])
