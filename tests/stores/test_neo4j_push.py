"""kg push / pull / spool replay against a real Neo4j, including a server stopped in the middle of a capture."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, port_open, run_kg

pytestmark = pytest.mark.neo4j

PROGRAM = """
import sys, time
import capture

@capture.task(output_names="y")
def step(i, note):
    return i * 2

with capture.Run(name=sys.argv[1]):
    for i in range(int(sys.argv[2])):
        step(i, "it's } DETACH DELETE n //")
        if i == int(sys.argv[2]) // 2:
            open(sys.argv[3], "w").write("half")      # the test stops Neo4j now
            while not __import__("os").path.exists(sys.argv[4]):
                time.sleep(0.05)
        capture.flush()
print("program done")
"""


def _neo4j(uri: str):  # type: ignore[no-untyped-def]
    from kg.stores.neo4j import Neo4jStore

    return Neo4jStore(uri)


def _run_ids(uri: str, name: str) -> list[str]:
    s = _neo4j(uri)
    try:
        return [r.id for r in s.runs() if r.props.get("name") == name]
    finally:
        s.close()


def test_push_is_idempotent_and_pull_brings_runs_back(neo4j_uri: str, tmp_path: Path) -> None:
    env = {"KG_NEO4J_URI": neo4j_uri}
    prog = tmp_path / "p.py"
    name = f"push-me-{time.time_ns()}"
    prog.write_text(textwrap.dedent(f"""
        import capture
        @capture.task(output_names="y")
        def f(x): return x + 1
        with capture.Run(name="{name}"):
            f(f(1))
    """))
    subprocess.run([sys.executable, str(prog)], check=True, cwd=tmp_path, env={**os.environ})
    first = run_kg("push", env=env)
    assert first.returncode == 0, first.stderr
    s = _neo4j(neo4j_uri)
    try:
        counts = s.counts()
        second = run_kg("push", env=env)
        assert second.returncode == 0, second.stderr
        assert s.counts() == counts  # a second push adds nothing
        (rid,) = [r.id for r in s.runs() if r.props.get("name") == name]
        assert len(list(s.find_nodes(run=rid, kind="Task"))) == 2
    finally:
        s.close()
    # pull into a fresh embedded store: the run and its tasks arrive
    other = tmp_path / "other"
    other.mkdir()
    pulled = run_kg("--store", str(other / "kg.db"), "pull", rid, "--from", neo4j_uri)
    assert pulled.returncode == 0, pulled.stderr
    listing = run_kg("--store", str(other / "kg.db"), "show", "1")
    assert listing.returncode == 0, listing.stderr
    assert "f" in listing.stdout


def test_capture_survives_neo4j_stopping_and_push_delivers_everything(neo4j_uri: str, tmp_path: Path,
                                                                       launcher_env: dict[str, str]) -> None:
    """Must show: Neo4j stopped during a capture; the program finishes normally; `kg push` later
    leaves every record in Neo4j."""
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    half, resume = tmp_path / "half", tmp_path / "resume"
    name = f"outage-{os.getpid()}-{time.time_ns()}"
    n = 40
    # KG_WRITE_BEHIND=0: the sink writes to the server itself and spools what it cannot deliver
    # (write-behind capture, the default, is tested in test_neo4j_write_behind.py)
    env = {**os.environ, "KG_STORE": neo4j_uri, "KG_NEO4J_URI": neo4j_uri, "KG_HOME": str(tmp_path / ".kg"),
           "KG_WRITE_BEHIND": "0"}
    proc = subprocess.Popen([sys.executable, str(prog), name, str(n), str(half), str(resume)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not half.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the program did not reach its midpoint"
            time.sleep(0.05)
        subprocess.run([str(ROOT / "scripts" / "neo4j"), "stop"], env=launcher_env, check=True,
                       capture_output=True, timeout=200)
        assert not port_open("127.0.0.1", int(launcher_env["NEO4J_BOLT_PORT"]))
        resume.touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        started = subprocess.run([str(ROOT / "scripts" / "neo4j"), "start"], env=launcher_env,
                                 capture_output=True, text=True, timeout=400)
        assert started.returncode == 0, started.stderr
    assert proc.returncode == 0, err
    assert out.strip() == "program done"  # same output, same exit code: capture did not interfere
    spools = list((tmp_path / ".kg" / "spool").glob("*.jsonl"))
    assert spools, "records captured during the outage were spooled"
    pushed = run_kg("push", env=env, cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    assert "replayed" in pushed.stderr
    assert not list((tmp_path / ".kg" / "spool").glob("*")), "spools are deleted once delivered"
    s = _neo4j(neo4j_uri)
    try:
        (rid,) = _run_ids(neo4j_uri, name)
        run = s.get_node(rid)
        assert run is not None and run.props["status"] == "finished"
        tasks = list(s.find_nodes(run=rid, kind="Task"))
        assert sorted(t.props["used"]["i"] for t in tasks) == list(range(n))  # every task, none lost
        assert all(t.props["used"]["note"] == "it's } DETACH DELETE n //" for t in tasks)
        # i, note and y of every call: props of the tasks (they link nothing), Values when read
        assert list(s.find_nodes(run=rid, kind="Value")) == []
        values = [v for v in s.run_records([rid])[0] if v.kind == "Value"]
        assert len(values) == 3 * n
        before = s.counts()
        assert run_kg("push", env=env, cwd=tmp_path).returncode == 0
        assert s.counts() == before
    finally:
        s.close()


def test_push_and_pull_carry_file_contents_through_a_shared_directory(neo4j_uri: str, tmp_path: Path) -> None:
    """Two machines (two KG_HOMEs) sharing a Neo4j and a content directory: a pulled trial restores."""
    work, shared = tmp_path / "work", tmp_path / "shared-content"
    work.mkdir()
    (work / "in.txt").write_text("from machine A\n")
    (work / "s.py").write_text("open('out.txt', 'w').write(open('in.txt').read().upper())\n")
    a = {"KG_HOME": str(tmp_path / "a-home"), "KG_STORE": ""}
    b = {"KG_HOME": str(tmp_path / "b-home"), "KG_STORE": ""}
    assert run_kg("run", "s.py", cwd=work, env=a).returncode == 0
    rid = run_kg("list", "-F", "csv", env=a).stdout.splitlines()[1].split(",")[1]
    pushed = run_kg("push", rid, "--to", neo4j_uri, "--contents", str(shared), env=a)
    assert pushed.returncode == 0 and f"3 contents (" in pushed.stderr, pushed.stderr  # script, input, output

    # Pulled without the contents: the pull and the restore say what happened, and how to fix it.
    pulled = run_kg("pull", rid, "--from", neo4j_uri, env=b)
    assert pulled.returncode == 0 and "3 file contents of these runs are not here" in pulled.stderr, pulled.stderr
    restored = run_kg("restore", "1", "--into", str(tmp_path / "first"), env=b)
    assert f"pulled from {neo4j_uri} without it" in restored.stdout + restored.stderr

    pulled = run_kg("pull", rid, "--from", neo4j_uri, "--contents", str(shared), env=b)
    assert pulled.returncode == 0 and f"3 contents (" in pulled.stderr and "not here" not in pulled.stderr
    restored = run_kg("restore", "1", "--into", str(tmp_path / "copy"), env=b)
    assert restored.returncode == 0, restored.stderr
    for name in ("in.txt", "s.py", "out.txt"):
        assert (tmp_path / "copy" / name).read_bytes() == (work / name).read_bytes(), name
