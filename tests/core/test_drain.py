"""Background stores (kg.drain): a forked child stores large buffers while the program exits.

Real processes and real SQLite files only. To hold a background child in the middle of its
work (so that "the program ended but the child still runs" is a fact, not a race) a test
takes SQLite's write lock on the store with a plain sqlite3 connection: the child then waits
on that lock until the test lets go."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import drain
from kg.sink import Sink
from kg.stores.sqlite import SqliteStore
from tests.conftest import run_kg

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="background stores need fork")

CALLS = 6000  # outer calls; each makes one inner call: 12,000 Task records, above KG_DRAIN_MIN (5,000)

# A program that buffers 2 * CALLS task records in an implicit run, then hands them to a background
# store. The periodic flush is pushed out of the way so that the explicit flush is the one that forks.
PROGRAM = """
import signal, sys, time
import capture, kg.ids, kg.sink
from kg.config import settings

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores SIGINT
settings.flush_interval = 3600

@capture.task(name="inner")
def inner(i):
    return i + 1

@capture.task(name="outer")
def outer(i):
    return inner(i)

for i in range({calls}):
    outer(i)
sink = kg.sink.get_sink()
if {wait_for_go}:
    print("ready", flush=True)
    sys.stdin.readline()
sink.flush(background=True)
print("flushed", kg.ids.process_prefix(), sink.stats.background, (sink._children or [0])[-1], flush=True)
if {linger}:
    time.sleep(60)
"""


def program(*, calls: int = CALLS, wait_for_go: bool = False, linger: bool = False) -> str:
    return PROGRAM.format(calls=calls, wait_for_go=wait_for_go, linger=linger)


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=full)


def tasks(db: Path) -> list:
    with SqliteStore(db) as s:  # waits for any background store of this file
        return list(s.find_nodes(kind="Task"))


def child_alive(pid: int) -> bool:
    # The child is no child of ours (its parent may be dead): look at its state, a zombie has ended.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def db(_isolated_home: Path) -> Path:
    return _isolated_home / "kg.db"


class WriteLock:
    """``lock()`` takes the store's SQLite write lock with a plain connection; ``release()`` lets go."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.conn: sqlite3.Connection | None = None

    def __call__(self) -> None:
        self.conn = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.fixture
def write_lock(db: Path) -> Iterator[WriteLock]:
    lock = WriteLock(db)
    yield lock
    lock.release()


def test_every_record_is_stored_after_the_program_exits(db: Path) -> None:
    done = python(program())
    assert done.returncode == 0, done.stderr
    _, prefix, handed, child = done.stdout.split()
    assert int(handed) >= 2 * CALLS and int(child) > 0  # the records went to a background store
    # The program has exited; its child may still be writing. A reader waits for it.
    found = tasks(db)
    assert len(found) == 2 * CALLS
    assert not Path(str(db) + ".drain.log").exists()  # nothing was lost
    listing = run_kg("list", "-F", "json")  # the run's end, stored after the child, is there too
    assert listing.returncode == 0, listing.stderr
    assert [(r["name"], r["status"]) for r in json.loads(listing.stdout)] == [("-c", "finished")]


def test_ids_keep_the_parents_prefix_and_parent_links_resolve(db: Path) -> None:
    done = python(program(calls=3000))
    assert done.returncode == 0, done.stderr
    _, prefix, handed, _ = done.stdout.split()
    assert int(handed) >= 6000
    found = tasks(db)
    assert len(found) == 6000
    assert all(t.id.startswith(f"t-{prefix}.") for t in found)
    by_id = {t.id: t for t in found}
    with SqliteStore(db) as s:
        runs = {r.id for r in s.runs()}
    inner = [t for t in found if t.props["name"] == "inner"]
    assert len(inner) == 3000
    for t in inner:
        parent = by_id[t.props["parent"]]  # the outer call, minted by the parent, stored by the child
        assert parent.props["name"] == "outer"
        assert parent.props["used"]["i"] == t.props["used"]["i"]
    assert {t.props["parent"] for t in found if t.props["name"] == "outer"} <= runs


# One background store after the program; or (a small buffer cap) others during it as well, so
# that the last one is still writing when `kg run` closes its own connection and exits.
@pytest.mark.parametrize("calls,cap", [(20000, None), (30000, "12000")], ids=["at-exit", "during-and-at-exit"])
def test_kg_run_output_pipe_ends_with_the_program(tmp_path: Path, db: Path, calls: int, cap: str | None) -> None:
    (tmp_path / "many.py").write_text(textwrap.dedent(f"""
        def f(i):
            return i + 1

        total = 0
        for i in range({calls}):
            total += f(i)
        print("total", total)
    """))
    env = dict(os.environ, **({"KG_BUFFER_CAP": cap} if cap else {}))
    proc = subprocess.Popen([sys.executable, "-m", "kg", "run", "-v", "many.py"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)  # EOF on both pipes: no background child holds them
    assert proc.returncode == 0, err
    assert out == f"total {sum(range(1, calls + 1))}\n"
    assert "in the background" in err
    with SqliteStore(db) as s:
        trial = next(r for r in s.runs() if r.kind == "Trial")
        acts = list(s.find_nodes(kind="Activation", run=trial.id))
    assert trial.props["status"] == "finished" and trial.props["activations"] == calls + 1
    assert len(acts) == calls + 1  # every call of f and the module itself
    shown = run_kg("show", "1", "-a")
    assert shown.returncode == 0 and "f" in shown.stdout


def test_kg_background_0_stores_in_process(db: Path) -> None:
    done = python(program(), env={"KG_BACKGROUND": "0"})
    assert done.returncode == 0, done.stderr
    _, _, handed, child = done.stdout.split()
    assert handed == "0" and child == "0"
    assert not Path(str(db) + ".drain").exists()
    assert len(tasks(db)) == 2 * CALLS


def test_kg_drain_min_sets_the_threshold(db: Path) -> None:
    done = python(program(calls=3000), env={"KG_DRAIN_MIN": "100000"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[2] == "0"  # 6,000 records: below the threshold, stored in-process
    assert len(tasks(db)) == 6000


def start_held(write_lock: WriteLock, code: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``code`` (a PROGRAM with wait_for_go) and let it fork; its child waits on our SQLite lock."""
    proc = subprocess.Popen([sys.executable, "-c", code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own group, as under a terminal
    assert proc.stdout.readline() == "ready\n", proc.stderr.read()
    write_lock()  # the child will wait on SQLite's lock until the test releases it
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline().split()
    assert line and line[0] == "flushed", proc.stderr.read()
    assert int(line[2]) >= 2 * CALLS and int(line[3]) > 0
    return proc, int(line[3])


def stop(proc: subprocess.Popen[str], child: int, write_lock: WriteLock) -> None:
    # After a failure: let go of everything, so a broken child cannot hang the test run.
    write_lock.release()
    if child_alive(child):
        os.kill(child, signal.SIGKILL)
    if proc.returncode is None:  # communicate() not yet called
        proc.kill()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["INT", "TERM", "KILL"])
def test_signals_to_the_program_do_not_reach_the_child(db: Path, write_lock: WriteLock, sig: int) -> None:
    proc, child = start_held(write_lock, program(wait_for_go=True, linger=True))
    try:
        os.killpg(proc.pid, sig)  # what Ctrl-C / kill -TERM of the job does
        if sig == signal.SIGKILL:
            # The program is gone; its output pipe ended although the child still runs.
            proc.communicate(timeout=10)
        else:
            time.sleep(0.5)  # the program's exit handler waits for the child (order of records)
        assert child_alive(child)
        assert os.getsid(child) == child  # left the program's session and process group
        assert all(os.readlink(f"/proc/{child}/fd/{fd}") == os.devnull for fd in (0, 1, 2))
        assert drain.wait(str(db), timeout=0.2) is False  # a reader would wait for it

        write_lock.release()
        found = tasks(db)  # at once: the child has barely started, yet the reader sees it all
        assert len(found) == 2 * CALLS
        proc.communicate(timeout=30)
        assert proc.returncode != 0
    finally:
        stop(proc, child, write_lock)


def test_the_child_has_left_the_program_when_flush_returns(db: Path, write_lock: WriteLock) -> None:
    # A library's fork hook (or a busy machine) delays the child; flush must still return only
    # once the child is out of the program's process group and off its stdio, or a Ctrl-C or
    # kill of the job right after the flush reaches the child.
    slow = "import os, time\nos.register_at_fork(after_in_child=lambda: time.sleep(0.3))\n"
    proc, child = start_held(write_lock, slow + program(wait_for_go=True, linger=True))
    try:
        assert child_alive(child)
        assert os.getsid(child) == child
        assert all(os.readlink(f"/proc/{child}/fd/{fd}") == os.devnull for fd in (0, 1, 2))
    finally:
        stop(proc, child, write_lock)


def test_strict_sink_never_detaches(store: SqliteStore) -> None:
    import kg

    sink = Sink(store, strict=True, interval=3600)
    for i in range(6000):
        sink.put(kg.node(f"n{i}", "Entity", "Value"))
    sink.flush(background=True)
    assert sink.stats.background == 0 and sink.stats.written == 6000
    assert store.get_node("n5999") is not None  # readable at once, in this process
    assert not Path(str(store.path) + ".drain").exists()


def test_a_sink_bound_to_another_store_stores_there_in_the_background(tmp_path: Path, db: Path) -> None:
    import kg

    other = SqliteStore(tmp_path / "other.db")
    sink = Sink(other, interval=3600)
    for i in range(6000):
        sink.put(kg.node(f"n{i}", "Entity", "Value"))
    sink.flush(background=True)
    assert sink.stats.background == 6000
    sink.wait()
    with SqliteStore(tmp_path / "other.db") as s:
        assert s.counts()["nodes"] == 6000
    assert not db.exists()  # not in the default store ($KG_HOME/kg.db)
    other.close()


PIPELINE = """
import sys
import kg, kg.sink
from kg.config import settings

settings.flush_interval = 3600
sink = kg.sink.get_sink()
for batch in range(3):  # three batches, each rewriting the same nodes: the last one must win
    for i in range(6000):
        sink.put(kg.node(f"n{i}", "Entity", "Value", name=f"batch{batch}", **{f"b{batch}": True}))
    sink.flush(background=True)
    print("handed", batch, len(sink._children), flush=True)
print("pids", *sink._children, flush=True)
"""


def test_batches_are_pipelined_and_stored_in_order(db: Path, write_lock: WriteLock) -> None:
    # With the store's SQLite lock held, batch 1's writer waits on SQLite and batch 2's child
    # waits for the write turn; the program goes on, and readers wait for all of them.
    db.parent.mkdir(parents=True, exist_ok=True)
    SqliteStore(db).close()
    write_lock()
    proc = subprocess.Popen([sys.executable, "-c", PIPELINE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline().split()
        second = proc.stdout.readline().split()
        assert first[:2] == ["handed", "0"] and second[:2] == ["handed", "1"], proc.stderr.read()
        assert int(second[2]) == 2  # two background stores at once: one writing, one waiting its turn
        assert drain.wait(str(db), timeout=0.2) is False
        write_lock.release()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        with SqliteStore(db) as s:  # waits for every batch
            nodes = list(s.find_nodes(kind="Value"))
        assert len(nodes) == 6000
        assert {n.props["name"] for n in nodes} == {"batch2"}
        assert all(n.props.get("b0") and n.props.get("b1") and n.props.get("b2") for n in nodes)
        assert not list(db.parent.glob("kg.db.drain.*.rows"))  # every rows file stored and removed
        assert not Path(str(db) + ".drain.log").exists()
    finally:
        write_lock.release()
        if proc.returncode is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_a_batch_whose_writer_died_is_stored_before_the_next_one(db: Path) -> None:
    # A writer killed mid-way leaves its rows file; the next batch's writer stores it first, so
    # the newer batch still wins where both wrote the same node.
    import marshal

    import kg

    db.parent.mkdir(parents=True, exist_ok=True)
    SqliteStore(db).close()
    gone_pid = subprocess.Popen(["true"])  # a pid that has ended
    gone_pid.wait()
    # the program opens the store (recovering nothing), then waits while the test plants the orphan
    code = PIPELINE.replace("for batch in range(3):",
                            "sink.store\nprint('ready', flush=True)\nsys.stdin.readline()\nfor batch in range(1):")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        orphan = Path(f"{drain.lock_path(str(db))}.{gone_pid.pid}.rows")
        rows = SqliteStore.rows([kg.node(f"n{i}", "Entity", "Value", name="orphan", orphan=True)
                                 for i in range(6000)], [])
        orphan.write_bytes(marshal.dumps(rows))
        os.utime(orphan, (time.time() - 60, time.time() - 60))
        out, err = proc.communicate("go\n", timeout=60)
        assert proc.returncode == 0, err
        with SqliteStore(db) as s:
            nodes = list(s.find_nodes(kind="Value"))
        assert len(nodes) == 6000
        assert {n.props["name"] for n in nodes} == {"batch0"}  # the newer batch won
        assert all(n.props.get("orphan") and n.props.get("b0") for n in nodes)  # both were stored
        assert not orphan.exists()
        assert "recovered" in Path(str(db) + ".drain.log").read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate(timeout=30)


SLOW_CHILD = """
import sys, time
import kg, kg.drain, kg.sink
from kg.config import settings

settings.flush_interval = 3600

def slow(item, nodes, edges):  # hangs in a background store's child only: the test kills it there
    if kg.drain._child:
        time.sleep(120)
    nodes.append(kg.node(item[1], "Entity", "Value", name="slow"))

code = kg.sink.register_expander(slow)
sink = kg.sink.get_sink()
for i in range(6000):
    sink.put(kg.node(f"n{i}", "Entity", "Value", name=f"v{i}"))
sink.put((code, "slow-one"))
sink.flush(background=True)
print("flushed", sink._children[-1], flush=True)
sys.stdin.readline()  # the test kills the child meanwhile; the program then ends
"""


def test_records_of_a_background_store_killed_before_its_writer_are_kept(db: Path) -> None:
    # A child killed (say by the OOM killer) while it makes its rows, the program still running:
    # the program keeps the records it had handed over and stores them itself. Nothing is lost.
    # (A program that has already ended cannot: it does not wait for its last child.)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        assert line and line[0] == "flushed", proc.stderr.read()
        child = int(line[1])
        time.sleep(0.3)  # the child is in its sleep (any moment before its writer starts will do)
        os.kill(child, signal.SIGKILL)
        while child_alive(child):
            time.sleep(0.01)
        out, err = proc.communicate("go\n", timeout=60)  # at exit the program stores the records itself
        assert proc.returncode == 0, err
        assert "storing its records again" in err
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate(timeout=30)
    with SqliteStore(db) as s:
        nodes = list(s.find_nodes(kind="Value"))
    assert len(nodes) == 6001 and len({n.id for n in nodes}) == 6001
    assert not list(db.parent.glob("kg.db.drain.*.rows"))
