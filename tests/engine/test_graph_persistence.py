"""PersistentEngine: workflow and tokens as graph nodes; halts, errors and kill -9 resumed in a new process.

The crash tests run the workflow in a real subprocess, SIGKILL it in the middle, and resume
it in another process, on SQLite and on Neo4j. Every task appends a line to a log file as
it runs, so the test can tell exactly which task ran on which token in which process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from kg.engine.errors import HaltProcessing
from kg.engine.graph import PersistentEngine, find_workflow, load, register_workflow, workflow_tokens
from kg.stores import open_store

ROOT = Path(__file__).resolve().parents[2]

# Per token: a, then b once per item of FOR(range(2)), then c; each step logs and changes the data.
FLOWS = textwrap.dedent('''
    import os, time
    from kg.engine.patterns import FOR

    LOG = os.environ["KG_TEST_TASK_LOG"]
    DELAY = float(os.environ.get("KG_TEST_TASK_DELAY", "0.004"))

    def _log(obj, eng, name):
        with open(LOG, "a") as f:  # one write per line: whole lines even when killed
            f.write(f"{os.getpid()} {obj['n']} {name}\\n")
        time.sleep(DELAY)

    def a(obj, eng):
        obj["trace"].append("a")
        obj["value"] += 1
        _log(obj, eng, "a")

    def b(obj, eng):
        name = "b%d" % eng.extra_data["i"]
        obj["trace"].append(name)
        obj["value"] *= 2
        _log(obj, eng, name)

    def c(obj, eng):
        obj["trace"].append("c")
        obj["value"] -= 3
        _log(obj, eng, "c")

    FLOW = [a, FOR(range(2), "i", [b]), c]
''')
STEPS = ["a", "b0", "b1", "c"]

RUNNER = textwrap.dedent('''
    import json, sys
    from kg.engine.graph import PersistentEngine, load
    mode, store, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "start":
        each = sys.argv[4] == "each"
        eng = PersistentEngine(tasks="kgtestflows:FLOW", store=store, workflow_id=arg, save_each_callback=each)
        eng.process([{"n": i, "value": i, "trace": []} for i in range(int(sys.argv[5]))])
    else:
        eng = load(arg, store=store)
        eng.resume()
    print(json.dumps({"status": eng.status, "objects": eng.objects}))
''')


def expected_value(n: int) -> int:
    return ((n + 1) * 2 * 2) - 3


@pytest.fixture
def flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "kgtestflows.py").write_text(FLOWS)
    (tmp_path / "runner.py").write_text(RUNNER)
    log = tmp_path / "tasks.log"
    monkeypatch.setenv("KG_TEST_TASK_LOG", str(log))
    monkeypatch.setenv("KG_TEST_TASK_DELAY", "0")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("kgtestflows", None)
    return tmp_path


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), str(ROOT)])
    env["KG_TEST_TASK_DELAY"] = "0.004"
    return env


def _log_lines(path: Path) -> list[tuple[int, int, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        pid, n, name = line.split()
        out.append((int(pid), int(n), name))
    return out


@pytest.fixture(params=["sqlite", "neo4j"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "wf.db")
    return str(request.getfixturevalue("neo4j_uri"))


def _kill_and_resume(tmp: Path, uri: str, each: bool, tokens: int = 24) -> None:
    log = tmp / "tasks.log"
    wid = f"wf-test-{os.getpid()}-{time.time_ns()}"
    proc = subprocess.Popen([sys.executable, str(tmp / "runner.py"), "start", uri, wid,
                             "each" if each else "token", str(tokens)], env=_env(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # Kill in the middle of a token: after its first task (b0) and before its last.
    while time.monotonic() < deadline:
        lines = _log_lines(log)
        if any(n >= tokens // 2 and name == "b0" for _, n, name in lines):
            break
        if proc.poll() is not None:
            pytest.fail(f"the workflow process ended before it was killed: {proc.communicate()}")
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    first = _log_lines(log)
    assert {pid for pid, _, _ in first} == {proc.pid}

    with open_store(uri) as st:
        wf = find_workflow(st, wid)
        assert wf.props["status"] == "RUNNING"  # the crash left it running
        saved_token, saved_path = wf.props["resume_token"], wf.props["resume_callback"]
        saved_done = [t.props["position"] for t in workflow_tokens(st, wid) if t.props["status"] == "COMPLETED"]
    assert saved_done == list(range(saved_token))
    assert 0 < saved_token < tokens

    # Where the saved position is in the sequence of (token, step) the whole run makes.
    sequence = [(n, s) for n in range(tokens) for s in STEPS]
    start = sequence.index((saved_token, "a"))
    if each:  # the token's data is saved with the position: its trace says how many steps were done
        start += steps_done(uri, wid)
    else:
        assert saved_path == [0]

    resumed = subprocess.run([sys.executable, str(tmp / "runner.py"), "resume", uri, wid], env=_env(tmp),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["status"] == "COMPLETED"

    second = [(n, s) for pid, n, s in _log_lines(log) if pid != proc.pid]
    # Exactly once since the last saved position: the new process ran precisely the rest.
    assert second == sequence[start:]
    # Before the saved position each step ran once, in the killed process.
    before = [(n, s) for _, n, s in first][:start]
    assert before == sequence[:start]

    objects = result["objects"]
    assert [o["trace"] for o in objects] == [STEPS] * tokens
    assert [o["value"] for o in objects] == [expected_value(n) for n in range(tokens)]
    with open_store(uri) as st:
        tokens_saved = workflow_tokens(st, wid)
        assert [t.props["status"] for t in tokens_saved] == ["COMPLETED"] * tokens
        assert [json.loads(t.props["data"]) for t in tokens_saved] == objects
        assert find_workflow(st, wid).props["status"] == "COMPLETED"


def steps_done(uri: str, wid: str) -> int:
    """How many steps the token at the saved resume point had done, from its saved data."""
    with open_store(uri) as st:
        wf = find_workflow(st, wid)
        token = next(t for t in workflow_tokens(st, wid) if t.props["position"] == wf.props["resume_token"])
    return len(json.loads(token.props["data"])["trace"])


def test_kill_9_then_resume_runs_each_task_once(flows: Path, store_uri: str) -> None:
    _kill_and_resume(flows, store_uri, each=False)


def test_kill_9_with_a_save_after_each_task(flows: Path, store_uri: str) -> None:
    _kill_and_resume(flows, store_uri, each=True)


# -- in-process behaviour (SQLite) ---------------------------------------------------
def _flow_module() -> Any:
    import kgtestflows  # written by the flows fixture

    return kgtestflows


def test_halt_is_saved_and_a_new_engine_resumes_after_the_halting_task(flows: Path) -> None:
    mod = _flow_module()
    calls: list[str] = []

    def gate(obj: dict[str, Any], eng: Any) -> None:
        calls.append(f"gate{obj['n']}")
        if obj["n"] == 1:
            eng.halt("needs approval", action="approve", payload={"n": 1})

    register_workflow("gated", [mod.a, gate, mod.c])
    store = open_store(str(flows / "wf.db"))
    eng = PersistentEngine("gated", store=store)
    with pytest.raises(HaltProcessing):
        eng.process([{"n": i, "value": i, "trace": []} for i in range(3)])
    node = store.get_node(eng.workflow_id)
    assert node is not None and node.props["status"] == "HALTED"
    assert json.loads(node.props["halt"]) == {"message": "needs approval", "action": "approve", "payload": {"n": 1}}
    assert node.props["task"] == "gate"
    statuses = [t.props["status"] for t in workflow_tokens(store, eng.workflow_id)]
    assert statuses == ["COMPLETED", "HALTED", "INITIAL"]

    again = load(eng.workflow_id[:12], store=store)  # a unique prefix is enough
    assert again.status == "HALTED" and again.objects[1]["trace"] == ["a"]
    again.resume()  # continues after `gate`: c on token 1, then all of token 2
    assert again.status == "COMPLETED"
    assert [o["trace"] for o in again.objects] == [["a", "c"]] * 3
    assert calls == ["gate0", "gate1", "gate2"]
    assert store.get_node(eng.workflow_id).props["status"] == "COMPLETED"  # type: ignore[union-attr]


def test_error_is_saved_and_resume_reruns_the_failed_task(flows: Path) -> None:
    mod = _flow_module()
    fail = {"on": True}

    def flaky(obj: dict[str, Any], eng: Any) -> None:
        if fail["on"] and obj["n"] == 2:
            raise RuntimeError("disk full")
        obj["trace"].append("flaky")

    register_workflow("flaky", [mod.a, flaky])
    store = open_store(str(flows / "wf.db"))
    eng = PersistentEngine("flaky", store=store)
    with pytest.raises(RuntimeError):
        eng.process([{"n": i, "value": i, "trace": []} for i in range(4)])
    node = store.get_node(eng.workflow_id)
    assert node.props["status"] == "ERROR" and "disk full" in node.props["error"]  # type: ignore[union-attr]
    fail["on"] = False
    again = load(eng.workflow_id, store=store)
    again.resume()
    assert [o["trace"] for o in again.objects] == [["a", "flaky"]] * 4


def test_unsaveable_extra_data_is_left_out_and_bad_tokens_are_refused(flows: Path) -> None:
    import threading

    from kg.engine.errors import WorkflowError

    def keep_lock(obj: Any, eng: Any) -> None:
        eng.extra_data["lock"] = threading.Lock()
        eng.extra_data["seen"] = eng.extra_data.get("seen", 0) + 1

    store = open_store(str(flows / "wf.db"))
    eng = PersistentEngine("locks", [keep_lock], store=store)
    eng.process([1, 2])
    node = store.get_node(eng.workflow_id)
    assert json.loads(node.props["extra_data"]) == {"seen": 2}  # type: ignore[union-attr]
    assert node.props["extra_skipped"] == ["lock"]  # type: ignore[union-attr]
    with pytest.raises(WorkflowError, match="JSON"):
        eng.process([object()])


def test_completed_workflow_resume_is_a_no_op_and_unknown_ids_are_not_found(flows: Path) -> None:
    from kg.exceptions import NotFound

    mod = _flow_module()
    store = open_store(str(flows / "wf.db"))
    eng = PersistentEngine(tasks="kgtestflows:FLOW", store=store)
    eng.process([{"n": 0, "value": 0, "trace": []}])
    again = load(eng.workflow_id, store=store)
    again.resume()
    assert again.objects[0]["trace"] == STEPS and again.status == "COMPLETED"
    with pytest.raises(NotFound):
        load("wf-nope", store=store)
    assert mod.FLOW  # the import path resolved to this module's list


# -- kg workflow list|show|resume ------------------------------------------------------
def test_cli_lists_shows_and_resumes_a_halted_workflow(flows: Path) -> None:
    from tests.conftest import run_kg

    (flows / "kgtestgated.py").write_text(textwrap.dedent('''
        from kgtestflows import a, c

        def gate(obj, eng):
            if obj["n"] == 1 and not obj.get("ok"):
                obj["ok"] = True
                eng.halt("check token 1", action="approve")

        GATED = [a, gate, c]
    '''))
    eng = PersistentEngine(tasks="kgtestgated:GATED")  # the configured store: $KG_HOME/kg.db
    with pytest.raises(HaltProcessing):
        eng.process([{"n": i, "value": i, "trace": []} for i in range(3)])
    eng.close()
    env = {"PYTHONPATH": os.pathsep.join([str(flows), str(ROOT)])}

    listed = run_kg("workflow", "list", "--format", "json", cwd=flows, env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["next"], row["task"], row["tasks"]) == (
        eng.workflow_id, "HALTED", 1, "gate", "kgtestgated:GATED")

    shown = run_kg("workflow", "show", eng.workflow_id[:15], cwd=flows, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "check token 1" in shown.stdout and "HALTED" in shown.stdout
    assert [line.split()[1] for line in shown.stdout.splitlines() if line[:1].isdigit()] == [
        "COMPLETED", "HALTED", "INITIAL"]

    resumed = run_kg("workflow", "resume", eng.workflow_id, cwd=flows, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{eng.workflow_id}: COMPLETED (3 tokens)" in resumed.stdout
    as_json = json.loads(run_kg("workflow", "show", eng.workflow_id, "-F", "json", cwd=flows, env=env).stdout)
    assert [t["data"]["trace"] for t in as_json["tokens"]] == [["a", "c"]] * 3
    # The resumed run is recorded: a Run with a WorkflowRun and its callbacks.
    with open_store(str(flows / ".kg" / "kg.db")) as st:
        (wfr,) = list(st.find_nodes(kind="WorkflowRun"))
        assert wfr.props["workflow"] == eng.workflow_id and wfr.props["status"] == "FINISHED"
        done = sorted((c.props["token"], c.props["started"], c.props["name"])
                      for c in st.find_nodes(kind="Callback", run=wfr.props["run"]))
        assert [(t, name) for t, _, name in done] == [(1, "c"), (2, "a"), (2, "gate"), (2, "c")]
    missing = run_kg("workflow", "show", "wf-nope", cwd=flows, env=env)
    assert missing.returncode == 1 and "no workflow" in missing.stderr
