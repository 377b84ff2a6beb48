"""Write-behind capture into Neo4j (kg.outbox): the program writes locally, a pusher sends to
the server, in order; a kill -9 of the program or a restart of Neo4j loses nothing and
doubles nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kg

pytestmark = pytest.mark.neo4j

PROGRAM = """
import os, sys, time
import capture

@capture.task(output_names="y")
def step(i):
    return i * 2

n, half = int(sys.argv[2]), sys.argv[3]
with capture.Run(name=sys.argv[1]):
    for i in range(n):
        step(i)
        if i % 100 == 99:
            capture.flush()
        if i == n // 2 and half != "-":
            open(half, "w").write("half")
            time.sleep(600)                      # the test kills the program here
print("program done")
"""


def _counts(uri: str, name: str) -> tuple[int, int, str | None]:
    from kg.stores.neo4j import Neo4jStore

    s = Neo4jStore(uri)
    try:
        rows = s.cypher("MATCH (r:Run {name: $n}) OPTIONAL MATCH (t:Task {run: r.id}) "
                        "OPTIONAL MATCH (t)-[u]-() RETURN count(DISTINCT t) AS t, count(u) AS e, "
                        "head(collect(r.status)) AS st", {"n": name})
        return int(rows[0]["t"]), int(rows[0]["e"]), rows[0]["st"]
    finally:
        s.close()


def _outbox_tasks(home: Path) -> int:
    from kg.stores.sqlite import SqliteStore

    total = 0
    for f in sorted(home.glob("outbox/*/*.db*")):
        if f.name.endswith((".db", ".db.part")):
            s = SqliteStore(f, create=False)
            try:
                total += len(list(s.find_nodes(kind="Task")))
            finally:
                s.close()
    return total


def _env(tmp_path: Path, uri: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "KG_STORE": uri, "KG_NEO4J_URI": uri, "KG_HOME": str(tmp_path / ".kg"), **extra}


def test_program_does_not_wait_and_the_pusher_delivers_after_exit(neo4j_uri: str, tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    name = f"wb-exit-{time.time_ns()}"
    env = _env(tmp_path, neo4j_uri)
    done = subprocess.run([sys.executable, str(prog), name, "3000", "-"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "program done"
    deadline = time.time() + 120  # the detached pusher the program started sends it
    while _counts(neo4j_uri, name)[0] < 3000 or list((tmp_path / ".kg" / "outbox").glob("*/*.db*")):
        assert time.time() < deadline, "the background pusher did not deliver the run"
        time.sleep(0.5)
    tasks, edges, status = _counts(neo4j_uri, name)
    assert (tasks, status) == (3000, "finished")
    info = run_kg("info", env=env, cwd=tmp_path)
    assert info.returncode == 0 and "PENDING" not in info.stdout, info.stdout


def _kill_half_way(prog: Path, name: str, n: int, half: Path, env: dict[str, str], settle: float = 0.0) -> None:
    """Run ``prog`` (n tasks) until it has made ``half`` (half of them done), wait ``settle``
    seconds, and kill -9 it."""
    proc = subprocess.Popen([sys.executable, str(prog), name, str(n), str(half)], cwd=prog.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not half.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(settle)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_kill_9_mid_stream_then_push_delivers_exactly_what_was_captured(neo4j_uri: str, tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    name = f"wb-kill-{time.time_ns()}"
    half = tmp_path / "half"
    env = _env(tmp_path, neo4j_uri, KG_PUSHER="0")  # nothing sends until `kg push`
    _kill_half_way(prog, name, 4000, half, env, settle=0.3)
    captured = _outbox_tasks(tmp_path / ".kg")
    assert captured >= 2000  # every task flushed before the kill is durable locally
    info = run_kg("info", env=env, cwd=tmp_path)
    assert "PENDING" in info.stdout, info.stdout
    pushed = run_kg("push", env=env, cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    assert "outbox files" in pushed.stderr
    tasks, edges, _ = _counts(neo4j_uri, name)
    assert tasks == captured
    assert not list((tmp_path / ".kg" / "outbox").glob("*/*.db*"))
    again = run_kg("push", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _counts(neo4j_uri, name) == (tasks, edges, _counts(neo4j_uri, name)[2])  # nothing twice


def test_the_next_kg_command_sends_what_a_killed_program_left(neo4j_uri: str, tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    name = f"wb-next-{time.time_ns()}"
    half = tmp_path / "half"
    _kill_half_way(prog, name, 1000, half, _env(tmp_path, neo4j_uri, KG_PUSHER="0"))
    captured = _outbox_tasks(tmp_path / ".kg")
    assert captured >= 500
    env = _env(tmp_path, neo4j_uri)
    env.pop("KG_PUSHER", None)
    assert run_kg("info", env=env, cwd=tmp_path).returncode == 0  # any kg command but push
    deadline = time.time() + 120
    while list((tmp_path / ".kg" / "outbox").glob("*/*.db*")):
        assert time.time() < deadline, "no pusher sent the outbox after the next kg command"
        time.sleep(0.3)
    assert _counts(neo4j_uri, name)[0] == captured


def test_neo4j_restarted_mid_push_every_record_arrives_once(neo4j_uri: str, tmp_path: Path,
                                                            launcher_env: dict[str, str]) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    name = f"wb-restart-{time.time_ns()}"
    env = _env(tmp_path, neo4j_uri, KG_PUSHER="0")
    n = 20_000
    done = subprocess.run([sys.executable, str(prog), name, str(n), "-"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pusher = subprocess.Popen([sys.executable, "-m", "kg", "push", "--follow", "--until-idle", "3", "--outbox-only"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while _counts(neo4j_uri, name)[0] == 0:  # the push is under way
            assert pusher.poll() is None, pusher.communicate()
            assert time.time() < deadline
            time.sleep(0.1)
        restarted = subprocess.run([str(ROOT / "scripts" / "neo4j"), "restart"], env=launcher_env,
                                   capture_output=True, text=True, timeout=400)
        assert restarted.returncode == 0, restarted.stderr
        out, err = pusher.communicate(timeout=300)
    finally:
        if pusher.poll() is None:
            pusher.kill()
    assert pusher.returncode == 0, err
    assert not list((tmp_path / ".kg" / "outbox").glob("*/*.db*"))
    tasks, edges, status = _counts(neo4j_uri, name)
    assert (tasks, status) == (n, "finished")
    assert edges == n  # informed by the run, each once (i and y link nothing: props of the task)
    assert run_kg("push", env=env, cwd=tmp_path).returncode == 0
    assert _counts(neo4j_uri, name) == (tasks, edges, status)


def test_sink_into_an_unreachable_server_keeps_every_record_locally(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # No server at all: the capture's writes still succeed at once, into the outbox.
    import socket

    from kg.model import node
    from kg.outbox import pending
    from kg.sink import Sink

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("KG_HOME", str(tmp_path / ".kg"))
    monkeypatch.setenv("KG_PUSHER", "0")
    sink = Sink(f"bolt://127.0.0.1:{port}")
    for i in range(1000):
        sink.put(node(f"wb-{i}", "Entity", "Value", name="kept"))
    sink.close()
    assert sink.stats.written == 1000 and sink.stats.lost == 0 and sink.stats.spooled == 0
    assert pending(tmp_path / ".kg") == {"files": 1, "records": 1000, "live": 0}
