"""The capture-to-store path with real processes: several writers at once, kill -9 at any moment,
a trial that exists from its start, and a store written by the previous schema."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kg.stores.sqlite import SCHEMA_VERSION, SqliteStore

FIXTURES = Path(__file__).resolve().parent.parent / "stores" / "fixtures"

WORKER = """
import sys
import capture
n = int(sys.argv[1])

@capture.task(output_names="y")
def work(i, scale=2):
    return i * scale

with capture.Run(name="worker " + sys.argv[2]):
    for i in range(n):
        work(i)
print("done")
"""

FOREVER = """
import capture

@capture.task
def tick(i):
    return i

with capture.Run(name="forever"):
    i = 0
    while True:
        tick(i)
        i += 1
"""


def python(code: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(code), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def test_four_processes_capture_into_one_store_at_once(tmp_path: Path, _isolated_home: Path) -> None:
    prog = tmp_path / "worker.py"
    prog.write_text(WORKER)
    n = 20_000
    procs = [python(prog, str(n), str(k)) for k in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out == "done\n", err
        assert "locked" not in err and "fault" not in err, err
    with SqliteStore(_isolated_home / "kg.db") as store:
        runs = store.runs()
        assert len(runs) == 4 and sorted(r.props["seq"] for r in runs) == [1, 2, 3, 4]
        tasks = [t for r in runs for t in store.find_nodes(run=r.id, kind="Task")]
        assert len(tasks) == 4 * n
        assert len({t.id for t in tasks}) == 4 * n  # no two processes minted the same id
        assert {t.props["used"]["scale"] for t in tasks} == {2}
        assert sorted(t.props["generated"]["y"] for t in tasks if t.props["run"] == runs[0].id) == \
            [2 * i for i in range(n)]


def _stored(db: Path) -> int:
    """Segments (the tasks' rows) in the store so far (0 before it exists or while it is being created)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM segs").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_kill_9_while_capturing_never_damages_the_store(tmp_path: Path, _isolated_home: Path) -> None:
    prog = tmp_path / "forever.py"
    prog.write_text(FOREVER)
    db = _isolated_home / "kg.db"
    seen = rows = 0
    for delay in (0.0, 0.15, 0.3):  # while batches are being written: small batches, many transactions
        p = python(prog, env={"KG_BATCH_SIZE": "3000", "KG_BUFFER_CAP": "5000"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _stored(db) <= rows:  # writing has begun (a loaded machine
            time.sleep(0.02)                                          # starts the program late)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        con = sqlite3.connect(db, timeout=5)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        t = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "kg", "list"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "forever" in done.stdout, done.stderr
        assert time.monotonic() - t < 30  # nothing left for a later command to wait for
        with SqliteStore(db) as store:
            counts = store.counts()["nodes"]
            assert counts > seen  # what each run stored before it was killed is still there
            seen = counts
            for run in store.runs():
                assert run.props["status"] == "unfinished"
                ids = [n.id for n in store.find_nodes(run=run.id, kind="Task")]
                assert ids and len(ids) == len(set(ids))
        rows = _stored(db)


def test_a_killed_trial_exists_from_its_start(tmp_path: Path, _isolated_home: Path) -> None:
    # A busy program that prints nothing: killed as soon as its trial is in the store.
    (tmp_path / "busy.py").write_text("def f(i):\n    return i\n\nfor i in range(10 ** 9):\n    f(i)\n")
    p = subprocess.Popen([sys.executable, "-m", "kg", "run", "busy.py", "--size", "7"], cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = _isolated_home / "kg.db"
    deadline = time.monotonic() + 60
    trial = None
    while trial is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if db.exists():
            try:
                with SqliteStore(db) as store:
                    trial = next(iter(store.runs()), None)
            except Exception:  # the store is being created right now
                trial = None
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert trial is not None, "the trial never appeared in the store"
    with SqliteStore(db) as store:
        (t,) = store.runs()
        assert t.kind == "Trial" and t.props["status"] == "unfinished" and "ended" not in t.props
        assert t.props["started"] > 0 and t.props["script"] == "busy.py"
        assert t.props["argv"] == ["--size", "7"]
    shown = subprocess.run([sys.executable, "-m", "kg", "show", "1"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "unfinished" in shown.stdout, shown.stderr


def test_a_store_of_the_previous_schema_is_migrated_in_place(tmp_path: Path, _isolated_home: Path) -> None:
    # Made by provkg before segments (schema 1): two `kg run` trials and an in-code run, and its export then.
    db = _isolated_home / "kg.db"
    db.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "v1-kg.db", db)
    con = sqlite3.connect(db)
    before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("nodes", "edges")}
    con.close()
    with SqliteStore(db) as store:
        assert store.counts() == {"nodes": before["nodes"], "edges": before["edges"]}
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM kg_meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.close()
    out = tmp_path / "now.json"
    r = subprocess.run([sys.executable, "-m", "kg", "export", "--all", "-F", "provjson", "-o", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == json.loads((FIXTURES / "v1-export.provjson.json").read_text())
    # and it goes on as a store of today's schema: a new run lands beside the old ones
    prog = tmp_path / "worker.py"
    prog.write_text(WORKER)
    p = python(prog, "100", "new")
    assert p.communicate(timeout=120)[0] == "done\n"
    listed = subprocess.run([sys.executable, "-m", "kg", "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["1", "2", "3", "4"]
    with SqliteStore(db) as store:
        new = store.runs()[-1]
        assert sum(1 for _ in store.find_nodes(run=new.id, kind="Task")) == 100
