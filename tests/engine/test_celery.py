"""Workflows on a real Celery worker (examples/engine/celery_app.py) with a real redis-server broker.

The test starts its own redis-server on a free port and a `celery worker --pool=solo`
subprocess; caller and worker share one SQLite store, so the worker's provenance and
the persistent workflow's state are in the same graph as the caller's run."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, need, port_open

EXAMPLES = ROOT / "examples" / "engine"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_broker() -> Iterator[str]:
    """A private redis-server (no persistence) for this module's tests."""
    exe = shutil.which("redis-server")
    need(exe is not None, "redis-server")
    port = _free_port()
    proc = subprocess.Popen([str(exe), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        need(port_open("127.0.0.1", port), f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery") / "shared.db"


@pytest.fixture(scope="module")
def worker(redis_broker: str, shared_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Celery worker on the example app; yields the app module as the caller sees it."""
    celery_exe = Path(sys.executable).parent / "celery"
    need(celery_exe.exists(), "celery (pip install 'celery[redis]')")
    os.environ["KG_CELERY_BROKER"] = redis_broker  # read when the caller imports the app below
    log = tmp_path_factory.mktemp("celery-log") / "worker.log"
    env = dict(os.environ)
    env.update({"KG_CELERY_BROKER": redis_broker, "KG_STORE": str(shared_store),
                "KG_HOME": str(shared_store.parent / ".kg"),
                "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(ROOT)])})
    with open(log, "w") as out:
        proc = subprocess.Popen([str(celery_exe), "-A", "celery_app", "worker", "--pool=solo", "--loglevel=info",
                                 "--without-gossip", "--without-mingle", "--without-heartbeat",
                                 "-n", f"kgtest{os.getpid()}@%h"],
                                cwd=str(EXAMPLES), env=env, stdout=out, stderr=subprocess.STDOUT)
    sys.path.insert(0, str(EXAMPLES))
    sys.modules.pop("celery_app", None)
    import celery_app

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the celery worker exited:\n{log.read_text()}")
            if celery_app.app.control.ping(timeout=0.5):
                break
        else:
            pytest.fail(f"the celery worker did not answer pings:\n{log.read_text()}")
        celery_app.worker_log = log  # type: ignore[attr-defined]
        yield celery_app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        sys.path.remove(str(EXAMPLES))
        os.environ.pop("KG_CELERY_BROKER", None)


def test_workflow_runs_on_the_worker_and_its_provenance_joins_the_callers_run(
        worker: Any, shared_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KG_STORE", str(shared_store))
    import capture
    from kg.stores import open_store

    with capture.Run(name="celery caller") as run:
        result = worker.run_workflow.delay([{"value": 10}, {"value": 20}, {"value": 30}],
                                           run_id=run.id).get(timeout=60)
    assert result == [{"value": 12}, {"value": 22}, {"value": 32}]
    assert "12" in worker.worker_log.read_text()  # print_res ran on the worker

    with open_store(str(shared_store)) as st:
        (wfr,) = list(st.find_nodes(run=run.id, kind="WorkflowRun"))
        assert wfr.props["parent"] == run.id and wfr.props["name"] == "celery:run_workflow"
        assert wfr.props["status"] == "FINISHED"
        callbacks = list(st.find_nodes(run=run.id, kind="Callback"))
        assert sorted((c.props["token"], c.props["name"]) for c in callbacks) == [
            (0, "add"), (0, "print_res"), (1, "add"), (1, "print_res"), (2, "add"), (2, "print_res")]
        assert all(c.props["parent"] == wfr.id for c in callbacks)
        # Written by the worker process, not this one.
        assert not wfr.id.startswith(f"t-{__import__('kg.ids').ids.process_prefix()}")
        finals = [n for n in st.find_nodes(run=run.id, kind="Token") if n.props["version"] == 1]
        assert sorted(n.props["value"]["repr"] for n in finals) == [
            "{'value': 12}", "{'value': 22}", "{'value': 32}"]


def test_a_workflow_halted_here_is_resumed_by_the_worker(
        worker: Any, shared_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KG_STORE", str(shared_store))
    from kg.engine.errors import HaltProcessing
    from kg.engine.graph import PersistentEngine, workflow_tokens
    from kg.stores import open_store

    eng = PersistentEngine(tasks="celery_app:APPROVAL_FLOW")
    with pytest.raises(HaltProcessing):
        eng.process([{"value": 10}, {"value": 30}, {"value": 5}])
    eng.close()
    assert eng.status == "HALTED"
    done = worker.resume_workflow.delay(eng.workflow_id).get(timeout=60)
    assert done["status"] == "COMPLETED"
    assert done["objects"] == [{"value": 12}, {"value": 32, "approved": True}, {"value": 7}]
    with open_store(str(shared_store)) as st:
        assert st.get_node(eng.workflow_id).props["status"] == "COMPLETED"  # type: ignore[union-attr]
        assert [t.props["status"] for t in workflow_tokens(st, eng.workflow_id)] == ["COMPLETED"] * 3
        (wfr,) = [n for n in st.find_nodes(kind="WorkflowRun") if n.props.get("workflow") == eng.workflow_id]
        assert wfr.props["name"] == "celery:resume_workflow" and wfr.props["status"] == "FINISHED"


def test_the_example_runs_as_the_docs_run_it(worker: Any, shared_store: Path) -> None:
    """`python celery_app.py` beside `celery -A celery_app worker` (docs/engine.md): the worker
    accepts the task (no "unregistered task"), runs the workflow and records it in the shared store."""
    from kg.stores import open_store

    env = dict(os.environ, KG_STORE=str(shared_store), KG_HOME=str(shared_store.parent / ".kg"),
               KG_CELERY_BROKER=os.environ["KG_CELERY_BROKER"])
    sent = subprocess.run([sys.executable, "celery_app.py"], cwd=str(EXAMPLES), env=env, capture_output=True,
                          text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr
    deadline = time.monotonic() + 60
    log = ""
    while time.monotonic() < deadline:
        log = worker.worker_log.read_text()
        if "unregistered task" in log.lower() or "32" in log.split("run_workflow")[-1]:
            break
        time.sleep(0.2)
    assert "unregistered task" not in log.lower(), log
    assert "celery_app.run_workflow" in log and "succeeded" in log.split("celery_app.run_workflow")[-1], log
    with open_store(str(shared_store)) as st:
        runs = [r for r in st.runs() if r.props.get("name") == "celery run_workflow"]
        assert runs and any(st.find_nodes(run=r.id, kind="WorkflowRun") for r in runs)
