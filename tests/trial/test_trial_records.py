"""What `kg run` stores: the trial, its evolution, activations, definitions, environment and modules;
what survives a failure, Ctrl-C and kill -9; and what `kg show` prints from it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kg.model import Node
from kg.stores.sqlite import SqliteStore
from kg.trial import BASE_AT, BASE_FLAG, next_parent

MAIN = """
import json
import sys
from helper import square, Counter

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def total(items):
    c = Counter()
    for i in items:
        c.add(square(i))
    return c.value

def fail():
    raise ValueError("expected failure")

if __name__ == "__main__":
    print(fib(6), total([1, 2, 3]), json.dumps({"k": sys.argv[1:]}))
    try:
        fail()
    except ValueError:
        pass
"""

HELPER = """
def square(x):
    return x * x

class Counter:
    def __init__(self):
        self.value = 0

    def add(self, v):
        self.value += v
        return self.value
"""


def kg(*args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None) -> \
        subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=full, input=input)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(textwrap.dedent(MAIN))
    (tmp_path / "helper.py").write_text(textwrap.dedent(HELPER))
    return tmp_path


def open_store(home: Path) -> SqliteStore:
    return SqliteStore(home / "kg.db")


def trials(store: SqliteStore) -> list[Node]:
    return [r for r in store.runs() if r.kind == "Trial"]


def activations(store: SqliteStore, trial: Node) -> list[Node]:
    return list(store.find_nodes(kind="Activation", run=trial.id))


@pytest.mark.parametrize("tracer", __import__("capture.tracer", fromlist=["available"]).available())
def test_trial_activations_definitions_environment_modules(project: Path, _isolated_home: Path,
                                                           tracer: str) -> None:
    r = kg("run", "--name", "first", "main.py", "a", cwd=project,
           env={"KG_TRACER": tracer, "MY_API_TOKEN": "hunter2", "PLAIN_SETTING": "visible"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == '8 14 {"k": ["a"]}\n'
    store = open_store(_isolated_home)
    (t,) = trials(store)
    p = t.props
    assert p["status"] == "finished" and p["seq"] == 1 and p["name"] == "first"
    assert p["script"] == "main.py" and p["argv"] == ["a"] and p["exit_code"] == 0
    assert len(p["code_hash"]) == 64 and p["ended"] >= p["started"]
    assert p["python"] == ".".join(map(str, sys.version_info[:3])) and p["user"] and p["host"]
    assert p.get("parent_trial") is None

    acts = activations(store, t)
    by_name: dict[str, list[Node]] = {}
    for a in acts:
        by_name.setdefault(a.props["name"], []).append(a)
    assert len(by_name["fib"]) == 25  # every call of fib(6)
    top_fib = [a for a in by_name["fib"] if a.props["used"] == {"n": 6}]
    assert top_fib and top_fib[0].props["generated"] == {"return": 8}
    main = by_name["__main__"][0]
    assert main.props["parent"] == t.id
    assert top_fib[0].props["parent"] == main.id
    assert top_fib[0].props["line"] == 19
    # Local module functions are user code, recorded with their module's name, under their caller.
    squares = by_name["helper.square"]
    assert [a.props["used"]["x"] for a in sorted(squares, key=lambda a: a.props["started"])] == [1, 2, 3]
    total = by_name["total"][0]
    assert all(a.props["parent"] == total.id for a in squares)
    assert len(by_name["helper.Counter.add"]) == 3
    # A call into a library is recorded where it leaves user code, not inside the library.
    dumps = by_name["json.dumps"]
    assert dumps[0].props["call"] == "library" and dumps[0].props["parent"] == main.id
    assert not any(n.startswith("json.encoder") for n in by_name)
    failed = by_name["fail"][0]
    assert failed.props["status"] == "ERROR"

    defs = {(d.props["type"], d.props["name"]) for d in store.find_nodes(kind="Definition", run=t.id)}
    assert {("function", "fib"), ("function", "total"), ("import", "json"), ("import", "square")} <= defs
    assert {("class", "Counter"), ("method", "Counter.add"), ("function", "square")} <= defs
    fib_def = next(d for d in store.find_nodes(kind="Definition", run=t.id) if d.props["name"] == "fib")
    assert fib_def.props["line"] == 6 and fib_def.props["end_line"] == 7 and len(fib_def.props["code_hash"]) == 64
    assert ["fib", 7] in fib_def.props["calls"]

    env = {e.props["name"]: e.props["value"] for e in store.find_nodes(kind="Environment", run=t.id)}
    assert env["ENV:PLAIN_SETTING"] == "visible"
    assert not any("MY_API_TOKEN" in k for k in env) and "hunter2" not in env.values()
    assert env["PYTHON_VERSION"] == p["python"] and env["CWD"] == str(project)

    mod_ids = [e.dst for e in store.find_edges(src=t.id, rel="USED") if e.props.get("role") == "module"]
    mods = {n.props["name"]: n for n in store.get_nodes(mod_ids).values()}
    assert "json" in mods and mods["json"].props["version"] and mods["json"].props["stdlib"] is True
    assert not any(n.startswith(("kg.", "capture.")) for n in mods)
    assert mods["helper"].props["local"] is True and len(mods["helper"].props["sha256"]) == 64
    scripts = [e for e in store.find_edges(src=t.id, rel="USED") if str(e.dst).startswith("script:")]
    assert {e.props["role"] for e in scripts} == {"script", "module:helper"}


def test_evolution_failed_trial_and_bypass_modules(project: Path, _isolated_home: Path) -> None:
    assert kg("run", "main.py", cwd=project).returncode == 0
    (project / "main.py").write_text("import json\nprint('v2')\nraise SystemExit(3)\n")
    r = kg("run", "main.py", cwd=project)
    assert r.returncode == 3 and r.stdout == "v2\n"
    (project / "main.py").write_text("import json\ndef f():\n    raise KeyError('lost')\nf()\n")
    r = kg("run", "-b", "main.py", cwd=project)
    assert r.returncode == 1 and "KeyError: 'lost'" in r.stderr
    store = open_store(_isolated_home)
    t1, t2, t3 = trials(store)
    assert t2.props["parent_trial"] == t1.id and t3.props["parent_trial"] == t2.id
    assert t1.props["code_hash"] != t2.props["code_hash"]
    assert t2.props["status"] == "failed" and t2.props["exit_code"] == 3
    assert t3.props["status"] == "failed" and t3.props["error_type"] == "KeyError"
    assert "raise KeyError('lost')" in t3.props["traceback"]
    failed = [a for a in activations(store, t3) if a.props["name"] == "f"]
    assert failed[0].props["status"] == "ERROR"
    reused = [e for e in store.find_edges(src=t3.id, rel="USED") if e.props.get("role") == "module"]
    assert reused and all(e.props.get("reused") for e in reused)
    assert {e.dst for e in reused} == {e.dst for e in store.find_edges(src=t2.id, rel="USED")
                                       if e.props.get("role") == "module"}


def test_next_parent_follows_restore_mark(store: SqliteStore) -> None:
    assert next_parent(store) is None
    store.write([Node("t1", "Activity", "Trial", {"started": 1.0}), Node("t2", "Activity", "Trial", {"started": 2.0}),
                 Node("t3", "Activity", "Trial", {"started": 3.0})])
    assert next_parent(store) == "t3"
    store.write([Node("t1", "Activity", "Trial", {BASE_FLAG: True, BASE_AT: 10.0})])
    assert next_parent(store) == "t1"
    store.write([Node("t2", "Activity", "Trial", {BASE_FLAG: True, BASE_AT: 11.0})])
    assert next_parent(store) == "t2"  # the newest restore wins


def test_restore_mark_is_consumed_by_the_next_trial(project: Path, _isolated_home: Path) -> None:
    for _ in range(3):
        assert kg("run", "main.py", cwd=project).returncode == 0
    store = open_store(_isolated_home)
    t1 = trials(store)[0]
    store.write([Node(t1.id, "Activity", "Trial", {BASE_FLAG: True, BASE_AT: time.time()})])
    store.close()
    assert kg("run", "main.py", cwd=project).returncode == 0
    assert kg("run", "main.py", cwd=project).returncode == 0
    store = open_store(_isolated_home)
    ts = trials(store)
    assert ts[3].props["parent_trial"] == t1.id
    assert ts[4].props["parent_trial"] == ts[3].id


def test_ctrl_c_leaves_an_unfinished_trial_with_what_was_captured(project: Path, _isolated_home: Path) -> None:
    (project / "stop.py").write_text(textwrap.dedent("""
        import os, signal
        def step(i):
            return i * 2
        for i in range(5):
            step(i)
        os.kill(os.getpid(), signal.SIGINT)
        """))
    r = kg("run", "stop.py", cwd=project)
    assert r.returncode == -signal.SIGINT and "KeyboardInterrupt" in r.stderr
    store = open_store(_isolated_home)
    (t,) = trials(store)
    assert t.props["status"] == "unfinished" and t.props["interrupted"] is True and t.props.get("ended")
    assert len([a for a in activations(store, t) if a.props["name"] == "step"]) == 5


def test_kill_9_leaves_an_unfinished_trial(project: Path, _isolated_home: Path) -> None:
    (project / "hang.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "kg", "run", "hang.py"], cwd=project, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n"
    finally:
        proc.kill()
        proc.wait()
    store = open_store(_isolated_home)
    (t,) = trials(store)
    assert t.props["status"] == "unfinished" and "ended" not in t.props
    assert any(store.find_nodes(kind="Definition", run=t.id))


def test_depth_limits_recorded_activations(project: Path, _isolated_home: Path) -> None:
    assert kg("run", "-d", "2", "main.py", cwd=project).returncode == 0
    store = open_store(_isolated_home)
    (t,) = trials(store)
    names = [a.props["name"] for a in activations(store, t)]
    assert names.count("fib") == 1  # __main__ is level 1, fib(6) level 2, its callees not recorded
    assert "helper.square" not in names


def test_current_activation_names_the_running_function(project: Path, _isolated_home: Path) -> None:
    (project / "who.py").write_text(textwrap.dedent("""
        from capture.tracer import current_activation
        def inner():
            return current_activation()
        print(inner())
        """))
    r = kg("run", "who.py", cwd=project)
    assert r.returncode == 0, r.stderr
    store = open_store(_isolated_home)
    node = store.get_node(r.stdout.strip())
    assert node is not None and node.kind == "Activation" and node.props["name"] == "inner"


def test_show_sections(project: Path, _isolated_home: Path) -> None:
    assert kg("run", "main.py", "x", cwd=project).returncode == 0
    out = kg("show", "1", "-a", "-m", "-d", "-e", "--limit", "0", cwd=project)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("Trial 1: run main.py x")
    assert "status      finished" in text
    assert "Parameters: n = 6" in text and "Return value: 8" in text
    assert "json.dumps [library]" in text
    assert "function  fib(n)" in text
    assert "ENV:" in text and "modules (" in text and "helper" in text


def test_store_option_sends_the_trial_to_that_store(project: Path, _isolated_home: Path) -> None:
    other = project / "elsewhere" / "team.db"
    r = kg("--store", str(other), "run", "main.py", "x", cwd=project)
    assert r.returncode == 0, r.stderr
    listed = kg("--store", str(other), "list", cwd=project)
    assert "main.py" in listed.stdout and "finished" in listed.stdout
    store = SqliteStore(other, create=False)
    (trial,) = trials(store)
    assert {a.props["name"] for a in activations(store, trial)} >= {"fib", "total"}
    assert not (_isolated_home / "kg.db").exists() or not trials(open_store(_isolated_home))


def test_kg_run_v_says_when_storing_could_not_keep_up(tmp_path: Path, _isolated_home: Path) -> None:
    # More activations than a (small) buffer holds, faster than they are stored: the program
    # waits; `kg run -v` says how long and what to change, and every activation is still stored.
    (tmp_path / "many.py").write_text("def f(i):\n    return i\n\nfor i in range(200000):\n    f(i)\n")
    r = kg("run", "-v", "many.py", cwd=tmp_path, env={"KG_BUFFER_CAP": "100"})
    assert r.returncode == 0, r.stderr
    assert "on a full buffer" in r.stderr and "KG_BUFFER_CAP=100" in r.stderr, r.stderr
    store = open_store(_isolated_home)
    (t,) = trials(store)
    assert sum(1 for a in activations(store, t) if a.props["name"] == "f") == 200000
    quiet = kg("run", "-v", "many.py", cwd=tmp_path, env={"KG_BUFFER_CAP": "1000000"})  # holds them all
    assert quiet.returncode == 0 and "on a full buffer" not in quiet.stderr, quiet.stderr
